//! Evaluation: sentence- and phrase-level accuracy of a classifier on SST trees (sentence level
//! only on labelled text, which has no phrase labels), and the
//! autoencoder's reconstruction scores (token accuracy, exact match, perplexity).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::data::{batch, Batch, Classes, Tree, Vocab};
use crate::error::{Error, Result};
use crate::model::Classifier;

/// Accuracy on one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitScores {
    /// Accuracy over whole sentences (tree roots).
    pub sentence_accuracy: f64,
    /// Accuracy over every labelled phrase; `None` for data without phrase labels (labelled
    /// text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phrase_accuracy: Option<f64>,
}

/// Accuracy on a split, with the counts behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Correct sentences / sentences (roots; binary drops neutral ones).
    pub sentence_accuracy: f64,
    /// Correct phrases / phrases (every labelled node occurrence; binary drops neutral ones);
    /// `None` for data without phrase labels (labelled text).
    pub phrase_accuracy: Option<f64>,
    /// Number of sentences scored.
    pub sentences: usize,
    /// Number of phrases scored (`None` without phrase labels).
    pub phrases: Option<usize>,
}

impl Evaluation {
    /// The two accuracies.
    pub fn scores(&self) -> SplitScores {
        SplitScores { sentence_accuracy: self.sentence_accuracy, phrase_accuracy: self.phrase_accuracy }
    }
}

/// Predict every distinct token sequence once, in length-sorted batches of `batch_size`.
pub fn predict_all(model: &Classifier, sequences: &[&[u32]], batch_size: usize) -> Result<Vec<u32>> {
    let mut predictions = vec![0u32; sequences.len()];
    let groups = batch::length_batches::<rand::rngs::StdRng>(sequences.iter().map(|s| s.len()), batch_size, None);
    for group in groups {
        let seqs: Vec<&[u32]> = group.iter().map(|&i| sequences[i]).collect();
        let b = Batch::from_sequences(&seqs, Vec::new());
        for (&i, p) in group.iter().zip(model.predict(&b)?) {
            predictions[i] = p;
        }
    }
    Ok(predictions)
}

/// Sentence- and phrase-level accuracy of `model` on `trees` under `task`; an error
/// ([`Error::NoSentenceToScore`]) when no sentence has a label under the task. Phrase-level
/// scores are left out (`None`) when the task's data has no phrase labels (labelled text).
pub fn evaluate(model: &Classifier, vocab: &Vocab, trees: &[Tree], task: impl Into<Classes>) -> Result<Evaluation> {
    let task = task.into();
    // Each distinct phrase is predicted once; scores count every occurrence.
    let mut index: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut occurrences: Vec<(usize, u32, bool)> = Vec::new(); // (distinct index, label, is root)
    for tree in trees {
        let root = tree.spans.len() - 1;
        for (k, span) in tree.spans.iter().enumerate() {
            let Some(label) = task.map_label(span.label) else { continue };
            let ids = vocab.token_ids(tree.phrase_tokens(span));
            let n = index.len();
            let i = *index.entry(ids).or_insert(n);
            occurrences.push((i, label as u32, k == root));
        }
    }
    if !occurrences.iter().any(|&(_, _, is_root)| is_root) {
        return Err(Error::NoSentenceToScore { trees: trees.len(), task: task.name() });
    }
    let mut distinct: Vec<(&Vec<u32>, usize)> = index.iter().map(|(k, &v)| (k, v)).collect();
    distinct.sort_by_key(|&(_, v)| v);
    let sequences: Vec<&[u32]> = distinct.iter().map(|(k, _)| k.as_slice()).collect();
    let predictions = predict_all(model, &sequences, 256)?;
    let (mut sentences, mut sentence_correct, mut phrase_correct) = (0usize, 0usize, 0usize);
    for &(i, label, is_root) in &occurrences {
        let correct = predictions[i] == label;
        phrase_correct += correct as usize;
        if is_root {
            sentences += 1;
            sentence_correct += correct as usize;
        }
    }
    // At least one root was scored, so neither count is zero.
    let ratio = |a: usize, b: usize| a as f64 / b as f64;
    let phrases = task.has_phrase_labels().then_some(occurrences.len());
    Ok(Evaluation {
        sentence_accuracy: ratio(sentence_correct, sentences),
        phrase_accuracy: phrases.map(|n| ratio(phrase_correct, n)),
        sentences,
        phrases,
    })
}

