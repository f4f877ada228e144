//! What is explained: a class `c` and a score `S_c` of the logits, and the batched gradient of
//! `S_c` with respect to the input embeddings.
//!
//! For a batch, `sum_b S_{c_b}(x_b)` is differentiated once: rows of a batch do not interact
//! (padding is masked), so the gradient's row `b` is `dS_{c_b}(x_b) / dx_b`.

use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::error::{Error, Result};
use crate::model::{Classifier, NoTrace};

/// The class score that is explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ScoreKind {
    /// The logit `z_c`.
    Logit,
    /// The softmax probability `p_c`.
    Prob,
    /// The paper's `exp(z_c)`, the softmax numerator.
    #[default]
    Paper,
    /// The log-probability `log p_c` (erasure's default).
    Logprob,
}

impl ScoreKind {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ScoreKind::Logit => "logit",
            ScoreKind::Prob => "prob",
            ScoreKind::Paper => "paper",
            ScoreKind::Logprob => "logprob",
        }
    }

    /// The formula, for figure titles.
    pub fn formula(self) -> &'static str {
        match self {
            ScoreKind::Logit => "z_c",
            ScoreKind::Prob => "p_c",
            ScoreKind::Paper => "exp(z_c)",
            ScoreKind::Logprob => "log p_c",
        }
    }

    /// `S` for every class: `(batch, classes)` from logits `(batch, classes)`.
    pub fn apply(self, logits: &Tensor) -> Result<Tensor> {
        Ok(match self {
            ScoreKind::Logit => logits.clone(),
            ScoreKind::Prob => candle_nn::ops::softmax(logits, D::Minus1)?,
            ScoreKind::Paper => logits.exp()?,
            ScoreKind::Logprob => candle_nn::ops::log_softmax(logits, D::Minus1)?,
        })
    }

    /// `S` for plain logits of one row, in f64 (for checks and for erasure).
    pub fn of_logits(self, logits: &[f32], class: usize) -> f64 {
        let z: Vec<f64> = logits.iter().map(|&v| v as f64).collect();
        let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        match self {
            ScoreKind::Logit => z[class],
            ScoreKind::Prob => (z[class] - log_sum).exp(),
            ScoreKind::Paper => z[class].exp(),
            ScoreKind::Logprob => z[class] - log_sum,
        }
    }
}

impl std::fmt::Display for ScoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which class to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClassChoice {
    /// The class the model predicts for each sentence.
    #[default]
    Predicted,
    /// A fixed class index.
    Fixed(usize),
}

impl ClassChoice {
    /// Parse `predicted`, a class index, or a class name (`positive`, `very negative`). A name
    /// written exactly as the model has it wins over an index, so that labelled text's classes
    /// named by numbers (`1`..`5`) are found by name; then an index; then a name in any case,
    /// with `-` for spaces.
    pub fn parse(text: &str, class_names: &[&str]) -> Result<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("predicted") {
            return Ok(ClassChoice::Predicted);
        }
        if let Some(i) = class_names.iter().position(|n| *n == t) {
            return Ok(ClassChoice::Fixed(i));
        }
        if let Ok(i) = t.parse::<usize>() {
            if i < class_names.len() {
                return Ok(ClassChoice::Fixed(i));
            }
        }
        if let Some(i) = class_names.iter().position(|n| n.eq_ignore_ascii_case(t) || n.replace(' ', "-") == t) {
            return Ok(ClassChoice::Fixed(i));
        }
        let names: Vec<String> = class_names.iter().enumerate().map(|(i, n)| format!("{i} ({n})")).collect();
        Err(Error::invalid(
            "class",
            format!("`{text}` is not a class of this model; use `predicted` or one of {}", names.join(", ")),
        ))
    }

    /// The class of each row given its logits.
    pub(crate) fn resolve(self, logits: &[Vec<f32>]) -> Result<Vec<usize>> {
        logits
            .iter()
            .map(|row| match self {
                ClassChoice::Predicted => Ok(argmax(row)),
                ClassChoice::Fixed(c) if c < row.len() => Ok(c),
                ClassChoice::Fixed(c) => Err(Error::invalid(
                    "class",
                    format!("class {c} does not exist; the model has {} classes", row.len()),
                )),
            })
            .collect()
    }
}

/// The index of the largest value (the first one on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0
}

/// The class of every row when it is fixed (checked against the model), `None` when it is the
/// predicted one (known only after the forward pass).
pub(crate) fn fixed_classes(choice: ClassChoice, num_classes: usize, rows: usize) -> Result<Option<Vec<usize>>> {
    match choice {
        ClassChoice::Predicted => Ok(None),
        ClassChoice::Fixed(c) if c < num_classes => Ok(Some(vec![c; rows])),
        ClassChoice::Fixed(c) => {
            Err(Error::invalid("class", format!("class {c} does not exist; the model has {num_classes} classes")))
        }
    }
}

/// What to explain: which class, by which score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Target {
    /// The class.
    pub class: ClassChoice,
    /// The score of that class.
    pub score: ScoreKind,
}

/// `S_{c_b}` of each row: `(batch,)` from logits `(batch, classes)`.
pub fn class_scores(logits: &Tensor, classes: &[usize], kind: ScoreKind) -> Result<Tensor> {
    let (batch, n) = logits.dims2()?;
    let mut onehot = vec![0f32; batch * n];
    for (b, &c) in classes.iter().enumerate() {
        onehot[b * n + c] = 1.0;
    }
    let onehot = Tensor::from_vec(onehot, (batch, n), logits.device())?.to_dtype(logits.dtype())?;
    Ok((kind.apply(logits)? * onehot)?.sum(D::Minus1)?)
}

