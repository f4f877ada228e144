//! Labelled examples and batches: SST phrases (or labelled sentences) as token ids, grouped into left-padded batches.
//!
//! A batch is `batch x seq_len` ids, row-major, padded on the left with [`PAD_ID`] so that the
//! last step of every row is a real token; `mask` is 1 for real tokens and 0 for padding.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::Rng;

use super::classes::Classes;
use super::sst::Tree;
use super::vocab::{Vocab, BOS_ID, EOS_ID, PAD_ID, UNK_ID};

/// One labelled token sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Vocabulary ids.
    pub ids: Vec<u32>,
    /// Class under the task (0..num_classes).
    pub label: u32,
}

/// A left-padded batch of token sequences.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Ids, `batch * seq_len`, row-major, left-padded with [`PAD_ID`].
    pub ids: Vec<u32>,
    /// 1.0 for real tokens, 0.0 for padding, same layout as `ids`.
    pub mask: Vec<f32>,
    /// Real length of each row.
    pub lengths: Vec<usize>,
    /// Labels, when the examples have them.
    pub labels: Vec<u32>,
    /// Number of rows.
    pub batch: usize,
    /// Columns (the longest row).
    pub seq_len: usize,
}

impl Batch {
    /// Left-pad sequences into one batch. Every sequence must be non-empty.
    ///
    /// ```
    /// use salient::data::Batch;
    /// let b = Batch::from_sequences(&[vec![5, 6, 7], vec![8]], vec![1, 0]);
    /// assert_eq!((b.batch, b.seq_len), (2, 3));
    /// assert_eq!(b.ids, [5, 6, 7, 0, 0, 8]); // the last column is always a real token
    /// assert_eq!(b.mask, [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn from_sequences<S: AsRef<[u32]>>(seqs: &[S], labels: Vec<u32>) -> Self {
        let batch = seqs.len();
        let seq_len = seqs.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
        let mut ids = vec![PAD_ID; batch * seq_len];
        let mut mask = vec![0f32; batch * seq_len];
        let mut lengths = Vec::with_capacity(batch);
        for (row, seq) in seqs.iter().enumerate() {
            let seq = seq.as_ref();
            let start = row * seq_len + seq_len - seq.len();
            ids[start..start + seq.len()].copy_from_slice(seq);
            mask[start..start + seq.len()].fill(1.0);
            lengths.push(seq.len());
        }
        Batch { ids, mask, lengths, labels, batch, seq_len }
    }

    /// Batch of examples (their labels included).
    pub fn from_examples(examples: &[&Example]) -> Self {
        let seqs: Vec<&[u32]> = examples.iter().map(|e| e.ids.as_slice()).collect();
        Self::from_sequences(&seqs, examples.iter().map(|e| e.label).collect())
    }

    /// True when no row is padded (all rows have the same length).
    pub(crate) fn is_dense(&self) -> bool {
        self.lengths.iter().all(|&l| l == self.seq_len)
    }

    /// Number of real tokens.
    pub fn tokens(&self) -> usize {
        self.lengths.iter().sum()
    }

    /// Word dropout: replace each real token by [`UNK_ID`] with probability `p`, drawing one
    /// number from `rng` per real token, row by row (nothing drawn when `p` is 0). Padding and
    /// labels are untouched.
    pub fn drop_words(&mut self, p: f32, rng: &mut impl Rng) {
        if p <= 0.0 {
            return;
        }
        for (id, &m) in self.ids.iter_mut().zip(&self.mask) {
            if m > 0.0 && rng.random::<f32>() < p {
                *id = UNK_ID;
            }
        }
    }
}

/// Every labelled phrase of the trees, unique by token sequence (the first occurrence's label
/// wins), mapped to the task (binary drops neutral phrases). This is the training set.
pub fn unique_phrases(trees: &[Tree], vocab: &Vocab, task: impl Into<Classes>) -> Vec<Example> {
    let task = task.into();
    let mut seen: HashMap<&[String], ()> = HashMap::new();
    let mut out = Vec::new();
    for tree in trees {
        for span in &tree.spans {
            let tokens = tree.phrase_tokens(span);
            if seen.insert(tokens, ()).is_some() {
                continue;
            }
            if let Some(label) = task.map_label(span.label) {
                out.push(Example { ids: vocab.token_ids(tokens), label: label as u32 });
            }
        }
    }
    out
}

