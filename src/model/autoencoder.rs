//! The sequence-to-sequence LSTM autoencoder of the paper (after Sutskever et al., 2014).
//!
//! An LSTM encoder reads the sentence (right to left by default, which puts the first words
//! next to the decoder's start) into a vector `(h, c)`; an LSTM decoder starts from that state
//! and rebuilds the sentence token by token, with a softmax over the vocabulary at each step:
//!
//! `s_0 = encoder(x_1..x_n)`, `s_t = LSTM(e(y_{t-1}), s_{t-1})` with `y_0 = [BOS]`,
//! `p(y_t | y_<t, x) = softmax(W s_t + b)`, and the sentence ends with `[EOS]`.
//!
//! One embedding table serves both sides. Recurrent tensors are time-major: `(steps, batch, ..)`.
//! Weights use PyTorch's names under `encoder.` and `decoder.` (`weight_ih_l0`, ...), plus
//! `embedding.weight` and `output.weight`/`output.bias`, so that each side loads in a plain
//! one-direction `torch.nn.LSTM`. The encoder's names carry no `_reverse` even when it reads
//! right to left: a PyTorch user flips the input (`encoder(x.flip(0))`), and the direction is
//! the config's [`AutoencoderConfig::reverse_input`]. (Directories written before this stored
//! such an encoder as `encoder.*_l0_reverse`; [`crate::checkpoint`] still reads them.)

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::VarBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::classifier::Dropout;
use super::embedding::Embedding;
use super::hand::train::{self, TrainingGradients, TrainingPass};
use super::recurrent::{Cell, CellKind, Layer, Lstm, LstmState, Weights};
use super::trace::{Direction, Observer, Site, SiteKind};
use crate::data::vocab::{BOS_ID, EOS_ID, PAD_ID};
use crate::data::PairBatch;
use crate::error::{Error, Result};

/// The shape of an autoencoder: everything needed to rebuild it from its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    /// Vocabulary size (rows of the embedding table and of the output layer).
    pub vocab_size: usize,
    /// Embedding dimension.
    pub embedding_dim: usize,
    /// Hidden size of the encoder and of the decoder.
    pub hidden_dim: usize,
    /// Longest input in tokens (the decoder stops after `max_len + 1` steps).
    pub max_len: usize,
    /// Whether the encoder reads the sentence right to left.
    pub reverse_input: bool,
}

impl AutoencoderConfig {
    fn encoder_direction(&self) -> Direction {
        if self.reverse_input {
            Direction::Backward
        } else {
            Direction::Forward
        }
    }

    /// Every parameter's name and shape. Both LSTMs have a one-direction layer's names,
    /// whichever way the encoder reads.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (e, h) = (self.embedding_dim, self.hidden_dim);
        let mut shapes = vec![("embedding.weight".to_string(), vec![self.vocab_size, e])];
        for (name, shape) in Weights::shapes(CellKind::Lstm, Direction::Forward, e, h) {
            shapes.push((format!("encoder.{name}"), shape));
        }
        for (name, shape) in Weights::shapes(CellKind::Lstm, Direction::Forward, e, h) {
            shapes.push((format!("decoder.{name}"), shape));
        }
        shapes.push(("output.weight".to_string(), vec![self.vocab_size, h]));
        shapes.push(("output.bias".to_string(), vec![self.vocab_size]));
        shapes
    }

    /// Fresh weights, uniform in `[-scale, scale]` from a seeded generator; the LSTMs' forget
    /// gate biases start at 1 (split over the two bias vectors), the output bias at 0.
    pub fn init_parameters(&self, seed: u64, scale: f32, device: &Device) -> Result<HashMap<String, Tensor>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let h = self.hidden_dim;
        let mut out = HashMap::new();
        for (name, shape) in self.parameter_shapes() {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if name.contains(".bias_") {
                (0..n).map(|i| if (h..2 * h).contains(&i) { 0.5 } else { 0.0 }).collect()
            } else if name == "output.bias" {
                vec![0.0; n]
            } else {
                (0..n).map(|_| rng.random_range(-scale..=scale)).collect()
            };
            out.insert(name, Tensor::from_vec(values, shape, device)?);
        }
        Ok(out)
    }
}

