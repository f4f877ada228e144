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

use super::buffer::Buf;
use super::layer::{LayerGrads, Run, Upstream};
use super::{accumulate, add_column_sums, host, matmul, HostLayer, Mat, Real, Shape};
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

/// Append `values` times `mask` (when there is one) to `out` as f32: the product exact in f64,
/// then one rounding, as autograd's.
fn extend_masked_f32<T: Real>(out: &mut Vec<f32>, values: &[T], mask: Option<&[f32]>) {
    match mask {
        Some(m) => out.extend(values.iter().zip(m).map(|(&v, &m)| (v.to_f64() * m as f64) as f32)),
        None => out.extend(values.iter().map(|&v| v.to_f64() as f32)),
    }
}

/// Batch-major `(batch, steps, dim)` rows to time-major `(steps, batch, dim)`.
fn time_major<T: Real>(values: &[T], batch: usize, steps: usize, dim: usize) -> Buf<T> {
    let mut out = Buf::for_overwrite(values.len());
    for (k, src) in values.chunks_exact(dim).enumerate() {
        let (b, t) = (k / steps, k % steps);
        out[(t * batch + b) * dim..(t * batch + b + 1) * dim].copy_from_slice(src);
    }
    out
}

/// Time-major `(steps, batch, dim)` input gradients as batch-major f32 rows, times the dropout
/// `mask` of the batch-major inputs when there is one.
fn batch_major_f32<T: Real>(values: &[T], batch: usize, steps: usize, dim: usize, mask: Option<&[f32]>) -> Vec<f32> {
    let mut out = Vec::with_capacity(values.len());
    for b in 0..batch {
        for t in 0..steps {
            let row = &values[(t * batch + b) * dim..(t * batch + b + 1) * dim];
            let at = (b * steps + t) * dim;
            extend_masked_f32(&mut out, row, mask.map(|m| &m[at..at + dim]));
        }
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

/// Cross-entropy of `logits` `(rows, classes)` against `labels`, summed and divided by `batch`
/// (the rows of the whole batch these are part of), and its gradient.
fn cross_entropy<T: Real>(logits: &[T], labels: &[u32], classes: usize, batch: usize) -> (T, Vec<T>) {
    let scale = T::one() / T::from_f64(batch.max(1) as f64);
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
    dropout: Option<&mut Dropout>,
) -> Result<TrainingGradients> {
    let config = model.config();
    let (rows, steps, classes) = (b.batch, b.seq_len, config.num_classes());
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
    let parts = match candle_core::utils::get_num_threads() {
        threads if threads > 1 => threads.min(rows / MIN_PART_ROWS).max(1),
        _ => 1,
    };
    classifier_in_parts::<T>(model, b, dropout, parts)
}

/// The fewest batch rows a thread of the classifier's pass takes on.
const MIN_PART_ROWS: usize = 8;

/// [`classifier`] with the batch's rows split into `parts` consecutive parts, run forward and
/// back on threads of their own (the rows of a batch are independent until the mean loss);
/// their gradients are summed in part order, so the result depends on `parts` (by rounding)
/// but not on which thread ran which part. The dropout masks are drawn for the whole batch first,
/// in the autograd pass's order (the embeddings, then the representation).
pub(crate) fn classifier_in_parts<T: Real>(
    model: &Classifier,
    b: &Batch,
    mut dropout: Option<&mut Dropout>,
    parts: usize,
) -> Result<TrainingGradients> {
    use rayon::prelude::*;
    let config = model.config();
    let (rows, steps, dim, h) = (b.batch, b.seq_len, config.embedding_dim, config.hidden_dim);
    let layers = model.layers().iter().map(HostLayer::<T>::new).collect::<Result<Vec<_>>>()?;
    let (out_w, out_b) = model.output();
    let out = (host::<T>(out_w)?, host::<T>(out_b)?);
    let r_dim = h * layers.len();

    let mut x = lookup::<T>(model.embedding(), &b.ids)?;
    let x_mask = drop_out(&mut x, &mut dropout);
    let r_mask = dropout.and_then(|d| d.mask(rows * r_dim));
    let pass = ClassifierPass { layers: &layers, out: (&out.0, &out.1), steps, dim, h, rows };
    let parts = parts.clamp(1, rows.max(1));
    let bounds: Vec<(usize, usize)> = (0..parts).map(|p| (p * rows / parts, (p + 1) * rows / parts)).collect();
    let results: Vec<PartGrads<T>> = bounds
        .par_iter()
        .map(|&(r0, r1)| {
            pass.run(
                &x[r0 * steps * dim..r1 * steps * dim],
                x_mask.as_deref().map(|m| &m[r0 * steps * dim..r1 * steps * dim]),
                &b.mask[r0 * steps..r1 * steps],
                &b.labels[r0..r1],
                r_mask.as_deref().map(|m| &m[r0 * r_dim..r1 * r_dim]),
            )
        })
        .collect();

    let mut results = results.into_iter();
    let mut total = results.next().expect("at least one part");
    for part in results {
        total.add(part);
    }
    let device = model.device();
    let mut store = GradStore::default();
    store.insert(out_w, Tensor::from_vec(total.d_w_out, out_w.shape(), device)?);
    store.insert(out_b, Tensor::from_vec(total.d_b_out, out_b.shape(), device)?);
    for (g, any) in total.layers.into_iter().zip(model.layers()) {
        store_layer(&mut store, any.weights(), g, device)?;
    }
    Ok(TrainingGradients { loss: total.loss.to_f64() as f32, grads: store, embedding_grad: total.dx })
}

/// What the classifier's pass over some rows of a batch shares with the other parts.
struct ClassifierPass<'a, T: Real> {
    layers: &'a [HostLayer<T>],
    /// The output layer's weight `(classes, r_dim)` and bias.
    out: (&'a [T], &'a [T]),
    steps: usize,
    dim: usize,
    h: usize,
    /// The whole batch's rows (the loss is their mean).
    rows: usize,
}

/// One part's share of the loss and gradients; `dx` is the gradient of its rows' embeddings,
/// batch-major, through the dropout mask, as the optimizer takes it.
struct PartGrads<T> {
    loss: T,
    d_w_out: Vec<T>,
    d_b_out: Vec<T>,
    layers: Vec<LayerGrads<T>>,
    dx: Vec<f32>,
}

impl<T: Real> PartGrads<T> {
    /// Add the next part's: its losses and weight gradients summed, its rows' input gradients
    /// appended.
    fn add(&mut self, next: PartGrads<T>) {
        self.loss += next.loss;
        accumulate(&mut self.d_w_out, &next.d_w_out);
        accumulate(&mut self.d_b_out, &next.d_b_out);
        for (a, b) in self.layers.iter_mut().zip(&next.layers) {
            a.add(b);
        }
        self.dx.extend_from_slice(&next.dx);
    }
}

impl<T: Real> ClassifierPass<'_, T> {
    /// Forward and back over the rows whose (dropped-out) embeddings are `x`, batch-major.
    fn run(
        &self,
        x: &[T],
        x_mask: Option<&[f32]>,
        mask: &[f32],
        labels: &[u32],
        r_mask: Option<&[f32]>,
    ) -> PartGrads<T> {
        let (steps, dim, h) = (self.steps, self.dim, self.h);
        let (w_out, b_out) = self.out;
        let (classes, rows) = (b_out.len(), labels.len());
        let x_tm = time_major(x, rows, steps, dim);
        let mut real = vec![false; rows * steps];
        for (k, &m) in mask.iter().enumerate() {
            real[(k % steps) * rows + k / steps] = m != 0.0;
        }
        let s = Shape { batch: rows, steps, dim, hidden: h };

        // Forward: each layer's final state into its slot of the representation.
        let r_dim = h * self.layers.len();
        let mut repr = vec![T::zero(); rows * r_dim];
        let mut runs: Vec<Run<T>> = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let run = layer.forward(s, &x_tm, &real, None);
            for row in 0..rows {
                repr[row * r_dim + l * h..row * r_dim + (l + 1) * h].copy_from_slice(&run.h()[row * h..(row + 1) * h]);
            }
            runs.push(run);
        }
        if let Some(m) = r_mask {
            scale_by(&mut repr, m);
        }
        let mut logits = vec![T::zero(); rows * classes];
        for row in logits.chunks_exact_mut(classes) {
            row.copy_from_slice(b_out);
        }
        matmul(&mut logits, Mat::rows(&repr, r_dim), Mat::t(w_out, r_dim), rows, classes, r_dim, true);
        let (loss, dz) = cross_entropy(&logits, labels, classes, self.rows);

        // Backward: the output layer, then each recurrent layer through time.
        let mut d_w_out = vec![T::zero(); classes * r_dim];
        matmul(&mut d_w_out, Mat::t(&dz, classes), Mat::rows(&repr, r_dim), classes, r_dim, rows, false);
        let mut d_b_out = vec![T::zero(); classes];
        add_column_sums(&mut d_b_out, &dz, classes);
        let mut d_repr = vec![T::zero(); rows * r_dim];
        matmul(&mut d_repr, Mat::rows(&dz, classes), Mat::rows(w_out, r_dim), rows, r_dim, classes, false);
        if let Some(m) = r_mask {
            scale_by(&mut d_repr, m);
        }
        let mut dx_tm = Buf::zeroed(steps * rows * dim);
        let mut layers = Vec::with_capacity(self.layers.len());
        for (l, (layer, run)) in self.layers.iter().zip(&runs).enumerate() {
            let mut dh = vec![T::zero(); rows * h];
            for row in 0..rows {
                dh[row * h..(row + 1) * h].copy_from_slice(&d_repr[row * r_dim + l * h..row * r_dim + (l + 1) * h]);
            }
            let upstream = Upstream { outputs: None, h: dh, c: vec![T::zero(); run.c.len()] };
            let down = layer.backward(s, run, &real, upstream, &mut dx_tm, Some(&x_tm));
            layers.push(down.grads.expect("asked for"));
        }
        let dx = batch_major_f32(&dx_tm, rows, steps, dim, x_mask);
        PartGrads { loss, d_w_out, d_b_out, layers, dx }
    }
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
    let encoded = enc.forward(s_enc, &x, &real_src, None);
    let decoded = dec.forward(s_dec, &y, &real_tgt, Some((encoded.h(), &encoded.c)));

    // The fused softmax loss through autograd: gradients of the output layer and of the
    // decoder's hidden states.
    let device = model.device();
    let mut outputs = decoded.outputs().to_vec();
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

    let mut embedding_grad = Vec::with_capacity(dx.len() + dy.len());
    extend_masked_f32(&mut embedding_grad, &dx, x_mask.as_deref());
    extend_masked_f32(&mut embedding_grad, &dy, y_mask.as_deref());
    let loss = loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
    Ok(TrainingGradients { loss, grads: store, embedding_grad })
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Var};
    use candle_nn::VarBuilder;

    use super::*;
    use crate::data::Task;
    use crate::model::{Arch, ClassifierConfig};

    fn f64_model(arch: Arch) -> Classifier {
        let config =
            ClassifierConfig { arch, task: Task::Fine.into(), vocab_size: 12, embedding_dim: 4, hidden_dim: 3 };
        let map = config
            .init_parameters(7, 0.8, &Device::Cpu)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                let v = v.to_dtype(DType::F64).unwrap();
                let v = if k == "embedding.weight" { v } else { Var::from_tensor(&v).unwrap().as_tensor().clone() };
                (k, v)
            })
            .collect();
        Classifier::load(VarBuilder::from_tensors(map, DType::F64, &Device::Cpu), config).unwrap()
    }

    fn flat(t: &Tensor) -> Vec<f64> {
        t.flatten_all().unwrap().to_vec1::<f64>().unwrap()
    }

    /// Splitting a batch's rows across threads changes only the order of the sums: the loss,
    /// every weight's gradient and every embedding row's gradient agree to rounding, with
    /// dropout (the same masks, drawn for the whole batch) and left padding, for every cell.
    #[test]
    fn a_batch_split_into_parts_gives_the_gradients_of_the_whole() {
        let rows: Vec<Vec<u32>> = vec![vec![4, 5], vec![6, 7, 8, 9, 10], vec![11], vec![2, 3, 2], vec![9, 4, 7, 5]];
        let b = Batch::from_sequences(&rows, vec![0, 3, 4, 1, 2]);
        for arch in Arch::ALL {
            let m = f64_model(arch);
            let whole = classifier_in_parts::<f64>(&m, &b, Some(&mut Dropout::new(0.3, 5)), 1).unwrap();
            for parts in [2, 3, 5, 9] {
                let split = classifier_in_parts::<f64>(&m, &b, Some(&mut Dropout::new(0.3, 5)), parts).unwrap();
                assert!((whole.loss - split.loss).abs() < 1e-6, "{arch} {parts}: loss");
                let close = |what: &str, a: &[f64], b: &[f64], tol: f64| {
                    assert_eq!(a.len(), b.len(), "{arch} {parts} {what}");
                    for (k, (x, y)) in a.iter().zip(b).enumerate() {
                        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{arch} {parts} {what}[{k}]: {x} vs {y}");
                    }
                };
                let (we, se): (Vec<f64>, Vec<f64>) = (
                    whole.embedding_grad.iter().map(|&v| v as f64).collect(),
                    split.embedding_grad.iter().map(|&v| v as f64).collect(),
                );
                // Handed over as f32.
                close("embeddings", &se, &we, 1e-6);
                assert!(we.iter().any(|&v| v != 0.0), "{arch}: no embedding gradient");
                for (name, t) in m.tensors().unwrap() {
                    if name == "embedding.weight" {
                        continue;
                    }
                    close(&name, &flat(split.grads.get(&t).unwrap()), &flat(whole.grads.get(&t).unwrap()), 1e-12);
                }
            }
        }
    }
}
