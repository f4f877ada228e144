//! Projections of phrase representations to two dimensions (the paper's Figure 2).
//!
//! 1. [`PhraseSet`]: phrases from a file (one a line, an optional tab-separated gold label) or
//!    sampled from an SST split with their gold labels; duplicates are dropped with a note,
//!    unknown words are noted, phrases of unknown words only are reported by line and skipped.
//! 2. [`represent`]: each phrase's final representation through the model's trace hooks, with
//!    its predicted class and probabilities (batched by length, so no padding is involved).
//! 3. [`project`]: [t-SNE](tsne) (Barnes-Hut, seeded, bit-reproducible) or [PCA](pca) (exact).
//! 4. [`Projection`]: plain serde data, one [`ProjectedPoint`] per phrase, with provenance.
//!
//! [`phrases`] says where phrases come from (a file, an SST sample, a shipped preset).

pub mod pca;
pub mod phrases;
pub mod tsne;

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::ModelSource;
use crate::data::sst::Tree;
use crate::data::{Classes, Vocab};
use crate::data::{Failure, Sentence};
use crate::error::{Error, Result};
use crate::explain::{argmax, embed, host_rows, softmax};
use crate::model::{Classifier, Trace, TraceRequest};

pub use tsne::{Init, TsneParams};

/// A phrase to project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phrase {
    /// The phrase, tokenized.
    pub sentence: Sentence,
    /// Where it came from (`phrases.txt line 3`, `dev phrase 17`).
    pub at: String,
    /// Its gold class index in the model's task, when known.
    pub gold: Option<usize>,
}

/// Phrases ready to project, with what was noticed while reading them.
#[derive(Debug, Clone, Default)]
pub struct PhraseSet {
    /// The usable phrases, each once.
    pub phrases: Vec<Phrase>,
    /// Remarks that do not stop anything (duplicates dropped, unknown words).
    pub notes: Vec<String>,
    /// Lines that cannot be used (empty after tokenizing, only unknown words, bad label).
    pub failures: Vec<Failure>,
    /// Index of each phrase by its tokens (to find repeats).
    seen: HashMap<Vec<String>, usize>,
}