/// The LSTM autoencoder.
#[derive(Debug, Clone)]
pub struct Autoencoder {
    config: AutoencoderConfig,
    embedding: Embedding,
    encoder: Layer<Lstm>,
    decoder: Layer<Lstm>,
    output_weight: Tensor,
    output_bias: Tensor,
    device: Device,
}

impl Autoencoder {
    /// Build from weights (see [`AutoencoderConfig::parameter_shapes`]). `Var`s stay trainable.
    pub fn load(vb: VarBuilder, config: AutoencoderConfig) -> Result<Self> {
        let (e, h) = (config.embedding_dim, config.hidden_dim);
        let embedding = Embedding::from_tensor(&vb.pp("embedding").get((config.vocab_size, e), "weight")?)?;
        let encoder = Layer::load_one_direction(&vb.pp("encoder"), config.encoder_direction(), e, h)?;
        let decoder = Layer::load(&vb.pp("decoder"), Direction::Forward, e, h)?;
        let output_weight = vb.pp("output").get((config.vocab_size, h), "weight")?;
        let output_bias = vb.pp("output").get(config.vocab_size, "bias")?;
        Ok(Autoencoder { config, embedding, encoder, decoder, output_weight, output_bias, device: vb.device().clone() })
    }

    /// The model's shape.
    pub fn config(&self) -> &AutoencoderConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The storage type of the weights.
    pub fn dtype(&self) -> DType {
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
        out.insert("embedding.weight".to_string(), self.embedding.to_tensor(&self.device)?.to_dtype(self.dtype())?);
        for (prefix, layer) in [("encoder", &self.encoder), ("decoder", &self.decoder)] {
            for (name, t) in layer.cell().weights().named(Direction::Forward) {
                out.insert(format!("{prefix}.{name}"), t);
            }
        }
        out.insert("output.weight".to_string(), self.output_weight.clone());
        out.insert("output.bias".to_string(), self.output_bias.clone());
        Ok(out)
    }

    /// The encoder layer.
    pub(crate) fn encoder(&self) -> &Layer<Lstm> {
        &self.encoder
    }

    /// The decoder layer.
    pub(crate) fn decoder(&self) -> &Layer<Lstm> {
        &self.decoder
    }

    /// Which pass [`Self::training_gradients`] runs: the hand-written one for f32 weights on the
    /// CPU (see [`super::hand`]), candle's autograd otherwise.
    pub fn training_pass(&self) -> TrainingPass {
        match super::hand::supports(self.device.location(), self.dtype(), [CellKind::Lstm]) {
            Ok(()) => TrainingPass::Hand,
            Err(_) => TrainingPass::Autograd,
        }
    }

    /// The teacher-forced mean reconstruction loss of the batch `b` per target token and every
    /// gradient, on the pass [`Self::training_pass`] chooses. With a `dropout` generator, its rate
    /// drops the encoder's and the decoder's input embeddings and `output_dropout` the decoder's
    /// hidden states before the softmax (masks drawn in that order). The embedding rows'
    /// gradients follow the source ids, then the decoder ids.
    pub fn training_gradients(
        &self,
        b: &PairBatch,
        dropout: Option<&mut Dropout>,
        output_dropout: f32,
    ) -> Result<TrainingGradients> {
        self.training_gradients_with(self.training_pass(), b, dropout, output_dropout)
    }