/// How well an autoencoder rebuilds held-out sentences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReconstructionScores {
    /// Sentences scored (those within the model's length limit).
    pub sentences: usize,
    /// Sentences left out for being longer than the limit.
    pub too_long: usize,
    /// Target tokens scored: each sentence's tokens plus its `[EOS]`.
    pub tokens: usize,
    /// Teacher-forced accuracy: the share of target tokens that are the decoder's most probable
    /// token given the true previous tokens.
    pub token_accuracy: f64,
    /// `exp` of the mean teacher-forced negative log-likelihood per target token.
    pub perplexity: f64,
    /// Greedy-decoding accuracy: tokens (and `[EOS]`) of the greedy reconstruction that equal
    /// the reference at the same position, over the longer of the two (so extra tokens count
    /// against it).
    pub greedy_token_accuracy: f64,
    /// Share of sentences whose greedy reconstruction is exactly the input (ending in `[EOS]`).
    pub exact_match: f64,
}

/// Whether a decoded `output` is exactly the `reference`: the same ids, followed by `[EOS]`
/// (`ended`). Ids are compared, not their strings, so an unknown word counts as rebuilt when the
/// decoder writes `[UNK]` in its place.
///
/// ```
/// use salient::eval::is_exact;
/// assert!(is_exact(&[4, 1, 9], &[4, 1, 9], true)); // 1 is [UNK]
/// assert!(!is_exact(&[4, 1, 9], &[4, 1, 9], false)); // no [EOS] within the limit
/// assert!(!is_exact(&[4, 1, 9], &[4, 1], true));
/// ```
pub fn is_exact(reference: &[u32], output: &[u32], ended: bool) -> bool {
    ended && output == reference
}

/// Score an autoencoder on encoded sentences (each within `model.config().max_len`), in batches
/// of equal-length sentences; an error ([`Error::NoSentenceToReconstruct`]) when there are none.
pub fn evaluate_reconstruction(
    model: &crate::model::Autoencoder,
    sentences: &[Vec<u32>],
    too_long: usize,
    batch_size: usize,
) -> Result<ReconstructionScores> {
    use crate::data::PairBatch;
    if sentences.is_empty() {
        return Err(Error::NoSentenceToReconstruct { too_long, max_len: model.config().max_len });
    }
    let groups = batch::length_batches::<rand::rngs::StdRng>(sentences.iter().map(Vec::len), batch_size, None);
    let (mut nll, mut tokens, mut correct, mut greedy_correct, mut greedy_total, mut exact) =
        (0f64, 0usize, 0usize, 0usize, 0usize, 0usize);
    for group in groups {
        let seqs: Vec<&[u32]> = group.iter().map(|&i| sentences[i].as_slice()).collect();
        let b = PairBatch::new(&seqs, &seqs);
        let logits = model.forward(&b, &mut crate::model::NoTrace, &mut crate::model::NoTrace)?;
        let n = b.target_tokens();
        nll += crate::model::loss::cross_entropy(&logits, &b.targets, crate::data::vocab::PAD_ID)?
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?
            * n as f64;
        let predicted = logits.argmax(candle_core::D::Minus1)?.to_vec1::<u32>()?;
        correct +=
            predicted.iter().zip(&b.targets).filter(|(p, t)| **t != crate::data::vocab::PAD_ID && p == t).count();
        tokens += n;
        for (reference, (output, ended)) in seqs.iter().zip(model.greedy(&b, model.config().max_len)?) {
            let hits = reference.iter().zip(&output).filter(|(a, b)| a == b).count()
                + usize::from(ended && output.len() == reference.len());
            greedy_correct += hits;
            greedy_total += reference.len().max(output.len()) + 1;
            exact += usize::from(is_exact(reference, &output, ended));
        }
    }
    // Every sentence has at least its `[EOS]` to score, so no count is zero.
    let ratio = |a: usize, b: usize| a as f64 / b as f64;
    Ok(ReconstructionScores {
        sentences: sentences.len(),
        too_long,
        tokens,
        token_accuracy: ratio(correct, tokens),
        perplexity: (nll / tokens as f64).exp(),
        greedy_token_accuracy: ratio(greedy_correct, greedy_total),
        exact_match: ratio(exact, sentences.len()),
    })
}
