//! The saliency pass: a classifier's forward and backward pass for `dS/dx`, the gradient of
//! per-row scores `S_b(z_b)` of the logits with respect to the input embeddings `x`
//! `(batch, seq_len, dim)`, for f32 models on the CPU.
//!
//! Only the gradient with respect to the inputs is formed (no weight gradients); `dS/dz` comes
//! from candle's autograd on the small `(batch, classes)` logits, so any differentiable score
//! works. A bidirectional representation is the forward state at the last token and the
//! backward state at the first. [`Classifier::input_gradient`](super::super::Classifier::input_gradient)
//! chooses this pass when [`HandPass::supports`] says so and candle's autograd otherwise; tests
//! hold the two to each other, and autograd to finite differences.

use candle_core::{Tensor, Var};

use super::layer::Upstream;
use super::{host, matmul, HostLayer, Mat, Shape, Unsupported};
use crate::error::{Error, Result};
use crate::model::classifier::{Classifier, InputGradient};

/// A classifier's weights laid out for the hand-written pass.
pub(crate) struct HandPass {
    dim: usize,
    hidden: usize,
    classes: usize,
    layers: Vec<HostLayer<f32>>,
    out_w: Vec<f32>,
    out_b: Vec<f32>,
}

impl HandPass {
    /// Whether the pass can run `model`, and why not.
    pub(crate) fn supports(model: &Classifier) -> std::result::Result<(), Unsupported> {
        super::supports(model.device().location(), model.dtype(), model.layers().iter().map(|l| l.kind()))
    }

    /// `model`'s weights, copied to the host (call after [`HandPass::supports`]).
    pub(crate) fn new(model: &Classifier) -> Result<Self> {
        let config = model.config();
        let (out_w, out_b) = model.output();
        Ok(HandPass {
            dim: config.embedding_dim,
            hidden: config.hidden_dim,
            classes: config.num_classes(),
            layers: model.layers().iter().map(HostLayer::new).collect::<Result<_>>()?,
            out_w: host(out_w)?,
            out_b: host(out_b)?,
        })
    }

    /// `dS/dx` for embeddings `x` `(batch, seq_len, dim)` with an optional `(batch, seq_len)`
    /// padding mask; `score` maps the logits `(batch, classes)` to one score per row.
    pub(crate) fn input_gradient(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        score: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<InputGradient> {
        let (b, t_len, d) = x.dims3()?;
        if d != self.dim || t_len == 0 {
            return Err(Error::invalid(
                "embeddings",
                format!("expected (batch, seq_len >= 1, {}), got {:?}", self.dim, x.dims()),
            ));
        }
        let h = self.hidden;
        let s = Shape { batch: b, steps: t_len, dim: d, hidden: h };
        let flat: Vec<f32> = host(x)?;
        let mut real = vec![true; t_len * b];
        if let Some(m) = mask {
            for (k, v) in host::<f32>(m)?.into_iter().enumerate() {
                real[(k % t_len) * b + k / t_len] = v != 0.0;
            }
        }
        // Time-major copy of the inputs: x_tm[(t · b + row) · d ..].
        let mut x_tm = vec![0f32; t_len * b * d];
        for (k, src) in flat.chunks_exact(d).enumerate() {
            let (row, t) = (k / t_len, k % t_len);
            x_tm[(t * b + row) * d..(t * b + row + 1) * d].copy_from_slice(src);
        }

        // Forward: each layer's final state into its slot of the representation.
        let r_dim = h * self.layers.len();
        let mut repr = vec![0f32; b * r_dim];
        let mut saved = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let run = layer.forward(s, &x_tm, &real, None);
            for row in 0..b {
                repr[row * r_dim + l * h..row * r_dim + (l + 1) * h].copy_from_slice(&run.h()[row * h..(row + 1) * h]);
            }
            saved.push(run);
        }
        let c_n = self.classes;
        let mut logits = vec![0f32; b * c_n];
        for row in 0..b {
            logits[row * c_n..(row + 1) * c_n].copy_from_slice(&self.out_b);
        }
        matmul(&mut logits, Mat::rows(&repr, r_dim), Mat::t(&self.out_w, r_dim), b, c_n, r_dim, true);

        // dS/dz through candle's autograd on the logits alone, then dS/d(representation).
        let z = Var::from_tensor(&Tensor::from_vec(logits, (b, c_n), x.device())?)?;
        let scores = score(z.as_tensor())?;
        let dz = match scores.sum_all()?.backward()?.get(z.as_tensor()) {
            Some(g) => host::<f32>(g)?,
            None => vec![0f32; b * c_n],
        };
        let mut d_repr = vec![0f32; b * r_dim];
        matmul(&mut d_repr, Mat::rows(&dz, c_n), Mat::rows(&self.out_w, r_dim), b, r_dim, c_n, false);

        // Backpropagation through time, layer by layer, into the inputs.
        let mut dx_tm = vec![0f32; t_len * b * d];
        for (l, (layer, run)) in self.layers.iter().zip(&saved).enumerate() {
            let mut dh = vec![0f32; b * h];
            for row in 0..b {
                dh[row * h..(row + 1) * h].copy_from_slice(&d_repr[row * r_dim + l * h..row * r_dim + (l + 1) * h]);
            }
            let upstream = Upstream { outputs: None, h: dh, c: vec![0f32; run.c.len()] };
            layer.backward(s, run, &real, upstream, &mut dx_tm, None);
        }
        let mut grad = vec![0f32; b * t_len * d];
        for (k, dst) in grad.chunks_exact_mut(d).enumerate() {
            let at = (k % t_len) * b + k / t_len;
            if real[at] {
                dst.copy_from_slice(&dx_tm[at * d..(at + 1) * d]);
            }
        }
        Ok(InputGradient {
            grad: Tensor::from_vec(grad, (b, t_len, d), x.device())?,
            logits: z.as_tensor().detach(),
            scores: scores.detach(),
        })
    }
}
