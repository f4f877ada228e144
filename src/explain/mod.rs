//! Explanations: why a classifier gave a sentence its class.
//!
//! One interface, [`Method`], and several methods behind it, found by name in [`METHODS`]
//! ([`build_method`]; an unknown name is an error listing the known ones):
//!
//! | name | per token and dimension | per token | values |
//! | --- | --- | --- | --- |
//! | `grad` | `\|dS_c/de_ij\|` (the paper's first-derivative saliency) | L2 norm over `j` | magnitude |
//! | `grad-input` | `dS_c/de_ij * e_ij` | sum over `j` | signed |
//! | `ig` | integrated gradients `(e - b) * mean_k dS_c/de(b + a_k (e - b))` | sum over `j` | signed |
//! | `smoothgrad` | mean of `\|dS_c/de\|` at `e + N(0, s^2)`, seeded | L2 norm over `j` | magnitude |
//! | `erasure` | - | `S_c(x) - S_c(x without word i)` (default `S = log p`) | signed |
//! | `variance` | `(e_ij - mean_i e_ij)^2` (no model needed) | sum over `j` | magnitude |
//!
//! `S_c` is a [`ScoreKind`] of class `c` ([`ClassChoice`], by default the predicted class):
//! the logit, the probability, or the paper's `exp(logit)` (the default). The [`Explainer`]
//! drives a method over many sentences: it sorts them by length, batches them (gradient methods
//! run a whole batch in one forward and backward pass; padding is masked, so a sentence's
//! result does not depend on its batch), optionally on several threads, reports progress to a
//! callback, and returns one [`Attribution`] per sentence: plain serde data with its tokens,
//! its matrix and per-token scores, and a [`Provenance`] saying how it was made.
//!
//! Gradient methods (`grad`, `grad-input`, `ig`, `smoothgrad`) take their gradients from
//! [`Classifier::input_gradient`], which runs the model's hand-written CPU pass on f32 models
//! on the CPU (same numbers as candle's autograd, several times faster) and autograd otherwise.
//!
//! [`views`] draws the model's insides (final representations, per-step states, LSTM gates) as
//! [`views::MatrixView`]s, and [`faithfulness`] scores methods by comprehensiveness and
//! sufficiency.

pub mod autoencoder;
pub mod erasure;
pub mod faithfulness;
pub mod gradient;
pub mod integrated;
mod score;
pub mod smoothgrad;
pub mod variance;
pub mod views;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};

pub use score::{argmax, class_scores, embed, logits_of, ClassChoice, GradientPass, ScoreKind, Target};
pub(crate) use score::{batch_allowing_empty, embedding_gradients, fixed_classes, host_rows, real_positions};

use crate::checkpoint::ModelSource;
use crate::data::{Batch, Sentence};
use crate::error::{Error, Result};
use crate::model::{Arch, Classifier};

/// A batch of sentences handed to a [`Method`]: the sentences and their left-padded batch.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The sentences, in batch-row order.
    pub sentences: Vec<&'a Sentence>,
    /// Their ids, left-padded.
    pub batch: Batch,
}

impl<'a> Input<'a> {
    /// Batch `sentences`.
    pub fn new(sentences: Vec<&'a Sentence>) -> Self {
        let seqs: Vec<&[u32]> = sentences.iter().map(|s| s.ids.as_slice()).collect();
        let batch = Batch::from_sequences(&seqs, Vec::new());
        Input { sentences, batch }
    }
}

/// What a method computes for one sentence (the [`Explainer`] adds tokens and provenance).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `tokens x columns` values (columns: embedding dimensions, or one for erasure).
    pub matrix: Vec<Vec<f32>>,
    /// One score per token.
    pub token_scores: Vec<f32>,
    /// The class explained.
    pub class: usize,
    /// Logits at the input.
    pub logits: Vec<f32>,
    /// `S_c` at the input.
    pub score: f64,
    /// Integrated gradients' completeness check.
    pub completeness: Option<Completeness>,
}

/// Integrated gradients' completeness: the attributions should add up to `S(x) - S(baseline)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Completeness {
    /// Sum of all attributions.
    pub sum: f64,
    /// `S_c(x) - S_c(baseline)`.
    pub delta: f64,
    /// `|sum - delta|`.
    pub error: f64,
    /// `error / max(|delta|, 1e-12)`.
    pub relative: f64,
}

impl Completeness {
    /// From the sum of attributions and the score difference.
    pub fn new(sum: f64, delta: f64) -> Self {
        let error = (sum - delta).abs();
        Completeness { sum, delta, error, relative: error / delta.abs().max(1e-12) }
    }
}

