//! Integrated gradients (Sundararajan et al., 2017) with the midpoint rule:
//! `IG_ij = (e_ij - b_ij) * (1/m) sum_k dS_c/de_ij (b + a_k (e - b))`, `a_k = (k + 1/2) / m`.
//!
//! The baseline `b` is the zero vector or the padding token's embedding at every position. By
//! completeness the attributions add up to `S_c(e) - S_c(b)`; the gap, which shrinks as `m`
//! grows, is reported with every result ([`Completeness`]). All steps of a batch run as one
//! big batch (in chunks of at most [`MAX_TOKENS`] tokens).

use candle_core::{DType, Tensor};

use super::{
    class_scores, embed, embedding_gradients, host_rows, real_positions, Baseline, Completeness, Input, Method, Row,
    Target, ValueKind,
};
use crate::data::vocab::PAD_ID;
use crate::error::{Error, Result};
use crate::model::{Classifier, NoTrace};

/// Most tokens (sentences x steps x positions) in one forward and backward pass, which bounds the
/// memory the backward pass holds (about 8 KiB a token for a BiLSTM).
pub const MAX_TOKENS: usize = 32_768;

/// Integrated gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegratedGradients {
    steps: usize,
    baseline: Baseline,
}

impl IntegratedGradients {
    /// With `steps` interpolation steps (1 to 10,000) from `baseline`.
    pub fn new(steps: usize, baseline: Baseline) -> Result<Self> {
        if !(1..=10_000).contains(&steps) {
            return Err(Error::invalid("steps", format!("integrated gradients needs 1 to 10000 steps, got {steps}")));
        }
        Ok(IntegratedGradients { steps, baseline })
    }
}

impl Method for IntegratedGradients {
    fn name(&self) -> &'static str {
        "ig"
    }

    fn options(&self) -> serde_json::Value {
        serde_json::json!({ "steps": self.steps, "baseline": self.baseline, "rule": "midpoint" })
    }

    fn values(&self) -> ValueKind {
        ValueKind::Signed
    }

    fn value_label(&self) -> String {
        "IG of S_c".into()
    }

    fn token_score(&self) -> &'static str {
        "sum over dimensions"
    }

    fn attribute(&self, model: &Classifier, input: &Input, target: &Target) -> Result<Vec<Row>> {
        let b = &input.batch;
        let x = embed(model, b)?;
        let mask = model.mask(b)?;
        let base = match self.baseline {
            Baseline::Zero => x.zeros_like()?,
            Baseline::Pad => Tensor::from_slice(model.embedding().row(PAD_ID), (1, 1, x.dim(2)?), x.device())?
                .to_dtype(x.dtype())?
                .broadcast_as(x.shape())?
                .contiguous()?,
        };
        let logits_x = model.forward_embedded(&x, mask.as_ref(), None, &mut NoTrace)?;
        let logits = host_rows(&logits_x)?;
        let classes = target.class.resolve(&logits)?;
        let logits_b = model.forward_embedded(&base, mask.as_ref(), None, &mut NoTrace)?;
        let s_x = class_scores(&logits_x, &classes, target.score)?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let s_b = class_scores(&logits_b, &classes, target.score)?.to_dtype(DType::F64)?.to_vec1::<f64>()?;

        let diff = (&x - &base)?;
        let rows = b.batch;
        let per_pass = (MAX_TOKENS / (rows * b.seq_len)).max(1);
        let mut total: Option<Tensor> = None;
        let mut k = 0;
        while k < self.steps {
            let n = per_pass.min(self.steps - k);
            let points = (k..k + n)
                .map(|i| {
                    let a = (i as f64 + 0.5) / self.steps as f64;
                    Ok((&base + (&diff * a)?)?)
                })
                .collect::<Result<Vec<_>>>()?;
            let points = Tensor::cat(&points, 0)?;
            let mask_rep = match &mask {
                Some(m) => Some(Tensor::cat(&vec![m.clone(); n], 0)?),
                None => None,
            };
            let classes_rep: Vec<usize> = (0..n).flat_map(|_| classes.iter().copied()).collect();
            let pass = embedding_gradients(model, &points, mask_rep.as_ref(), Some(&classes_rep), target.score)?;
            let (_, t, d) = x.dims3()?;
            let summed = pass.grad.reshape((n, rows, t, d))?.sum(0)?;
            total = Some(match total {
                Some(acc) => (acc + summed)?,
                None => summed,
            });
            k += n;
        }
        let mean = (total.expect("at least one step") / self.steps as f64)?;
        let attr = real_positions(&(diff * mean)?, &b.lengths)?;
        Ok(attr
            .into_iter()
            .enumerate()
            .map(|(r, matrix)| {
                let token_scores: Vec<f32> =
                    matrix.iter().map(|v| v.iter().map(|&a| a as f64).sum::<f64>() as f32).collect();
                let sum: f64 = matrix.iter().flatten().map(|&a| a as f64).sum();
                Row {
                    matrix,
                    token_scores,
                    class: classes[r],
                    logits: logits[r].clone(),
                    score: s_x[r],
                    completeness: Some(Completeness::new(sum, s_x[r] - s_b[r])),
                }
            })
            .collect())
    }
}
