//! A hand-fused forward and backward pass for `dS_c/de`: the fast path of `grad` and
//! `grad-input` for f32 models on the CPU.
//!
//! candle's autograd runs a recurrent batch as about a thousand small tensor operations, each
//! allocating; here the same arithmetic runs in a few buffers: one matrix product for all input
//! projections, per step one product with `W_hh` and the gate non-linearities in place, then
//! backpropagation through time with one product per step and one for all input gradients.
//! Only the gradient with respect to the inputs is formed (no weight gradients).
//!
//! The math is the model's own (see [`crate::model::recurrent`]): PyTorch gate order i, f, g, o,
//! left padding carried over as in the model, the BiLSTM's representation the forward state at
//! the last token and the backward state at the first. Tests hold it to candle's autograd on
//! the same model, which is itself checked against finite differences.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use gemm::{gemm, Parallelism};

use super::{argmax, ScoreKind};
use crate::error::{Error, Result};
use crate::model::{Arch, Classifier};

/// `c (m x n, row-major) = [c +] a (m x k, row-major) * b`, `b` given by its row and column
/// strides (so that a transposed matrix needs no copy).
#[allow(clippy::too_many_arguments)]
fn matmul(c: &mut [f32], a: &[f32], b: &[f32], m: usize, n: usize, k: usize, b_rs: usize, b_cs: usize, add: bool) {
    assert!(c.len() >= m * n && a.len() >= m * k);
    assert!(k == 0 || n == 0 || b.len() > (k - 1) * b_rs + (n - 1) * b_cs);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above keep every index gemm touches inside the slices; `c` does not
    // alias `a` or `b` (it is borrowed mutably).
    unsafe {
        gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            add,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `tanh` through one `exp`: several times faster than libm's `tanhf` here, within about 1e-7
/// of it in absolute terms (which is all the gradient needs).
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / ((2.0 * x).exp() + 1.0)
}

/// One recurrent layer's weights, row-major.
#[derive(Debug, Clone)]
struct Layer {
    reverse: bool,
    lstm: bool,
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
    bias: Vec<f32>,
}

/// A classifier's weights laid out for the fused pass.
#[derive(Debug, Clone)]
pub struct Fused {
    dim: usize,
    hidden: usize,
    classes: usize,
    layers: Vec<Layer>,
    out_w: Vec<f32>,
    out_b: Vec<f32>,
}

/// The result of [`Fused::gradients`].
#[derive(Debug, Clone)]
pub struct FusedPass {
    /// `dS_{c_b}/dx_b`, batch-major `(batch, seq_len, dim)`, zero at padded positions.
    pub grad: Vec<f32>,
    /// Logits at the input.
    pub logits: Vec<Vec<f32>>,
    /// The class of each row.
    pub classes: Vec<usize>,
    /// `S_{c_b}(x_b)`.
    pub scores: Vec<f64>,
}

fn host(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

impl Fused {
    /// The fused form of `model`, or `None` when the model is not an f32 model on the CPU.
    pub fn new(model: &Classifier) -> Result<Option<Self>> {
        if model.dtype() != DType::F32 || !model.device().is_cpu() {
            return Ok(None);
        }
        let config = *model.config();
        let tensors: HashMap<String, Tensor> = model.tensors()?;
        let get = |name: &str| -> Result<Vec<f32>> {
            host(tensors.get(name).ok_or_else(|| Error::invalid("model", format!("has no tensor `{name}`")))?)
        };
        let directions: &[bool] = if config.arch == Arch::Bilstm { &[false, true] } else { &[false] };
        let layers = directions
            .iter()
            .map(|&reverse| {
                let s = if reverse { "_reverse" } else { "" };
                let (b_ih, b_hh) = (get(&format!("encoder.bias_ih_l0{s}"))?, get(&format!("encoder.bias_hh_l0{s}"))?);
                Ok(Layer {
                    reverse,
                    lstm: config.arch != Arch::Rnn,
                    w_ih: get(&format!("encoder.weight_ih_l0{s}"))?,
                    w_hh: get(&format!("encoder.weight_hh_l0{s}"))?,
                    bias: b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Fused {
            dim: config.embedding_dim,
            hidden: config.hidden_dim,
            classes: config.num_classes(),
            layers,
            out_w: get("classifier.weight")?,
            out_b: get("classifier.bias")?,
        }))
    }

    /// `dS_c/dx` for a left-padded batch: `x` is batch-major `(batch, seq_len, dim)`, `lengths`
    /// the real length of each row; `classes` fixes each row's class (`None`: the predicted).
    pub fn gradients(
        &self,
        x: &[f32],
        lengths: &[usize],
        seq_len: usize,
        classes: Option<&[usize]>,
        kind: ScoreKind,
    ) -> Result<FusedPass> {
        let (b, t_len, d, h) = (lengths.len(), seq_len, self.dim, self.hidden);
        if x.len() != b * t_len * d || t_len == 0 {
            return Err(Error::invalid("embeddings", format!("expected {b} x {t_len} x {d} values, got {}", x.len())));
        }
        // Time-major copy of the inputs: x_tm[(t * b + row) * d ..].
        let mut x_tm = vec![0f32; t_len * b * d];
        for row in 0..b {
            for t in 0..t_len {
                let src = (row * t_len + t) * d;
                x_tm[(t * b + row) * d..(t * b + row + 1) * d].copy_from_slice(&x[src..src + d]);
            }
        }
        let real = |row: usize, t: usize| t + lengths[row] >= t_len;

        // Forward, keeping what backpropagation needs.
        struct Saved {
            act: Vec<f32>,    // (t, b, g): activated gates (LSTM) or h (RNN)
            c_prev: Vec<f32>, // (t, b, h)
            tanh_c: Vec<f32>, // (t, b, h)
        }
        let r_dim = h * self.layers.len();
        let mut repr = vec![0f32; b * r_dim];
        let mut saved = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let g = if layer.lstm { 4 * h } else { h };
            let mut act = vec![0f32; t_len * b * g];
            matmul(&mut act, &x_tm, &layer.w_ih, t_len * b, g, d, 1, d, false);
            let (mut c_prev, mut tanh_c) = if layer.lstm {
                (vec![0f32; t_len * b * h], vec![0f32; t_len * b * h])
            } else {
                (Vec::new(), Vec::new())
            };
            let (mut hs, mut cs) = (vec![0f32; b * h], vec![0f32; b * h]);
            let order: Vec<usize> = if layer.reverse { (0..t_len).rev().collect() } else { (0..t_len).collect() };
            for &t in &order {
                let a = &mut act[t * b * g..(t + 1) * b * g];
                matmul(a, &hs, &layer.w_hh, b, g, h, 1, h, true);
                for row in 0..b {
                    let a = &mut a[row * g..(row + 1) * g];
                    for (v, bias) in a.iter_mut().zip(&layer.bias) {
                        *v += bias;
                    }
                    let keep = real(row, t);
                    if layer.lstm {
                        for k in 0..h {
                            let (i, f) = (sigmoid(a[k]), sigmoid(a[h + k]));
                            let (gg, o) = (tanh(a[2 * h + k]), sigmoid(a[3 * h + k]));
                            (a[k], a[h + k], a[2 * h + k], a[3 * h + k]) = (i, f, gg, o);
                            let cp = cs[row * h + k];
                            let c = f * cp + i * gg;
                            let tc = tanh(c);
                            c_prev[(t * b + row) * h + k] = cp;
                            tanh_c[(t * b + row) * h + k] = tc;
                            if keep {
                                cs[row * h + k] = c;
                                hs[row * h + k] = o * tc;
                            }
                        }
                    } else {
                        for k in 0..h {
                            a[k] = tanh(a[k]);
                            if keep {
                                hs[row * h + k] = a[k];
                            }
                        }
                    }
                }
            }
            for row in 0..b {
                repr[row * r_dim + l * h..row * r_dim + (l + 1) * h].copy_from_slice(&hs[row * h..(row + 1) * h]);
            }
            saved.push(Saved { act, c_prev, tanh_c });
        }

        // Logits, classes, dS/dz and dS/d(representation).
        let c_n = self.classes;
        let mut logits = vec![vec![0f32; c_n]; b];
        for (row, z) in logits.iter_mut().enumerate() {
            for (j, zj) in z.iter_mut().enumerate() {
                let w = &self.out_w[j * r_dim..(j + 1) * r_dim];
                *zj = self.out_b[j]
                    + w.iter().zip(&repr[row * r_dim..(row + 1) * r_dim]).map(|(a, b)| a * b).sum::<f32>();
            }
        }
        let classes: Vec<usize> = match classes {
            Some(c) => c.to_vec(),
            None => logits.iter().map(|z| argmax(z)).collect(),
        };
        let mut scores = Vec::with_capacity(b);
        let mut d_repr = vec![0f32; b * r_dim];
        for row in 0..b {
            let (z, c) = (&logits[row], classes[row]);
            scores.push(kind.of_logits(z, c));
            let p = super::softmax(z);
            let dz: Vec<f32> = (0..c_n)
                .map(|j| {
                    let e = (j == c) as u8 as f32;
                    match kind {
                        ScoreKind::Logit => e,
                        ScoreKind::Paper => e * z[c].exp(),
                        ScoreKind::Prob => p[c] * (e - p[j]),
                        ScoreKind::Logprob => e - p[j],
                    }
                })
                .collect();
            for (j, &dzj) in dz.iter().enumerate() {
                for (dr, w) in d_repr[row * r_dim..(row + 1) * r_dim].iter_mut().zip(&self.out_w[j * r_dim..]) {
                    *dr += dzj * w;
                }
            }
        }

        // Backpropagation through time, layer by layer, into the inputs.
        let mut dx_tm = vec![0f32; t_len * b * d];
        for (l, (layer, s)) in self.layers.iter().zip(&saved).enumerate() {
            let g = if layer.lstm { 4 * h } else { h };
            let mut d_act = vec![0f32; t_len * b * g];
            let mut dh = vec![0f32; b * h];
            for row in 0..b {
                dh[row * h..(row + 1) * h].copy_from_slice(&d_repr[row * r_dim + l * h..row * r_dim + (l + 1) * h]);
            }
            let mut dc = vec![0f32; b * h];
            let mut dh_prev = vec![0f32; b * h];
            let order: Vec<usize> = if layer.reverse { (0..t_len).collect() } else { (0..t_len).rev().collect() };
            for &t in &order {
                let da = &mut d_act[t * b * g..(t + 1) * b * g];
                let act = &s.act[t * b * g..(t + 1) * b * g];
                for row in 0..b {
                    if !real(row, t) {
                        continue; // the state was carried over: dh and dc pass through unchanged
                    }
                    let (da, act) = (&mut da[row * g..(row + 1) * g], &act[row * g..(row + 1) * g]);
                    if layer.lstm {
                        for k in 0..h {
                            let (i, f, gg, o) = (act[k], act[h + k], act[2 * h + k], act[3 * h + k]);
                            let idx = (t * b + row) * h + k;
                            let (tc, cp) = (s.tanh_c[idx], s.c_prev[idx]);
                            let dhk = dh[row * h + k];
                            let dct = dc[row * h + k] + dhk * o * (1.0 - tc * tc);
                            da[k] = dct * gg * i * (1.0 - i);
                            da[h + k] = dct * cp * f * (1.0 - f);
                            da[2 * h + k] = dct * i * (1.0 - gg * gg);
                            da[3 * h + k] = dhk * tc * o * (1.0 - o);
                            dc[row * h + k] = dct * f;
                        }
                    } else {
                        for k in 0..h {
                            let hv = act[k];
                            da[k] = dh[row * h + k] * (1.0 - hv * hv);
                        }
                    }
                }
                matmul(&mut dh_prev, da, &layer.w_hh, b, h, g, h, 1, false);
                for row in 0..b {
                    if real(row, t) {
                        dh[row * h..(row + 1) * h].copy_from_slice(&dh_prev[row * h..(row + 1) * h]);
                    }
                }
            }
            matmul(&mut dx_tm, &d_act, &layer.w_ih, t_len * b, d, g, d, 1, true);
        }
        let mut grad = vec![0f32; b * t_len * d];
        for row in 0..b {
            for t in 0..t_len {
                if real(row, t) {
                    let dst = (row * t_len + t) * d;
                    grad[dst..dst + d].copy_from_slice(&dx_tm[(t * b + row) * d..(t * b + row + 1) * d]);
                }
            }
        }
        Ok(FusedPass { grad, logits, classes, scores })
    }
}
