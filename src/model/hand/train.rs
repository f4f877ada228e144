//! The training pass: a model's loss on a batch and the gradient of every weight and of every
//! embedding row it looked up, forward and back through time on host buffers.
//!
//! It computes what candle's autograd computes on the model's own forward pass (the reference
//! the tests hold it to, value for value): the same dropout masks, drawn from the same generator
//! in the same order (the embeddings first, then the representation), the same padding, the
//! same loss. Gradients go into a [`GradStore`] keyed by the model's weight tensors, so the
//! optimizers take them as they take autograd's.

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

use super::layer::{LayerGrads, Run, Upstream};
use super::{add_column_sums, host, matmul, HostLayer, Mat, Real, Shape};
use crate::data::{Batch, PairBatch};
use crate::error::{Error, Result};
use crate::model::autoencoder::Autoencoder;
use crate::model::classifier::{Classifier, Dropout};
use crate::model::embedding::Embedding;
use crate::model::recurrent::{Cell, CellKind, Weights};
use crate::model::trace::Direction;

/// Which pass computes a model's training gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingPass {
    /// The hand-written pass on host buffers (f32 models on the CPU).
    Hand,
    /// candle's autograd on the model's forward pass (any device and type).
    Autograd,
}

/// A batch's loss and gradients.
#[derive(Debug)]
pub struct TrainingGradients {
    /// The batch's mean loss.
    pub loss: f32,
    /// The gradient of every dense weight, keyed by the model's tensor.
    pub grads: GradStore,
    /// The gradient of each looked-up embedding, one row per id in the batch's id order (the
    /// classifier's `ids`; the autoencoder's source ids, then its decoder ids).
    pub embedding_grad: Vec<f32>,
}

/// The embeddings of `ids` as `T`, row after row.
fn lookup<T: Real>(table: &Embedding, ids: &[u32]) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(ids.len() * table.dim());
    for &id in ids {
        if id as usize >= table.vocab_size() {
            return Err(Error::invalid(
                "token id",
                format!("{id} is outside the vocabulary of {}", table.vocab_size()),
            ));
        }
        out.extend(table.row(id).iter().map(|&v| T::from_f64(v as f64)));
    }
    Ok(out)
}

/// Multiply `values` by the next dropout mask of the generator (nothing when there is none).
fn drop_out<T: Real>(values: &mut [T], dropout: &mut Option<&mut Dropout>) -> Option<Vec<f32>> {
    let mask = dropout.as_deref_mut()?.mask(values.len())?;
    scale_by(values, &mask);
    Some(mask)
}

/// Multiply `values` by `mask`, element by element.
fn scale_by<T: Real>(values: &mut [T], mask: &[f32]) {
    values.iter_mut().zip(mask).for_each(|(v, &m)| *v *= T::from_f64(m as f64));
}

/// `values` times `mask` (when there is one), as f32.
fn masked_f32<T: Real>(values: &[T], mask: Option<&[f32]>) -> Vec<f32> {
    match mask {
        Some(m) => values.iter().zip(m).map(|(&v, &m)| (v.to_f64() * m as f64) as f32).collect(),
        None => values.iter().map(|&v| v.to_f64() as f32).collect(),
    }
}

/// Batch-major `(batch, steps, dim)` rows to time-major `(steps, batch, dim)`, or back.
fn transpose_rows<T: Real>(values: &[T], outer: usize, inner: usize, dim: usize) -> Vec<T> {
    let mut out = vec![T::zero(); values.len()];
    for (k, src) in values.chunks_exact(dim).enumerate() {
        let (o, i) = (k / inner, k % inner);
        out[(i * outer + o) * dim..(i * outer + o + 1) * dim].copy_from_slice(src);
    }
    out
}

/// Put a layer's gradients into `store` under its weight tensors.
fn store_layer<T: Real>(store: &mut GradStore, w: &Weights, g: LayerGrads<T>, device: &Device) -> Result<()> {
    for (tensor, grad) in [(&w.ih, g.w_ih), (&w.hh, g.w_hh), (&w.b_ih, g.b_ih), (&w.b_hh, g.b_hh)] {
        store.insert(tensor, Tensor::from_vec(grad, tensor.shape(), device)?);
    }
    Ok(())
}

/// Mean cross-entropy of `logits` `(rows, classes)` against `labels`, and its gradient.
fn cross_entropy<T: Real>(logits: &[T], labels: &[u32], classes: usize) -> (T, Vec<T>) {
    let rows = labels.len();
    let scale = T::one() / T::from_f64(rows.max(1) as f64);
    let mut total = T::zero();
    let mut grad = vec![T::zero(); logits.len()];
    for ((z, dz), &label) in logits.chunks_exact(classes).zip(grad.chunks_exact_mut(classes)).zip(labels) {
        let max = z.iter().fold(T::neg_infinity(), |m, &v| num_traits::Float::max(m, v));
        let mut sum = T::zero();
        for (d, &v) in dz.iter_mut().zip(z) {
            *d = (v - max).exp();
            sum += *d;
        }
        total += sum.ln() + max - z[label as usize];
        dz.iter_mut().for_each(|d| *d = *d / sum * scale);
        dz[label as usize] -= scale;
    }
    (total * scale, grad)
}

