//! Saliency in the autoencoder: how much each input token matters for each output token.
//!
//! For output position `t` with token `y_t` and input position `i`, the saliency is the
//! gradient of the decoder's score `S_t = score(y_t | y_<t, x)` with respect to the input
//! embedding `e_i`: `w_ti = ∂S_t/∂e_i`. The figure of a sentence is the output × input matrix
//! `‖w_ti‖₂`; the map of one output step is `|w_ti,j|` (input tokens × embedding dimensions).
//! The decoder is teacher-forced on the output tokens (the model's own greedy reconstruction
//! by default), so `S_t` is exactly the score the model gave the token it wrote.
//!
//! All output positions are differentiated in one backward pass: the sentence is repeated once
//! per output position in a batch, and row `t` contributes only `S_t` to the summed objective.

use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

use super::{Attribution, Provenance, ScoreKind, ValueKind};
use crate::checkpoint::{LoadedAutoencoder, ModelSource};
use crate::data::vocab::{BOS_ID, EOS_ID, EOS_TOKEN};
use crate::data::{PairBatch, Sentence, Vocab};
use crate::error::{Error, Result};
use crate::model::{Autoencoder, NoTrace};

/// Which output tokens are explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputChoice {
    /// The model's greedy reconstruction (what it actually writes), ending in `[EOS]` if it
    /// wrote one within the limit.
    #[default]
    Greedy,
    /// The input itself followed by `[EOS]` (what it should write).
    Reference,
}

/// The scores and gradients of one sentence: `m` output steps by `n` input tokens by `d`
/// embedding dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Jacobian {
    /// `S_t` for each output step.
    pub scores: Vec<f64>,
    /// `∂S_t/∂e_ij`, row-major `(m, n, d)`.
    pub gradients: Vec<f64>,
    /// Output steps `m`.
    pub outputs: usize,
    /// Input tokens `n`.
    pub inputs: usize,
    /// Embedding dimensions `d`.
    pub dim: usize,
    /// The token the model ranks first at each output step, teacher-forced on the outputs
    /// before it.
    pub predicted: Vec<u32>,
}

/// The decoder's score of each of `outputs` (teacher-forced: step `t` reads `[BOS]` and
/// `outputs[..t]`), given input embeddings `x` `(n, batch, d)`: a `(batch, m)` tensor. With
/// `diagonal`, `batch` must equal `m` and row `t` keeps only its step `t`: a `(m,)` tensor.
pub fn output_scores(
    model: &Autoencoder,
    x: &Tensor,
    outputs: &[u32],
    score: ScoreKind,
    diagonal: bool,
) -> Result<Tensor> {
    Ok(decoder_scores(model, x, outputs, score, diagonal)?.0)
}

/// [`output_scores`], and the decoder's logits `(m * batch, vocab)` (row `t * batch + b` is
/// step `t` of batch row `b`).
fn decoder_scores(
    model: &Autoencoder,
    x: &Tensor,
    outputs: &[u32],
    score: ScoreKind,
    diagonal: bool,
) -> Result<(Tensor, Tensor)> {
    let (_, batch, _) = x.dims3()?;
    let m = outputs.len();
    if m == 0 {
        return Err(Error::invalid("outputs", "at least one output token is needed"));
    }
    let state = model.encode_embedded(x, None, &mut NoTrace)?;
    let mut decoder_ids = Vec::with_capacity(m * batch);
    for t in 0..m {
        let id = if t == 0 { BOS_ID } else { outputs[t - 1] };
        decoder_ids.extend(std::iter::repeat_n(id, batch));
    }
    let y = model.embed(&decoder_ids, m, batch)?;
    let logits = model.decode_embedded(&state, &y, &mut NoTrace)?; // (m * batch, vocab)
    let values = score.apply(&logits)?;
    // Row r = t * batch + b holds step t of batch row b; pick the token y_t in each.
    let mut index = Vec::with_capacity(m * batch);
    for &token in outputs {
        index.extend(std::iter::repeat_n(token, batch));
    }
    let index = Tensor::from_vec(index, (m * batch, 1), x.device())?;
    let picked = values.gather(&index, 1)?.reshape((m, batch))?.t()?; // (batch, m)
    if !diagonal {
        return Ok((picked, logits));
    }
    if batch != m {
        return Err(Error::invalid(
            "x",
            format!("the diagonal needs one batch row per output step: {batch} rows, {m} steps"),
        ));
    }
    let eye: Vec<f64> = (0..m * m).map(|k| if k / m == k % m { 1.0 } else { 0.0 }).collect();
    let eye = Tensor::from_vec(eye, (m, m), x.device())?.to_dtype(picked.dtype())?;
    Ok(((picked * eye)?.sum(1)?, logits))
}