    /// [`Self::training_gradients`] on a given pass. The hand-written pass runs f32 and f64
    /// weights (f64 for tests), copying them to the host from any device.
    pub fn training_gradients_with(
        &self,
        pass: TrainingPass,
        b: &PairBatch,
        dropout: Option<&mut Dropout>,
        output_dropout: f32,
    ) -> Result<TrainingGradients> {
        match (pass, self.dtype()) {
            (TrainingPass::Autograd, _) => self.training_gradients_autograd(b, dropout, output_dropout),
            (TrainingPass::Hand, DType::F32) => train::autoencoder::<f32>(self, b, dropout, output_dropout),
            (TrainingPass::Hand, DType::F64) => train::autoencoder::<f64>(self, b, dropout, output_dropout),
            (TrainingPass::Hand, other) => {
                Err(Error::invalid("pass", format!("the hand-written pass runs f32 or f64 weights, not {other:?}")))
            }
        }
    }

    fn training_gradients_autograd(
        &self,
        b: &PairBatch,
        mut dropout: Option<&mut Dropout>,
        output_dropout: f32,
    ) -> Result<TrainingGradients> {
        let x = Var::from_tensor(&self.embed(&b.src_ids, b.src_len, b.batch)?)?;
        let y = Var::from_tensor(&self.embed(&b.decoder_ids, b.tgt_len, b.batch)?)?;
        let mask = self.source_mask(b)?;
        let (xd, yd) = match dropout.as_deref_mut() {
            Some(d) => (d.apply(x.as_tensor())?, d.apply(y.as_tensor())?),
            None => (x.as_tensor().clone(), y.as_tensor().clone()),
        };
        let state = self.encode_embedded(&xd, mask.as_deref(), &mut super::NoTrace)?;
        let hidden = self.decode_hidden(&state, &yd, &mut super::NoTrace)?;
        let hidden = match dropout {
            Some(d) => d.apply_at(output_dropout, &hidden)?,
            None => hidden,
        };
        let loss = self.reconstruction_loss(&hidden, &b.targets)?;
        let grads = loss.backward()?;
        let dim = self.config.embedding_dim;
        let mut embedding_grad = Vec::with_capacity((b.src_ids.len() + b.decoder_ids.len()) * dim);
        for (var, part) in [(&x, &b.src_ids), (&y, &b.decoder_ids)] {
            match grads.get(var.as_tensor()) {
                Some(g) => embedding_grad.extend(g.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?),
                None => embedding_grad.resize(embedding_grad.len() + part.len() * dim, 0.0),
            }
        }
        let loss = loss.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        Ok(TrainingGradients { loss, grads, embedding_grad })
    }

    /// Look time-major ids up: `(steps, batch, dim)` in the weights' type.
    pub fn embed(&self, ids: &[u32], steps: usize, batch: usize) -> Result<Tensor> {
        Ok(self.embedding.lookup(ids, steps, batch, &self.device)?.to_dtype(self.dtype())?)
    }

    /// The encoder's padding mask as one `(batch, 1)` tensor per step, or `None`.
    pub fn source_mask(&self, b: &PairBatch) -> Result<Option<Vec<Tensor>>> {
        if b.src_mask.is_empty() {
            return Ok(None);
        }
        let m = Tensor::from_slice(&b.src_mask, (b.src_len, b.batch, 1), &self.device)?.to_dtype(self.dtype())?;
        Ok(Some((0..b.src_len).map(|t| m.get(t)).collect::<candle_core::Result<Vec<_>>>()?))
    }

    /// Encode embeddings `x` `(steps, batch, dim)` into the sentence vector `(h, c)`.
    ///
    /// The observer sees the embeddings `(batch, steps, dim)`, the encoder's per-step states and
    /// gates (positions in sentence order) and, as [`Site::Representation`], `h`.
    pub fn encode_embedded(
        &self,
        x: &Tensor,
        mask: Option<&[Tensor]>,
        observer: &mut dyn Observer,
    ) -> Result<LstmState> {
        let (steps, _, dim) = x.dims3()?;
        if dim != self.config.embedding_dim || steps == 0 {
            return Err(Error::invalid(
                "embeddings",
                format!("expected (steps >= 1, batch, {}), got {:?}", self.config.embedding_dim, x.dims()),
            ));
        }
        if observer.wants(SiteKind::Embeddings) {
            observer.observe(Site::Embeddings, &x.transpose(0, 1)?)?;
        }
        let out = self.encoder.run(x, mask, None, false, observer)?;
        if observer.wants(SiteKind::Representation) {
            observer.observe(Site::Representation, out.state.h())?;
        }
        Ok(out.state)
    }

