//! Variance saliency (from an earlier version of the paper): `(e_ij - mean_i e_ij)^2`, how far
//! each token's embedding lies from the sentence's mean embedding, dimension by dimension; per
//! token, the sum over `j` (the squared distance). It reads only the embeddings, so the class
//! and score do not enter; the prediction is still recorded.

use super::{argmax, logits_of, Input, Method, Row, Target, ValueKind};
use crate::error::Result;
use crate::model::Classifier;

/// Variance saliency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Variance;

/// `(e_ij - mean_i e_ij)^2` for a `tokens x dims` embedding matrix.
pub(crate) fn variance_map(embeddings: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let n = embeddings.len().max(1) as f64;
    let dims = embeddings.first().map_or(0, Vec::len);
    let mean: Vec<f64> = (0..dims).map(|j| embeddings.iter().map(|e| e[j] as f64).sum::<f64>() / n).collect();
    embeddings.iter().map(|e| e.iter().zip(&mean).map(|(&v, m)| ((v as f64 - m).powi(2)) as f32).collect()).collect()
}

impl Method for Variance {
    fn name(&self) -> &'static str {
        "variance"
    }

    fn options(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn values(&self) -> ValueKind {
        ValueKind::Magnitude
    }

    fn uses_score(&self) -> bool {
        false
    }

    fn value_label(&self) -> String {
        "(e − ē)²".into()
    }

    fn token_score(&self) -> &'static str {
        "squared distance from the mean embedding"
    }

    fn attribute(&self, model: &Classifier, input: &Input, _: &Target) -> Result<Vec<Row>> {
        let logits = logits_of(model, &input.batch)?;
        Ok(input
            .sentences
            .iter()
            .zip(logits)
            .map(|(s, logits)| {
                let e: Vec<Vec<f32>> = s.ids.iter().map(|&id| model.embedding().row(id).to_vec()).collect();
                let matrix = variance_map(&e);
                let class = argmax(&logits);
                Row {
                    token_scores: matrix.iter().map(|v| v.iter().sum()).collect(),
                    matrix,
                    class,
                    score: f64::NAN,
                    logits,
                    completeness: None,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squared_distance_from_the_mean() {
        let m = variance_map(&[vec![1.0, 0.0], vec![3.0, 0.0]]);
        assert_eq!(m, vec![vec![1.0, 0.0], vec![1.0, 0.0]]);
    }
}
