//! Training the LSTM autoencoder with the shared epoch loop: Adam with gradient clipping,
//! teacher forcing, mini-batches of equal-length sentences, selection on dev perplexity.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::adam::{Adam, AdamConfig};
use super::{
    check_common, ensure_fresh, resume_checkpoint, run_epochs, trainable_tensors, BatchStats, Learner, LoopSettings,
    Optimizer, Resumed, RunOptions, TrainEvent, TrainState,
};
use crate::checkpoint::{self, ModelCard, ModelFiles, AUTOENCODER_FORMAT};
use crate::data::corpus::{self, CorpusSplit};
use crate::data::vocab::{BOS_TOKEN, EOS_TOKEN};
use crate::data::PairBatch;
use crate::data::Vocab;
use crate::error::{Error, Result};
use crate::eval::{evaluate_reconstruction, ReconstructionScores};
use crate::model::{Autoencoder, AutoencoderConfig, Dropout};

/// Everything that defines an autoencoder training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderOptions {
    /// Embedding size.
    pub embedding_dim: usize,
    /// Hidden size of the encoder and decoder LSTMs.
    pub hidden_dim: usize,
    /// Most vocabulary entries, special tokens included; rarer words become `[UNK]`.
    pub vocab_size: usize,
    /// Longest sentence in tokens; longer ones are left out of training and scoring.
    pub max_len: usize,
    /// Encoder reads right to left.
    pub reverse_input: bool,
    /// Lower-case tokens.
    pub lowercase: bool,
    /// Most epochs.
    pub epochs: usize,
    /// Sentences per mini-batch (sentences of equal length are batched together).
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Largest global gradient norm.
    pub clip_norm: f64,
    /// Dropout on the input embeddings of encoder and decoder.
    pub dropout: f32,
    /// Seed of initialisation, shuffling and dropout.
    pub seed: u64,
    /// Stop after this many epochs without a lower dev perplexity.
    pub patience: usize,
    /// Initial weights are uniform in `[-init_scale, init_scale]`.
    pub init_scale: f32,
    /// Storage type of the selected model's weights: `f32` or `f16`.
    pub weights_dtype: String,
    /// Dropout on the decoder's hidden states before the output softmax (0 is off).
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub output_dropout: f32,
    /// Start from a trained autoencoder's weights and vocabulary rather than from random ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<InitFrom>,
}

/// The trained autoencoder a run started from: its directory and the SHA-256 of its weights, as
/// its `config.json` records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitFrom {
    /// The model directory.
    pub dir: PathBuf,
    /// The SHA-256 of its `model.safetensors`.
    pub weights_sha256: String,
}

impl Default for AutoencoderOptions {
    /// The shipped model's settings (see the README).
    fn default() -> Self {
        AutoencoderOptions {
            embedding_dim: 128,
            hidden_dim: 256,
            vocab_size: 10_000,
            max_len: 30,
            reverse_input: true,
            lowercase: true,
            epochs: 10,
            batch_size: 64,
            lr: 2e-3,
            clip_norm: 5.0,
            dropout: 0.0,
            seed: 1,
            patience: 3,
            init_scale: 0.08,
            weights_dtype: "f32".into(),
            output_dropout: 0.0,
            init_from: None,
        }
    }
}

impl AutoencoderOptions {
    fn validate(&self) -> Result<DType> {
        for (name, v) in [
            ("embedding_dim", self.embedding_dim),
            ("hidden_dim", self.hidden_dim),
            ("max_len", self.max_len),
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("patience", self.patience),
        ] {
            if v == 0 {
                return Err(Error::invalid(name, "must be at least 1"));
            }
        }
        if self.vocab_size < 5 {
            return Err(Error::invalid("vocab_size", "must be at least 5 (4 special tokens and one word)"));
        }
        if self.clip_norm.is_nan() || self.clip_norm <= 0.0 {
            return Err(Error::invalid("clip_norm", format!("must be positive, got {}", self.clip_norm)));
        }
        if !(0.0..1.0).contains(&self.output_dropout) {
            return Err(Error::invalid(
                "output_dropout",
                format!("must be at least 0 and below 1, got {}", self.output_dropout),
            ));
        }
        check_common(self.lr, self.dropout, &self.weights_dtype)
    }

    fn config(&self, vocab_size: usize) -> AutoencoderConfig {
        AutoencoderConfig {
            vocab_size,
            embedding_dim: self.embedding_dim,
            hidden_dim: self.hidden_dim,
            max_len: self.max_len,
            reverse_input: self.reverse_input,
        }
    }

