//! The sentiment classifier: embedding, one recurrent layer (two for a bidirectional
//! architecture), a linear output.
//!
//! Weights are named `embedding.weight`, `encoder.<PyTorch names>` (see
//! [`Weights`](super::recurrent::Weights)), `classifier.weight` and `classifier.bias`.

use std::collections::HashMap;

use candle_core::{Device, Tensor, Var, D};
use candle_nn::VarBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::embedding::Embedding;
use super::hand::saliency::HandPass;
use super::hand::train::{self, TrainingGradients, TrainingPass};
use super::hand::Unsupported;
use super::recurrent::{AnyLayer, CellKind, Weights};
use super::trace::{Direction, Observer, Site, SiteKind};
use crate::data::{Batch, Classes};
use crate::error::{Error, Result};

/// An encoder architecture: a cell kind reading forward, or a pair reading both ways.
///
/// Written as the cell's name ([`CellKind::name`]: `rnn`, `lstm`, ...), with `bi` in front for a pair
/// (`bilstm`): the `arch` of every `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Arch {
    /// The recurrent cell.
    pub cell: CellKind,
    /// Whether a second layer reads right to left; the representation is then both
    /// directions' final states, concatenated.
    pub bidirectional: bool,
}

impl Arch {
    /// A tanh (Elman) RNN.
    pub const RNN: Arch = Arch { cell: CellKind::Tanh, bidirectional: false };
    /// An LSTM.
    pub const LSTM: Arch = Arch { cell: CellKind::Lstm, bidirectional: false };
    /// A bidirectional LSTM.
    pub const BILSTM: Arch = Arch { cell: CellKind::Lstm, bidirectional: true };

    /// Every architecture: each cell kind, forward and bidirectional.
    pub const ALL: [Arch; 2 * CellKind::ALL.len()] = {
        let mut all = [Arch::RNN; 2 * CellKind::ALL.len()];
        let mut i = 0;
        while i < CellKind::ALL.len() {
            all[2 * i] = Arch { cell: CellKind::ALL[i], bidirectional: false };
            all[2 * i + 1] = Arch { cell: CellKind::ALL[i], bidirectional: true };
            i += 1;
        }
        all
    };

    /// Its name (`rnn`, `bilstm`, ...).
    pub fn name(self) -> &'static str {
        if self.bidirectional {
            self.cell.bidirectional_name()
        } else {
            self.cell.name()
        }
    }

    /// The directions its layers read in, forward first.
    pub fn directions(self) -> &'static [Direction] {
        if self.bidirectional {
            &[Direction::Forward, Direction::Backward]
        } else {
            &[Direction::Forward]
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not an architecture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown architecture `{name}`; known: {known}")]
pub struct UnknownArch {
    /// The name as given.
    pub name: String,
    /// The known names, comma-separated.
    pub known: String,
}

impl std::str::FromStr for Arch {
    type Err = UnknownArch;
    fn from_str(s: &str) -> std::result::Result<Self, UnknownArch> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s.trim())
            .ok_or_else(|| UnknownArch { name: s.to_string(), known: Arch::ALL.map(Arch::name).join(", ") })
    }
}

impl TryFrom<String> for Arch {
    type Error = UnknownArch;
    fn try_from(s: String) -> std::result::Result<Self, UnknownArch> {
        s.parse()
    }
}

impl From<Arch> for String {
    fn from(a: Arch) -> String {
        a.name().to_string()
    }
}

impl clap::ValueEnum for Arch {
    fn value_variants<'a>() -> &'a [Self] {
        &Arch::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// Prefix of the embedding table's name.
const EMBEDDING: &str = "embedding";
/// Prefix of the recurrent layers' names.
const ENCODER: &str = "encoder";
/// Prefix of the output layer's names.
const OUTPUT: &str = "classifier";

/// The shape of a classifier: everything needed to rebuild it from its weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Encoder architecture.
    pub arch: Arch,
    /// What it tells apart: an SST task or labelled text's named classes (written as `"fine"`,
    /// `"binary"` or `{"classes": [...]}`).
    pub task: Classes,
    /// Vocabulary size (rows of the embedding table).
    pub vocab_size: usize,
    /// Embedding dimension.
    pub embedding_dim: usize,
    /// Hidden size of each direction.
    pub hidden_dim: usize,
}

impl ClassifierConfig {
    /// Number of output classes.
    pub fn num_classes(&self) -> usize {
        self.task.num_classes()
    }

    /// Size of the final representation.
    pub fn representation_dim(&self) -> usize {
        self.hidden_dim * self.arch.directions().len()
    }

