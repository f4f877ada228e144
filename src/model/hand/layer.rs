//! One recurrent layer forward and back through time on host buffers, for any cell with a
//! [`HostCell`] step. Inputs and states are time-major: row `t·batch + b` is position `t` of
//! batch row `b`.

use super::buffer::Buf;
use super::{accumulate, add_column_sums, host, matmul, HostCell, Mat, Real, Unsupported};
use crate::error::Result;
use crate::model::recurrent::{AnyLayer, CellKind, Gru, Lstm, Tanh, Weights};
use crate::model::trace::Direction;

/// The sizes of one pass.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Rows of the batch.
    pub batch: usize,
    /// Positions.
    pub steps: usize,
    /// Input size.
    pub dim: usize,
    /// Hidden size.
    pub hidden: usize,
}

/// What a layer's forward pass keeps for its backward pass and hands on.
pub(crate) struct Run<T: Real> {
    /// Per position and row, the cell's saved values (zeros at padded positions).
    saved: Buf<T>,
    /// The hidden states `(batch, hidden)` in sentence order, one slot more than positions: slot
    /// `t` is the state before position `t` of a forward layer, and after position `t` of a
    /// reverse one (a padded position carries the state over).
    states: Buf<T>,
    /// Values in a slot: `batch · hidden`.
    slot: usize,
    reverse: bool,
    /// The final further state `(batch, EXTRA·hidden)` (the LSTM's `c`).
    pub c: Vec<T>,
}

impl<T: Real> Run<T> {
    /// Per position and row, the hidden state the step started from.
    fn h_prev(&self) -> &[T] {
        let from = if self.reverse { self.slot } else { 0 };
        &self.states[from..from + self.states.len() - self.slot]
    }

    /// Per position and row, the hidden state after the step, in sentence order.
    pub(crate) fn outputs(&self) -> &[T] {
        let from = if self.reverse { 0 } else { self.slot };
        &self.states[from..from + self.states.len() - self.slot]
    }

    /// The final hidden state `(batch, hidden)`.
    pub(crate) fn h(&self) -> &[T] {
        let from = if self.reverse { 0 } else { self.states.len() - self.slot };
        &self.states[from..from + self.slot]
    }
}

/// The gradients of one layer's four tensors, row-major as in [`Weights`].
pub(crate) struct LayerGrads<T> {
    pub w_ih: Vec<T>,
    pub w_hh: Vec<T>,
    pub b_ih: Vec<T>,
    pub b_hh: Vec<T>,
}

impl<T: Real> LayerGrads<T> {
    /// Add `other`'s gradients (of the same layer, from another part of a batch).
    pub(crate) fn add(&mut self, other: &LayerGrads<T>) {
        accumulate(&mut self.w_ih, &other.w_ih);
        accumulate(&mut self.w_hh, &other.w_hh);
        accumulate(&mut self.b_ih, &other.b_ih);
        accumulate(&mut self.b_hh, &other.b_hh);
    }
}

/// What flows back into a layer: the gradient of each position's output (`None`: none but the
/// final state's), of the final `h`, and of the final further state (`c`).
pub(crate) struct Upstream<'a, T> {
    pub outputs: Option<&'a [T]>,
    pub h: Vec<T>,
    pub c: Vec<T>,
}

/// What a layer's backward pass gives back: the gradient of the initial state `(h0, c0)`, and
/// the weights' gradients when asked for.
pub(crate) struct Downstream<T> {
    pub h0: Vec<T>,
    pub c0: Vec<T>,
    pub grads: Option<LayerGrads<T>>,
}

/// A layer's forward pass over time-major inputs from an optional initial state `(h0, c0)`.
type ForwardFn<T> = fn(&HostLayer<T>, Shape, &[T], &[bool], Option<(&[T], &[T])>) -> Run<T>;
/// A layer's backward pass: adds `dS/dx` into time-major `dx`; forms the weights' gradients
/// when given the inputs.
type BackwardFn<T> = fn(&HostLayer<T>, Shape, &Run<T>, &[bool], Upstream<T>, &mut [T], Option<&[T]>) -> Downstream<T>;