/// An attribution method. Implementations compute; the [`Explainer`] batches and records.
pub trait Method: Send + Sync {
    /// Its name in [`METHODS`] (`grad`, `ig`, ...).
    fn name(&self) -> &'static str;
    /// Its options as JSON, for provenance.
    fn options(&self) -> serde_json::Value;
    /// The seed of its random numbers, if it draws any.
    fn seed(&self) -> Option<u64> {
        None
    }
    /// What its matrix holds.
    fn values(&self) -> ValueKind;
    /// The score it explains when none is asked for.
    fn default_score(&self) -> ScoreKind {
        ScoreKind::Paper
    }
    /// Whether the class and score matter (not for `variance`).
    fn uses_score(&self) -> bool {
        true
    }
    /// Whether the matrix has a column per embedding dimension (`erasure` has one column).
    fn per_dimension(&self) -> bool {
        true
    }
    /// What a matrix value is, for the colour bar (`|∂S_c/∂e|`; `S_c` is the score, which the
    /// figure's title defines).
    fn value_label(&self) -> String;
    /// What a per-token score is ("L2 norm over dimensions").
    fn token_score(&self) -> &'static str;
    /// Attribute a batch: one [`Row`] per sentence of `input`, in order.
    fn attribute(&self, model: &Classifier, input: &Input, target: &Target) -> Result<Vec<Row>>;
}

/// What the numbers of a result are: this decides how they can be compared and drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// Non-negative sizes (|gradient|, variance).
    #[default]
    Magnitude,
    /// Values of either sign (gradient x input, integrated gradients, hidden states).
    Signed,
    /// Values in `[0, 1]` (gate activations).
    Unit,
}

/// Integrated gradients' baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Baseline {
    /// The zero vector at every position.
    #[default]
    Zero,
    /// The padding token's embedding at every position.
    Pad,
}

/// Options of all methods, unchecked; each method checks the ones it uses when it is built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MethodParams {
    /// Integrated gradients: interpolation steps (midpoint rule), 1 to 10,000.
    pub steps: usize,
    /// Integrated gradients: the baseline.
    pub baseline: Baseline,
    /// SmoothGrad: noisy samples per sentence, 1 to 10,000.
    pub samples: usize,
    /// SmoothGrad: noise standard deviation as a fraction of the sentence's embedding range.
    pub noise: f32,
    /// Seed of random numbers (SmoothGrad's noise).
    pub seed: u64,
}

impl Default for MethodParams {
    fn default() -> Self {
        MethodParams { steps: 50, baseline: Baseline::Zero, samples: 50, noise: 0.15, seed: 1 }
    }
}

/// A method in the registry.
pub struct MethodInfo {
    /// The name for `--method`.
    pub name: &'static str,
    /// One line for help texts.
    pub summary: &'static str,
    /// Build it from options (checking them).
    pub build: fn(&MethodParams) -> Result<Box<dyn Method>>,
}

/// Every method, by name.
pub const METHODS: &[MethodInfo] = &[
    MethodInfo {
        name: "grad",
        summary: "first-derivative saliency |∂S_c/∂e| (the paper's)",
        build: |_| Ok(Box::new(gradient::Gradient { times_input: false })),
    },
    MethodInfo {
        name: "grad-input",
        summary: "gradient x input, dS/de * e",
        build: |_| Ok(Box::new(gradient::Gradient { times_input: true })),
    },
    MethodInfo {
        name: "ig",
        summary: "integrated gradients from a zero or padding baseline",
        build: |p| Ok(Box::new(integrated::IntegratedGradients::new(p.steps, p.baseline)?)),
    },
    MethodInfo {
        name: "smoothgrad",
        summary: "|∂S_c/∂e| averaged over seeded Gaussian noise",
        build: |p| Ok(Box::new(smoothgrad::SmoothGrad::new(p.samples, p.noise, p.seed)?)),
    },
    MethodInfo {
        name: "erasure",
        summary: "drop in log p(class) when a word is removed (leave-one-out)",
        build: |_| Ok(Box::new(erasure::Erasure)),
    },
    MethodInfo {
        name: "variance",
        summary: "(e_ij - mean_i e_ij)^2, the embedding's distance from the sentence mean",
        build: |_| Ok(Box::new(variance::Variance)),
    },
];

/// The names of all methods.
pub fn method_names() -> Vec<&'static str> {
    METHODS.iter().map(|m| m.name).collect()
}