    /// Every parameter's name and shape.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = vec![(format!("{EMBEDDING}.weight"), vec![self.vocab_size, self.embedding_dim])];
        for &direction in self.arch.directions() {
            for (name, shape) in Weights::shapes(self.arch.cell, direction, self.embedding_dim, self.hidden_dim) {
                shapes.push((format!("{ENCODER}.{name}"), shape));
            }
        }
        shapes.push((format!("{OUTPUT}.weight"), vec![self.num_classes(), self.representation_dim()]));
        shapes.push((format!("{OUTPUT}.bias"), vec![self.num_classes()]));
        shapes
    }

    /// Fresh weights, uniform in `[-scale, scale]`, from a seeded generator (reproducible).
    pub fn init_parameters(&self, seed: u64, scale: f32, device: &Device) -> Result<HashMap<String, Tensor>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = HashMap::new();
        for (name, shape) in self.parameter_shapes() {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..=scale)).collect();
            out.insert(name, Tensor::from_vec(values, shape, device)?);
        }
        Ok(out)
    }
}

/// Inverted dropout with its own seeded generator, so that training is reproducible.
#[derive(Debug)]
pub struct Dropout {
    rng: StdRng,
    p: f32,
}

impl Dropout {
    /// Drop each value with probability `p`.
    pub fn new(p: f32, seed: u64) -> Self {
        Dropout { rng: StdRng::seed_from_u64(seed), p }
    }

    /// Apply to `x`: zero each element with probability `p`, scale the rest by `1/(1-p)`.
    pub fn apply(&mut self, x: &Tensor) -> Result<Tensor> {
        self.apply_at(self.p, x)
    }

    /// The next mask of `n` values (`0` or `1/(1-p)`), as [`Dropout::apply`] draws it; `None`
    /// (and nothing drawn) when `p` is 0.
    pub(crate) fn mask(&mut self, n: usize) -> Option<Vec<f32>> {
        self.mask_at(self.p, n)
    }

    /// [`Dropout::apply`] at the rate `p` in place of the generator's own, drawing from the same
    /// stream (a model that drops two kinds of values at two rates).
    pub fn apply_at(&mut self, p: f32, x: &Tensor) -> Result<Tensor> {
        match self.mask_at(p, x.elem_count()) {
            Some(mask) => Ok((x * Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?)?),
            None => Ok(x.clone()),
        }
    }

    /// The next mask of `n` values at the rate `p`; `None` (and nothing drawn) when `p` is 0.
    pub(crate) fn mask_at(&mut self, p: f32, n: usize) -> Option<Vec<f32>> {
        if p <= 0.0 {
            return None;
        }
        // Without a branch: at p = 0.5 a branch here is mispredicted half the time, and the
        // masks of a training batch took twice as long (perf).
        let keep = (1.0f32 / (1.0 - p)).to_bits();
        Some((0..n).map(|_| f32::from_bits(keep & ((self.rng.random::<f32>() < p) as u32).wrapping_sub(1))).collect())
    }
}

/// A recurrent sentiment classifier.
#[derive(Debug, Clone)]
pub struct Classifier {
    config: ClassifierConfig,
    embedding: Embedding,
    layers: Vec<AnyLayer>,
    output_weight: Tensor,
    output_bias: Tensor,
    device: Device,
}

impl Classifier {
    /// Build from weights (see [`ClassifierConfig::parameter_shapes`] for names and shapes).
    /// Tensors that are `Var`s stay trainable.
    pub fn load(vb: VarBuilder, config: ClassifierConfig) -> Result<Self> {
        let embedding =
            Embedding::from_tensor(&vb.pp(EMBEDDING).get((config.vocab_size, config.embedding_dim), "weight")?)?;
        let encoder = vb.pp(ENCODER);
        let layers = config
            .arch
            .directions()
            .iter()
            .map(|&d| AnyLayer::load(&encoder, config.arch.cell, d, config.embedding_dim, config.hidden_dim))
            .collect::<Result<Vec<_>>>()?;
        let out = vb.pp(OUTPUT);
        let output_weight = out.get((config.num_classes(), config.representation_dim()), "weight")?;
        let output_bias = out.get(config.num_classes(), "bias")?;
        Ok(Classifier { config, embedding, layers, output_weight, output_bias, device: vb.device().clone() })
    }

    /// The model's shape.
    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The storage type of the weights (the type embeddings must have for [`Self::forward_embedded`]).
    pub fn dtype(&self) -> candle_core::DType {
        self.output_weight.dtype()
    }

