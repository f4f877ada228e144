//! Cross-entropy through an output projection, fused on the CPU.
//!
//! A softmax over a large vocabulary dominates a sequence model's training step. Through
//! candle's autograd, `log_softmax(h W^T + b)` picked at the targets runs as a dozen passes over
//! the `(tokens x vocab)` logits, each allocating a new tensor, and the gradient passes allocate
//! as many again. [`projected_cross_entropy`] computes the same loss as one custom op: one matrix
//! product writes the logits (bias included), one pass per row finds the maximum and one turns
//! the row into `exp(logit - max)` in place; backward scales that buffer in place into
//! `softmax - onehot` and multiplies it out to the gradients of `h`, `W` and `b`. Rows are
//! independent and their losses are summed in row order, so the result does not depend on the
//! number of threads.

use std::sync::Mutex;

use candle_core::{CpuStorage, DType, DeviceLocation, Layout, Shape, Tensor, WithDType, D};
use gemm::{gemm, Parallelism};
use num_traits::Float;
use rayon::prelude::*;

use super::exp::FastExp;
use crate::error::{Error, Result};

/// Rows per parallel task: enough work per task that splitting pays.
const ROWS_PER_TASK: usize = 8;

/// Mean cross-entropy of `softmax(hidden W^T + bias)` against `targets`, over the rows whose
/// target is not `ignore` (zero when every row is ignored).
///
/// `hidden` is `(n, h)`, `weight` `(vocab, h)` (PyTorch's `nn.Linear` layout), `bias` `(vocab)`,
/// `targets` `n` ids below `vocab`. Gradients flow to all three tensors. On the CPU in f32 and
/// f64 this runs fused; elsewhere (CUDA, f16) it falls back to candle's own operations with the
/// same result.
pub fn projected_cross_entropy(
    hidden: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    targets: &[u32],
    ignore: u32,
) -> Result<Tensor> {
    let (n, h) = hidden.dims2()?;
    let (vocab, wh) = weight.dims2()?;
    if wh != h || bias.dims1()? != vocab || targets.len() != n {
        return Err(Error::InvalidArgument {
            name: "hidden",
            message: format!(
                "hidden {:?}, weight {:?}, bias {:?} and {} targets do not fit together",
                hidden.dims(),
                weight.dims(),
                bias.dims(),
                targets.len()
            ),
        });
    }
    if let Some((row, &id)) = targets.iter().enumerate().find(|(_, &id)| id != ignore && id as usize >= vocab) {
        return Err(Error::InvalidArgument {
            name: "targets",
            message: format!("target {id} of row {row} is outside the vocabulary of {vocab}"),
        });
    }
    if !fused_kernel_runs(hidden.device().location(), [hidden.dtype(), weight.dtype(), bias.dtype()]) {
        let logits = hidden.matmul(&weight.t()?)?.broadcast_add(bias)?;
        return cross_entropy(&logits, targets, ignore);
    }
    // The kernel reads plain row-major buffers (a no-op for tensors that already are).
    let (hidden, weight, bias) = (hidden.contiguous()?, weight.contiguous()?, bias.contiguous()?);
    let op = ProjectedCrossEntropy {
        targets: targets.to_vec(),
        ignore,
        counted: targets.iter().filter(|&&id| id != ignore).count(),
        keep: hidden.track_op() || weight.track_op() || bias.track_op(),
        saved: Mutex::new(None),
    };
    Ok(hidden.apply_op3(&weight, &bias, op)?)
}

/// Mean cross-entropy of `logits` `(n, vocab)` against `targets` over the rows whose target is
/// not `ignore`, through candle's own operations (any device and type).
pub fn cross_entropy(logits: &Tensor, targets: &[u32], ignore: u32) -> Result<Tensor> {
    let device = logits.device();
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let safe: Vec<u32> = targets.iter().map(|&id| if id == ignore { 0 } else { id }).collect();
    let t = Tensor::from_vec(safe, (targets.len(), 1), device)?;
    let picked = log_probs.gather(&t, 1)?.squeeze(1)?;
    let counted = targets.iter().filter(|&&id| id != ignore).count();
    if counted == targets.len() {
        return Ok(picked.mean_all()?.neg()?);
    }
    let weights: Vec<f32> = targets.iter().map(|&id| if id == ignore { 0.0 } else { 1.0 }).collect();
    let w = Tensor::from_vec(weights, targets.len(), device)?.to_dtype(picked.dtype())?;
    Ok(((picked * w)?.sum_all()? / counted.max(1) as f64)?.neg()?)
}

/// What forward leaves for backward: per row `exp(logit - max)` and `1 / sum`, with `0` for
/// the sum of an ignored row.
enum Saved {
    F32(Vec<f32>, Vec<f32>),
    F64(Vec<f64>, Vec<f64>),
}

struct ProjectedCrossEntropy {
    targets: Vec<u32>,
    ignore: u32,
    counted: usize,
    /// Whether a backward pass may follow (some input tracks gradients): only then is the
    /// `(n x vocab)` buffer kept.
    keep: bool,
    saved: Mutex<Option<Saved>>,
}