/// Scores and gradients of every output step with respect to every input embedding, in one
/// backward pass. `ids` are the input tokens, `outputs` the tokens to explain (usually ending
/// in `[EOS]`).
pub fn jacobian(model: &Autoencoder, ids: &[u32], outputs: &[u32], score: ScoreKind) -> Result<Jacobian> {
    let (n, m, d) = (ids.len(), outputs.len(), model.config().embedding_dim);
    if n == 0 {
        return Err(Error::invalid("text", "the sentence has no tokens"));
    }
    let mut tiled = Vec::with_capacity(n * m);
    for &id in ids {
        tiled.extend(std::iter::repeat_n(id, m));
    }
    let x = candle_core::Var::from_tensor(&model.embed(&tiled, n, m)?)?;
    let (scores, logits) = decoder_scores(model, x.as_tensor(), outputs, score, true)?;
    // Row t * m + t of the logits is step t of batch row t.
    let ranked = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
    let predicted = (0..m).map(|t| ranked[t * m + t]).collect();
    let grads = scores.sum_all()?.backward()?;
    let g = grads
        .get(x.as_tensor())
        .ok_or_else(|| Error::invalid("model", "the scores do not depend on the input embeddings"))?;
    // (n, m, d) -> (m, n, d)
    let gradients = g.transpose(0, 1)?.contiguous()?.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let scores = scores.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    Ok(Jacobian { scores, gradients, outputs: m, inputs: n, dim: d, predicted })
}

/// The saliency of one sentence, as plain data: one [`Attribution`] per output token, whose
/// class is that token and whose matrix is `|∂S_t/∂e_ij|` over the input tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconstructionSaliency {
    /// The sentence's id (line number or ordinal of a given text).
    pub sentence: usize,
    /// The text as given.
    pub text: String,
    /// Output tokens explained (`[EOS]` included when written).
    pub output_tokens: Vec<String>,
    /// Whether the model's greedy reconstruction equals the input (ids, then `[EOS]`), whichever
    /// output tokens are explained.
    pub exact: bool,
    /// Per output token `t`: the input tokens x dimensions `|∂S_t/∂e_ij|` (`matrix`), their L2
    /// norms `‖∂S_t/∂e_i‖₂` (`token_scores`), and `S_t` (`score`).
    pub steps: Vec<Attribution>,
    /// How it was made.
    pub provenance: Provenance,
}

impl ReconstructionSaliency {
    /// The output × input matrix `‖∂S_t/∂e_i‖₂`: one row per output token.
    pub fn matrix(&self) -> Vec<Vec<f32>> {
        self.steps.iter().map(|a| a.token_scores.clone()).collect()
    }
}

/// The provenance of autoencoder saliency with `score` over `outputs`.
pub fn provenance(loaded: &LoadedAutoencoder, score: ScoreKind, outputs: OutputChoice) -> Provenance {
    Provenance {
        model: ModelSource::of_autoencoder(loaded),
        arch: None,
        task: None,
        method: "grad".into(),
        options: serde_json::json!({ "outputs": outputs }),
        score: Some(score),
        class: None,
        seed: None,
        salient_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Explain one sentence. `max_steps` bounds the greedy reconstruction.
pub fn explain(
    loaded: &LoadedAutoencoder,
    sentence: &Sentence,
    score: ScoreKind,
    outputs: OutputChoice,
    max_steps: usize,
) -> Result<ReconstructionSaliency> {
    let model = &loaded.model;
    // Whether the model rebuilds the input is a fact of its greedy output, whichever tokens are
    // explained.
    let b = PairBatch::new(&[&sentence.ids], &[&sentence.ids]);
    let (greedy, ended) = model.greedy(&b, max_steps)?.remove(0);
    let exact = crate::eval::is_exact(&sentence.ids, &greedy, ended);
    let output_ids = match outputs {
        OutputChoice::Greedy => greedy.into_iter().chain(ended.then_some(EOS_ID)).collect::<Vec<_>>(),
        OutputChoice::Reference => sentence.ids.iter().copied().chain([EOS_ID]).collect(),
    };
    if output_ids.is_empty() {
        return Err(Error::invalid(
            "text",
            format!("sentence {}: the model wrote nothing within {max_steps} steps", sentence.id),
        ));
    }
    let j = jacobian(model, &sentence.ids, &output_ids, score)?;
    let (n, d) = (j.inputs, j.dim);
    let provenance = provenance(loaded, score, outputs);
    let output_tokens: Vec<String> = output_ids.iter().map(|&id| token(&loaded.vocab, id)).collect();
    let steps = (0..j.outputs)
        .map(|t| {
            let step = &j.gradients[t * n * d..(t + 1) * n * d];
            Attribution {
                sentence: sentence.id,
                text: sentence.text.clone(),
                tokens: sentence.tokens.clone(),
                words: sentence.words.clone(),
                ids: sentence.ids.clone(),
                matrix: step.chunks(d).map(|row| row.iter().map(|v| v.abs() as f32).collect()).collect(),
                value_label: "|∂S_t/∂e_ij|".into(),
                token_scores: step.chunks(d).map(|row| row.iter().map(|v| v * v).sum::<f64>().sqrt() as f32).collect(),
                token_score: "L2 norm over dimensions".into(),
                values: ValueKind::Magnitude,
                class: output_ids[t] as usize,
                class_name: output_tokens[t].clone(),
                predicted: j.predicted[t] as usize,
                probabilities: Vec::new(),
                score: Some(j.scores[t]),
                completeness: None,
                provenance: provenance.clone(),
            }
        })
        .collect();
    Ok(ReconstructionSaliency {
        sentence: sentence.id,
        text: sentence.text.clone(),
        output_tokens,
        exact,
        steps,
        provenance,
    })
}

fn token(vocab: &Vocab, id: u32) -> String {
    if id == EOS_ID {
        EOS_TOKEN.to_string()
    } else {
        vocab.id_to_token(id).unwrap_or_else(|| format!("#{id}"))
    }
}
