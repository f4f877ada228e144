//! Training: one epoch loop for every model (model selection on dev, early stopping, atomic
//! checkpoints, exact resumption), and the SST classifiers' use of it: AdaGrad on every unique
//! labelled phrase of the training split (or every occurrence), selection on dev sentences, with
//! the recipes' options: word dropout, scoring the average of the last epochs' weights, and a
//! learning-rate schedule (see [`schedule`]) whose bounds [`lr_range_test`] helps to find.
//!
//! An output directory holds the selected model (`model.safetensors`, `config.json`,
//! `tokenizer.json`) and `checkpoint/` with the last epoch's weights, optimizer state, progress
//! and a copy of the selected model, every file checksummed in a manifest and the directory
//! replaced as a whole (see `src/train/store.rs`), from which `--resume` continues. Each epoch
//! draws its shuffling and dropout from generators seeded by `(seed, epoch)`, so a resumed run
//! ends where an uninterrupted one would. A loss, weight or optimizer entry that is NaN or
//! infinite stops the run with [`Error::Diverged`] before anything of that epoch is saved. A
//! model plugs into the loop by implementing [`Learner`]; see [`autoencoder`] for the second.

pub mod adagrad;
pub mod adam;
pub mod autoencoder;
mod host;
pub mod schedule;
mod store;

pub use schedule::{range_test_lr, LrSchedule};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, ModelCard, ModelFiles};
use crate::data::vectors::{self, Coverage};
use crate::data::{batch, dataset, sst, Batch, Classes, Fields, Split, Vocab};
use crate::error::{Error, Result};
use crate::eval::evaluate;
use crate::eval::SplitScores;
use crate::limits::Limits;
use crate::model::embedding::Embedding;
use crate::model::{Arch, Classifier, ClassifierConfig, Dropout};
use adagrad::{AdaGrad, AdaGradConfig};

/// An optimizer of dense `Var`s plus the rows of a host-side embedding table.
pub trait Optimizer {
    /// Update the dense parameters from `grads` and the embedding rows named by `ids` from
    /// `embedding_grad` (row-major, one row per id; repeated ids add up).
    fn step(&mut self, grads: &GradStore, embedding: &mut Embedding, ids: &[u32], embedding_grad: &[f32])
        -> Result<()>;
    /// The optimizer's state by name (for checkpoints).
    fn state(&self, embedding_shape: (usize, usize)) -> Result<HashMap<String, Tensor>>;
    /// Restore what [`Optimizer::state`] saved; a missing or misshaped entry is an error.
    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> std::result::Result<(), String>;
    /// Use learning rate `lr` from the next step on (for schedules).
    fn set_lr(&mut self, lr: f64);
}

