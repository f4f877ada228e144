//! The hand-written CPU passes: recurrent layers run forward and back through time on host
//! buffers, for the saliency path ([`saliency`]: the gradient with respect to the inputs only)
//! and for training ([`train`]: the loss and every weight's gradient).
//!
//! candle's autograd runs a recurrent batch as about 45 small tensor operations per LSTM step,
//! each allocating, plus the graph's bookkeeping; here the same arithmetic runs in a few
//! buffers: one matrix product for the input projections `W_ih x_t + b_ih` of all steps, per
//! step one product `W_hh h + b_hh` and the cell's non-linearities in place (the values the
//! backward pass needs kept per step), then backpropagation through time with one product per
//! step, and after the loop one product each for the gradients of `W_ih`, `W_hh` and the
//! inputs. The passes take their buffers from a per-thread free list ([`buffer`]) rather than
//! the allocator, and each layer's pass is compiled for the widest vectors the CPU has (AVX-512
//! or AVX2, chosen at run time); neither changes a value.
//!
//! The maths is the model's own (see [`super::recurrent`]): each cell's host step sits next to
//! its candle step ([`HostCell`]), the padding mask carries the state over as in the model.
//! Which pass a model runs is chosen in one place per model ([`supports`]): f32 weights on the
//! CPU and a cell with a host step run the hand-written pass, anything else (another device,
//! another type) candle's autograd, which stays the reference the tests hold these passes to.

mod buffer;
mod layer;
pub(crate) mod saliency;
pub(crate) mod train;

use candle_core::{DType, DeviceLocation, Tensor, WithDType};
use gemm::{gemm, Parallelism};

use super::exp::FastExp;
use super::recurrent::{Cell, CellKind};
use crate::error::Result;
use buffer::Pooled;

pub(crate) use layer::{HostLayer, Shape};

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

/// Whether weights of `dtype` on the device at `location` in layers of `cells` run the
/// hand-written pass: the one dispatch rule of every model. Any device but the CPU (CUDA,
/// Metal) falls back to candle's ops, which run there.
pub(crate) fn supports(
    location: DeviceLocation,
    dtype: DType,
    cells: impl IntoIterator<Item = CellKind>,
) -> std::result::Result<(), Unsupported> {
    if location != DeviceLocation::Cpu {
        return Err(Unsupported::Device);
    }
    if dtype != DType::F32 {
        return Err(Unsupported::DType(dtype));
    }
    cells.into_iter().try_for_each(|kind| layer::host_step::<f32>(kind).map(drop))
}

/// The float types the host passes run in: f32 in production, f64 for the tests' finite
/// differences.
pub(crate) trait Real:
    num_traits::Float + num_traits::NumAssign + WithDType + FastExp + Pooled + Send + Sync + 'static
{
}
impl Real for f32 {}
impl Real for f64 {}

/// A cell's step on host buffers, one batch row at a time. Slices hold one row: `xp` and `hp`
/// the `G·hidden` input projection `W_ih x + b_ih` and recurrent projection `W_hh h + b_hh`,
/// `h` the hidden state, `c` the `EXTRA·hidden` further state (the LSTM's cell state).
pub(crate) trait HostCell: Cell {
    /// State values per unit besides `h`.
    const EXTRA: usize;
    /// Values per unit kept for the backward pass.
    const SAVED: usize;
    /// Whether `dS/dhp` is `dS/dxp` (the two projections are added before anything else): then
    /// the backward step leaves `d_hp` alone, and the layer reads `d_xp` for both.
    const SHARED_PROJECTION_GRADIENT: bool;
    /// The new state `(h_new, c_new)` from the previous one; fills `saved`.
    fn forward<T: Real>(xp: &[T], hp: &[T], h: &[T], c: &[T], h_new: &mut [T], c_new: &mut [T], saved: &mut [T]);
    /// From `dS/dh_new`, `dS/dc_new`: `dS/dxp`, `dS/dhp`, and `dS/dh`, `dS/dc` except what
    /// flows through `hp` (the caller adds `dS/dhp · W_hh`). Writes every value of `d_xp`, and
    /// of `d_hp` unless [`Self::SHARED_PROJECTION_GRADIENT`] (then it is empty).
    #[allow(clippy::too_many_arguments)]
    fn backward<T: Real>(
        saved: &[T],
        dh: &[T],
        dc: &[T],
        d_xp: &mut [T],
        d_hp: &mut [T],
        dh_prev: &mut [T],
        dc_prev: &mut [T],
    );
}

