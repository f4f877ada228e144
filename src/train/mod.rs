//! Training: AdaGrad on every unique labelled phrase of the SST training split, model selection
//! on dev sentences, early stopping, atomic checkpoints and resumption.
//!
//! An output directory holds the selected model (`model.safetensors`, `config.json`,
//! `tokenizer.json`) and `checkpoint/` with the last epoch's weights, optimizer state and
//! progress, from which `--resume` continues. Each epoch draws its shuffling and dropout from
//! generators seeded by `(seed, epoch)`, so a resumed run ends where an uninterrupted one would.

pub mod adagrad;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, ModelCard, SplitScores};
use crate::data::{batch, sst, Batch, Split, Task, Vocab};
use crate::error::{Error, Result};
use crate::eval::evaluate;
use crate::model::{Arch, Classifier, ClassifierConfig, Dropout, NoTrace};
use adagrad::{AdaGrad, AdaGradConfig};

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Encoder architecture.
    pub arch: Arch,
    /// Fine-grained (5 classes) or binary.
    pub task: Task,
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
    /// L2 penalty on weight matrices and embedding rows.
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
}

impl TrainOptions {
    /// The shipped models' settings: the paper's (60-d, AdaGrad, learning rate 0.05, L2) with
    /// mini-batches of 32 and dropout 0.5, chosen on dev (see the README's search table).
    pub fn recommended(arch: Arch, task: Task) -> Self {
        TrainOptions {
            arch,
            task,
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
        }
    }

    fn validate(&self) -> Result<DType> {
        let positive = [
            ("--embedding-dim", self.embedding_dim),
            ("--hidden-dim", self.hidden_dim),
            ("--epochs", self.epochs),
            ("--batch-size", self.batch_size),
            ("--patience", self.patience),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::invalid(name, "must be at least 1"));
            }
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid("--lr", format!("must be a positive number, got {}", self.lr)));
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(Error::invalid("--l2", format!("must be >= 0, got {}", self.l2)));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid("--dropout", format!("must be in [0, 1), got {}", self.dropout)));
        }
        match self.weights_dtype.as_str() {
            "f32" => Ok(DType::F32),
            "f16" => Ok(DType::F16),
            other => Err(Error::invalid("--weights-dtype", format!("expected f32 or f16, got `{other}`"))),
        }
    }

    /// Whether `other` describes the same run, up to the number of epochs and patience.
    fn same_run(&self, other: &TrainOptions) -> bool {
        let mut a = self.clone();
        a.epochs = other.epochs;
        a.patience = other.patience;
        a == *other
    }
}

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Dev scores after the epoch.
    pub dev: SplitScores,
    /// Wall-clock seconds of the training part.
    pub seconds: f64,
    /// Training phrases per second.
    pub phrases_per_s: f64,
    /// Training tokens per second.
    pub tokens_per_s: f64,
    /// Whether this epoch became the selected model.
    pub improved: bool,
}

/// Progress of a run, saved in `checkpoint/state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// The run's options.
    pub options: TrainOptions,
    /// Epochs completed.
    pub epochs_done: usize,
    /// The selected epoch and its dev scores.
    pub best: Option<(usize, SplitScores)>,
    /// One record per completed epoch.
    pub history: Vec<EpochRecord>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

/// Events a training run reports to its caller (for progress bars and logs).
#[derive(Debug)]
pub enum TrainEvent<'a> {
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
        /// Phrases in it.
        phrases: usize,
        /// Tokens in it.
        tokens: usize,
    },
    /// The epoch ended and dev was scored.
    EpochEnd(&'a EpochRecord),
}

const CHECKPOINT_DIR: &str = "checkpoint";
const STATE_FILE: &str = "state.json";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// Parameters as trainable `Var`s, and the model built on them.
fn trainable(
    tensors: HashMap<String, Tensor>,
    config: ClassifierConfig,
    device: &Device,
) -> Result<(Classifier, Vec<(String, Var)>)> {
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
    let model = Classifier::load(VarBuilder::from_tensors(map, DType::F32, device), config)?;
    Ok((model, vars))
}