/// A model the shared epoch loop can train: it knows its data, its batches, its loss, its
/// held-out scores and how to save itself.
pub trait Learner {
    /// Held-out scores after an epoch.
    type Scores: Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned;
    /// The training examples' lengths in tokens, in a fixed order (batches index into it).
    fn example_lengths(&self) -> Vec<usize>;
    /// Train on the examples at `indices`; returns the batch's mean loss, examples and tokens.
    fn train_batch(
        &mut self,
        optimizer: &mut dyn Optimizer,
        indices: &[usize],
        dropout: &mut Dropout,
    ) -> Result<BatchStats>;
    /// Score the held-out (dev) data.
    fn evaluate(&self) -> Result<Self::Scores>;
    /// Whether `new` beats `best` (the model is selected on this).
    fn improves(new: &Self::Scores, best: &Self::Scores) -> bool;
    /// The model's directory files, for its selection at `epoch` with `scores`.
    fn selected(&self, epoch: usize, scores: &Self::Scores) -> Result<ModelFiles>;
    /// Every weight in f32, for the checkpoint.
    fn checkpoint_tensors(&self) -> Result<HashMap<String, Tensor>>;
    /// The embedding table's `(vocab, dim)`.
    fn embedding_shape(&self) -> (usize, usize);
    /// An epoch starts; `seed` is the run's (for randomness of the learner's own).
    fn start_epoch(&mut self, _seed: u64, _epoch: usize) {}
    /// The epoch's batches are done; called before the checkpoint and the held-out scores.
    fn end_epoch(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Gradients of embedding rows summed per distinct id (a word seen twice in a batch gets one
/// update), reused across steps to avoid allocations.
#[derive(Debug, Default)]
pub struct RowGrads {
    slots: HashMap<u32, usize>,
    grads: Vec<f32>,
    order: Vec<u32>,
}

impl RowGrads {
    /// Sum `grad` (one `dim`-row per id) by id, for [`RowGrads::by_id`].
    pub fn sum(&mut self, ids: &[u32], grad: &[f32], dim: usize) {
        self.slots.clear();
        self.grads.clear();
        self.order.clear();
        for (k, &id) in ids.iter().enumerate() {
            let slot = *self.slots.entry(id).or_insert_with(|| {
                self.order.push(id);
                self.grads.resize(self.grads.len() + dim, 0.0);
                self.order.len() - 1
            });
            for (d, s) in self.grads[slot * dim..(slot + 1) * dim].iter_mut().zip(&grad[k * dim..(k + 1) * dim]) {
                *d += s;
            }
        }
    }

    /// Each distinct id of the last [`RowGrads::sum`], in first-seen order, with its summed row.
    pub(crate) fn by_id(&self, dim: usize) -> impl Iterator<Item = (u32, &[f32])> {
        self.order.iter().copied().zip(self.grads.chunks(dim.max(1)))
    }

    /// All summed rows, row-major in first-seen order.
    pub fn rows(&self) -> &[f32] {
        &self.grads
    }
}

/// What one training batch did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    /// Mean loss.
    pub loss: f32,
    /// Examples (phrases, sentences) in the batch.
    pub examples: usize,
    /// Tokens in the batch.
    pub tokens: usize,
}

/// The loop's settings shared by every model's options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopSettings {
    /// Most epochs.
    pub epochs: usize,
    /// Stop after this many epochs without a better held-out score.
    pub patience: usize,
    /// Examples per mini-batch (examples of equal length are batched together).
    pub batch_size: usize,
    /// Dropout probability.
    pub dropout: f32,
    /// Seed of shuffling and dropout.
    pub seed: u64,
    /// The (upper) learning rate.
    pub lr: f64,
    /// How the learning rate moves over the run.
    pub lr_schedule: LrSchedule,
}

/// Options of a run that can be resumed: they say whether a checkpoint belongs to the same run.
pub trait RunOptions: Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned {
    /// Whether `other` describes the same run, up to what may change on resumption.
    fn same_run(&self, other: &Self) -> bool;
}

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Encoder architecture.
    pub arch: Arch,
    /// The classes: an SST task (fine-grained, 5 classes, or binary) for SST trees, or labelled
    /// text's classes (see [`dataset::train_classes`]).
    pub task: Classes,
    /// The text and label fields of labelled-text data (unused for SST trees; left out of the
    /// JSON when they are the defaults).
    #[serde(flatten)]
    pub fields: Fields,
    /// Embedding size.
    pub embedding_dim: usize,
    /// Hidden size per direction.
    pub hidden_dim: usize,
    /// Most epochs to run.
    pub epochs: usize,
    /// Phrases per mini-batch.
    pub batch_size: usize,
    /// AdaGrad learning rate.
    pub lr: f64,
    /// L2 penalty on weight matrices and embedding rows (not on a frozen embedding table).
    pub l2: f64,
    /// Dropout on embeddings and on the final representation.
    pub dropout: f32,
    /// Seed of every random choice (initialisation, shuffling, dropout).
    pub seed: u64,
    /// Stop after this many epochs without a better dev sentence accuracy.
    pub patience: usize,
    /// Initial weights are uniform in `[-init_scale, init_scale]`.
    pub init_scale: f32,
    /// Lower-case tokens.
    pub lowercase: bool,
    /// Keep training tokens seen at least this often; rarer ones are `[UNK]`.
    pub min_count: usize,
    /// Storage type of the selected model's weights: `f32` or `f16`.
    pub weights_dtype: String,
    /// Pretrained word vectors, GloVe or word2vec text (`.gz` too): the vocabulary's words found
    /// there start from their vectors (which must have `embedding_dim` values), the others start
    /// random. See [`crate::data::vectors`] for the formats and the matching of case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<PathBuf>,
    /// Keep the embedding table as initialised: the optimizer neither updates nor decays it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub freeze_embeddings: bool,
    /// Train on every unique labelled phrase (the default) or on every occurrence.
    #[serde(default, skip_serializing_if = "PhraseSet::is_unique")]
    pub phrases: PhraseSet,
    /// Probability of replacing each training token by `[UNK]` (word dropout; 0 is off).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub word_dropout: f32,
    /// Score and select the average of the last this many epochs' weights (1: the weights
    /// themselves); training goes on from the weights, not from the average.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub average_last: usize,
    /// How the learning rate moves; `lr` is its upper rate.
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
}

/// Which labelled phrases of the training trees a classifier trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PhraseSet {
    /// Each distinct token sequence once (the first occurrence's label).
    #[default]
    Unique,
    /// Every phrase occurrence, as the paper's code did: frequent phrases weigh more.
    All,
}