    /// Teacher-forced decoder logits, time-major `(steps * batch, vocab)`, from the sentence
    /// vector and the decoder's input embeddings `(steps, batch, dim)`.
    ///
    /// The observer sees the decoder's per-step states and gates and, as [`Site::Logits`], the
    /// logits shaped `(steps, batch, vocab)`.
    pub fn decode_embedded(&self, state: &LstmState, y: &Tensor, observer: &mut dyn Observer) -> Result<Tensor> {
        let (steps, batch, _) = y.dims3()?;
        let hidden = self.decode_hidden(state, y, observer)?;
        let logits = self.project(&hidden)?;
        if observer.wants(SiteKind::Logits) {
            observer.observe(Site::Logits, &logits.reshape((steps, batch, self.config.vocab_size))?)?;
        }
        Ok(logits)
    }

    /// The decoder's hidden states `(tgt_len * batch, hidden)`, time-major, for decoder inputs
    /// `y` `(tgt_len, batch, embedding)` started from the encoder's `state`.
    pub fn decode_hidden(&self, state: &LstmState, y: &Tensor, observer: &mut dyn Observer) -> Result<Tensor> {
        let (steps, batch, _) = y.dims3()?;
        let out = self.decoder.run(y, None, Some(state), true, observer)?;
        Ok(Tensor::stack(&out.steps, 0)?.reshape((steps * batch, self.config.hidden_dim))?)
    }

    /// Mean cross-entropy of the output softmax over decoder hidden states `(n, hidden)` against
    /// `targets` (`n` ids, `[PAD]` ignored): the training loss, fused with the output projection
    /// (see [`super::loss::projected_cross_entropy`]).
    pub fn reconstruction_loss(&self, hidden: &Tensor, targets: &[u32]) -> Result<Tensor> {
        super::loss::projected_cross_entropy(hidden, &self.output_weight, &self.output_bias, targets, PAD_ID)
    }

    fn project(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(hidden.matmul(&self.output_weight.t()?)?.broadcast_add(&self.output_bias)?)
    }

    /// Teacher-forced logits `(tgt_len * batch, vocab)` for a batch.
    pub fn forward(
        &self,
        b: &PairBatch,
        encoder_observer: &mut dyn Observer,
        decoder_observer: &mut dyn Observer,
    ) -> Result<Tensor> {
        let x = self.embed(&b.src_ids, b.src_len, b.batch)?;
        let mask = self.source_mask(b)?;
        let state = self.encode_embedded(&x, mask.as_deref(), encoder_observer)?;
        let y = self.embed(&b.decoder_ids, b.tgt_len, b.batch)?;
        self.decode_embedded(&state, &y, decoder_observer)
    }

    /// Greedy decoding: at each step the most probable token, until `[EOS]` or `max_steps`
    /// tokens. Returns each sentence's tokens without `[EOS]`, and whether it ended with one.
    pub fn greedy(&self, b: &PairBatch, max_steps: usize) -> Result<Vec<(Vec<u32>, bool)>> {
        let x = self.embed(&b.src_ids, b.src_len, b.batch)?;
        let mask = self.source_mask(b)?;
        let mut state = self.encode_embedded(&x, mask.as_deref(), &mut super::NoTrace)?;
        let mut out: Vec<(Vec<u32>, bool)> = vec![(Vec::new(), false); b.batch];
        let mut previous = vec![BOS_ID; b.batch];
        for _ in 0..=max_steps {
            let y = self.embed(&previous, 1, b.batch)?;
            let step = self.decoder.run(&y, None, Some(&state), false, &mut super::NoTrace)?;
            let next = self.project(step.state.h())?.argmax(D::Minus1)?.to_vec1::<u32>()?;
            for (row, &id) in next.iter().enumerate() {
                let (tokens, ended) = &mut out[row];
                if *ended || tokens.len() >= max_steps {
                    continue;
                }
                if id == EOS_ID {
                    *ended = true;
                } else {
                    tokens.push(id);
                }
            }
            if out.iter().all(|(t, ended)| *ended || t.len() >= max_steps) {
                break;
            }
            previous = next;
            state = step.state;
        }
        Ok(out)
    }
}

