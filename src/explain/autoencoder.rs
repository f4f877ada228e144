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

use super::Sentence;
use crate::checkpoint::LoadedAutoencoder;
use crate::data::Vocab;
use crate::error::{Error, Result};
use crate::model::autoencoder::{BOS_ID, EOS_ID, EOS_TOKEN};
use crate::model::{Autoencoder, NoTrace};
use crate::render::{Heatmap, Values};

/// The decoder score that is differentiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum DecoderScore {
    /// The output token's logit `(W s_t + b)_y`.
    #[default]
    Logit,
    /// Its log-probability `log softmax(W s_t + b)_y`.
    Logprob,
    /// Its probability `softmax(W s_t + b)_y`.
    Prob,
}

impl DecoderScore {
    /// The formula, for figure titles.
    pub fn formula(self) -> &'static str {
        match self {
            DecoderScore::Logit => "S_t = logit of y_t",
            DecoderScore::Logprob => "S_t = log p(y_t)",
            DecoderScore::Prob => "S_t = p(y_t)",
        }
    }
}

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
}

/// The decoder's score of each of `outputs` (teacher-forced: step `t` reads `[BOS]` and
/// `outputs[..t]`), given input embeddings `x` `(n, batch, d)`: a `(batch, m)` tensor. With
/// `diagonal`, `batch` must equal `m` and row `t` keeps only its step `t`: a `(m,)` tensor.
pub fn output_scores(
    model: &Autoencoder,
    x: &Tensor,
    outputs: &[u32],
    score: DecoderScore,
    diagonal: bool,
) -> Result<Tensor> {
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
    let values = match score {
        DecoderScore::Logit => logits,
        DecoderScore::Logprob => candle_nn::ops::log_softmax(&logits, D::Minus1)?,
        DecoderScore::Prob => candle_nn::ops::softmax(&logits, D::Minus1)?,
    };
    // Row r = t * batch + b holds step t of batch row b; pick the token y_t in each.
    let mut index = Vec::with_capacity(m * batch);
    for &token in outputs {
        index.extend(std::iter::repeat_n(token, batch));
    }
    let index = Tensor::from_vec(index, (m * batch, 1), x.device())?;
    let picked = values.gather(&index, 1)?.reshape((m, batch))?.t()?; // (batch, m)
    if !diagonal {
        return Ok(picked);
    }
    if batch != m {
        return Err(Error::invalid(
            "x",
            format!("the diagonal needs one batch row per output step: {batch} rows, {m} steps"),
        ));
    }
    let eye: Vec<f64> = (0..m * m).map(|k| if k / m == k % m { 1.0 } else { 0.0 }).collect();
    let eye = Tensor::from_vec(eye, (m, m), x.device())?.to_dtype(picked.dtype())?;
    Ok((picked * eye)?.sum(1)?)
}

/// Scores and gradients of every output step with respect to every input embedding, in one
/// backward pass. `ids` are the input tokens, `outputs` the tokens to explain (usually ending
/// in `[EOS]`).
pub fn jacobian(model: &Autoencoder, ids: &[u32], outputs: &[u32], score: DecoderScore) -> Result<Jacobian> {
    let (n, m, d) = (ids.len(), outputs.len(), model.config().embedding_dim);
    if n == 0 {
        return Err(Error::invalid("text", "the sentence has no tokens"));
    }
    let mut tiled = Vec::with_capacity(n * m);
    for &id in ids {
        tiled.extend(std::iter::repeat_n(id, m));
    }
    let x = candle_core::Var::from_tensor(&model.embed(&tiled, n, m)?)?;
    let scores = output_scores(model, x.as_tensor(), outputs, score, true)?;
    let grads = scores.sum_all()?.backward()?;
    let g = grads
        .get(x.as_tensor())
        .ok_or_else(|| Error::invalid("model", "the scores do not depend on the input embeddings"))?;
    // (n, m, d) -> (m, n, d)
    let gradients = g.transpose(0, 1)?.contiguous()?.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let scores = scores.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    Ok(Jacobian { scores, gradients, outputs: m, inputs: n, dim: d })
}

/// Where an autoencoder explanation came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderProvenance {
    /// The model directory.
    pub model: String,
    /// SHA-256 of its weights.
    pub weights_sha256: String,
    /// The score differentiated.
    pub score: DecoderScore,
    /// Which output tokens.
    pub outputs: OutputChoice,
    /// salient's version.
    pub salient_version: String,
}