impl PhraseSet {
    fn is_unique(&self) -> bool {
        *self == PhraseSet::Unique
    }
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl TrainOptions {
    /// The shipped models' settings: the paper's (60-d, AdaGrad, learning rate 0.05, L2) with
    /// mini-batches of 32 and dropout 0.5, chosen on dev (see the README's search table).
    pub fn recommended(arch: Arch, task: impl Into<Classes>) -> Self {
        TrainOptions {
            arch,
            task: task.into(),
            fields: Fields::default(),
            embedding_dim: 60,
            hidden_dim: 60,
            epochs: 20,
            batch_size: 32,
            lr: 0.05,
            l2: 1e-5,
            dropout: 0.5,
            seed: 1,
            patience: 4,
            init_scale: 0.1,
            lowercase: true,
            min_count: 1,
            weights_dtype: "f32".into(),
            embeddings: None,
            freeze_embeddings: false,
            phrases: PhraseSet::Unique,
            word_dropout: 0.0,
            average_last: 1,
            lr_schedule: LrSchedule::Constant,
        }
    }

    fn validate(&self) -> Result<DType> {
        let positive = [
            ("embedding_dim", self.embedding_dim),
            ("hidden_dim", self.hidden_dim),
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("patience", self.patience),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::invalid(name, "must be at least 1"));
            }
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(Error::invalid("l2", format!("must be >= 0, got {}", self.l2)));
        }
        if !(0.0..1.0).contains(&self.word_dropout) {
            return Err(Error::invalid("word_dropout", format!("must be in [0, 1), got {}", self.word_dropout)));
        }
        if self.average_last == 0 {
            return Err(Error::invalid("average_last", "must be at least 1"));
        }
        self.lr_schedule.check(self.lr).map_err(|m| Error::invalid("lr_schedule", m))?;
        check_common(self.lr, self.dropout, &self.weights_dtype)
    }

    /// Whether `other` describes the same run, up to the number of epochs and patience.
    fn same_run(&self, other: &TrainOptions) -> bool {
        let mut a = self.clone();
        a.epochs = other.epochs;
        a.patience = other.patience;
        a == *other
    }
}

/// Checks every model's options share: a positive learning rate, dropout in `[0, 1)`, and the
/// weights' storage type (`f32` or `f16`), which it returns.
fn check_common(lr: f64, dropout: f32, weights_dtype: &str) -> Result<DType> {
    if !(lr > 0.0 && lr.is_finite()) {
        return Err(Error::invalid("lr", format!("must be a positive number, got {lr}")));
    }
    if !(0.0..1.0).contains(&dropout) {
        return Err(Error::invalid("dropout", format!("must be in [0, 1), got {dropout}")));
    }
    match weights_dtype {
        "f32" => Ok(DType::F32),
        "f16" => Ok(DType::F16),
        other => Err(Error::invalid("weights_dtype", format!("expected f32 or f16, got `{other}`"))),
    }
}

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord<S = SplitScores> {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Dev scores after the epoch.
    pub dev: S,
    /// Wall-clock seconds of the training part.
    pub seconds: f64,
    /// Training examples (phrases, sentences) per second.
    #[serde(alias = "phrases_per_s")]
    pub examples_per_s: f64,
    /// Training tokens per second.
    pub tokens_per_s: f64,
    /// Whether this epoch became the selected model.
    pub improved: bool,
}