impl PhraseSet {
    /// Read a phrase file's `contents` (`source` names it in messages). One phrase a line,
    /// optionally followed by a tab and its gold label (a class name of `task`, or its index);
    /// blank lines and lines starting with `#` are skipped.
    pub fn parse(contents: &str, source: &str, vocab: &Vocab, task: &Classes, max_tokens: usize) -> PhraseSet {
        let mut set = PhraseSet::default();
        for (i, line) in contents.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let at = format!("{source} line {}", i + 1);
            let (text, label) = match line.split_once('\t') {
                Some((t, l)) => (t, Some(l.trim())),
                None => (line, None),
            };
            let gold = match label.map(|l| parse_label(l, task)).transpose() {
                Ok(g) => g,
                Err(message) => {
                    set.failures.push(Failure { at: at.clone(), message: format!("{at}: {message}") });
                    continue;
                }
            };
            match Sentence::encode(vocab, i + 1, &at, text.trim(), max_tokens) {
                Ok(sentence) => set.push(Phrase { sentence, at, gold }),
                Err(e) => set.failures.push(Failure { at, message: e.to_string() }),
            }
        }
        set
    }

    /// `n` phrases drawn with `seed` from the unique labelled phrases of `trees` (SST: neutral
    /// ones dropped for a binary task; labelled text: its sentences; ones of unknown words
    /// only passed over), each with its gold label.
    pub fn sample(
        trees: &[Tree],
        split: &str,
        vocab: &Vocab,
        task: &Classes,
        n: usize,
        seed: u64,
    ) -> Result<PhraseSet> {
        // Unique as the model sees them (case folded when the vocabulary folds it).
        let mut seen: HashMap<String, ()> = HashMap::new();
        let mut pool: Vec<(&[String], usize)> = Vec::new();
        for tree in trees {
            for span in &tree.spans {
                let tokens = tree.phrase_tokens(span);
                let key = tokens.join(" ");
                let key = if vocab.lowercase() { key.to_lowercase() } else { key };
                if seen.insert(key, ()).is_none() {
                    if let Some(label) = task.map_label(span.label) {
                        pool.push((tokens, label as usize));
                    }
                }
            }
        }
        if n == 0 || n > pool.len() {
            return Err(Error::invalid(
                "sample",
                format!("{n} phrases asked for; the {split} split has {} unique labelled phrases", pool.len()),
            ));
        }
        pool.shuffle(&mut StdRng::seed_from_u64(seed));
        // Phrases of unknown words only (the model sees nothing but [UNK]) are passed over.
        let mut set = PhraseSet::default();
        let mut skipped = 0;
        for (tokens, label) in pool {
            if set.phrases.len() == n {
                break;
            }
            let k = set.phrases.len() + 1;
            let sentence = Sentence::from_tokens(vocab, k, tokens);
            match sentence.check(&format!("{split} phrase {k}"), usize::MAX) {
                Ok(()) => set.push(Phrase { sentence, at: format!("{split} phrase {k}"), gold: Some(label) }),
                Err(_) => skipped += 1,
            }
        }
        if set.phrases.len() < n {
            return Err(Error::invalid(
                "sample",
                format!(
                    "{n} phrases asked for; the {split} split has {} unique labelled phrases the model can read",
                    set.phrases.len()
                ),
            ));
        }
        if skipped > 0 {
            set.notes.push(format!("{skipped} sampled {split} phrase(s) of unknown words only were passed over"));
        }
        Ok(set)
    }

    /// Add a phrase unless the same tokens are there already (then a note says so).
    pub fn push(&mut self, phrase: Phrase) {
        if let Some(&first) = self.seen.get(&phrase.sentence.tokens) {
            let first = &self.phrases[first];
            self.notes.push(format!(
                "{}: \"{}\" repeats {}; it is projected once",
                phrase.at, phrase.sentence.text, first.at
            ));
            return;
        }
        let unknown = phrase.sentence.unknown_words();
        if !unknown.is_empty() {
            self.notes.push(format!("{}: not in the vocabulary (read as [UNK]): {}", phrase.at, unknown.join(" ")));
        }
        self.seen.insert(phrase.sentence.tokens.clone(), self.phrases.len());
        self.phrases.push(phrase);
    }

    /// Append another set (its duplicates of this one are dropped with a note).
    pub fn extend(&mut self, other: PhraseSet) {
        self.notes.extend(other.notes);
        self.failures.extend(other.failures);
        for p in other.phrases {
            self.push(p);
        }
    }
}

fn parse_label(label: &str, task: &Classes) -> std::result::Result<usize, String> {
    let names = task.names();
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(label)) {
        return Ok(i);
    }
    match label.parse::<usize>() {
        Ok(i) if i < names.len() => Ok(i),
        _ => Err(format!(
            "gold label `{label}` is not a class of the {} task; use one of {} or 0..{}",
            task.name(),
            names.join(", "),
            names.len() - 1
        )),
    }
}

/// A phrase's representation and the model's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Represented {
    /// The final representation (the classifier's input).
    pub vector: Vec<f32>,
    /// Class probabilities.
    pub probabilities: Vec<f32>,
}

/// The final representation of every phrase, through the trace hook, `batch_size` phrases of
/// equal length a forward pass; results in input order.
pub fn represent(model: &Classifier, phrases: &[Phrase], batch_size: usize) -> Result<Vec<Represented>> {
    let lengths = phrases.iter().map(|p| p.sentence.len());
    let groups = crate::data::batch::length_batches::<StdRng>(lengths, batch_size, None);
    let mut out: Vec<Option<Represented>> = vec![None; phrases.len()];
    for group in groups {
        let seqs: Vec<&[u32]> = group.iter().map(|&i| phrases[i].sentence.ids.as_slice()).collect();
        let batch = crate::data::Batch::from_sequences(&seqs, Vec::new());
        let mut trace = Trace::new(TraceRequest { representation: true, ..Default::default() });
        let x = embed(model, &batch)?;
        let mask = model.mask(&batch)?;
        let logits = model.forward_embedded(&x, mask.as_ref(), None, &mut trace)?;
        let repr = trace.representation().expect("the representation was asked for");
        for ((&i, vector), logits) in group.iter().zip(host_rows(repr)?).zip(host_rows(&logits)?) {
            out[i] = Some(Represented { vector, probabilities: softmax(&logits) });
        }
    }
    Ok(out.into_iter().map(|r| r.expect("every phrase is in a batch")).collect())
}

