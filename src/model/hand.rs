//! The hand-written CPU pass: a classifier's forward and backward pass for `dS/dx`, the
//! gradient of per-row scores `S_b(z_b)` of the logits with respect to the input embeddings
//! `x` `(batch, seq_len, dim)`, for f32 models on the CPU.
//!
//! candle's autograd runs a recurrent batch as about a thousand small tensor operations, each
//! allocating; here the same arithmetic runs in a few buffers: one matrix product for all input
//! projections `W_ih x_t + b_ih`, per step one product `W_hh h + b_hh` and the cell's
//! non-linearities in place, then backpropagation through time with one product per step and
//! one for all input gradients. Only the gradient with respect to the inputs is formed (no
//! weight gradients); `dS/dz` comes from candle's autograd on the small `(batch, classes)`
//! logits, so any differentiable score works.
//!
//! The maths is the model's own (see [`super::recurrent`]): each cell's host step sits next to
//! its candle step ([`HostCell`]), the padding mask carries the state over as in the model, and
//! a bidirectional representation is the forward state at the last token and the backward
//! state at the first. [`Classifier::input_gradient`](super::Classifier::input_gradient)
//! chooses this pass when [`HandPass::supports`] says so and candle's autograd otherwise; tests
//! hold the two to each other, and autograd to finite differences.

use candle_core::{DType, Tensor, Var};
use gemm::{gemm, Parallelism};

use super::classifier::{Classifier, InputGradient};
use super::recurrent::{AnyLayer, Cell, CellKind, Gru, Lstm, Tanh};
use super::trace::Direction;
use crate::error::{Error, Result};

/// Why the hand-written pass cannot run a model (it then runs on candle's autograd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    /// The weights are not on the CPU.
    #[error("the hand-written pass runs on the CPU only")]
    Device,
    /// The weights are not f32.
    #[error("the hand-written pass needs f32 weights, not {0:?}")]
    DType(DType),
    /// A cell kind without a host step.
    #[error("the hand-written pass has no step for the {0} cell")]
    Cell(CellKind),
}

/// A cell's step on host buffers, one batch row at a time. Slices hold one row: `xp` and `hp`
/// the `G·hidden` input projection `W_ih x + b_ih` and recurrent projection `W_hh h + b_hh`,
/// `h` the hidden state, `c` the `EXTRA·hidden` further state (the LSTM's cell state).
pub(crate) trait HostCell: Cell {
    /// State values per unit besides `h`.
    const EXTRA: usize;
    /// Values per unit kept for the backward pass.
    const SAVED: usize;
    /// The new state `(h_new, c_new)` from the previous one; fills `saved`.
    fn forward(xp: &[f32], hp: &[f32], h: &[f32], c: &[f32], h_new: &mut [f32], c_new: &mut [f32], saved: &mut [f32]);
    /// From `dS/dh_new`, `dS/dc_new`: `dS/dxp`, `dS/dhp`, and `dS/dh`, `dS/dc` except what
    /// flows through `hp` (the caller adds `dS/dhp · W_hh`).
    #[allow(clippy::too_many_arguments)]
    fn backward(
        saved: &[f32],
        dh: &[f32],
        dc: &[f32],
        d_xp: &mut [f32],
        d_hp: &mut [f32],
        dh_prev: &mut [f32],
        dc_prev: &mut [f32],
    );
}

/// The logistic function.
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `tanh` through one `exp`: several times faster than libm's `tanhf` here, within about 1e-7
/// of it in absolute terms (which is all the gradient needs).
pub(crate) fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / ((2.0 * x).exp() + 1.0)
}

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