/// Progress of a run, saved in `checkpoint/state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "O: Serialize, S: Serialize", deserialize = "O: DeserializeOwned, S: DeserializeOwned"))]
pub struct TrainState<O = TrainOptions, S = SplitScores> {
    /// The run's options.
    pub options: O,
    /// Epochs completed.
    pub epochs_done: usize,
    /// The selected epoch and its dev scores.
    pub best: Option<(usize, S)>,
    /// One record per completed epoch.
    pub history: Vec<EpochRecord<S>>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

/// Events a training run reports to its caller (for progress bars and logs).
#[derive(Debug)]
pub enum TrainEvent<'a, S = SplitScores> {
    /// An epoch starts.
    EpochStart {
        /// 1-based epoch.
        epoch: usize,
        /// Batches in it.
        batches: usize,
    },
    /// A batch was trained on.
    Batch {
        /// Its loss.
        loss: f32,
        /// Examples (phrases, sentences) in it.
        examples: usize,
        /// Tokens in it.
        tokens: usize,
    },
    /// The epoch ended and dev was scored.
    EpochEnd(&'a EpochRecord<S>),
    /// The embeddings start from pretrained vectors: what they cover (reported once, before the
    /// first epoch; a resumed run reports what its start read).
    Embeddings(&'a Coverage),
}

/// What a resumed run starts from: its state, its weights, its optimizer's state and its
/// selected model, all verified against the checkpoint's manifest.
pub struct Resumed<O, S> {
    /// The checkpoint directory read.
    pub dir: PathBuf,
    /// Progress so far, with the options replaced by the new ones.
    pub state: TrainState<O, S>,
    /// The last epoch's weights.
    pub tensors: HashMap<String, Tensor>,
    /// The optimizer's state.
    pub optimizer: HashMap<String, Tensor>,
    /// The selected model's files.
    pub selected: ModelFiles,
    /// The run's vocabulary.
    pub vocab: Vocab,
}

/// Read and verify the checkpoint of the run in `out_dir`, checking that it was started with
/// `options` (up to what [`RunOptions::same_run`] allows to change), and finish what an
/// interrupted run left undone: the checkpoint's directory renamed into place, leftovers
/// removed, the selected model written to `out_dir` again where it lags the checkpoint.
pub fn resume_checkpoint<O: RunOptions, S: DeserializeOwned>(out_dir: &Path, options: &O) -> Result<Resumed<O, S>> {
    let (dir, generation) = store::read(out_dir)?;
    let mut state: TrainState<O, S> = serde_json::from_slice(&generation.state)
        .map_err(|e| Error::checkpoint(&dir, format!("state.json is from another kind of run: {e}")))?;
    if !state.options.same_run(options) {
        return Err(Error::ResumeOptions {
            dir: out_dir.to_path_buf(),
            started: serde_json::to_string(&state.options).unwrap_or_default(),
        });
    }
    let tensors = checkpoint::parse_safetensors(&dir, checkpoint::WEIGHTS_FILE, &generation.weights)?;
    let optimizer = checkpoint::parse_safetensors(&dir, "optimizer.safetensors", &generation.optimizer)?;
    let dir = store::restore(out_dir, &dir, &generation)?;
    let vocab = Vocab::load(&store::tokenizer_path(&dir))?;
    state.options = options.clone();
    Ok(Resumed { dir, state, tensors, optimizer, selected: generation.selected, vocab })
}

/// Refuse to start a new run in a directory that already holds one; create it otherwise.
pub(crate) fn ensure_fresh(out_dir: &Path) -> Result<()> {
    store::ensure_fresh(out_dir)
}

/// Trainable parameters by name.
pub type NamedVars = Vec<(String, Var)>;

/// Split named tensors into trainable `Var`s (all but the host-side embedding table) and the
/// map a model is built from.
pub fn trainable_tensors(
    tensors: HashMap<String, Tensor>,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, NamedVars)> {
    let mut vars = Vec::new();
    let mut map = HashMap::new();
    for (name, t) in tensors {
        let t = t.to_device(device)?.to_dtype(DType::F32)?;
        if name == "embedding.weight" {
            map.insert(name, t);
        } else {
            let var = Var::from_tensor(&t)?;
            map.insert(name.clone(), var.as_tensor().clone());
            vars.push((name, var));
        }
    }
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((map, vars))
}

/// The shared epoch loop: train, score dev, keep the best model, checkpoint, stop early.
///
/// Continues `state` (fresh or resumed, with the selected model's files `selected` of a resumed
/// run) until `settings.epochs` or until `settings.patience` epochs pass without a better dev
/// score. After each epoch the checkpoint is committed and then the selected model written to
/// `out_dir` (see `src/train/store.rs`). A batch loss, weight or optimizer entry that is NaN or
/// infinite stops the run with [`Error::Diverged`], keeping the last committed checkpoint.
pub fn run_epochs<L: Learner, O: RunOptions>(
    out_dir: &Path,
    learner: &mut L,
    optimizer: &mut dyn Optimizer,
    state: &mut TrainState<O, L::Scores>,
    mut selected: Option<ModelFiles>,
    settings: LoopSettings,
    on_event: &mut dyn FnMut(TrainEvent<L::Scores>),
) -> Result<()> {
    let lengths = learner.example_lengths();
    let mut since_best = state.best.as_ref().map(|(e, _)| state.epochs_done - e).unwrap_or(0);
    while state.epochs_done < settings.epochs && !(state.stopped_early || since_best >= settings.patience) {
        let epoch = state.epochs_done + 1;
        let diverged = |quantity: String, value: f32| Error::Diverged {
            epoch,
            quantity,
            value,
            last_good_epoch: state.epochs_done,
        };
        let (mut rng, mut dropout) = epoch_generators(settings.seed, epoch, settings.dropout);
        let batches = batch::length_batches(lengths.iter().copied(), settings.batch_size, Some(&mut rng));
        on_event(TrainEvent::EpochStart { epoch, batches: batches.len() });
        learner.start_epoch(settings.seed, epoch);
        let start = Instant::now();
        let (mut loss_sum, mut examples, mut tokens) = (0f64, 0usize, 0usize);
        for (k, indices) in batches.iter().enumerate() {
            if let Some(lr) = settings.lr_schedule.lr_at(settings.lr, epoch, k, batches.len()) {
                optimizer.set_lr(lr);
            }
            let stats = learner.train_batch(optimizer, indices, &mut dropout)?;
            if !stats.loss.is_finite() {
                return Err(diverged(format!("the training loss of batch {} of {}", k + 1, batches.len()), stats.loss));
            }
            loss_sum += stats.loss as f64 * stats.examples as f64;
            examples += stats.examples;
            tokens += stats.tokens;
            on_event(TrainEvent::Batch { loss: stats.loss, examples: stats.examples, tokens: stats.tokens });
        }
        learner.end_epoch()?;
        let seconds = start.elapsed().as_secs_f64();
        let weights = learner.checkpoint_tensors()?;
        let optimizer_state = optimizer.state(learner.embedding_shape())?;
        if let Some((name, value)) = first_non_finite(&weights)? {
            return Err(diverged(format!("weight `{name}`"), value));
        }
        if let Some((name, value)) = first_non_finite(&optimizer_state)? {
            return Err(diverged(format!("optimizer entry `{name}`"), value));
        }
        let dev = learner.evaluate()?;
        let improved = state.best.as_ref().is_none_or(|(_, b)| L::improves(&dev, b));
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / examples.max(1) as f64,
            dev: dev.clone(),
            seconds,
            examples_per_s: examples as f64 / seconds,
            tokens_per_s: tokens as f64 / seconds,
            improved,
        };
        if improved {
            let files = learner.selected(epoch, &dev)?;
            // Stored in another type (f16), a finite weight can still overflow.
            let stored = checkpoint::parse_safetensors(out_dir, checkpoint::WEIGHTS_FILE, &files.weights)?;
            if let Some((name, value)) = first_non_finite(&stored)? {
                return Err(diverged(format!("weight `{name}` as stored in the selected model"), value));
            }
            selected = Some(files);
        }
        let mut next = state.clone();
        if improved {
            next.best = Some((epoch, dev));
            since_best = 0;
        } else {
            since_best += 1;
        }
        next.epochs_done = epoch;
        next.stopped_early = since_best >= settings.patience && epoch < settings.epochs;
        next.history.push(record);
        let generation = store::Generation {
            state: serde_json::to_string_pretty(&next).expect("state serializes").into_bytes(),
            weights: checkpoint::safetensors_bytes(&weights, DType::F32, None)?,
            optimizer: checkpoint::safetensors_bytes(&optimizer_state, DType::F32, None)?,
            selected: selected.clone().expect("the first epoch is always selected"),
        };
        store::commit(out_dir, &generation)?;
        *state = next;
        on_event(TrainEvent::EpochEnd(state.history.last().expect("just pushed")));
    }
    Ok(())
}

/// An epoch's generators: the shuffling of its batches and its dropout masks, seeded by
/// `(seed, epoch)` so that a resumed run draws what an uninterrupted one would.
fn epoch_generators(seed: u64, epoch: usize, dropout: f32) -> (StdRng, Dropout) {
    let shuffle = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
    (shuffle, Dropout::new(dropout, seed ^ ((epoch as u64) << 32) ^ 0xD0))
}

/// The first entry of `tensors` (by name) holding a NaN or infinite value, with that value.
fn first_non_finite(tensors: &HashMap<String, Tensor>) -> Result<Option<(String, f32)>> {
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        let values = tensors[name].to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        if let Some(&v) = values.iter().find(|v| !v.is_finite()) {
            return Ok(Some((name.clone(), v)));
        }
    }
    Ok(None)
}