/// A contiguous slice of a storage, or a clear error.
fn contiguous<'a, T: WithDType>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> candle_core::Result<&'a [T]> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("projected_cross_entropy: {what} must be contiguous")))?;
    Ok(&storage.as_slice::<T>()?[start..end])
}

fn parallelism() -> Parallelism {
    match candle_core::utils::get_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// `out (n x vocab) = hidden (n x h) * weight^T + bias`, every row.
fn project<T: Float + Send + Sync + 'static>(hidden: &[T], weight: &[T], bias: &[T], n: usize, h: usize) -> Vec<T> {
    let vocab = bias.len();
    let mut out = Vec::with_capacity(n * vocab);
    for _ in 0..n {
        out.extend_from_slice(bias);
    }
    if n == 0 || vocab == 0 {
        return out;
    }
    assert!(hidden.len() == n * h && weight.len() == vocab * h);
    // SAFETY: `out` is n x vocab, `hidden` n x h and `weight` vocab x h (asserted), all
    // row-major; `weight` is read transposed through its strides; `out` aliases neither input.
    unsafe {
        gemm(
            n,
            vocab,
            h,
            out.as_mut_ptr(),
            1,
            vocab as isize,
            true,
            hidden.as_ptr(),
            1,
            h as isize,
            weight.as_ptr(),
            h as isize,
            1,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism(),
        )
    }
    out
}

/// Turn each row of `logits` into `exp(logit - max)` in place; returns the loss summed over the
/// counted rows and each row's `1 / sum` (`0` for an ignored row, whose buffer is left as is).
fn softmax_rows<T: Float + FastExp + Send + Sync>(
    logits: &mut [T],
    targets: &[u32],
    ignore: u32,
    vocab: usize,
) -> (f64, Vec<T>) {
    let mut inverse = vec![T::zero(); targets.len()];
    let mut losses = vec![0f64; targets.len()];
    logits
        .par_chunks_mut(vocab)
        .zip(inverse.par_iter_mut())
        .zip(losses.par_iter_mut())
        .zip(targets.par_iter())
        .with_min_len(ROWS_PER_TASK)
        .for_each(|(((row, inv), loss), &target)| {
            if target == ignore {
                return;
            }
            let max = row.iter().fold(T::neg_infinity(), |m, &x| m.max(x));
            let picked = row[target as usize];
            // The exponentials in one loop and their sum in another, each of which vectorises.
            for x in row.iter_mut() {
                *x = (*x - max).exp_fast();
            }
            let sum = lane_sum(row);
            *inv = sum.recip();
            // -log softmax = log(sum) + max - logit.
            *loss = (sum.ln() + max - picked).to_f64().unwrap_or(f64::NAN);
        });
    (losses.iter().sum(), inverse)
}

/// The sum of `values` in eight interleaved partial sums (which the compiler keeps in one vector
/// register), then those in order.
fn lane_sum<T: Float>(values: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(T::zero(), |a, &x| a + x);
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(l, &x)| *l = *l + x);
    }
    lanes.iter().fold(tail, |a, &x| a + x)
}

/// Scale the rows of `exps` in place into `scale * (softmax - onehot(target))`; ignored rows
/// become zero.
fn gradient_rows<T: Float + Send + Sync>(
    exps: &mut [T],
    inverse: &[T],
    targets: &[u32],
    ignore: u32,
    scale: T,
    vocab: usize,
) {
    exps.par_chunks_mut(vocab).zip(inverse.par_iter()).zip(targets.par_iter()).with_min_len(ROWS_PER_TASK).for_each(
        |((row, &inv), &target)| {
            if target == ignore {
                row.fill(T::zero());
                return;
            }
            let s = scale * inv;
            for x in row.iter_mut() {
                *x = *x * s;
            }
            row[target as usize] = row[target as usize] - scale;
        },
    );
}

impl ProjectedCrossEntropy {
    fn forward<T: Float + FastExp + WithDType + Send + Sync + 'static>(
        &self,
        hidden: &[T],
        weight: &[T],
        bias: &[T],
    ) -> (T, Vec<T>, Vec<T>) {
        let (n, vocab) = (self.targets.len(), bias.len());
        let h = hidden.len().checked_div(n).unwrap_or(0);
        let mut exps = project(hidden, weight, bias, n, h);
        let (total, inverse) = softmax_rows(&mut exps, &self.targets, self.ignore, vocab);
        let mean = if self.counted == 0 { 0.0 } else { total / self.counted as f64 };
        (T::from(mean).unwrap_or_else(T::nan), exps, inverse)
    }

    /// The gradients of the logits, `(n, vocab)`, and of the bias (their column sums) for an
    /// upstream gradient `upstream`.
    fn logits_gradient<T: Float + num_traits::NumAssign + WithDType + Send + Sync + 'static>(
        &self,
        mut exps: Vec<T>,
        inverse: Vec<T>,
        upstream: f64,
        device: &candle_core::Device,
    ) -> Result<(Tensor, Tensor)> {
        let vocab = if self.targets.is_empty() { 0 } else { exps.len() / self.targets.len() };
        let scale = if self.counted == 0 { 0.0 } else { upstream / self.counted as f64 };
        gradient_rows(&mut exps, &inverse, &self.targets, self.ignore, T::from(scale).unwrap_or_else(T::nan), vocab);
        let mut bias = vec![T::zero(); vocab];
        for row in exps.chunks_exact(vocab.max(1)) {
            for (b, &x) in bias.iter_mut().zip(row) {
                *b += x;
            }
        }
        Ok((Tensor::from_vec(exps, (self.targets.len(), vocab), device)?, Tensor::from_vec(bias, vocab, device)?))
    }
}