/// How to project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Method {
    /// Barnes-Hut t-SNE.
    Tsne(TsneParams),
    /// The first two principal components.
    Pca,
}

impl Method {
    /// `tsne` or `pca`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Tsne(_) => "tsne",
            Method::Pca => "pca",
        }
    }

    /// Check the settings against `n` points.
    pub fn check(&self, n: usize) -> Result<()> {
        match self {
            Method::Tsne(p) => p.check(n),
            Method::Pca if n < 2 => Err(Error::invalid("phrases", format!("PCA needs at least 2 phrases; got {n}"))),
            Method::Pca => Ok(()),
        }
    }
}

/// One projected phrase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectedPoint {
    /// The phrase as given.
    pub phrase: String,
    /// Where it came from.
    pub at: String,
    /// Coordinates.
    pub x: f64,
    /// Coordinates.
    pub y: f64,
    /// Gold class name, when known.
    pub gold: Option<String>,
    /// Predicted class name.
    pub predicted: String,
    /// Class probabilities, in class order.
    pub probabilities: Vec<f32>,
    /// Whether the figure highlights it.
    pub highlighted: bool,
}

/// A projection with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// The model.
    pub model: ModelSource,
    /// Its task's class names.
    pub classes: Vec<String>,
    /// The method and its settings.
    pub method: Method,
    /// t-SNE: the exact final KL divergence; PCA: `None`.
    pub kl_divergence: Option<f64>,
    /// PCA: the variance share of each axis; t-SNE: empty.
    pub explained_variance_ratio: Vec<f64>,
    /// One point per phrase.
    pub points: Vec<ProjectedPoint>,
    /// salient's version.
    pub salient_version: String,
}

/// Represent `phrases` with `model` and project them with `method` on `threads` threads;
/// `highlight` lists phrases (as written, or tokenized) to mark.
pub fn project(
    model: &Classifier,
    source: &ModelSource,
    phrases: &[Phrase],
    method: &Method,
    highlight: &[String],
    threads: usize,
) -> Result<Projection> {
    project_with_progress(model, source, phrases, method, highlight, threads, &mut |_| {})
}

/// [`project`], calling `progress(done)` with the number of finished t-SNE steps.
pub fn project_with_progress(
    model: &Classifier,
    source: &ModelSource,
    phrases: &[Phrase],
    method: &Method,
    highlight: &[String],
    threads: usize,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<Projection> {
    method.check(phrases.len())?;
    let reps = represent(model, phrases, 256)?;
    let d = reps.first().map_or(0, |r| r.vector.len());
    let data: Vec<f32> = reps.iter().flat_map(|r| r.vector.iter().copied()).collect();
    let n = phrases.len();
    let (coords, kl_divergence, explained_variance_ratio) = match method {
        Method::Tsne(params) => {
            let out = tsne::tsne_with_progress(&data, n, d, params, threads, progress)?;
            (out.coords, out.kl_divergence, Vec::new())
        }
        Method::Pca => {
            let fit = pca::pca(&data, n, d, 2)?;
            (fit.coords, None, fit.explained_variance_ratio)
        }
    };
    let classes: Vec<String> = model.config().task.names().iter().map(|s| s.to_string()).collect();
    let marked = |p: &Phrase| {
        highlight.iter().any(|h| {
            let h = h.trim();
            h.eq_ignore_ascii_case(p.sentence.text.trim()) || h.eq_ignore_ascii_case(&p.sentence.tokens.join(" "))
        })
    };
    let points = phrases
        .iter()
        .zip(&reps)
        .enumerate()
        .map(|(i, (p, r))| ProjectedPoint {
            phrase: p.sentence.text.clone(),
            at: p.at.clone(),
            x: coords[2 * i],
            y: coords[2 * i + 1],
            gold: p.gold.map(|g| classes[g].clone()),
            predicted: classes[argmax(&r.probabilities)].clone(),
            probabilities: r.probabilities.clone(),
            highlighted: marked(p),
        })
        .collect();
    Ok(Projection {
        model: source.clone(),
        classes,
        method: method.clone(),
        kl_divergence,
        explained_variance_ratio,
        points,
        salient_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}