    /// The embedding table.
    pub fn embedding(&self) -> &Embedding {
        &self.embedding
    }

    /// The embedding table, mutable (for the optimizer's sparse updates).
    pub fn embedding_mut(&mut self) -> &mut Embedding {
        &mut self.embedding
    }

    /// All weights by name, the embedding table included (for saving).
    pub fn tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        out.insert(format!("{EMBEDDING}.weight"), self.embedding.to_tensor(&self.device)?);
        for layer in &self.layers {
            for (name, t) in layer.weights().named(layer.direction()) {
                out.insert(format!("{ENCODER}.{name}"), t);
            }
        }
        out.insert(format!("{OUTPUT}.weight"), self.output_weight.clone());
        out.insert(format!("{OUTPUT}.bias"), self.output_bias.clone());
        Ok(out)
    }

    /// Look a batch's ids up: `(batch, seq_len, dim)`.
    pub fn embed(&self, batch: &Batch) -> Result<Tensor> {
        self.embedding.lookup(&batch.ids, batch.batch, batch.seq_len, &self.device)
    }

    /// The batch's padding mask as a `(batch, seq_len)` tensor, or `None` when nothing is padded.
    pub fn mask(&self, batch: &Batch) -> Result<Option<Tensor>> {
        if batch.is_dense() {
            return Ok(None);
        }
        Ok(Some(Tensor::from_slice(&batch.mask, (batch.batch, batch.seq_len), &self.device)?))
    }

    /// Logits for a batch, no dropout.
    pub fn forward(&self, batch: &Batch, observer: &mut dyn Observer) -> Result<Tensor> {
        let x = self.embed(batch)?;
        let mask = self.mask(batch)?;
        self.forward_embedded(&x, mask.as_ref(), None, observer)
    }

    /// Logits `(batch, classes)` from embeddings `x` `(batch, seq_len, dim)` and an optional
    /// `(batch, seq_len)` mask of left padding. Dropout (training) applies to the embeddings and
    /// to the representation.
    pub fn forward_embedded(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        mut dropout: Option<&mut Dropout>,
        observer: &mut dyn Observer,
    ) -> Result<Tensor> {
        let (batch, seq_len, dim) = x.dims3()?;
        if dim != self.config.embedding_dim || seq_len == 0 {
            return Err(Error::invalid(
                "embeddings",
                format!("expected (batch, seq_len >= 1, {}), got {:?}", self.config.embedding_dim, x.dims()),
            ));
        }
        if observer.wants(SiteKind::Embeddings) {
            observer.observe(Site::Embeddings, x)?;
        }
        let x = match dropout.as_deref_mut() {
            Some(d) => d.apply(x)?,
            None => x.clone(),
        };
        let x = x.transpose(0, 1)?.contiguous()?;
        let mask_steps = match mask {
            Some(m) => {
                let m = m.to_dtype(x.dtype())?.t()?.contiguous()?;
                Some((0..seq_len).map(|t| m.get(t)?.reshape((batch, 1))).collect::<candle_core::Result<Vec<_>>>()?)
            }
            None => None,
        };
        let finals = self
            .layers
            .iter()
            .map(|layer| layer.forward(&x, mask_steps.as_deref(), observer))
            .collect::<Result<Vec<_>>>()?;
        let representation = if finals.len() == 1 { finals[0].clone() } else { Tensor::cat(&finals, D::Minus1)? };
        if observer.wants(SiteKind::Representation) {
            observer.observe(Site::Representation, &representation)?;
        }
        let representation = match dropout {
            Some(d) => d.apply(&representation)?,
            None => representation,
        };
        let logits = representation.matmul(&self.output_weight.t()?)?.broadcast_add(&self.output_bias)?;
        if observer.wants(SiteKind::Logits) {
            observer.observe(Site::Logits, &logits)?;
        }
        Ok(logits)
    }

    /// The recurrent layers, forward first.
    pub(crate) fn layers(&self) -> &[AnyLayer] {
        &self.layers
    }

    /// The output layer's weight `(classes, representation)` and bias `(classes)`.
    pub(crate) fn output(&self) -> (&Tensor, &Tensor) {
        (&self.output_weight, &self.output_bias)
    }

    /// Whether [`Self::input_gradient`] runs the hand-written CPU pass ([`super::hand`]) on this
    /// model, and why not.
    pub fn hand_pass(&self) -> std::result::Result<(), Unsupported> {
        HandPass::supports(self)
    }

    /// The gradient of per-row scores of the logits with respect to the embeddings `x`
    /// `(batch, seq_len, dim)` (padding `mask` as in [`Self::forward_embedded`], no dropout).
    /// `score` maps logits `(batch, classes)` to one score per row `(batch,)`, differentiably;
    /// rows do not interact, so row `b` of the gradient is `dS_b/dx_b`, zero at padding.
    ///
    /// f32 models on the CPU run the hand-written pass ([`super::hand`]); others run
    /// [`Self::input_gradient_autograd`]. Both compute the same numbers.
    pub fn input_gradient(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        score: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<InputGradient> {
        match self.hand_pass() {
            Ok(()) => HandPass::new(self)?.input_gradient(x, mask, score),
            Err(_) => self.input_gradient_autograd(x, mask, score),
        }
    }

    /// [`Self::input_gradient`] through candle's autograd, on any device and type.
    pub fn input_gradient_autograd(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        score: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<InputGradient> {
        let x = Var::from_tensor(&x.detach())?;
        let logits = self.forward_embedded(x.as_tensor(), mask, None, &mut super::NoTrace)?;
        let scores = score(&logits)?;
        let grads = scores.sum_all()?.backward()?;
        let grad = match grads.get(x.as_tensor()) {
            Some(g) => g.clone(),
            None => x.as_tensor().zeros_like()?,
        };
        Ok(InputGradient { grad, logits: logits.detach(), scores: scores.detach() })
    }

    /// Which pass [`Self::training_gradients`] runs: the hand-written one for f32 weights on the
    /// CPU (see [`super::hand`]), candle's autograd otherwise.
    pub fn training_pass(&self) -> TrainingPass {
        match HandPass::supports(self) {
            Ok(()) => TrainingPass::Hand,
            Err(_) => TrainingPass::Autograd,
        }
    }

    /// The mean cross-entropy of the batch `b` against its labels and every gradient, with
    /// `dropout` on the embeddings and the representation (as [`Self::forward_embedded`]), on
    /// the pass [`Self::training_pass`] chooses.
    pub fn training_gradients(&self, b: &Batch, dropout: Option<&mut Dropout>) -> Result<TrainingGradients> {
        self.training_gradients_with(self.training_pass(), b, dropout)
    }

    /// [`Self::training_gradients`] on a given pass. The hand-written pass runs f32 and f64
    /// weights (f64 for tests), copying them to the host from any device.
    pub fn training_gradients_with(
        &self,
        pass: TrainingPass,
        b: &Batch,
        dropout: Option<&mut Dropout>,
    ) -> Result<TrainingGradients> {
        match (pass, self.dtype()) {
            (TrainingPass::Autograd, _) => self.training_gradients_autograd(b, dropout),
            (TrainingPass::Hand, candle_core::DType::F32) => train::classifier::<f32>(self, b, dropout),
            (TrainingPass::Hand, candle_core::DType::F64) => train::classifier::<f64>(self, b, dropout),
            (TrainingPass::Hand, other) => {
                Err(Error::invalid("pass", format!("the hand-written pass runs f32 or f64 weights, not {other:?}")))
            }
        }
    }

    fn training_gradients_autograd(&self, b: &Batch, dropout: Option<&mut Dropout>) -> Result<TrainingGradients> {
        let x = Var::from_tensor(&self.embed(b)?.to_dtype(self.dtype())?)?;
        let mask = self.mask(b)?;
        let logits = self.forward_embedded(x.as_tensor(), mask.as_ref(), dropout, &mut super::NoTrace)?;
        let labels = Tensor::from_slice(&b.labels, b.batch, &self.device)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
        let grads = loss.backward()?;
        let embedding_grad = match grads.get(x.as_tensor()) {
            Some(g) => g.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
            None => vec![0.0; b.ids.len() * self.config.embedding_dim],
        };
        let loss = loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
        Ok(TrainingGradients { loss, grads, embedding_grad })
    }

    /// Predicted class of every row.
    pub fn predict(&self, batch: &Batch) -> Result<Vec<u32>> {
        let logits = self.forward(batch, &mut super::NoTrace)?;
        Ok(logits.argmax(D::Minus1)?.to_vec1::<u32>()?)
    }
}

/// What [`Classifier::input_gradient`] returns.
#[derive(Debug, Clone)]
pub struct InputGradient {
    /// `dS_b/dx_b`, `(batch, seq_len, dim)`; zero at padded positions.
    pub grad: Tensor,
    /// Logits at the input, `(batch, classes)`.
    pub logits: Tensor,
    /// `S_b` at the input, `(batch,)`.
    pub scores: Tensor,
}