impl RunOptions for TrainOptions {
    fn same_run(&self, other: &TrainOptions) -> bool {
        TrainOptions::same_run(self, other)
    }
}

/// The SST classifier as a [`Learner`]: labelled phrases (optionally with word dropout), dev
/// sentence accuracy of the weights or of their average over the last epochs.
struct ClassifierLearner {
    model: Classifier,
    vocab: Vocab,
    examples: Vec<batch::Example>,
    dev_trees: Vec<sst::Tree>,
    options: TrainOptions,
    weights_dtype: DType,
    pretrained: Option<Coverage>,
    word_rng: StdRng,
    average: WeightAverage,
}

/// The prefix of the checkpoint entries that hold earlier epochs' weights for averaging.
const AVERAGE_PREFIX: &str = "average.";

/// The weights of the last `window` epochs and the classifier built from their mean.
struct WeightAverage {
    window: usize,
    snapshots: std::collections::VecDeque<HashMap<String, Tensor>>,
    model: Option<Classifier>,
}

impl WeightAverage {
    fn new(window: usize) -> Self {
        WeightAverage { window, snapshots: Default::default(), model: None }
    }

    /// Add an epoch's weights; rebuild the averaged classifier (with a window of 1, none).
    fn push(&mut self, weights: HashMap<String, Tensor>, config: &ClassifierConfig, device: &Device) -> Result<()> {
        if self.window <= 1 {
            return Ok(());
        }
        // A deep copy: a model's tensors share storage with the weights that training updates.
        let weights = weights.into_iter().map(|(k, t)| Ok((k, t.copy()?))).collect::<Result<HashMap<_, _>>>()?;
        self.snapshots.push_back(weights);
        while self.snapshots.len() > self.window {
            self.snapshots.pop_front();
        }
        let n = self.snapshots.len() as f64;
        let mut mean = HashMap::new();
        for name in self.snapshots[0].keys() {
            let mut sum = self.snapshots[0][name].clone();
            for snapshot in self.snapshots.iter().skip(1) {
                sum = (sum + &snapshot[name])?;
            }
            mean.insert(name.clone(), sum.affine(1.0 / n, 0.0)?.to_dtype(DType::F32)?.to_device(device)?);
        }
        self.model = Some(Classifier::load(VarBuilder::from_tensors(mean, DType::F32, device), config.clone())?);
        Ok(())
    }