/// The logistic function.
#[inline(always)]
pub(crate) fn sigmoid<T: Real>(x: T) -> T {
    T::one() / (T::one() + (-x).exp_fast())
}

/// `tanh` through one `exp`: several times faster than libm's `tanhf` here, within about 1e-7
/// of it in absolute terms in f32 (which is all the gradient needs).
#[inline(always)]
pub(crate) fn tanh<T: Real>(x: T) -> T {
    let two = T::one() + T::one();
    T::one() - two / ((two * x).exp_fast() + T::one())
}

/// [`sigmoid`] of every value, in place (a loop the compiler vectorises in f32).
#[inline(always)]
pub(crate) fn sigmoid_in_place<T: Real>(values: &mut [T]) {
    values.iter_mut().for_each(|v| *v = sigmoid(*v));
}

/// [`tanh`] of every value, in place.
#[inline(always)]
pub(crate) fn tanh_in_place<T: Real>(values: &mut [T]) {
    values.iter_mut().for_each(|v| *v = tanh(*v));
}

/// `out = a + b`, element by element.
#[inline(always)]
pub(crate) fn add_into<T: Real>(out: &mut [T], a: &[T], b: &[T]) {
    out.iter_mut().zip(a).zip(b).for_each(|((o, &x), &y)| *o = x + y);
}

/// `out += other`, element by element.
pub(crate) fn accumulate<T: Real>(out: &mut [T], other: &[T]) {
    out.iter_mut().zip(other).for_each(|(o, &v)| *o += v);
}

/// A host matrix operand: its values and its row and column strides (so that a transposed
/// matrix needs no copy).
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    values: &'a [T],
    rs: usize,
    cs: usize,
}

impl<'a, T> Mat<'a, T> {
    /// A row-major matrix with `cols` columns.
    pub(crate) fn rows(values: &'a [T], cols: usize) -> Self {
        Mat { values, rs: cols, cs: 1 }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub(crate) fn t(values: &'a [T], cols: usize) -> Self {
        Mat { values, rs: 1, cs: cols }
    }

    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || self.values.len() > (rows - 1) * self.rs + (cols - 1) * self.cs
    }
}

/// Products smaller than this many multiply-adds run on one thread.
const PARALLEL_WORK: usize = 1 << 21;

/// `c (m x n, row-major) = [c +] a (m x k) * b (k x n)`. Large products use candle's thread
/// count (the same thread count gives the same result).
pub(crate) fn matmul<T: Real>(c: &mut [T], a: Mat<T>, b: Mat<T>, m: usize, n: usize, k: usize, add: bool) {
    assert!(c.len() >= m * n && a.fits(m, k) && b.fits(k, n));
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !add {
            c[..m * n].fill(T::zero());
        }
        return;
    }
    let parallelism = match candle_core::utils::get_num_threads() {
        n_threads if n_threads > 1 && m * n * k >= PARALLEL_WORK => Parallelism::Rayon(n_threads),
        _ => Parallelism::None,
    };
    // SAFETY: the assert above keeps every index gemm touches inside the slices; `c` does not
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
            a.values.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.values.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// Column sums of a row-major matrix with `cols` columns, added into `out`.
#[inline(always)]
pub(crate) fn add_column_sums<T: Real>(out: &mut [T], values: &[T], cols: usize) {
    for row in values.chunks_exact(cols) {
        out.iter_mut().zip(row).for_each(|(o, &v)| *o += v);
    }
}

/// A tensor's values on the host, converted to `T`.
pub(crate) fn host<T: Real>(t: &Tensor) -> Result<Vec<T>> {
    Ok(t.to_dtype(T::DTYPE)?.flatten_all()?.to_vec1::<T>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_passes_run_on_the_cpu_in_f32_only() {
        let cells = [CellKind::Tanh, CellKind::Lstm, CellKind::Gru];
        assert_eq!(supports(DeviceLocation::Cpu, DType::F32, cells), Ok(()));
        assert_eq!(supports(DeviceLocation::Cpu, DType::F64, cells), Err(Unsupported::DType(DType::F64)));
        for gpu in [DeviceLocation::Cuda { gpu_id: 0 }, DeviceLocation::Metal { gpu_id: 1 }] {
            assert_eq!(
                supports(gpu, DType::F32, cells),
                Err(Unsupported::Device),
                "{gpu:?} must fall back to autograd"
            );
        }
    }
}