/// One forward and backward pass over a batch.
#[derive(Debug, Clone)]
pub struct GradientPass {
    /// `dS_{c_b}/dx_b`, `(batch, seq_len, dim)`; zero at padded positions.
    pub grad: Tensor,
    /// Logits at the input, `(batch, classes)`.
    pub logits: Tensor,
    /// The class of each row.
    pub classes: Vec<usize>,
    /// `S_{c_b}(x_b)`, `(batch,)`.
    pub scores: Tensor,
}

/// The gradient of each row's class score with respect to the embeddings `x`
/// `(batch, seq_len, dim)` (in the model's dtype), with the padding `mask` of the batch.
/// `classes` gives each row's class, or `None` for the predicted one.
pub(crate) fn embedding_gradients(
    model: &Classifier,
    x: &Tensor,
    mask: Option<&Tensor>,
    classes: Option<&[usize]>,
    kind: ScoreKind,
) -> Result<GradientPass> {
    let mut chosen = Vec::new();
    let pass = model.input_gradient(x, mask, &mut |logits| {
        chosen = match classes {
            Some(c) => c.to_vec(),
            None => host_rows(logits)?.iter().map(|r| argmax(r)).collect(),
        };
        class_scores(logits, &chosen, kind)
    })?;
    Ok(GradientPass { grad: pass.grad, logits: pass.logits, classes: chosen, scores: pass.scores })
}

/// A batch's embeddings in the model's dtype.
pub fn embed(model: &Classifier, batch: &Batch) -> Result<Tensor> {
    Ok(model.embed(batch)?.to_dtype(model.dtype())?)
}

/// Logits of a batch (no gradient), as host rows.
pub fn logits_of(model: &Classifier, batch: &Batch) -> Result<Vec<Vec<f32>>> {
    let x = embed(model, batch)?;
    let mask = model.mask(batch)?;
    host_rows(&model.forward_embedded(&x, mask.as_ref(), None, &mut NoTrace)?)
}

/// A `(rows, cols)` tensor as host rows of f32.
pub(crate) fn host_rows(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    Ok(t.to_dtype(DType::F32)?.to_vec2::<f32>()?)
}

/// A `(batch, seq_len, dim)` tensor as host data, keeping each row's real (last `lengths[b]`)
/// positions: `out[b][t][d]`.
pub(crate) fn real_positions(t: &Tensor, lengths: &[usize]) -> Result<Vec<Vec<Vec<f32>>>> {
    let (batch, seq_len, dim) = t.dims3()?;
    let flat = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    Ok((0..batch)
        .map(|b| {
            let start = seq_len - lengths[b];
            (start..seq_len).map(|p| flat[(b * seq_len + p) * dim..(b * seq_len + p + 1) * dim].to_vec()).collect()
        })
        .collect())
}

/// Left-padded batch of sequences of which some may be empty (an empty row is all padding and
/// reads as the zero state: its logits are the output bias).
pub(crate) fn batch_allowing_empty<S: AsRef<[u32]>>(seqs: &[S]) -> Batch {
    let mut b = Batch::from_sequences(seqs, Vec::new());
    if b.seq_len == 0 {
        b = Batch {
            ids: vec![crate::data::vocab::PAD_ID; b.batch],
            mask: vec![0.0; b.batch],
            lengths: vec![0; b.batch],
            labels: Vec::new(),
            batch: b.batch,
            seq_len: 1,
        };
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_parse_by_index_name_or_predicted() {
        let names = ["very negative", "negative", "neutral", "positive", "very positive"];
        assert_eq!(ClassChoice::parse("predicted", &names).unwrap(), ClassChoice::Predicted);
        assert_eq!(ClassChoice::parse("3", &names).unwrap(), ClassChoice::Fixed(3));
        assert_eq!(ClassChoice::parse("Very Negative", &names).unwrap(), ClassChoice::Fixed(0));
        assert_eq!(ClassChoice::parse("very-positive", &names).unwrap(), ClassChoice::Fixed(4));
        // Classes named by numbers: the name first, then the index.
        let stars = ["1", "2", "3", "4", "5"];
        assert_eq!(ClassChoice::parse("1", &stars).unwrap(), ClassChoice::Fixed(0));
        assert_eq!(ClassChoice::parse("0", &stars).unwrap(), ClassChoice::Fixed(0));
        let e = ClassChoice::parse("7", &names).unwrap_err().to_string();
        assert!(e.contains("invalid class") && e.contains("4 (very positive)"), "{e}");
    }

    #[test]
    fn scores_of_plain_logits() {
        let z = [1.0f32, 2.0];
        let lse = (1f64.exp() + 2f64.exp()).ln();
        assert!((ScoreKind::Logprob.of_logits(&z, 0) - (1.0 - lse)).abs() < 1e-12);
        assert!((ScoreKind::Prob.of_logits(&z, 1) - (2.0 - lse).exp()).abs() < 1e-12);
        assert!((ScoreKind::Paper.of_logits(&z, 1) - 2f64.exp()).abs() < 1e-12);
        assert_eq!(argmax(&[0.1, 0.5, 0.5]), 1);
    }
}