/// The saliency of one sentence, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconstructionSaliency {
    /// The sentence's id (line number or `--text` ordinal).
    pub sentence: usize,
    /// The text as given.
    pub text: String,
    /// Input tokens as the vocabulary sees them.
    pub input_tokens: Vec<String>,
    /// The user's characters for each input token.
    pub input_words: Vec<String>,
    /// Input tokens the vocabulary does not know (read as `[UNK]`).
    pub unknown: Vec<bool>,
    /// Output tokens explained (`[EOS]` included when written).
    pub output_tokens: Vec<String>,
    /// Whether the model's greedy reconstruction equals the input (ids, then `[EOS]`), whichever
    /// output tokens are explained.
    pub exact: bool,
    /// `S_t` for each output token.
    pub scores: Vec<f32>,
    /// `‖∂S_t/∂e_i‖₂`: one row per output token, one column per input token.
    pub matrix: Vec<Vec<f32>>,
    /// `|∂S_t/∂e_ij|`: per output token, per input token, per dimension.
    pub gradients: Vec<Vec<Vec<f32>>>,
    /// How it was made.
    pub provenance: AutoencoderProvenance,
}

/// Explain one sentence. `max_steps` bounds the greedy reconstruction.
pub fn explain(
    loaded: &LoadedAutoencoder,
    sentence: &Sentence,
    score: DecoderScore,
    outputs: OutputChoice,
    max_steps: usize,
) -> Result<ReconstructionSaliency> {
    let model = &loaded.model;
    // Whether the model rebuilds the input is a fact of its greedy output, whichever tokens are
    // explained.
    let b = crate::model::autoencoder::PairBatch::new(&[&sentence.ids], &[&sentence.ids]);
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
    let mut matrix = Vec::with_capacity(j.outputs);
    let mut gradients = Vec::with_capacity(j.outputs);
    for t in 0..j.outputs {
        let step = &j.gradients[t * n * d..(t + 1) * n * d];
        matrix.push(step.chunks(d).map(|row| row.iter().map(|v| v * v).sum::<f64>().sqrt() as f32).collect());
        gradients.push(step.chunks(d).map(|row| row.iter().map(|v| v.abs() as f32).collect()).collect());
    }
    Ok(ReconstructionSaliency {
        sentence: sentence.id,
        text: sentence.text.clone(),
        input_tokens: sentence.tokens.clone(),
        input_words: sentence.words.clone(),
        unknown: sentence.ids.iter().map(|&id| id == crate::data::vocab::UNK_ID).collect(),
        output_tokens: output_ids.iter().map(|&id| token(&loaded.vocab, id)).collect(),
        exact,
        scores: j.scores.iter().map(|&s| s as f32).collect(),
        matrix,
        gradients,
        provenance: AutoencoderProvenance {
            model: loaded.dir.display().to_string(),
            weights_sha256: loaded.card.weights_sha256.clone(),
            score,
            outputs,
            salient_version: env!("CARGO_PKG_VERSION").to_string(),
        },
    })
}

fn token(vocab: &Vocab, id: u32) -> String {
    if id == EOS_ID {
        EOS_TOKEN.to_string()
    } else {
        vocab.id_to_token(id).unwrap_or_else(|| format!("#{id}"))
    }
}

impl ReconstructionSaliency {
    fn model_name(&self) -> String {
        std::path::Path::new(&self.provenance.model)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.provenance.model.clone())
    }

    /// The output × input matrix as a heatmap: one row per output token, one column per input
    /// token, the score of each output token noted on the right.
    pub fn matrix_heatmap(&self) -> Heatmap {
        Heatmap {
            title: format!(
                "{} · saliency of input tokens for each output token · {}",
                self.model_name(),
                self.provenance.score.formula()
            ),
            subtitle: vec![
                format!("in : {}", self.text),
                format!("out: {}{}", self.output_tokens.join(" "), if self.exact { "  (exact)" } else { "" }),
            ],
            row_labels: self.output_tokens.clone(),
            muted_rows: vec![false; self.output_tokens.len()],
            row_notes: self.scores.iter().map(|&s| crate::render::format_number(s)).collect(),
            notes_title: "S_t".into(),
            column_labels: self.input_words.clone(),
            x_label: "input token".into(),
            value_label: "‖∂S_t/∂e_i‖₂".into(),
            values: self.matrix.iter().flatten().copied().collect(),
            columns: self.input_tokens.len(),
            kind: Values::Magnitude,
        }
    }

    /// The map of output step `t`: input tokens × embedding dimensions, `|∂S_t/∂e_ij|`.
    pub fn step_heatmap(&self, t: usize) -> Heatmap {
        let dim = self.gradients[t].first().map_or(0, Vec::len);
        Heatmap {
            title: format!(
                "{} · output {} `{}` · {}",
                self.model_name(),
                t + 1,
                self.output_tokens[t],
                self.provenance.score.formula()
            ),
            subtitle: vec![format!("in : {}", self.text)],
            row_labels: self.input_words.clone(),
            muted_rows: self.unknown.clone(),
            row_notes: self.matrix[t].iter().map(|&s| crate::render::format_number(s)).collect(),
            notes_title: "‖w‖₂".into(),
            column_labels: (0..dim).map(|j| j.to_string()).collect(),
            x_label: "embedding dimension".into(),
            value_label: "|∂S_t/∂e_ij|".into(),
            values: self.gradients[t].iter().flatten().copied().collect(),
            columns: dim,
            kind: Values::Magnitude,
        }
    }
}