/// The host step of each cell kind: the one place a new cell is added (or declared
/// [`Unsupported::Cell`], which sends its models to autograd).
pub(super) fn host_step<T: Real>(kind: CellKind) -> std::result::Result<(ForwardFn<T>, BackwardFn<T>), Unsupported> {
    match kind {
        CellKind::Tanh => Ok((forward::<T, Tanh>, backward::<T, Tanh>)),
        CellKind::Lstm => Ok((forward::<T, Lstm>, backward::<T, Lstm>)),
        CellKind::Gru => Ok((forward::<T, Gru>, backward::<T, Gru>)),
    }
}

/// One layer's weights on the host, row-major, with its cell's host step.
pub(crate) struct HostLayer<T: Real> {
    reverse: bool,
    w_ih: Vec<T>,
    w_hh: Vec<T>,
    b_ih: Vec<T>,
    b_hh: Vec<T>,
    forward: ForwardFn<T>,
    backward: BackwardFn<T>,
}

impl<T: Real> HostLayer<T> {
    /// `layer`'s weights, copied to the host.
    pub(crate) fn new(layer: &AnyLayer) -> Result<Self> {
        Self::from_weights(layer.kind(), layer.direction(), layer.weights())
    }

    /// A layer of `kind` reading in `direction` with `weights`, copied to the host.
    pub(crate) fn from_weights(kind: CellKind, direction: Direction, weights: &Weights) -> Result<Self> {
        let (forward, backward) =
            host_step::<T>(kind).map_err(|e| crate::error::Error::invalid("cell", e.to_string()))?;
        Ok(HostLayer {
            reverse: direction == Direction::Backward,
            w_ih: host(&weights.ih)?,
            w_hh: host(&weights.hh)?,
            b_ih: host(&weights.b_ih)?,
            b_hh: host(&weights.b_hh)?,
            forward,
            backward,
        })
    }

    /// Run over time-major `x` `(steps, batch, dim)`, where `real[t·batch + row]` marks tokens
    /// (a padded position carries the state over), from `init` or the zero state.
    pub(crate) fn forward(&self, s: Shape, x: &[T], real: &[bool], init: Option<(&[T], &[T])>) -> Run<T> {
        (self.forward)(self, s, x, real, init)
    }

    /// Backpropagate `upstream` through the run, adding `dS/dx` into `dx`; with the inputs `x`
    /// of the run, also the weights' gradients.
    pub(crate) fn backward(
        &self,
        s: Shape,
        run: &Run<T>,
        real: &[bool],
        upstream: Upstream<T>,
        dx: &mut [T],
        x: Option<&[T]>,
    ) -> Downstream<T> {
        (self.backward)(self, s, run, real, upstream, dx, x)
    }
}

fn ordered(reverse: bool, steps: usize) -> Box<dyn Iterator<Item = usize>> {
    if reverse {
        Box::new((0..steps).rev())
    } else {
        Box::new(0..steps)
    }
}

/// [`forward_body`] compiled for the widest vector instructions this CPU has (AVX-512 or AVX2
/// on x86-64; the cell loops are element-wise, so every width gives the same values).
fn forward<T: Real, C: HostCell>(
    layer: &HostLayer<T>,
    s: Shape,
    x: &[T],
    real: &[bool],
    init: Option<(&[T], &[T])>,
) -> Run<T> {
    struct Op<'a, T: Real, C> {
        layer: &'a HostLayer<T>,
        s: Shape,
        x: &'a [T],
        real: &'a [bool],
        init: Option<(&'a [T], &'a [T])>,
        cell: std::marker::PhantomData<C>,
    }
    impl<T: Real, C: HostCell> pulp::WithSimd for Op<'_, T, C> {
        type Output = Run<T>;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) -> Run<T> {
            forward_body::<T, C>(self.layer, self.s, self.x, self.real, self.init)
        }
    }
    let cell = std::marker::PhantomData::<C>;
    pulp::Arch::new().dispatch(Op { layer, s, x, real, init, cell })
}