/// Train a classifier on the SST splits in `data_dir`, writing to `out_dir`.
///
/// Without `resume`, `out_dir` must not already hold a run. With it, the run continues from the
/// last completed epoch in `out_dir/checkpoint` (the options must match, but for `epochs` and
/// `patience`).
pub fn train(
    data_dir: &Path,
    out_dir: &Path,
    options: TrainOptions,
    resume: bool,
    device: &Device,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainState> {
    let weights_dtype = options.validate()?;
    let checkpoint_dir = out_dir.join(CHECKPOINT_DIR);
    let train_trees = sst::load_split(data_dir, Split::Train)?;
    let dev_trees = sst::load_split(data_dir, Split::Dev)?;

    let (vocab, mut model, vars, mut state, optimizer_state) = if resume {
        let dir = find_checkpoint(out_dir)?;
        let state: TrainState = serde_json::from_slice(&checkpoint::read_file(&dir, STATE_FILE)?)
            .map_err(|e| Error::checkpoint(&dir, format!("{STATE_FILE} is corrupt: {e}")))?;
        if !state.options.same_run(&options) {
            return Err(Error::checkpoint(&dir, format!(
                "--resume with different options: the run was started with {}; pass the same options (only --epochs and --patience may change)",
                serde_json::to_string(&state.options).unwrap_or_default()
            )));
        }
        let vocab = Vocab::load(&out_dir.join(checkpoint::TOKENIZER_FILE))?;
        let config = classifier_config(&options, vocab.len());
        let tensors = checkpoint::parse_safetensors(
            &dir,
            checkpoint::WEIGHTS_FILE,
            &checkpoint::read_file(&dir, checkpoint::WEIGHTS_FILE)?,
        )?;
        checkpoint::check_tensors(&dir, &tensors, config)?;
        let (model, vars) = trainable(tensors, config, device)?;
        let opt = checkpoint::parse_safetensors(&dir, OPTIMIZER_FILE, &checkpoint::read_file(&dir, OPTIMIZER_FILE)?)?;
        let mut state = state;
        state.options = options.clone();
        (vocab, model, vars, state, Some((dir, opt)))
    } else {
        for existing in [checkpoint_dir.as_path(), &out_dir.join(checkpoint::CONFIG_FILE)] {
            if existing.exists() {
                return Err(Error::invalid("--out", format!(
                    "{} already holds a training run ({} exists); pass --resume to continue it, or choose another --out",
                    out_dir.display(), existing.display()
                )));
            }
        }
        let vocab = Vocab::build(
            train_trees.iter().flat_map(|t| t.tokens.iter().map(String::as_str)),
            options.lowercase,
            options.min_count,
        )?;
        let config = classifier_config(&options, vocab.len());
        let tensors = config.init_parameters(options.seed, options.init_scale, device)?;
        let (model, vars) = trainable(tensors, config, device)?;
        std::fs::create_dir_all(out_dir).map_err(|e| Error::io("cannot create", out_dir, e))?;
        checkpoint::write_atomic(&out_dir.join(checkpoint::TOKENIZER_FILE), vocab.to_json()?.as_bytes())?;
        let state = TrainState {
            options: options.clone(),
            epochs_done: 0,
            best: None,
            history: Vec::new(),
            stopped_early: false,
        };
        (vocab, model, vars, state, None)
    };

    let examples = batch::unique_phrases(&train_trees, &vocab, options.task);
    let mut optimizer = AdaGrad::new(adagrad_config(&options), vars, vocab.len() * options.embedding_dim)?;
    if let Some((dir, opt)) = optimizer_state {
        optimizer.load_state(&opt).map_err(|m| Error::checkpoint(dir, m))?;
    }

    let mut since_best = state.best.map(|(e, _)| state.epochs_done - e).unwrap_or(0);
    while state.epochs_done < options.epochs && !(state.stopped_early || since_best >= options.patience) {
        let epoch = state.epochs_done + 1;
        let mut rng = StdRng::seed_from_u64(options.seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
        let mut dropout = Dropout::new(options.dropout, options.seed ^ ((epoch as u64) << 32) ^ 0xD0);
        let batches = batch::length_batches(examples.iter().map(|e| e.ids.len()), options.batch_size, Some(&mut rng));
        on_event(TrainEvent::EpochStart { epoch, batches: batches.len() });
        let start = Instant::now();
        let (mut loss_sum, mut phrases, mut tokens) = (0f64, 0usize, 0usize);
        for indices in &batches {
            let refs: Vec<&batch::Example> = indices.iter().map(|&i| &examples[i]).collect();
            let b = Batch::from_examples(&refs);
            let loss = train_step(&mut model, &mut optimizer, &b, &mut dropout)?;
            loss_sum += loss as f64 * b.batch as f64;
            phrases += b.batch;
            tokens += b.tokens();
            on_event(TrainEvent::Batch { loss, phrases: b.batch, tokens: b.tokens() });
        }
        let seconds = start.elapsed().as_secs_f64();
        let dev = evaluate(&model, &vocab, &dev_trees, options.task)?.scores();
        let improved = state.best.is_none_or(|(_, b)| dev.sentence_accuracy > b.sentence_accuracy);
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / phrases.max(1) as f64,
            dev,
            seconds,
            phrases_per_s: phrases as f64 / seconds,
            tokens_per_s: tokens as f64 / seconds,
            improved,
        };
        if improved {
            state.best = Some((epoch, dev));
            since_best = 0;
            let card = ModelCard {
                format: String::new(),
                model: *model.config(),
                weights_dtype: String::new(),
                weights_sha256: String::new(),
                training: serde_json::to_value(&options).expect("options serialize"),
                epoch,
                dev,
            };
            checkpoint::save_classifier(out_dir, &model, &vocab, card, weights_dtype)?;
        } else {
            since_best += 1;
        }
        state.epochs_done = epoch;
        state.stopped_early = since_best >= options.patience && epoch < options.epochs;
        state.history.push(record);
        on_event(TrainEvent::EpochEnd(state.history.last().expect("just pushed")));
        save_checkpoint(out_dir, &model, &optimizer, &state)?;
    }
    Ok(state)
}

fn classifier_config(options: &TrainOptions, vocab_size: usize) -> ClassifierConfig {
    ClassifierConfig {
        arch: options.arch,
        task: options.task,
        vocab_size,
        embedding_dim: options.embedding_dim,
        hidden_dim: options.hidden_dim,
    }
}

/// A freshly initialised trainable classifier and its optimizer, as `train` starts them.
pub fn fresh_learner(options: &TrainOptions, vocab_size: usize, device: &Device) -> Result<(Classifier, AdaGrad)> {
    options.validate()?;
    let config = classifier_config(options, vocab_size);
    let (model, vars) = trainable(config.init_parameters(options.seed, options.init_scale, device)?, config, device)?;
    let optimizer = AdaGrad::new(adagrad_config(options), vars, vocab_size * options.embedding_dim)?;
    Ok((model, optimizer))
}

fn adagrad_config(options: &TrainOptions) -> AdaGradConfig {
    AdaGradConfig { lr: options.lr, l2: options.l2, eps: 1e-8, initial_accumulator: 0.0 }
}

/// One forward, backward and update; returns the batch's mean loss.
pub fn train_step(model: &mut Classifier, optimizer: &mut AdaGrad, b: &Batch, dropout: &mut Dropout) -> Result<f32> {
    let x = Var::from_tensor(&model.embed(b)?)?;
    let mask = model.mask(b)?;
    let logits = model.forward_embedded(x.as_tensor(), mask.as_ref(), Some(dropout), &mut NoTrace)?;
    let labels = Tensor::from_slice(&b.labels, b.batch, model.device())?;
    let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
    let grads = loss.backward()?;
    let x_grad = match grads.get(x.as_tensor()) {
        Some(g) => g.flatten_all()?.to_vec1::<f32>()?,
        None => vec![0.0; b.ids.len() * model.config().embedding_dim],
    };
    optimizer.step(&grads, model.embedding_mut(), &b.ids, &x_grad)?;
    Ok(loss.to_scalar::<f32>()?)
}

/// The checkpoint to resume from: `checkpoint/`, or `checkpoint.old/` when a swap was interrupted.
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |e| Error::io(action, path, e)
}