    fn settings(&self) -> LoopSettings {
        LoopSettings {
            epochs: self.epochs,
            patience: self.patience,
            batch_size: self.batch_size,
            dropout: self.dropout,
            seed: self.seed,
            lr: self.lr,
            lr_schedule: super::LrSchedule::Constant,
        }
    }
}

impl RunOptions for AutoencoderOptions {
    fn same_run(&self, other: &Self) -> bool {
        let mut a = self.clone();
        a.epochs = other.epochs;
        a.patience = other.patience;
        a == *other
    }
}

/// The vocabulary of an autoencoder: `[PAD]`, `[UNK]`, `[BOS]`, `[EOS]`, then the most frequent
/// training tokens, `size` entries in all.
pub fn build_vocab(sentences: &[String], lowercase: bool, size: usize) -> Result<Vocab> {
    // Split with the PTB tokenizer itself (an empty vocabulary knows no words but splits the same).
    let splitter = Vocab::build(std::iter::empty(), lowercase, 1)?;
    let mut tokens: Vec<String> = Vec::new();
    for s in sentences {
        tokens.extend(splitter.encode_text(s)?.tokens);
    }
    Vocab::build_with(tokens.iter().map(String::as_str), lowercase, 1, &[BOS_TOKEN, EOS_TOKEN], Some(size))
}

struct AutoencoderLearner {
    model: Autoencoder,
    vocab: Vocab,
    train: Vec<Vec<u32>>,
    dev: Vec<Vec<u32>>,
    dev_too_long: usize,
    options: AutoencoderOptions,
    weights_dtype: DType,
}

impl Learner for AutoencoderLearner {
    type Scores = ReconstructionScores;

    fn example_lengths(&self) -> Vec<usize> {
        self.train.iter().map(Vec::len).collect()
    }

    fn train_batch(
        &mut self,
        optimizer: &mut dyn Optimizer,
        indices: &[usize],
        dropout: &mut Dropout,
    ) -> Result<BatchStats> {
        let seqs: Vec<&[u32]> = indices.iter().map(|&i| self.train[i].as_slice()).collect();
        let b = PairBatch::new(&seqs, &seqs);
        let loss = train_step(&mut self.model, optimizer, &b, dropout, self.options.output_dropout)?;
        Ok(BatchStats { loss, examples: b.batch, tokens: b.target_tokens() })
    }

    fn evaluate(&self) -> Result<ReconstructionScores> {
        evaluate_reconstruction(&self.model, &self.dev, self.dev_too_long, 128)
    }

    fn improves(new: &ReconstructionScores, best: &ReconstructionScores) -> bool {
        new.perplexity < best.perplexity
    }

    fn selected(&self, epoch: usize, dev: &ReconstructionScores) -> Result<ModelFiles> {
        let training = serde_json::to_value(&self.options).expect("options serialize");
        let card = ModelCard::new(*self.model.config(), training, epoch, *dev);
        ModelFiles::new(&self.model.tensors()?, &self.vocab, card, AUTOENCODER_FORMAT, self.weights_dtype)
    }

    fn checkpoint_tensors(&self) -> Result<HashMap<String, Tensor>> {
        self.model.tensors()
    }

    fn embedding_shape(&self) -> (usize, usize) {
        (self.model.embedding().vocab_size(), self.model.embedding().dim())
    }
}

/// One teacher-forced forward, backward and update, with `dropout` on the input embeddings and
/// `output_dropout` on the decoder's hidden states; returns the batch's mean loss per token.
pub fn train_step(
    model: &mut Autoencoder,
    optimizer: &mut dyn Optimizer,
    b: &PairBatch,
    dropout: &mut Dropout,
    output_dropout: f32,
) -> Result<f32> {
    let g = model.training_gradients(b, Some(dropout), output_dropout)?;
    let ids: Vec<u32> = b.src_ids.iter().chain(&b.decoder_ids).copied().collect();
    optimizer.step(&g.grads, model.embedding_mut(), &ids, &g.embedding_grad)?;
    Ok(g.loss)
}