    /// The snapshots before the newest (which are the current weights), named for a checkpoint.
    fn checkpoint_entries(&self) -> impl Iterator<Item = (String, Tensor)> + '_ {
        let older = self.snapshots.len().saturating_sub(1);
        self.snapshots
            .iter()
            .take(older)
            .enumerate()
            .flat_map(|(k, s)| s.iter().map(move |(name, t)| (format!("{AVERAGE_PREFIX}{k}.{name}"), t.clone())))
    }

    /// Take the earlier epochs' weights out of a checkpoint's `tensors` (of `dir`), oldest first;
    /// what remains is the current weights, to be pushed as the newest.
    fn restore(&mut self, dir: &Path, tensors: &mut HashMap<String, Tensor>) -> Result<()> {
        let mut older: Vec<HashMap<String, Tensor>> = Vec::new();
        let names: Vec<String> = tensors.keys().filter(|n| n.starts_with(AVERAGE_PREFIX)).cloned().collect();
        for name in names {
            let t = tensors.remove(&name).expect("listed");
            let (k, weight) = name[AVERAGE_PREFIX.len()..]
                .split_once('.')
                .and_then(|(k, w)| Some((k.parse::<usize>().ok()?, w.to_string())))
                .ok_or_else(|| Error::checkpoint(dir, format!("`{name}` is not an averaging entry")))?;
            if older.len() <= k {
                older.resize_with(k + 1, HashMap::new);
            }
            older[k].insert(weight, t);
        }
        let complete =
            |s: &HashMap<String, Tensor>| s.len() == tensors.len() && s.keys().all(|k| tensors.contains_key(k));
        if !older.iter().all(complete) {
            return Err(Error::checkpoint(dir, "the averaging entries do not hold every weight of each earlier epoch"));
        }
        self.snapshots = older.into();
        Ok(())
    }
}

impl ClassifierLearner {
    /// The classifier that is scored and selected: the weights' average when averaging.
    fn scored(&self) -> &Classifier {
        self.average.model.as_ref().unwrap_or(&self.model)
    }
}

/// The generator of an epoch's word dropout.
fn word_dropout_rng(seed: u64, epoch: usize) -> StdRng {
    StdRng::seed_from_u64(seed.rotate_left(17) ^ ((epoch as u64) << 40) ^ 0x0057_4452_4f50)
}

impl Learner for ClassifierLearner {
    type Scores = SplitScores;

    fn example_lengths(&self) -> Vec<usize> {
        self.examples.iter().map(|e| e.ids.len()).collect()
    }

    fn train_batch(
        &mut self,
        optimizer: &mut dyn Optimizer,
        indices: &[usize],
        dropout: &mut Dropout,
    ) -> Result<BatchStats> {
        let refs: Vec<&batch::Example> = indices.iter().map(|&i| &self.examples[i]).collect();
        let mut b = Batch::from_examples(&refs);
        b.drop_words(self.options.word_dropout, &mut self.word_rng);
        let loss = train_step(&mut self.model, optimizer, &b, dropout)?;
        Ok(BatchStats { loss, examples: b.batch, tokens: b.tokens() })
    }

    fn start_epoch(&mut self, seed: u64, epoch: usize) {
        self.word_rng = word_dropout_rng(seed, epoch);
    }

    fn end_epoch(&mut self) -> Result<()> {
        if self.average.window <= 1 {
            return Ok(());
        }
        let config = self.model.config().clone();
        let device = self.model.device().clone();
        self.average.push(self.model.tensors()?, &config, &device)
    }

    fn evaluate(&self) -> Result<SplitScores> {
        Ok(evaluate(self.scored(), &self.vocab, &self.dev_trees, self.options.task.clone())?.scores())
    }

    fn improves(new: &SplitScores, best: &SplitScores) -> bool {
        new.sentence_accuracy > best.sentence_accuracy
    }

    fn selected(&self, epoch: usize, dev: &SplitScores) -> Result<ModelFiles> {
        let training = serde_json::to_value(&self.options).expect("options serialize");
        let mut card = ModelCard::new(self.model.config().clone(), training, epoch, *dev);
        card.pretrained_embeddings = self.pretrained.clone();
        ModelFiles::new(&self.scored().tensors()?, &self.vocab, card, checkpoint::CLASSIFIER_FORMAT, self.weights_dtype)
    }

    fn checkpoint_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut tensors = self.model.tensors()?;
        tensors.extend(self.average.checkpoint_entries());
        Ok(tensors)
    }

    fn embedding_shape(&self) -> (usize, usize) {
        (self.model.embedding().vocab_size(), self.model.embedding().dim())
    }
}