/// The classifier's mean cross-entropy on `b` and its gradients, with dropout on the
/// embeddings and on the representation as [`Classifier::forward_embedded`] applies it.
pub(crate) fn classifier<T: Real>(
    model: &Classifier,
    b: &Batch,
    mut dropout: Option<&mut Dropout>,
) -> Result<TrainingGradients> {
    let config = model.config();
    let (rows, steps, dim, h, classes) =
        (b.batch, b.seq_len, config.embedding_dim, config.hidden_dim, config.num_classes());
    if steps == 0 || b.ids.len() != rows * steps || b.mask.len() != rows * steps || b.labels.len() != rows {
        return Err(Error::invalid(
            "batch",
            format!(
                "expected {rows} x {steps} ids and mask values (seq_len >= 1) and {rows} labels, got {}, {} and {}",
                b.ids.len(),
                b.mask.len(),
                b.labels.len()
            ),
        ));
    }
    if let Some(&label) = b.labels.iter().find(|&&l| l as usize >= classes) {
        return Err(Error::invalid("label", format!("{label} is not below the {classes} classes")));
    }
    let layers = model.layers().iter().map(HostLayer::<T>::new).collect::<Result<Vec<_>>>()?;
    let (out_w, out_b) = model.output();
    let (w_out, b_out): (Vec<T>, Vec<T>) = (host(out_w)?, host(out_b)?);

    let mut x = lookup::<T>(model.embedding(), &b.ids)?;
    let x_mask = drop_out(&mut x, &mut dropout);
    let x_tm = transpose_rows(&x, rows, steps, dim);
    let mut real = vec![false; rows * steps];
    for (k, &m) in b.mask.iter().enumerate() {
        real[(k % steps) * rows + k / steps] = m != 0.0;
    }
    let s = Shape { batch: rows, steps, dim, hidden: h };

    // Forward: each layer's final state into its slot of the representation.
    let r_dim = h * layers.len();
    let mut repr = vec![T::zero(); rows * r_dim];
    let mut runs: Vec<Run<T>> = Vec::with_capacity(layers.len());
    for (l, layer) in layers.iter().enumerate() {
        let run = layer.forward(s, &x_tm, &real, None, false);
        for row in 0..rows {
            repr[row * r_dim + l * h..row * r_dim + (l + 1) * h].copy_from_slice(&run.h[row * h..(row + 1) * h]);
        }
        runs.push(run);
    }
    let r_mask = drop_out(&mut repr, &mut dropout);
    let mut logits = vec![T::zero(); rows * classes];
    for row in logits.chunks_exact_mut(classes) {
        row.copy_from_slice(&b_out);
    }
    matmul(&mut logits, Mat::rows(&repr, r_dim), Mat::t(&w_out, r_dim), rows, classes, r_dim, true);
    let (loss, dz) = cross_entropy(&logits, &b.labels, classes);

    // Backward: the output layer, then each recurrent layer through time.
    let device = model.device();
    let mut store = GradStore::default();
    let mut d_w_out = vec![T::zero(); classes * r_dim];
    matmul(&mut d_w_out, Mat::t(&dz, classes), Mat::rows(&repr, r_dim), classes, r_dim, rows, false);
    let mut d_b_out = vec![T::zero(); classes];
    add_column_sums(&mut d_b_out, &dz, classes);
    store.insert(out_w, Tensor::from_vec(d_w_out, out_w.shape(), device)?);
    store.insert(out_b, Tensor::from_vec(d_b_out, out_b.shape(), device)?);
    let mut d_repr = vec![T::zero(); rows * r_dim];
    matmul(&mut d_repr, Mat::rows(&dz, classes), Mat::rows(&w_out, r_dim), rows, r_dim, classes, false);
    if let Some(m) = &r_mask {
        d_repr.iter_mut().zip(m).for_each(|(d, &m)| *d *= T::from_f64(m as f64));
    }
    let mut dx_tm = vec![T::zero(); steps * rows * dim];
    for (l, ((layer, run), any)) in layers.iter().zip(&runs).zip(model.layers()).enumerate() {
        let mut dh = vec![T::zero(); rows * h];
        for row in 0..rows {
            dh[row * h..(row + 1) * h].copy_from_slice(&d_repr[row * r_dim + l * h..row * r_dim + (l + 1) * h]);
        }
        let upstream = Upstream { outputs: None, h: dh, c: vec![T::zero(); run.c.len()] };
        let down = layer.backward(s, run, &real, upstream, &mut dx_tm, Some(&x_tm));
        store_layer(&mut store, any.weights(), down.grads.expect("asked for"), device)?;
    }
    let dx = transpose_rows(&dx_tm, steps, rows, dim);
    Ok(TrainingGradients {
        loss: loss.to_f64() as f32,
        grads: store,
        embedding_grad: masked_f32(&dx, x_mask.as_deref()),
    })
}

