//! The optimizers' fast path: a CPU f32 tensor's values as a slice, read or updated in place.
//!
//! Through candle's ops a dense optimizer step is a dozen passes over each weight, each into a
//! newly allocated tensor (the autoencoder's 10,000 x 256 output weight: 10 MB a pass). On the
//! CPU the optimizers instead update the weight and its state in one loop, in their own
//! storage: the weight is the model's own tensor, so the model sees the update (as with
//! `Var::set`). Any other device or type keeps candle's ops.

use std::cell::RefCell;

use candle_core::{CpuStorage, DType, Layout, Storage, Tensor};

use crate::error::{Error, Result};

/// Whether every tensor is a contiguous f32 tensor on the CPU, so that [`read`] and
/// [`update`] can take it.
pub(crate) fn on_host(tensors: &[&Tensor]) -> bool {
    tensors.iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32 && t.is_contiguous())
}

/// `f` of the values of `t`, a contiguous CPU f32 tensor.
pub(crate) fn read<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) => Ok(f(&values[start..end])),
        _ => Err(not_on_host("read", t)),
    }
}

/// Run `f` on the values of `t`, a contiguous CPU f32 tensor, in place: every tensor sharing
/// its storage sees the change.
pub(crate) fn update<R>(t: &Tensor, f: impl FnOnce(&mut [f32]) -> R) -> Result<R> {
    let op = InPlace { f: RefCell::new(Some(f)), out: RefCell::new(None) };
    t.inplace_op1(&op)?;
    op.out.into_inner().ok_or_else(|| not_on_host("update", t))
}

/// An error unless the lengths (a weight's, its state's and its gradient's) are all equal.
pub(crate) fn check_lengths<const N: usize>(name: &str, lengths: [usize; N]) -> Result<()> {
    if lengths.iter().any(|&n| n != lengths[0]) {
        return Err(Error::invalid(
            "optimizer state",
            format!("`{name}`: weight, state and gradient lengths {lengths:?} differ"),
        ));
    }
    Ok(())
}

fn not_on_host(what: &str, t: &Tensor) -> Error {
    Error::invalid(
        "optimizer tensor",
        format!(
            "cannot {what} a {:?} tensor on {:?} in place (expected contiguous f32 on the CPU)",
            t.dtype(),
            t.device()
        ),
    )
}

/// candle's door to a tensor's storage: `f` runs once, on the values.
struct InPlace<F, R> {
    f: RefCell<Option<F>>,
    out: RefCell<Option<R>>,
}

impl<F: FnOnce(&mut [f32]) -> R, R> candle_core::InplaceOp1 for InPlace<F, R> {
    fn name(&self) -> &'static str {
        "optimizer-update"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            return Err(candle_core::Error::Msg("optimizer-update: expected a contiguous f32 tensor".into()));
        };
        let f =
            self.f.borrow_mut().take().ok_or_else(|| candle_core::Error::Msg("optimizer-update ran twice".into()))?;
        *self.out.borrow_mut() = Some(f(&mut values[start..end]));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    #[test]
    fn an_update_reaches_every_handle_of_the_tensor_and_refuses_other_types() {
        let var = Var::from_slice(&[1f32, 2.0, 3.0], 3, &Device::Cpu).unwrap();
        let model_handle = var.as_tensor().clone();
        assert!(on_host(&[&model_handle]));
        update(var.as_tensor(), |w| w.iter_mut().for_each(|v| *v *= 10.0)).unwrap();
        assert_eq!(model_handle.to_vec1::<f32>().unwrap(), [10.0, 20.0, 30.0]);
        assert_eq!(read(&model_handle, |w| w.iter().sum::<f32>()).unwrap(), 60.0);

        let f64_tensor = Tensor::new(&[1f64, 2.0], &Device::Cpu).unwrap();
        assert!(!on_host(&[&f64_tensor]));
        assert!(update(&f64_tensor, |_| ()).is_err());
        assert!(read(&f64_tensor, |_| ()).is_err());
        let strided = Tensor::new(&[[1f32, 2.0], [3.0, 4.0]], &Device::Cpu).unwrap().t().unwrap();
        assert!(!on_host(&[&strided]));
        assert!(read(&strided, |_| ()).is_err());
    }
}
