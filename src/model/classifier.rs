//! The sentiment classifier: embedding, one recurrent layer (two for the BiLSTM), a linear output.

use std::collections::HashMap;

use candle_core::{Device, Tensor, D};
use candle_nn::VarBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::embedding::Embedding;
use super::recurrent::{parameter_shapes, CellKind, RecurrentLayer};
use super::trace::{Direction, Observer, Site, SiteKind};
use crate::data::{Batch, Task};
use crate::error::{Error, Result};

/// The encoder architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// A tanh (Elman) RNN.
    Rnn,
    /// An LSTM.
    Lstm,
    /// A bidirectional LSTM: the representation is both directions' final states, concatenated.
    Bilstm,
}

impl Arch {
    /// Lower-case name (`rnn`, `lstm`, `bilstm`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Rnn => "rnn",
            Arch::Lstm => "lstm",
            Arch::Bilstm => "bilstm",
        }
    }

    fn cell(self) -> CellKind {
        match self {
            Arch::Rnn => CellKind::Tanh,
            Arch::Lstm | Arch::Bilstm => CellKind::Lstm,
        }
    }

    fn directions(self) -> &'static [Direction] {
        match self {
            Arch::Bilstm => &[Direction::Forward, Direction::Backward],
            _ => &[Direction::Forward],
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The shape of a classifier: everything needed to rebuild it from its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Encoder architecture.
    pub arch: Arch,
    /// Label granularity.
    pub task: Task,
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
        let mut shapes = vec![("embedding.weight".to_string(), vec![self.vocab_size, self.embedding_dim])];
        for &direction in self.arch.directions() {
            for (name, shape) in parameter_shapes(self.arch.cell(), direction, self.embedding_dim, self.hidden_dim) {
                shapes.push((format!("encoder.{name}"), shape));
            }
        }
        shapes.push(("classifier.weight".to_string(), vec![self.num_classes(), self.representation_dim()]));
        shapes.push(("classifier.bias".to_string(), vec![self.num_classes()]));
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
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 / (1.0 - self.p);
        let n = x.elem_count();
        let mask: Vec<f32> = (0..n).map(|_| if self.rng.random::<f32>() < self.p { 0.0 } else { keep }).collect();
        Ok((x * Tensor::from_vec(mask, x.shape(), x.device())?)?)
    }
}

/// A recurrent sentiment classifier.
#[derive(Debug, Clone)]
pub struct Classifier {
    config: ClassifierConfig,
    embedding: Embedding,
    layers: Vec<RecurrentLayer>,
    output_weight: Tensor,
    output_bias: Tensor,
    device: Device,
}

impl Classifier {
    /// Build from weights (see [`ClassifierConfig::parameter_shapes`] for names and shapes).
    /// Tensors that are `Var`s stay trainable.
    pub fn load(vb: VarBuilder, config: ClassifierConfig) -> Result<Self> {
        let embedding =
            Embedding::from_tensor(&vb.pp("embedding").get((config.vocab_size, config.embedding_dim), "weight")?)?;
        let layers = config
            .arch
            .directions()
            .iter()
            .map(|&d| {
                RecurrentLayer::load(vb.pp("encoder"), config.arch.cell(), d, config.embedding_dim, config.hidden_dim)
            })
            .collect::<Result<Vec<_>>>()?;
        let out = vb.pp("classifier");
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
        out.insert("embedding.weight".to_string(), self.embedding.to_tensor(&self.device)?);
        for layer in &self.layers {
            for (name, t) in layer.named_tensors() {
                out.insert(format!("encoder.{name}"), t);
            }
        }
        out.insert("classifier.weight".to_string(), self.output_weight.clone());
        out.insert("classifier.bias".to_string(), self.output_bias.clone());
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

    /// Predicted class of every row.
    pub fn predict(&self, batch: &Batch) -> Result<Vec<u32>> {
        let logits = self.forward(batch, &mut super::NoTrace)?;
        Ok(logits.argmax(D::Minus1)?.to_vec1::<u32>()?)
    }
}