/// Train a classifier on the train and dev splits in `data_dir` (SST trees or labelled text, as
/// [`dataset`] finds them; of the kind `options.task` says), writing to `out_dir`.
///
/// Without `resume`, `out_dir` must not already hold a run. With it, the run continues from the
/// last completed epoch in `out_dir/checkpoint` (the options must match, but for `epochs` and
/// `patience`). A tree (or text) above `limits.tree_tokens` tokens stops the run before it
/// starts.
///
/// With `options.embeddings`, the rows of the vocabulary's words found in that file start from
/// its vectors ([`vectors::read`]); what they cover is reported as [`TrainEvent::Embeddings`]
/// before the first epoch and kept in the model's card. A resumed run does not read the file
/// again: its weights hold the vectors, and its checkpoint's card what they covered.
pub fn train(
    data_dir: &Path,
    out_dir: &Path,
    options: TrainOptions,
    resume: bool,
    limits: &Limits,
    device: &Device,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainState> {
    let weights_dtype = options.validate()?;
    let mut average = WeightAverage::new(options.average_last);
    let load = |split| dataset::load_split_for(data_dir, split, &options.task, &options.fields, limits.tree_tokens);
    let (train_trees, dev_trees) = (load(Split::Train)?, load(Split::Dev)?);

    let (vocab, tensors, mut state, optimizer_state, selected, pretrained) = if resume {
        let mut r: Resumed<TrainOptions, SplitScores> = resume_checkpoint(out_dir, &options)?;
        let config = classifier_config(&options, r.vocab.len());
        // Earlier epochs' weights for averaging travel beside the weights.
        average.restore(&r.dir, &mut r.tensors)?;
        checkpoint::check_tensors(&r.dir, &r.tensors, &config)?;
        // The vectors are not read again: the weights hold them, the selected model's card what
        // they covered.
        let pretrained = match &options.embeddings {
            Some(_) => selected_coverage(&r.dir, &r.selected)?,
            None => None,
        };
        (r.vocab, r.tensors, r.state, Some((r.dir, r.optimizer)), Some(r.selected), pretrained)
    } else {
        ensure_fresh(out_dir)?;
        let (vocab, tensors, pretrained) = initial_weights(&options, &train_trees, device)?;
        let state = TrainState {
            options: options.clone(),
            epochs_done: 0,
            best: None,
            history: Vec::new(),
            stopped_early: false,
        };
        (vocab, tensors, state, None, None, pretrained)
    };
    if let Some(coverage) = &pretrained {
        on_event(TrainEvent::Embeddings(coverage));
    }
    let config = classifier_config(&options, vocab.len());
    if resume {
        // The newest snapshot of the average is the weights the run goes on from.
        average.push(tensors.clone(), &config, device)?;
    }
    let (map, vars) = trainable_tensors(tensors, device)?;
    let model = Classifier::load(VarBuilder::from_tensors(map, DType::F32, device), config)?;
    let mut optimizer = AdaGrad::new(adagrad_config(&options), vars, vocab.len() * options.embedding_dim)?;
    if let Some((dir, opt)) = optimizer_state {
        optimizer.load_state(&opt).map_err(|m| Error::checkpoint(dir, m))?;
    }
    let examples = training_examples(&options, &train_trees, &vocab);
    let settings = LoopSettings {
        epochs: options.epochs,
        patience: options.patience,
        batch_size: options.batch_size,
        dropout: options.dropout,
        seed: options.seed,
        lr: options.lr,
        lr_schedule: options.lr_schedule,
    };
    let word_rng = word_dropout_rng(options.seed, 0);
    let mut learner =
        ClassifierLearner { model, vocab, examples, dev_trees, options, weights_dtype, pretrained, word_rng, average };
    run_epochs(out_dir, &mut learner, &mut optimizer, &mut state, selected, settings, on_event)?;
    Ok(state)
}

/// A fresh run's vocabulary (from the training trees) and initial weights, with what the
/// pretrained vectors (if any) covered.
fn initial_weights(
    options: &TrainOptions,
    train_trees: &[sst::Tree],
    device: &Device,
) -> Result<(Vocab, HashMap<String, Tensor>, Option<Coverage>)> {
    let vocab = Vocab::build(
        train_trees.iter().flat_map(|t| t.tokens.iter().map(String::as_str)),
        options.lowercase,
        options.min_count,
    )?;
    let mut tensors =
        classifier_config(options, vocab.len()).init_parameters(options.seed, options.init_scale, device)?;
    let pretrained = match &options.embeddings {
        Some(path) => {
            let found = vectors::read(path, &vocab, options.embedding_dim)?;
            let key = "embedding.weight";
            let mut table = tensors[key].flatten_all()?.to_vec1::<f32>()?;
            found.copy_into(&mut table);
            tensors.insert(key.to_string(), Tensor::from_vec(table, tensors[key].shape(), device)?);
            let train_ids = train_trees.iter().flat_map(|t| t.tokens.iter().map(|w| vocab.token_id(w)));
            Some(found.coverage(path, train_ids))
        }
        None => None,
    };
    Ok((vocab, tensors, pretrained))
}

fn training_examples(options: &TrainOptions, trees: &[sst::Tree], vocab: &Vocab) -> Vec<batch::Example> {
    match options.phrases {
        PhraseSet::Unique => batch::unique_phrases(trees, vocab, options.task.clone()),
        PhraseSet::All => batch::all_phrases(trees, vocab, options.task.clone()),
    }
}

/// One measurement of a learning-rate range test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RangePoint {
    /// 1-based batch.
    pub batch: usize,
    /// The rate the batch was trained with.
    pub lr: f64,
    /// The training loss, exponentially smoothed (factor 0.98, bias-corrected).
    pub smoothed_loss: f64,
    /// Dev sentence accuracy after the batch, at the measured points only.
    pub dev_accuracy: Option<f64>,
}