/// Every labelled phrase occurrence of the trees (not deduplicated), mapped to the task.
pub fn all_phrases(trees: &[Tree], vocab: &Vocab, task: impl Into<Classes>) -> Vec<Example> {
    let task = task.into();
    let mut out = Vec::new();
    for tree in trees {
        for span in &tree.spans {
            if let Some(label) = task.map_label(span.label) {
                out.push(Example { ids: vocab.token_ids(tree.phrase_tokens(span)), label: label as u32 });
            }
        }
    }
    out
}

/// The whole sentences of the trees with their root labels, mapped to the task.
pub fn sentences(trees: &[Tree], vocab: &Vocab, task: impl Into<Classes>) -> Vec<Example> {
    let task = task.into();
    trees
        .iter()
        .filter_map(|tree| {
            let label = task.map_label(tree.root_label())?;
            Some(Example { ids: vocab.token_ids(&tree.tokens), label: label as u32 })
        })
        .collect()
}

/// Indices of sequences, given their lengths, grouped into batches of equal length (so no
/// padding is needed), at most `batch_size` each. With an `rng`, sequences within a length and
/// the batch order are shuffled; without one the order is deterministic (by length, then input
/// order).
pub fn length_batches<R: Rng>(
    lengths: impl IntoIterator<Item = usize>,
    batch_size: usize,
    rng: Option<&mut R>,
) -> Vec<Vec<usize>> {
    let mut by_len: Vec<Vec<usize>> = Vec::new();
    for (i, len) in lengths.into_iter().enumerate() {
        if by_len.len() <= len {
            by_len.resize(len + 1, Vec::new());
        }
        by_len[len].push(i);
    }
    let batch_size = batch_size.max(1);
    match rng {
        Some(rng) => {
            let mut batches = Vec::new();
            for group in &mut by_len {
                group.shuffle(rng);
                batches.extend(group.chunks(batch_size).map(<[usize]>::to_vec));
            }
            batches.shuffle(rng);
            batches
        }
        None => by_len.iter().flat_map(|g| g.chunks(batch_size).map(<[usize]>::to_vec)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn word_dropout_replaces_about_p_of_the_real_tokens_and_never_padding() {
        let seqs: Vec<Vec<u32>> = (0..200).map(|r| (0..1 + r % 20).map(|t| 10 + t as u32).collect()).collect();
        let labels = vec![3; seqs.len()];
        let clean = Batch::from_sequences(&seqs, labels.clone());
        let mut b = clean.clone();
        b.drop_words(0.25, &mut StdRng::seed_from_u64(7));
        let real = clean.tokens();
        let mut dropped = 0;
        for ((&before, &after), &m) in clean.ids.iter().zip(&b.ids).zip(&clean.mask) {
            if m == 0.0 {
                assert_eq!((before, after), (PAD_ID, PAD_ID));
            } else if after != before {
                assert_eq!(after, UNK_ID);
                dropped += 1;
            }
        }
        let share = dropped as f64 / real as f64;
        assert!((share - 0.25).abs() < 0.03, "{dropped} of {real}");
        assert_eq!(
            (b.mask.clone(), b.lengths.clone(), b.labels.clone()),
            (clean.mask.clone(), clean.lengths.clone(), labels)
        );
        // Same seed, same drops; p = 0 changes nothing and draws nothing.
        let mut again = clean.clone();
        again.drop_words(0.25, &mut StdRng::seed_from_u64(7));
        assert_eq!(again.ids, b.ids);
        let mut rng = StdRng::seed_from_u64(7);
        let mut untouched = clean.clone();
        untouched.drop_words(0.0, &mut rng);
        assert_eq!(untouched.ids, clean.ids);
        assert_eq!(rng.random::<u64>(), StdRng::seed_from_u64(7).random::<u64>());
    }

    #[test]
    fn left_padding_puts_real_tokens_last() {
        let b = Batch::from_sequences(&[vec![5, 6, 7], vec![8]], vec![1, 0]);
        assert_eq!(b.seq_len, 3);
        assert_eq!(b.ids, [5, 6, 7, PAD_ID, PAD_ID, 8]);
        assert_eq!(b.mask, [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(b.lengths, [3, 1]);
        assert!(!b.is_dense());
        assert_eq!(b.tokens(), 4);
    }

    #[test]
    fn length_batches_cover_every_example_once_with_equal_lengths() {
        let examples: Vec<Example> = (0..100).map(|i| Example { ids: vec![2; 1 + i % 7], label: 0 }).collect();
        let mut rng = StdRng::seed_from_u64(3);
        let batches = length_batches(examples.iter().map(|e| e.ids.len()), 8, Some(&mut rng));
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        for b in &batches {
            assert!(b.len() <= 8);
            assert!(b.iter().all(|&i| examples[i].ids.len() == examples[b[0]].ids.len()));
        }
        let again = length_batches(examples.iter().map(|e| e.ids.len()), 8, Some(&mut StdRng::seed_from_u64(3)));
        assert_eq!(batches, again);
    }
}

/// Sentences arranged for the autoencoder, all time-major (`step * batch + row`).
#[derive(Debug, Clone, PartialEq)]
pub struct PairBatch {
    /// Sentences in the batch.
    pub batch: usize,
    /// Encoder steps (the longest sentence).
    pub src_len: usize,
    /// Encoder input ids, left-padded with `[PAD]`.
    pub src_ids: Vec<u32>,
    /// 1 for tokens, 0 for left padding; empty when nothing is padded.
    pub src_mask: Vec<f32>,
    /// Decoder steps (the longest sentence plus `[EOS]`).
    pub tgt_len: usize,
    /// Decoder inputs: `[BOS]`, then the sentence; `[PAD]` after its end.
    pub decoder_ids: Vec<u32>,
    /// Decoder targets: the sentence, then `[EOS]`; `[PAD]` after.
    pub targets: Vec<u32>,
}

impl PairBatch {
    /// Arrange `sources` (encoder inputs) and `outputs` (what the decoder should produce, without
    /// `[EOS]`; usually the same sentences) for teacher forcing.
    pub fn new<S: AsRef<[u32]>, T: AsRef<[u32]>>(sources: &[S], outputs: &[T]) -> Self {
        assert_eq!(sources.len(), outputs.len(), "one output per source");
        let batch = sources.len();
        let src_len = sources.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
        let tgt_len = outputs.iter().map(|s| s.as_ref().len()).max().unwrap_or(0) + 1;
        let mut src_ids = vec![PAD_ID; src_len * batch];
        let mut src_mask = vec![0f32; src_len * batch];
        for (b, s) in sources.iter().enumerate() {
            let s = s.as_ref();
            let pad = src_len - s.len();
            for (i, &id) in s.iter().enumerate() {
                src_ids[(pad + i) * batch + b] = id;
                src_mask[(pad + i) * batch + b] = 1.0;
            }
        }
        if src_mask.iter().all(|&m| m == 1.0) {
            src_mask.clear();
        }
        let mut decoder_ids = vec![PAD_ID; tgt_len * batch];
        let mut targets = vec![PAD_ID; tgt_len * batch];
        for (b, s) in outputs.iter().enumerate() {
            let s = s.as_ref();
            decoder_ids[b] = BOS_ID;
            for (i, &id) in s.iter().enumerate() {
                decoder_ids[(i + 1) * batch + b] = id;
                targets[i * batch + b] = id;
            }
            targets[s.len() * batch + b] = EOS_ID;
        }
        PairBatch { batch, src_len, src_ids, src_mask, tgt_len, decoder_ids, targets }
    }

    /// Decoder targets that are not padding (tokens plus one `[EOS]` per sentence).
    pub fn target_tokens(&self) -> usize {
        self.targets.iter().filter(|&&t| t != PAD_ID).count()
    }
}