impl Autoencoder {
    /// Beam search for one sentence `ids`: keeps the `width` most probable partial outputs (by
    /// summed log-probability) at each step; a hypothesis ends at `[EOS]`. Returns the best
    /// finished output (without `[EOS]`) and its log-probability, or the best unfinished one
    /// after `max_steps` tokens. `width` 1 is greedy decoding.
    pub fn beam(&self, ids: &[u32], width: usize, max_steps: usize) -> Result<(Vec<u32>, f64, bool)> {
        if width == 0 {
            return Err(Error::invalid("beam", "must be at least 1"));
        }
        let b = PairBatch::new(&[ids], &[ids]);
        let x = self.embed(&b.src_ids, b.src_len, 1)?;
        let start = self.encode_embedded(&x, None, &mut super::NoTrace)?;
        // Live hypotheses: (tokens, log-probability); their states stacked in `state` rows.
        let mut live: Vec<(Vec<u32>, f64)> = vec![(Vec::new(), 0.0)];
        let mut state = start;
        let mut finished: Vec<(Vec<u32>, f64, bool)> = Vec::new();
        for _ in 0..=max_steps {
            let previous: Vec<u32> = live.iter().map(|(t, _)| t.last().copied().unwrap_or(BOS_ID)).collect();
            let y = self.embed(&previous, 1, live.len())?;
            let step = self.decoder.run(&y, None, Some(&state), false, &mut super::NoTrace)?;
            let log_probs = candle_nn::ops::log_softmax(&self.project(step.state.h())?, D::Minus1)?
                .to_dtype(DType::F64)?
                .to_vec2::<f64>()?;
            let mut candidates: Vec<(usize, u32, f64)> = Vec::with_capacity(live.len() * width);
            for (row, lp) in log_probs.iter().enumerate() {
                let mut best: Vec<(u32, f64)> = lp.iter().enumerate().map(|(v, &p)| (v as u32, p)).collect();
                let k = width.min(best.len());
                best.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
                candidates.extend(best[..k].iter().map(|&(v, p)| (row, v, live[row].1 + p)));
            }
            candidates.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
            let mut next: Vec<(Vec<u32>, f64)> = Vec::new();
            let mut rows: Vec<u32> = Vec::new();
            for (row, token, score) in candidates {
                if next.len() == width {
                    break;
                }
                if token == EOS_ID {
                    finished.push((live[row].0.clone(), score, true));
                    continue;
                }
                let mut tokens = live[row].0.clone();
                tokens.push(token);
                if tokens.len() >= max_steps {
                    finished.push((tokens, score, false));
                    continue;
                }
                next.push((tokens, score));
                rows.push(row as u32);
            }
            let best_finished = finished.iter().map(|f| f.1).fold(f64::NEG_INFINITY, f64::max);
            // Scores only fall as hypotheses grow: stop once no live one can beat a finished one.
            if next.is_empty() || next.iter().all(|(_, s)| *s <= best_finished) {
                break;
            }
            let index = Tensor::from_vec(rows, next.len(), &self.device)?;
            state = LstmState::new(step.state.h().index_select(&index, 0)?, step.state.c().index_select(&index, 0)?);
            live = next;
        }
        match finished.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            Some(best) => Ok(best),
            None => {
                let (tokens, score) = live.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or_default();
                Ok((tokens, score, false))
            }
        }
    }
}