/// Whether the fused kernel computes the loss of tensors at `location` with these types
/// (hidden, weight, bias): on the CPU, all f32 or all f64. Anything else (a GPU, half
/// precision, mixed types) runs candle's own ops, which every device has.
fn fused_kernel_runs(location: DeviceLocation, [hidden, weight, bias]: [DType; 3]) -> bool {
    location == DeviceLocation::Cpu && matches!(hidden, DType::F32 | DType::F64) && weight == hidden && bias == hidden
}

impl candle_core::CustomOp3 for ProjectedCrossEntropy {
    fn name(&self) -> &'static str {
        "projected-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (loss, saved) = match s1 {
            CpuStorage::F32(_) => {
                let (hidden, weight, bias) =
                    (contiguous(s1, l1, "hidden")?, contiguous(s2, l2, "weight")?, contiguous(s3, l3, "bias")?);
                let (loss, exps, inverse) = self.forward::<f32>(hidden, weight, bias);
                (CpuStorage::F32(vec![loss]), Saved::F32(exps, inverse))
            }
            CpuStorage::F64(_) => {
                let (hidden, weight, bias) =
                    (contiguous(s1, l1, "hidden")?, contiguous(s2, l2, "weight")?, contiguous(s3, l3, "bias")?);
                let (loss, exps, inverse) = self.forward::<f64>(hidden, weight, bias);
                (CpuStorage::F64(vec![loss]), Saved::F64(exps, inverse))
            }
            _ => return Err(candle_core::Error::Msg("projected_cross_entropy: no fused kernel for this type".into())),
        };
        if self.keep {
            *self.saved.lock().map_err(|_| candle_core::Error::Msg("projected_cross_entropy: poisoned".into()))? =
                Some(saved);
        }
        Ok((loss, Shape::from(())))
    }

    fn bwd(
        &self,
        hidden: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _loss: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let taken =
            self.saved.lock().map_err(|_| candle_core::Error::Msg("projected_cross_entropy: poisoned".into()))?.take();
        // A second backward pass over the same graph finds the buffer gone: recompute it.
        let saved = match taken {
            Some(saved) => saved,
            None => match hidden.dtype() {
                DType::F32 => {
                    let (h, w, b) = (flat::<f32>(hidden)?, flat::<f32>(weight)?, flat::<f32>(bias)?);
                    let (_, exps, inverse) = self.forward(&h, &w, &b);
                    Saved::F32(exps, inverse)
                }
                _ => {
                    let (h, w, b) = (flat::<f64>(hidden)?, flat::<f64>(weight)?, flat::<f64>(bias)?);
                    let (_, exps, inverse) = self.forward(&h, &w, &b);
                    Saved::F64(exps, inverse)
                }
            },
        };
        let upstream = upstream.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let device = hidden.device();
        let (logits_grad, bias_grad) = match saved {
            Saved::F32(exps, inverse) => self.logits_gradient(exps, inverse, upstream, device),
            Saved::F64(exps, inverse) => self.logits_gradient(exps, inverse, upstream, device),
        }
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let hidden_grad = logits_grad.matmul(weight)?;
        let weight_grad = logits_grad.t()?.matmul(hidden)?;
        Ok((Some(hidden_grad), Some(weight_grad), Some(bias_grad)))
    }
}

fn flat<T: WithDType>(t: &Tensor) -> candle_core::Result<Vec<T>> {
    t.flatten_all()?.to_vec1::<T>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fused_loss_runs_on_the_cpu_in_f32_and_f64_only() {
        assert!(fused_kernel_runs(DeviceLocation::Cpu, [DType::F32; 3]));
        assert!(fused_kernel_runs(DeviceLocation::Cpu, [DType::F64; 3]));
        assert!(!fused_kernel_runs(DeviceLocation::Cpu, [DType::F16; 3]));
        assert!(!fused_kernel_runs(DeviceLocation::Cpu, [DType::F32, DType::F64, DType::F32]));
        for gpu in [DeviceLocation::Cuda { gpu_id: 0 }, DeviceLocation::Metal { gpu_id: 0 }] {
            assert!(!fused_kernel_runs(gpu, [DType::F32; 3]), "{gpu:?} must fall back to candle's ops");
        }
    }
}