/// Build the method called `name`.
pub fn build_method(name: &str, params: &MethodParams) -> Result<Box<dyn Method>> {
    match METHODS.iter().find(|m| m.name == name.trim()) {
        Some(info) => (info.build)(params),
        None => Err(Error::UnknownMethod { name: name.to_string(), known: method_names().join(", ") }),
    }
}

impl Provenance {
    /// Provenance of a view of `model`'s insides (no method options, score or class).
    pub fn view(model: &Classifier, source: &ModelSource, view: &str) -> Self {
        let config = model.config();
        Provenance {
            model: source.clone(),
            arch: Some(config.arch),
            task: Some(config.task.clone()),
            method: view.to_string(),
            options: serde_json::json!({}),
            score: None,
            class: None,
            seed: None,
            salient_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// How an attribution or view was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The model directory and its weights' checksum.
    pub model: ModelSource,
    /// The classifier's architecture (`None` for the autoencoder).
    pub arch: Option<Arch>,
    /// The classifier's task: an SST task or labelled text's classes (`None` for the
    /// autoencoder).
    pub task: Option<crate::data::Classes>,
    /// The method or view.
    pub method: String,
    /// Its options.
    pub options: serde_json::Value,
    /// The score explained (`None` where no score is involved).
    pub score: Option<ScoreKind>,
    /// How the class was chosen (`None` where no class is involved).
    pub class: Option<ClassChoice>,
    /// The seed of any random numbers.
    pub seed: Option<u64>,
    /// salient's version.
    pub salient_version: String,
}

/// One sentence's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// The sentence's id.
    pub sentence: usize,
    /// Its text.
    pub text: String,
    /// Tokens as the vocabulary sees them.
    pub tokens: Vec<String>,
    /// The user's words, one per token.
    pub words: Vec<String>,
    /// Vocabulary ids (1 = unknown).
    pub ids: Vec<u32>,
    /// `tokens x columns`: embedding dimensions, or one column (erasure).
    pub matrix: Vec<Vec<f32>>,
    /// What a matrix value is.
    pub value_label: String,
    /// One score per token.
    pub token_scores: Vec<f32>,
    /// What a token score is.
    pub token_score: String,
    /// Magnitudes or signed values.
    pub values: ValueKind,
    /// The class explained.
    pub class: usize,
    /// Its name.
    pub class_name: String,
    /// The predicted class.
    pub predicted: usize,
    /// Softmax probabilities at the input (empty for the autoencoder, whose classes are its
    /// vocabulary).
    pub probabilities: Vec<f32>,
    /// `S_c` at the input (`None` for methods without a score).
    pub score: Option<f64>,
    /// Integrated gradients' completeness check.
    pub completeness: Option<Completeness>,
    /// How it was made.
    pub provenance: Provenance,
}

/// Runs a [`Method`] over many sentences.
#[derive(Debug, Clone)]
pub struct Explainer<'a> {
    model: &'a Classifier,
    source: ModelSource,
    batch_size: usize,
    threads: usize,
}

impl<'a> Explainer<'a> {
    /// An explainer of `model`, batches of 64 sentences, one thread.
    pub fn new(model: &'a Classifier, source: ModelSource) -> Self {
        Explainer { model, source, batch_size: 64, threads: 1 }
    }

    /// Sentences per batch (at least 1).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Worker threads (at least 1); each runs whole batches.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// The model.
    pub fn model(&self) -> &Classifier {
        self.model
    }

    /// Where the model came from.
    pub fn source(&self) -> &ModelSource {
        &self.source
    }

