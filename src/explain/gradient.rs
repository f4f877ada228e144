//! First-derivative saliency (`grad`, the paper's) and gradient x input (`grad-input`).
//!
//! One forward and one backward pass per batch: `w_ij = dS_c/de_ij` at the input. `grad` gives
//! `|w_ij|` and, per token, `||w_i||_2`; `grad-input` gives `w_ij e_ij` and, per token, the sum
//! over `j` (the first-order Taylor term of token `i`).

use candle_core::DType;

use super::{
    embed, embedding_gradients, fixed_classes, host_rows, real_positions, Input, Method, Row, Target, ValueKind,
};
use crate::error::Result;
use crate::model::Classifier;

/// `grad` (`times_input: false`) or `grad-input` (`true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gradient {
    /// Multiply the gradient by the input embedding.
    pub times_input: bool,
}

/// L2 norm of a vector.
pub fn l2(v: &[f32]) -> f32 {
    v.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>().sqrt() as f32
}

impl Method for Gradient {
    fn name(&self) -> &'static str {
        if self.times_input {
            "grad-input"
        } else {
            "grad"
        }
    }

    fn options(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn values(&self) -> ValueKind {
        if self.times_input {
            ValueKind::Signed
        } else {
            ValueKind::Magnitude
        }
    }

    fn value_label(&self) -> String {
        if self.times_input {
            "∂S_c/∂e · e".into()
        } else {
            "|∂S_c/∂e|".into()
        }
    }

    fn token_score(&self) -> &'static str {
        if self.times_input {
            "sum over dimensions"
        } else {
            "L2 norm over dimensions"
        }
    }

    fn attribute(&self, model: &Classifier, input: &Input, target: &Target) -> Result<Vec<Row>> {
        let b = &input.batch;
        let fixed = fixed_classes(target.class, model.config().num_classes(), b.batch)?;
        let x = embed(model, b)?;
        let mask = model.mask(b)?;
        let pass = embedding_gradients(model, &x, mask.as_ref(), fixed.as_deref(), target.score)?;
        let inputs = if self.times_input { Some(real_positions(&x, &b.lengths)?) } else { None };
        let (logits, classes) = (host_rows(&pass.logits)?, pass.classes);
        let scores = pass.scores.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let grads = real_positions(&pass.grad, &b.lengths)?;
        Ok(grads
            .into_iter()
            .enumerate()
            .map(|(r, g)| {
                let (matrix, token_scores) = match &inputs {
                    None => {
                        let token_scores = g.iter().map(|v| l2(v)).collect();
                        (g.into_iter().map(|v| v.into_iter().map(f32::abs).collect()).collect(), token_scores)
                    }
                    Some(xs) => {
                        let m: Vec<Vec<f32>> = g
                            .iter()
                            .zip(&xs[r])
                            .map(|(gv, xv)| gv.iter().zip(xv).map(|(a, b)| a * b).collect())
                            .collect();
                        let token_scores = m.iter().map(|v| v.iter().sum()).collect();
                        (m, token_scores)
                    }
                };
                Row {
                    matrix,
                    token_scores,
                    class: classes[r],
                    logits: logits[r].clone(),
                    score: scores[r],
                    completeness: None,
                }
            })
            .collect())
    }
}