/// The slot of [`Run::states`] that position `t` reads its state from, and the one it writes.
#[inline(always)]
fn slots(reverse: bool, t: usize) -> (usize, usize) {
    if reverse {
        (t + 1, t)
    } else {
        (t, t + 1)
    }
}

#[inline(always)]
fn forward_body<T: Real, C: HostCell>(
    layer: &HostLayer<T>,
    s: Shape,
    x: &[T],
    real: &[bool],
    init: Option<(&[T], &[T])>,
) -> Run<T> {
    let (b, h, e) = (s.batch, s.hidden, C::EXTRA * s.hidden);
    let (g, k) = (C::KIND.blocks() * h, C::SAVED * h);
    let (n, slot) = (s.steps * b, b * h);
    // All input projections in one product: (T·B, dim) x (dim, G·H).
    let mut xp = Buf::for_overwrite(n * g);
    matmul(&mut xp, Mat::rows(x, s.dim), Mat::t(&layer.w_ih, s.dim), n, g, s.dim, false);
    for row in xp.chunks_exact_mut(g) {
        row.iter_mut().zip(&layer.b_ih).for_each(|(v, &bias)| *v += bias);
    }
    // Every value of these is written before it is read: each step computes or carries over
    // every row of its slot.
    let mut saved = Buf::for_overwrite(n * k);
    let mut states = Buf::for_overwrite(n * h + slot);
    let first = if layer.reverse { s.steps } else { 0 };
    let mut cs = match init {
        Some((h0, c0)) => {
            states[first * slot..(first + 1) * slot].copy_from_slice(h0);
            c0.to_vec()
        }
        None => {
            states[first * slot..(first + 1) * slot].fill(T::zero());
            vec![T::zero(); b * e]
        }
    };
    let mut cs_next = vec![T::zero(); b * e];
    let mut hp = Buf::for_overwrite(b * g);
    for t in ordered(layer.reverse, s.steps) {
        let (from, to) = slots(layer.reverse, t);
        for row in hp.chunks_exact_mut(g) {
            row.copy_from_slice(&layer.b_hh);
        }
        let (before, after) = if from < to {
            let (lo, hi) = states.split_at_mut(to * slot);
            (&lo[from * slot..], &mut hi[..slot])
        } else {
            let (lo, hi) = states.split_at_mut(from * slot);
            (&hi[..slot], &mut lo[to * slot..])
        };
        matmul(&mut hp, Mat::rows(before, h), Mat::t(&layer.w_hh, h), b, g, h, true);
        for row in 0..b {
            let at = t * b + row;
            let (h_row, c_row) = (row * h..(row + 1) * h, row * e..(row + 1) * e);
            if real[at] {
                C::forward(
                    &xp[at * g..(at + 1) * g],
                    &hp[row * g..(row + 1) * g],
                    &before[h_row.clone()],
                    &cs[c_row.clone()],
                    &mut after[h_row],
                    &mut cs_next[c_row],
                    &mut saved[at * k..(at + 1) * k],
                );
            } else {
                after[h_row.clone()].copy_from_slice(&before[h_row]);
                cs_next[c_row.clone()].copy_from_slice(&cs[c_row]);
                saved[at * k..(at + 1) * k].fill(T::zero());
            }
        }
        std::mem::swap(&mut cs, &mut cs_next);
    }
    Run { saved, states, slot, reverse: layer.reverse, c: cs }
}

/// [`backward_body`] compiled for the widest vector instructions this CPU has, as [`forward`].
fn backward<T: Real, C: HostCell>(
    layer: &HostLayer<T>,
    s: Shape,
    run: &Run<T>,
    real: &[bool],
    upstream: Upstream<T>,
    dx: &mut [T],
    x: Option<&[T]>,
) -> Downstream<T> {
    struct Op<'a, 'u, T: Real, C> {
        layer: &'a HostLayer<T>,
        s: Shape,
        run: &'a Run<T>,
        real: &'a [bool],
        upstream: Upstream<'u, T>,
        dx: &'a mut [T],
        x: Option<&'a [T]>,
        cell: std::marker::PhantomData<C>,
    }
    impl<T: Real, C: HostCell> pulp::WithSimd for Op<'_, '_, T, C> {
        type Output = Downstream<T>;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) -> Downstream<T> {
            backward_body::<T, C>(self.layer, self.s, self.run, self.real, self.upstream, self.dx, self.x)
        }
    }
    let cell = std::marker::PhantomData::<C>;
    pulp::Arch::new().dispatch(Op { layer, s, run, real, upstream, dx, x, cell })
}