/// The autoencoder's mean reconstruction loss on `b` (teacher forcing, `[PAD]` targets
/// ignored) and its gradients, with dropout on the encoder's and the decoder's input
/// embeddings and, at `output_dropout`, on the decoder's hidden states before the softmax (in
/// that order, as the autograd pass draws them). The output softmax and its gradients are the
/// fused loss's ([`crate::model::loss`]), run through candle's autograd on the decoder's
/// (dropped) hidden states alone.
pub(crate) fn autoencoder<T: Real>(
    model: &Autoencoder,
    b: &PairBatch,
    mut dropout: Option<&mut Dropout>,
    output_dropout: f32,
) -> Result<TrainingGradients> {
    let config = model.config();
    let (rows, dim, h) = (b.batch, config.embedding_dim, config.hidden_dim);
    let (src, tgt) = (b.src_len, b.tgt_len);
    if src == 0
        || b.src_ids.len() != src * rows
        || !(b.src_mask.is_empty() || b.src_mask.len() == src * rows)
        || b.decoder_ids.len() != tgt * rows
        || b.targets.len() != tgt * rows
    {
        return Err(Error::invalid(
            "batch",
            format!("the ids, mask and targets do not fit a batch of {rows} rows, {src} source and {tgt} target steps"),
        ));
    }
    let (encoder, decoder) = (model.encoder(), model.decoder());
    let enc = HostLayer::<T>::from_weights(CellKind::Lstm, encoder.direction(), encoder.cell().weights())?;
    let dec = HostLayer::<T>::from_weights(CellKind::Lstm, Direction::Forward, decoder.cell().weights())?;

    // Time-major embeddings, as the model looks them up.
    let mut x = lookup::<T>(model.embedding(), &b.src_ids)?;
    let mut y = lookup::<T>(model.embedding(), &b.decoder_ids)?;
    let x_mask = drop_out(&mut x, &mut dropout);
    let y_mask = drop_out(&mut y, &mut dropout);
    let real_src: Vec<bool> =
        if b.src_mask.is_empty() { vec![true; src * rows] } else { b.src_mask.iter().map(|&m| m != 0.0).collect() };
    let real_tgt = vec![true; tgt * rows];
    let s_enc = Shape { batch: rows, steps: src, dim, hidden: h };
    let s_dec = Shape { batch: rows, steps: tgt, dim, hidden: h };
    let encoded = enc.forward(s_enc, &x, &real_src, None, false);
    let mut decoded = dec.forward(s_dec, &y, &real_tgt, Some((&encoded.h, &encoded.c)), true);

    // The fused softmax loss through autograd: gradients of the output layer and of the
    // decoder's hidden states.
    let device = model.device();
    let mut outputs = std::mem::take(&mut decoded.outputs);
    let out_mask = dropout.as_mut().and_then(|d| d.mask_at(output_dropout, outputs.len()));
    if let Some(m) = &out_mask {
        scale_by(&mut outputs, m);
    }
    let hidden = Var::from_vec(outputs, (tgt * rows, h), device)?;
    let loss = model.reconstruction_loss(hidden.as_tensor(), &b.targets)?;
    let mut store = loss.backward()?;
    let mut d_hidden: Vec<T> = match store.remove(hidden.as_tensor()) {
        Some(g) => host(&g)?,
        None => vec![T::zero(); tgt * rows * h],
    };
    if let Some(m) = &out_mask {
        scale_by(&mut d_hidden, m);
    }

    // Back through the decoder (every step's output), then the encoder (its final state).
    let mut dy = vec![T::zero(); y.len()];
    let upstream = Upstream { outputs: Some(&d_hidden), h: vec![T::zero(); rows * h], c: vec![T::zero(); rows * h] };
    let down = dec.backward(s_dec, &decoded, &real_tgt, upstream, &mut dy, Some(&y));
    store_layer(&mut store, decoder.cell().weights(), down.grads.expect("asked for"), device)?;
    let mut dx = vec![T::zero(); x.len()];
    let upstream = Upstream { outputs: None, h: down.h0, c: down.c0 };
    let down = enc.backward(s_enc, &encoded, &real_src, upstream, &mut dx, Some(&x));
    store_layer(&mut store, encoder.cell().weights(), down.grads.expect("asked for"), device)?;

    let mut embedding_grad = masked_f32(&dx, x_mask.as_deref());
    embedding_grad.extend(masked_f32(&dy, y_mask.as_deref()));
    let loss = loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
    Ok(TrainingGradients { loss, grads: store, embedding_grad })
}
