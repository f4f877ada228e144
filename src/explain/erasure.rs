//! Erasure, or leave-one-out (Li, Monroe and Jurafsky, 2016): the importance of word `i` is
//! `S_c(x) - S_c(x without word i)`, by default with `S = log p` (the drop in the class's
//! log-probability). The word is removed, not replaced: the shorter sentence is read as is (a
//! one-word sentence without its word is the empty input, read as the zero state). Forward
//! passes only, all variants of a batch together.

use super::{batch_allowing_empty, logits_of, Input, Method, Row, ScoreKind, Target, ValueKind};
use crate::error::Result;
use crate::model::Classifier;

/// Most sentences in one forward pass.
pub const MAX_ROWS: usize = 2048;

/// Leave-one-out erasure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Erasure;

/// The logits of many sequences (some possibly empty), in batches of [`MAX_ROWS`].
pub(crate) fn logits_of_sequences(model: &Classifier, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(seqs.len());
    for chunk in seqs.chunks(MAX_ROWS) {
        out.extend(logits_of(model, &batch_allowing_empty(chunk))?);
    }
    Ok(out)
}

impl Method for Erasure {
    fn name(&self) -> &'static str {
        "erasure"
    }

    fn options(&self) -> serde_json::Value {
        serde_json::json!({ "removal": "delete the word" })
    }

    fn values(&self) -> ValueKind {
        ValueKind::Signed
    }

    fn default_score(&self) -> ScoreKind {
        ScoreKind::Logprob
    }

    fn per_dimension(&self) -> bool {
        false
    }

    fn value_label(&self) -> String {
        "S_c(x) − S_c(x without the word)".into()
    }

    fn token_score(&self) -> &'static str {
        "drop in the score when the word is removed"
    }

    fn attribute(&self, model: &Classifier, input: &Input, target: &Target) -> Result<Vec<Row>> {
        let logits = logits_of(model, &input.batch)?;
        let classes = target.class.resolve(&logits)?;
        let mut variants = Vec::new();
        for s in &input.sentences {
            for i in 0..s.ids.len() {
                let mut ids = s.ids.clone();
                ids.remove(i);
                variants.push(ids);
            }
        }
        let erased = logits_of_sequences(model, &variants)?;
        let mut next = 0;
        Ok(input
            .sentences
            .iter()
            .enumerate()
            .map(|(r, s)| {
                let c = classes[r];
                let full = target.score.of_logits(&logits[r], c);
                let drops: Vec<f32> =
                    (0..s.ids.len()).map(|i| (full - target.score.of_logits(&erased[next + i], c)) as f32).collect();
                next += s.ids.len();
                Row {
                    matrix: drops.iter().map(|&v| vec![v]).collect(),
                    token_scores: drops,
                    class: c,
                    logits: logits[r].clone(),
                    score: full,
                    completeness: None,
                }
            })
            .collect())
    }
}