    /// Provenance of results made by `method` for `target`.
    pub fn provenance(&self, method: &dyn Method, target: &Target) -> Provenance {
        let config = self.model.config();
        Provenance {
            model: self.source.clone(),
            arch: Some(config.arch),
            task: Some(config.task.clone()),
            method: method.name().to_string(),
            options: method.options(),
            score: method.uses_score().then_some(target.score),
            class: method.uses_score().then_some(target.class),
            seed: method.seed(),
            salient_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Explain every sentence (in the order given); `progress` hears how many are done so far.
    pub fn attribute(
        &self,
        method: &dyn Method,
        sentences: &[Sentence],
        target: &Target,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Attribution>> {
        if sentences.iter().any(Sentence::is_empty) {
            return Err(Error::invalid("sentences", "an empty sentence cannot be explained; check it first"));
        }
        let groups = self.groups(sentences);
        let rows = run_batches(&groups, self.threads, progress, |group| {
            let input = Input::new(group.iter().map(|&i| &sentences[i]).collect());
            method.attribute(self.model, &input, target)
        })?;
        let provenance = self.provenance(method, target);
        let names = self.model.config().task.names();
        let mut out: Vec<Option<Attribution>> = vec![None; sentences.len()];
        for (group, rows) in groups.iter().zip(rows) {
            for (&i, row) in group.iter().zip(rows) {
                let s = &sentences[i];
                let probabilities = softmax(&row.logits);
                out[i] = Some(Attribution {
                    sentence: s.id,
                    text: s.text.clone(),
                    tokens: s.tokens.clone(),
                    words: s.words.clone(),
                    ids: s.ids.clone(),
                    matrix: row.matrix,
                    value_label: method.value_label(),
                    token_scores: row.token_scores,
                    token_score: method.token_score().to_string(),
                    values: method.values(),
                    class: row.class,
                    class_name: names.get(row.class).copied().unwrap_or("?").to_string(),
                    predicted: argmax(&row.logits),
                    probabilities,
                    score: (method.uses_score() && row.score.is_finite()).then_some(row.score),
                    completeness: row.completeness,
                    provenance: provenance.clone(),
                });
            }
        }
        Ok(out.into_iter().map(|a| a.expect("every sentence is in one batch")).collect())
    }

    /// Indices of sentences in batches of at most `batch_size`: sentences of one length together
    /// (no padding, so no masking work), lengths with few sentences merged with their neighbours
    /// (padded and masked).
    fn groups(&self, sentences: &[Sentence]) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        order.sort_by_key(|&i| sentences[i].len());
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        let mut k = 0;
        while k < order.len() {
            let len = sentences[order[k]].len();
            let end = k + order[k..].iter().take_while(|&&i| sentences[i].len() == len).count();
            let same = &order[k..end];
            // A length with enough sentences gets batches of its own.
            if same.len() >= self.batch_size / 2 {
                if !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
                groups.extend(same.chunks(self.batch_size).map(<[usize]>::to_vec));
            } else {
                for &i in same {
                    if current.len() == self.batch_size {
                        groups.push(std::mem::take(&mut current));
                    }
                    current.push(i);
                }
            }
            k = end;
        }
        if !current.is_empty() {
            groups.push(current);
        }
        groups
    }
}

/// Softmax of one row of logits.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f64> = logits.iter().map(|&z| ((z - max) as f64).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| (e / sum) as f32).collect()
}

/// Run `work` on every group, on `threads` threads, reporting the number of items done; results
/// come back in group order. The first error stops the run.
pub fn run_batches<T: Send>(
    groups: &[Vec<usize>],
    threads: usize,
    progress: &mut dyn FnMut(usize),
    work: impl Fn(&[usize]) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let mut results: Vec<Option<T>> = (0..groups.len()).map(|_| None).collect();
    let mut done = 0;
    if threads <= 1 || groups.len() <= 1 {
        for (k, group) in groups.iter().enumerate() {
            results[k] = Some(work(group)?);
            done += group.len();
            progress(done);
        }
    } else {
        let next = AtomicUsize::new(0);
        let failed = std::sync::atomic::AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<(usize, Result<T>)>();
        std::thread::scope(|scope| -> Result<()> {
            for _ in 0..threads.min(groups.len()) {
                let tx = tx.clone();
                let (next, failed, work) = (&next, &failed, &work);
                scope.spawn(move || loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= groups.len() || failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let r = work(&groups[k]);
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    if tx.send((k, r)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (k, r) in rx {
                results[k] = Some(r?);
                done += groups[k].len();
                progress(done);
            }
            Ok(())
        })?;
    }
    Ok(results.into_iter().map(|r| r.expect("every batch ran")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_method_lists_the_known_ones() {
        let e = build_method("saliency", &MethodParams::default()).err().unwrap().to_string();
        assert!(e.contains("`saliency`"), "{e}");
        for name in method_names() {
            assert!(e.contains(name), "{e} lacks {name}");
        }
        for name in method_names() {
            assert_eq!(build_method(name, &MethodParams::default()).unwrap().name(), name);
        }
    }

    #[test]
    fn batches_run_on_threads_in_order() {
        let groups: Vec<Vec<usize>> = (0..10).map(|k| vec![k; k + 1]).collect();
        let mut seen = Vec::new();
        let out = run_batches(&groups, 2, &mut |d| seen.push(d), |g| Ok(g.len())).unwrap();
        assert_eq!(out, (1..=10).collect::<Vec<_>>());
        assert_eq!(*seen.last().unwrap(), 55);
        let err =
            run_batches(&groups, 2, &mut |_| {}, |g| if g.len() == 3 { Err(Error::invalid("x", "y")) } else { Ok(()) });
        assert!(err.is_err());
    }
}
