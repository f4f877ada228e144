//! The tanh (Elman) cell: `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`.

use candle_core::Tensor;

use super::{Cell, CellKind, GateSink, Weights};
use crate::error::Result;
use crate::model::hand::{tanh, HostCell};

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

    fn forward(xp: &[f32], hp: &[f32], _: &[f32], _: &[f32], h: &mut [f32], _: &mut [f32], saved: &mut [f32]) {
        for k in 0..h.len() {
            h[k] = tanh(xp[k] + hp[k]);
            saved[k] = h[k];
        }
    }

    fn backward(
        saved: &[f32],
        dh: &[f32],
        _: &[f32],
        d_xp: &mut [f32],
        d_hp: &mut [f32],
        dh_prev: &mut [f32],
        _: &mut [f32],
    ) {
        for k in 0..dh.len() {
            let d = dh[k] * (1.0 - saved[k] * saved[k]);
            (d_xp[k], d_hp[k], dh_prev[k]) = (d, d, 0.0);
        }
    }
}