fn host(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

/// The sizes of one pass.
#[derive(Debug, Clone, Copy)]
struct Shape {
    batch: usize,
    steps: usize,
    dim: usize,
    hidden: usize,
}

/// One layer's weights, row-major, with its cell's host step.
struct HostLayer {
    reverse: bool,
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
    b_ih: Vec<f32>,
    b_hh: Vec<f32>,
    forward: ForwardFn,
    backward: BackwardFn,
}

/// A layer's forward pass over time-major inputs: `(saved values, final hidden state)`.
type ForwardFn = fn(&HostLayer, Shape, &[f32], &[bool]) -> (Vec<f32>, Vec<f32>);
/// A layer's backward pass from `dS/dh_final`, adding `dS/dx` into time-major `dx`.
type BackwardFn = fn(&HostLayer, Shape, &[f32], &[bool], Vec<f32>, &mut [f32]);

/// The host step of each cell kind: the one place a new cell is added (or declared
/// [`Unsupported::Cell`], which sends its models to autograd).
fn host_step(kind: CellKind) -> std::result::Result<(ForwardFn, BackwardFn), Unsupported> {
    match kind {
        CellKind::Tanh => Ok((forward::<Tanh>, backward::<Tanh>)),
        CellKind::Lstm => Ok((forward::<Lstm>, backward::<Lstm>)),
        CellKind::Gru => Ok((forward::<Gru>, backward::<Gru>)),
    }
}

fn ordered(reverse: bool, steps: usize) -> Box<dyn Iterator<Item = usize>> {
    if reverse {
        Box::new((0..steps).rev())
    } else {
        Box::new(0..steps)
    }
}

/// Run a layer over time-major `x` `(steps, batch, dim)`; `real[t·batch + row]` marks tokens.
fn forward<C: HostCell>(layer: &HostLayer, s: Shape, x: &[f32], real: &[bool]) -> (Vec<f32>, Vec<f32>) {
    let (b, h, e) = (s.batch, s.hidden, C::EXTRA * s.hidden);
    let (g, k) = (C::KIND.blocks() * h, C::SAVED * h);
    let mut xp = vec![0f32; s.steps * b * g];
    matmul(&mut xp, x, &layer.w_ih, s.steps * b, g, s.dim, 1, s.dim, false);
    for row in xp.chunks_exact_mut(g) {
        row.iter_mut().zip(&layer.b_ih).for_each(|(v, bias)| *v += bias);
    }
    let mut saved = vec![0f32; s.steps * b * k];
    let (mut hs, mut cs) = (vec![0f32; b * h], vec![0f32; b * e]);
    let (mut h_new, mut c_new) = (vec![0f32; h], vec![0f32; e]);
    let mut hp = vec![0f32; b * g];
    for t in ordered(layer.reverse, s.steps) {
        for row in hp.chunks_exact_mut(g) {
            row.copy_from_slice(&layer.b_hh);
        }
        matmul(&mut hp, &hs, &layer.w_hh, b, g, h, 1, h, true);
        for row in 0..b {
            let at = t * b + row;
            C::forward(
                &xp[at * g..(at + 1) * g],
                &hp[row * g..(row + 1) * g],
                &hs[row * h..(row + 1) * h],
                &cs[row * e..(row + 1) * e],
                &mut h_new,
                &mut c_new,
                &mut saved[at * k..(at + 1) * k],
            );
            if real[at] {
                hs[row * h..(row + 1) * h].copy_from_slice(&h_new);
                cs[row * e..(row + 1) * e].copy_from_slice(&c_new);
            }
        }
    }
    (saved, hs)
}

/// Backpropagate through a layer from `dS/dh_final` `(batch, hidden)` into `dx`.
fn backward<C: HostCell>(layer: &HostLayer, s: Shape, saved: &[f32], real: &[bool], mut dh: Vec<f32>, dx: &mut [f32]) {
    let (b, h, e) = (s.batch, s.hidden, C::EXTRA * s.hidden);
    let (g, k) = (C::KIND.blocks() * h, C::SAVED * h);
    let mut d_xp = vec![0f32; s.steps * b * g];
    let mut dc = vec![0f32; b * e];
    let mut d_hp = vec![0f32; b * g];
    let mut dh_prev = vec![0f32; b * h];
    let mut dc_prev = vec![0f32; e];
    for t in ordered(!layer.reverse, s.steps) {
        for row in 0..b {
            let at = t * b + row;
            if !real[at] {
                // The state was carried over: dh and dc pass through unchanged.
                d_hp[row * g..(row + 1) * g].fill(0.0);
                continue;
            }
            C::backward(
                &saved[at * k..(at + 1) * k],
                &dh[row * h..(row + 1) * h],
                &dc[row * e..(row + 1) * e],
                &mut d_xp[at * g..(at + 1) * g],
                &mut d_hp[row * g..(row + 1) * g],
                &mut dh_prev[row * h..(row + 1) * h],
                &mut dc_prev,
            );
            dc[row * e..(row + 1) * e].copy_from_slice(&dc_prev);
        }
        matmul(&mut dh_prev, &d_hp, &layer.w_hh, b, h, g, h, 1, true);
        for row in 0..b {
            if real[t * b + row] {
                dh[row * h..(row + 1) * h].copy_from_slice(&dh_prev[row * h..(row + 1) * h]);
            }
        }
    }
    matmul(dx, &d_xp, &layer.w_ih, s.steps * b, s.dim, g, s.dim, 1, true);
}

/// A classifier's weights laid out for the hand-written pass.
pub(crate) struct HandPass {
    dim: usize,
    hidden: usize,
    classes: usize,
    layers: Vec<HostLayer>,
    out_w: Vec<f32>,
    out_b: Vec<f32>,
}

impl HandPass {
    /// Whether the pass can run `model`, and why not.
    pub(crate) fn supports(model: &Classifier) -> std::result::Result<(), Unsupported> {
        if !model.device().is_cpu() {
            return Err(Unsupported::Device);
        }
        if model.dtype() != DType::F32 {
            return Err(Unsupported::DType(model.dtype()));
        }
        model.layers().iter().try_for_each(|l| host_step(l.kind()).map(drop))
    }

    /// `model`'s weights, copied to the host (call after [`HandPass::supports`]).
    pub(crate) fn new(model: &Classifier) -> Result<Self> {
        let layer = |l: &AnyLayer| -> Result<HostLayer> {
            let (forward, backward) = host_step(l.kind()).expect("checked by `supports`");
            let w = l.weights();
            Ok(HostLayer {
                reverse: l.direction() == Direction::Backward,
                w_ih: host(&w.ih)?,
                w_hh: host(&w.hh)?,
                b_ih: host(&w.b_ih)?,
                b_hh: host(&w.b_hh)?,
                forward,
                backward,
            })
        };
        let config = model.config();
        let (out_w, out_b) = model.output();
        Ok(HandPass {
            dim: config.embedding_dim,
            hidden: config.hidden_dim,
            classes: config.num_classes(),
            layers: model.layers().iter().map(layer).collect::<Result<_>>()?,
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
        let flat = host(x)?;
        let mut real = vec![true; t_len * b];
        if let Some(m) = mask {
            for (k, v) in host(m)?.into_iter().enumerate() {
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
            let (kept, hs) = (layer.forward)(layer, s, &x_tm, &real);
            for row in 0..b {
                repr[row * r_dim + l * h..row * r_dim + (l + 1) * h].copy_from_slice(&hs[row * h..(row + 1) * h]);
            }
            saved.push(kept);
        }
        let c_n = self.classes;
        let mut logits = vec![0f32; b * c_n];
        for row in 0..b {
            logits[row * c_n..(row + 1) * c_n].copy_from_slice(&self.out_b);
        }
        matmul(&mut logits, &repr, &self.out_w, b, c_n, r_dim, 1, r_dim, true);

        // dS/dz through candle's autograd on the logits alone, then dS/d(representation).
        let z = Var::from_tensor(&Tensor::from_vec(logits, (b, c_n), x.device())?)?;
        let scores = score(z.as_tensor())?;
        let dz = match scores.sum_all()?.backward()?.get(z.as_tensor()) {
            Some(g) => host(g)?,
            None => vec![0f32; b * c_n],
        };
        let mut d_repr = vec![0f32; b * r_dim];
        matmul(&mut d_repr, &dz, &self.out_w, b, r_dim, c_n, r_dim, 1, false);

        // Backpropagation through time, layer by layer, into the inputs.
        let mut dx_tm = vec![0f32; t_len * b * d];
        for (l, (layer, kept)) in self.layers.iter().zip(&saved).enumerate() {
            let mut dh = vec![0f32; b * h];
            for row in 0..b {
                dh[row * h..(row + 1) * h].copy_from_slice(&d_repr[row * r_dim + l * h..row * r_dim + (l + 1) * h]);
            }
            (layer.backward)(layer, s, kept, &real, dh, &mut dx_tm);
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