/// The learning-rate range test (Smith 2015): one epoch of `options`' training from fresh
/// weights, batch `k` of `n` at rate `min_lr * (options.lr / min_lr)^(k / (n - 1))`, with dev
/// sentence accuracy measured after `dev_points` evenly spaced batches (the last included). It
/// stops early once the smoothed loss passes four times its lowest value (the rate diverges).
/// Nothing is written; `on_point` sees every batch's point as it comes.
pub fn lr_range_test(
    data_dir: &Path,
    options: &TrainOptions,
    min_lr: f64,
    dev_points: usize,
    limits: &Limits,
    device: &Device,
    on_point: &mut dyn FnMut(&RangePoint),
) -> Result<Vec<RangePoint>> {
    options.validate()?;
    if !(min_lr > 0.0 && min_lr < options.lr) {
        return Err(Error::invalid("lr_min", format!("must be positive and below --lr {}, got {min_lr}", options.lr)));
    }
    let load = |split| dataset::load_split_for(data_dir, split, &options.task, &options.fields, limits.tree_tokens);
    let (train_trees, dev_trees) = (load(Split::Train)?, load(Split::Dev)?);
    let (vocab, tensors, _) = initial_weights(options, &train_trees, device)?;
    let config = classifier_config(options, vocab.len());
    let (map, vars) = trainable_tensors(tensors, device)?;
    let model = Classifier::load(VarBuilder::from_tensors(map, DType::F32, device), config)?;
    let mut optimizer = AdaGrad::new(adagrad_config(options), vars, vocab.len() * options.embedding_dim)?;
    let examples = training_examples(options, &train_trees, &vocab);
    let mut learner = ClassifierLearner {
        model,
        vocab,
        examples,
        dev_trees,
        options: options.clone(),
        weights_dtype: DType::F32,
        pretrained: None,
        word_rng: word_dropout_rng(options.seed, 1),
        average: WeightAverage::new(1),
    };
    // The first epoch of a run with these options, batch for batch.
    let (mut rng, mut dropout) = epoch_generators(options.seed, 1, options.dropout);
    let batches = batch::length_batches(learner.example_lengths(), options.batch_size, Some(&mut rng));
    let n = batches.len();
    let measured = |k: usize| dev_points > 0 && ((k + 1) * dev_points) / n > (k * dev_points) / n;
    let (mut points, mut average, mut lowest) = (Vec::with_capacity(n), 0f64, f64::INFINITY);
    for (k, indices) in batches.iter().enumerate() {
        let lr = range_test_lr(min_lr, options.lr, k, n);
        optimizer.set_lr(lr);
        let loss = learner.train_batch(&mut optimizer, indices, &mut dropout)?.loss as f64;
        average = 0.98 * average + 0.02 * loss;
        let smoothed_loss = average / (1.0 - 0.98f64.powi(k as i32 + 1));
        let dev_accuracy = if measured(k) { Some(learner.evaluate()?.sentence_accuracy) } else { None };
        let point = RangePoint { batch: k + 1, lr, smoothed_loss, dev_accuracy };
        on_point(&point);
        points.push(point);
        lowest = lowest.min(smoothed_loss);
        if !smoothed_loss.is_finite() || smoothed_loss > 4.0 * lowest {
            break;
        }
    }
    Ok(points)
}

/// What the pretrained vectors of a run covered, as its selected model's card records it.
fn selected_coverage(dir: &Path, selected: &ModelFiles) -> Result<Option<Coverage>> {
    #[derive(Deserialize)]
    struct Card {
        #[serde(default)]
        pretrained_embeddings: Option<Coverage>,
    }
    let card: Card = serde_json::from_slice(&selected.config)
        .map_err(|e| Error::checkpoint(dir, format!("the selected model's config cannot be read: {e}")))?;
    Ok(card.pretrained_embeddings)
}

fn classifier_config(options: &TrainOptions, vocab_size: usize) -> ClassifierConfig {
    ClassifierConfig {
        arch: options.arch,
        task: options.task.clone(),
        vocab_size,
        embedding_dim: options.embedding_dim,
        hidden_dim: options.hidden_dim,
    }
}

/// A freshly initialised trainable classifier and its optimizer, as `train` starts them (all
/// rows random: pretrained vectors are read by [`train`], which knows the vocabulary).
pub fn fresh_learner(options: &TrainOptions, vocab_size: usize, device: &Device) -> Result<(Classifier, AdaGrad)> {
    options.validate()?;
    let config = classifier_config(options, vocab_size);
    let (map, vars) = trainable_tensors(config.init_parameters(options.seed, options.init_scale, device)?, device)?;
    let model = Classifier::load(VarBuilder::from_tensors(map, DType::F32, device), config)?;
    let optimizer = AdaGrad::new(adagrad_config(options), vars, vocab_size * options.embedding_dim)?;
    Ok((model, optimizer))
}

fn adagrad_config(options: &TrainOptions) -> AdaGradConfig {
    AdaGradConfig {
        lr: options.lr,
        l2: options.l2,
        eps: 1e-8,
        initial_accumulator: 0.0,
        freeze_embedding: options.freeze_embeddings,
    }
}

/// One forward, backward and update; returns the batch's mean loss.
pub fn train_step(
    model: &mut Classifier,
    optimizer: &mut dyn Optimizer,
    b: &Batch,
    dropout: &mut Dropout,
) -> Result<f32> {
    let g = model.training_gradients(b, Some(dropout))?;
    optimizer.step(&g.grads, model.embedding_mut(), &b.ids, &g.embedding_grad)?;
    Ok(g.loss)
}
