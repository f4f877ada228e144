//! The tanh (Elman) cell: `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`.

use candle_core::Tensor;

use super::{Cell, CellKind, GateSink, Weights};
use crate::error::Result;
use crate::model::hand::{add_into, tanh_in_place, HostCell, Real};

/// The tanh cell; its state is `h` alone.
#[derive(Debug, Clone)]
pub struct Tanh {
    weights: Weights,
}

impl Cell for Tanh {
    type State = Tensor;
    const KIND: CellKind = CellKind::Tanh;

    fn new(weights: Weights) -> Self {
        Tanh { weights }
    }

    fn weights(&self) -> &Weights {
        &self.weights
    }

    fn input_bias(&self) -> Result<Tensor> {
        Ok((&self.weights.b_ih + &self.weights.b_hh)?)
    }

    fn step(&self, xp: &Tensor, prev: Option<&Tensor>, _: &mut GateSink) -> Result<Tensor> {
        let pre = match prev {
            Some(h) => (xp + self.weights.recurrent(h)?)?,
            None => xp.clone(),
        };
        Ok(pre.tanh()?)
    }

    fn zero_state(&self, batch: usize, like: &Tensor) -> Result<Tensor> {
        Ok(Tensor::zeros((batch, self.weights.hidden_size()), like.dtype(), like.device())?)
    }
}

/// Saved per unit: `h`.
impl HostCell for Tanh {
    const EXTRA: usize = 0;
    const SAVED: usize = 1;
    const SHARED_PROJECTION_GRADIENT: bool = true;

    #[inline(always)]
    fn forward<T: Real>(xp: &[T], hp: &[T], _: &[T], _: &[T], h: &mut [T], _: &mut [T], saved: &mut [T]) {
        add_into(h, xp, hp);
        tanh_in_place(h);
        saved[..h.len()].copy_from_slice(h);
    }

    #[inline(always)]
    fn backward<T: Real>(saved: &[T], dh: &[T], _: &[T], d_xp: &mut [T], _: &mut [T], dh_prev: &mut [T], _: &mut [T]) {
        for k in 0..dh.len() {
            let d = dh[k] * (T::one() - saved[k] * saved[k]);
            (d_xp[k], dh_prev[k]) = (d, T::zero());
        }
    }
}