fn find_checkpoint(out_dir: &Path) -> Result<PathBuf> {
    for name in [CHECKPOINT_DIR, "checkpoint.old"] {
        let dir = out_dir.join(name);
        if dir.join(STATE_FILE).is_file() {
            return Ok(dir);
        }
    }
    Err(Error::checkpoint(
        out_dir.join(CHECKPOINT_DIR),
        "nothing to resume: no checkpoint/state.json here; start a new run without --resume",
    ))
}

/// Write the checkpoint into a fresh directory, then swap it in (old → .old, new → checkpoint,
/// remove .old), so that some complete checkpoint exists at every moment.
fn save_checkpoint(out_dir: &Path, model: &Classifier, optimizer: &AdaGrad, state: &TrainState) -> Result<()> {
    let new = out_dir.join("checkpoint.new");
    let current = out_dir.join(CHECKPOINT_DIR);
    let old = out_dir.join("checkpoint.old");
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(io_error("cannot remove", &new))?;
    }
    std::fs::create_dir_all(&new).map_err(io_error("cannot create", &new))?;
    let emb = model.embedding();
    checkpoint::write_atomic(
        &new.join(checkpoint::WEIGHTS_FILE),
        &checkpoint::safetensors_bytes(&model.tensors()?, DType::F32)?,
    )?;
    checkpoint::write_atomic(
        &new.join(OPTIMIZER_FILE),
        &checkpoint::safetensors_bytes(&optimizer.state((emb.vocab_size(), emb.dim()))?, DType::F32)?,
    )?;
    checkpoint::write_atomic(
        &new.join(STATE_FILE),
        serde_json::to_string_pretty(state).expect("state serializes").as_bytes(),
    )?;
    if current.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io_error("cannot remove", &old))?;
        }
        std::fs::rename(&current, &old).map_err(io_error("cannot rename", &current))?;
    }
    std::fs::rename(&new, &current).map_err(io_error("cannot rename", &new))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io_error("cannot remove", &old))?;
    }
    Ok(())
}