/// Train an autoencoder on the sentence corpus in `data_dir` (`train` and `dev` splits), writing
/// to `out_dir`; with `resume`, continue the run there.
pub fn train_autoencoder(
    data_dir: &Path,
    out_dir: &Path,
    options: AutoencoderOptions,
    resume: bool,
    device: &Device,
    on_event: &mut dyn FnMut(TrainEvent<ReconstructionScores>),
) -> Result<TrainState<AutoencoderOptions, ReconstructionScores>> {
    let weights_dtype = options.validate()?;
    let train_text = corpus::load_split(data_dir, CorpusSplit::Train)?;
    let dev_text = corpus::load_split(data_dir, CorpusSplit::Dev)?;
    let (vocab, tensors, mut state, optimizer_state, selected) = if resume {
        let r: Resumed<AutoencoderOptions, ReconstructionScores> = resume_checkpoint(out_dir, &options)?;
        let expected = options.config(r.vocab.len()).parameter_shapes();
        let tensors = checkpoint::autoencoder_current_names(r.tensors);
        checkpoint::check_shapes(&r.dir, &tensors, &expected, "autoencoder")?;
        (r.vocab, tensors, r.state, Some((r.dir, r.optimizer)), Some(r.selected))
    } else {
        ensure_fresh(out_dir)?;
        let (vocab, tensors) = match &options.init_from {
            Some(init) => start_from(init, &options, device)?,
            None => {
                let vocab = build_vocab(&train_text, options.lowercase, options.vocab_size)?;
                let tensors = options.config(vocab.len()).init_parameters(options.seed, options.init_scale, device)?;
                (vocab, tensors)
            }
        };
        let state = TrainState {
            options: options.clone(),
            epochs_done: 0,
            best: None,
            history: Vec::new(),
            stopped_early: false,
        };
        (vocab, tensors, state, None, None)
    };
    let config = options.config(vocab.len());
    let (map, vars) = trainable_tensors(tensors, device)?;
    let model = Autoencoder::load(VarBuilder::from_tensors(map, DType::F32, device), config)?;
    let mut optimizer =
        Adam::new(AdamConfig::new(options.lr, Some(options.clip_norm)), vars, vocab.len() * options.embedding_dim)?;
    if let Some((dir, opt)) = optimizer_state {
        optimizer.load_state(&opt).map_err(|m| Error::checkpoint(dir, m))?;
    }
    let train = corpus::encode(&train_text, &vocab, options.max_len)?;
    let dev = corpus::encode(&dev_text, &vocab, options.max_len)?;
    tracing::info!(
        train = train.sentences.len(),
        train_too_long = train.too_long,
        dev = dev.sentences.len(),
        unknown_share = train.unknown as f64 / train.tokens.max(1) as f64,
        "autoencoder data"
    );
    let settings = options.settings();
    let mut learner = AutoencoderLearner {
        model,
        vocab,
        train: train.sentences,
        dev: dev.sentences,
        dev_too_long: dev.too_long,
        options,
        weights_dtype,
    };
    run_epochs(out_dir, &mut learner, &mut optimizer, &mut state, selected, settings, on_event)?;
    Ok(state)
}

impl InitFrom {
    /// The trained autoencoder in `dir`, with the weights' hash its `config.json` records
    /// (checked against the weights as the model loads).
    pub fn of(dir: &Path) -> Result<Self> {
        let loaded = checkpoint::load_autoencoder(dir, &Device::Cpu, DType::F32)?;
        Ok(InitFrom { dir: dir.to_path_buf(), weights_sha256: loaded.card.weights_sha256 })
    }
}

/// The vocabulary and weights of the trained autoencoder a run starts from, checked against the
/// run's options (the model's shape and case, a vocabulary no larger than `vocab_size`) and
/// against the weights' hash recorded in `init`.
fn start_from(
    init: &InitFrom,
    options: &AutoencoderOptions,
    device: &Device,
) -> Result<(Vocab, HashMap<String, Tensor>)> {
    let loaded = checkpoint::load_autoencoder(&init.dir, device, DType::F32)?;
    if loaded.card.weights_sha256 != init.weights_sha256 {
        return Err(Error::checkpoint(
            &init.dir,
            format!(
                "its weights have SHA-256 {}, not the {} this run started from",
                loaded.card.weights_sha256, init.weights_sha256
            ),
        ));
    }
    let have = loaded.model.config();
    let want = options.config(have.vocab_size);
    let differs = [
        ("embedding_dim", have.embedding_dim, want.embedding_dim),
        ("hidden_dim", have.hidden_dim, want.hidden_dim),
        ("max_len", have.max_len, want.max_len),
        ("reverse_input", have.reverse_input as usize, want.reverse_input as usize),
        ("lowercase", loaded.vocab.lowercase() as usize, options.lowercase as usize),
    ]
    .into_iter()
    .find(|(_, a, b)| a != b);
    if have.vocab_size > options.vocab_size {
        return Err(Error::checkpoint(
            &init.dir,
            format!(
                "its vocabulary has {} entries, more than this run's vocab_size of {}; give the run the model's settings to start from it",
                have.vocab_size, options.vocab_size
            ),
        ));
    }
    if let Some((name, a, b)) = differs {
        return Err(Error::checkpoint(
            &init.dir,
            format!("its {name} is {a} but this run's is {b}; give the run the model's settings to start from it"),
        ));
    }
    Ok((loaded.vocab, loaded.model.tensors()?))
}