#[inline(always)]
fn backward_body<T: Real, C: HostCell>(
    layer: &HostLayer<T>,
    s: Shape,
    run: &Run<T>,
    real: &[bool],
    upstream: Upstream<T>,
    dx: &mut [T],
    x: Option<&[T]>,
) -> Downstream<T> {
    let (b, h, e) = (s.batch, s.hidden, C::EXTRA * s.hidden);
    let (g, k) = (C::KIND.blocks() * h, C::SAVED * h);
    let n = s.steps * b;
    let Upstream { outputs: d_out, h: mut dh, c: mut dc } = upstream;
    // Every step's gradients of the two projections, kept for the weights' gradients (one
    // buffer for both when the cell's are the same).
    let shared = C::SHARED_PROJECTION_GRADIENT;
    // Values of `d_hp` per row: none when it is `d_xp`.
    let g_hp = if shared { 0 } else { g };
    let mut d_xp = Buf::for_overwrite(n * g);
    let mut d_hp = Buf::for_overwrite(n * g_hp);
    // The gradients of the states before the step, swapped with `dh`, `dc` after it.
    let mut dh_prev = vec![T::zero(); b * h];
    let mut dc_prev = vec![T::zero(); b * e];
    for t in ordered(!layer.reverse, s.steps) {
        if let Some(d_out) = d_out {
            dh.iter_mut().zip(&d_out[t * b * h..(t + 1) * b * h]).for_each(|(d, &o)| *d += o);
        }
        let step_hp = &mut d_hp[t * b * g_hp..(t + 1) * b * g_hp];
        for row in 0..b {
            let at = t * b + row;
            let (h_row, c_row) = (row * h..(row + 1) * h, row * e..(row + 1) * e);
            if !real[at] {
                // The state was carried over: dh and dc pass through unchanged (the product
                // below adds zeros to this row).
                d_xp[at * g..(at + 1) * g].fill(T::zero());
                step_hp[row * g_hp..(row + 1) * g_hp].fill(T::zero());
                dh_prev[h_row.clone()].copy_from_slice(&dh[h_row]);
                dc_prev[c_row.clone()].copy_from_slice(&dc[c_row]);
                continue;
            }
            C::backward(
                &run.saved[at * k..(at + 1) * k],
                &dh[h_row.clone()],
                &dc[c_row.clone()],
                &mut d_xp[at * g..(at + 1) * g],
                &mut step_hp[row * g_hp..(row + 1) * g_hp],
                &mut dh_prev[h_row],
                &mut dc_prev[c_row],
            );
        }
        let step_hp: &[T] = if shared { &d_xp[t * b * g..(t + 1) * b * g] } else { step_hp };
        matmul(&mut dh_prev, Mat::rows(step_hp, g), Mat::rows(&layer.w_hh, h), b, h, g, true);
        std::mem::swap(&mut dh, &mut dh_prev);
        std::mem::swap(&mut dc, &mut dc_prev);
    }
    matmul(dx, Mat::rows(&d_xp, g), Mat::rows(&layer.w_ih, s.dim), n, s.dim, g, true);
    let grads = x.map(|x| {
        let mut grads = LayerGrads {
            w_ih: vec![T::zero(); g * s.dim],
            w_hh: vec![T::zero(); g * h],
            b_ih: vec![T::zero(); g],
            b_hh: vec![T::zero(); g],
        };
        matmul(&mut grads.w_ih, Mat::t(&d_xp, g), Mat::rows(x, s.dim), g, s.dim, n, false);
        let d_hp: &[T] = if shared { &d_xp } else { &d_hp };
        matmul(&mut grads.w_hh, Mat::t(d_hp, g), Mat::rows(run.h_prev(), h), g, h, n, false);
        add_column_sums(&mut grads.b_ih, &d_xp, g);
        if shared {
            grads.b_hh.copy_from_slice(&grads.b_ih);
        } else {
            add_column_sums(&mut grads.b_hh, d_hp, g);
        }
        grads
    });
    Downstream { h0: dh, c0: dc, grads }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values in (-1, 1) from a small linear congruential generator (no test depends on which).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn layer(kind: CellKind, reverse: bool, dim: usize, h: usize) -> HostLayer<f32> {
        let (forward, backward) = host_step::<f32>(kind).unwrap();
        let g = kind.blocks() * h;
        HostLayer {
            reverse,
            w_ih: values(g * dim, 1),
            w_hh: values(g * h, 2),
            b_ih: values(g, 3),
            b_hh: values(g, 4),
            forward,
            backward,
        }
    }

    /// The passes compiled for this CPU's widest vectors give the values, bit for bit, that the
    /// same code compiled for the baseline instruction set gives (element-wise loops, no fused
    /// multiply-adds): training does not depend on which instructions the CPU has.
    #[test]
    fn the_vectorised_passes_equal_the_baseline_bit_for_bit() {
        let s = Shape { batch: 5, steps: 4, dim: 7, hidden: 6 };
        let n = s.batch * s.steps;
        let x = values(n * s.dim, 5);
        let real: Vec<bool> = (0..n).map(|k| k % 7 != 3).collect();
        for kind in [CellKind::Tanh, CellKind::Lstm, CellKind::Gru] {
            for reverse in [false, true] {
                let l = layer(kind, reverse, s.dim, s.hidden);
                let (fwd, bwd) = host_step::<f32>(kind).unwrap();
                let (wide, base) = match kind {
                    CellKind::Tanh => (fwd(&l, s, &x, &real, None), forward_body::<f32, Tanh>(&l, s, &x, &real, None)),
                    CellKind::Lstm => (fwd(&l, s, &x, &real, None), forward_body::<f32, Lstm>(&l, s, &x, &real, None)),
                    CellKind::Gru => (fwd(&l, s, &x, &real, None), forward_body::<f32, Gru>(&l, s, &x, &real, None)),
                };
                assert_eq!(&wide.saved[..], &base.saved[..], "{kind} {reverse}: saved");
                assert_eq!(wide.outputs(), base.outputs(), "{kind} {reverse}: outputs");
                assert_eq!((wide.h(), &wide.c), (base.h(), &base.c), "{kind} {reverse}: final state");
                let d_out = values(n * s.hidden, 6);
                let upstream =
                    || Upstream { outputs: Some(&d_out), h: values(s.batch * s.hidden, 7), c: values(wide.c.len(), 8) };
                let (mut dx_wide, mut dx_base) = (vec![0f32; x.len()], vec![0f32; x.len()]);
                let a = bwd(&l, s, &wide, &real, upstream(), &mut dx_wide, Some(&x));
                let b = match kind {
                    CellKind::Tanh => {
                        backward_body::<f32, Tanh>(&l, s, &base, &real, upstream(), &mut dx_base, Some(&x))
                    }
                    CellKind::Lstm => {
                        backward_body::<f32, Lstm>(&l, s, &base, &real, upstream(), &mut dx_base, Some(&x))
                    }
                    CellKind::Gru => backward_body::<f32, Gru>(&l, s, &base, &real, upstream(), &mut dx_base, Some(&x)),
                };
                assert_eq!(dx_wide, dx_base, "{kind} {reverse}: dx");
                assert_eq!((&a.h0, &a.c0), (&b.h0, &b.c0), "{kind} {reverse}: initial state's gradient");
                let (ga, gb) = (a.grads.unwrap(), b.grads.unwrap());
                assert_eq!(
                    (ga.w_ih, ga.w_hh, ga.b_ih, ga.b_hh),
                    (gb.w_ih, gb.w_hh, gb.b_ih, gb.b_hh),
                    "{kind} {reverse}: weights"
                );
            }
        }
    }
}
