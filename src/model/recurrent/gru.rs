//! The GRU cell (PyTorch's `nn.GRU`, gate order r, z, n):
//! `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
//! `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}`.
//!
//! Unlike the other cells, `b_hn` sits inside the reset gate's product, so the recurrent bias
//! stays in the step: the input projection carries `b_ih` only.

use candle_core::Tensor;

use super::{Cell, CellKind, GateSink, Weights};
use crate::error::Result;
use crate::model::hand::{add_into, sigmoid_in_place, tanh_in_place, HostCell, Real};
use crate::model::trace::Gate;

/// The GRU cell; its state is `h` alone.
#[derive(Debug, Clone)]
pub struct Gru {
    weights: Weights,
}

impl Cell for Gru {
    type State = Tensor;
    const KIND: CellKind = CellKind::Gru;

    fn new(weights: Weights) -> Self {
        Gru { weights }
    }

    fn weights(&self) -> &Weights {
        &self.weights
    }

    fn input_bias(&self) -> Result<Tensor> {
        Ok(self.weights.b_ih.clone())
    }

    fn step(&self, xp: &Tensor, prev: Option<&Tensor>, gates: &mut GateSink) -> Result<Tensor> {
        let h = self.weights.hidden_size();
        // W_hh h + b_hh; from the zero state, b_hh alone.
        let hp = match prev {
            Some(state) => self.weights.recurrent(state)?.broadcast_add(&self.weights.b_hh)?,
            None => self.weights.b_hh.unsqueeze(0)?.broadcast_as(xp.shape())?,
        };
        let rz = candle_nn::ops::sigmoid(&(xp.narrow(1, 0, 2 * h)? + hp.narrow(1, 0, 2 * h)?)?)?;
        let r = rz.narrow(1, 0, h)?;
        let z = rz.narrow(1, h, h)?;
        let n = (xp.narrow(1, 2 * h, h)? + (&r * hp.narrow(1, 2 * h, h)?)?)?.tanh()?;
        for (gate, value) in [(Gate::Reset, &r), (Gate::Update, &z), (Gate::Candidate, &n)] {
            gates.gate(gate, value)?;
        }
        // (1 − z) n + z h = n + z (h − n); from the zero state, n − z n.
        Ok(match prev {
            Some(state) => (&n + (&z * (state - &n)?)?)?,
            None => (&n - (&z * &n)?)?,
        })
    }

    fn zero_state(&self, batch: usize, like: &Tensor) -> Result<Tensor> {
        Ok(Tensor::zeros((batch, self.weights.hidden_size()), like.dtype(), like.device())?)
    }
}

/// Saved per unit: `r`, `z`, `n`, `W_hn h + b_hn`, `h_{t-1}`.
impl HostCell for Gru {
    const EXTRA: usize = 0;
    const SAVED: usize = 5;
    const SHARED_PROJECTION_GRADIENT: bool = false;

    #[inline(always)]
    fn forward<T: Real>(xp: &[T], hp: &[T], h: &[T], _: &[T], h_new: &mut [T], _: &mut [T], s: &mut [T]) {
        // Whole-row passes rather than one unit at a time, so that each loop vectorises.
        let u = h_new.len();
        let (rz, rest) = s.split_at_mut(2 * u);
        add_into(rz, &xp[..2 * u], &hp[..2 * u]);
        sigmoid_in_place(rz);
        let (r, z) = rz.split_at(u);
        let (n, rest) = rest.split_at_mut(u);
        let (hn, h_prev) = rest.split_at_mut(u);
        hn.copy_from_slice(&hp[2 * u..3 * u]);
        h_prev.copy_from_slice(h);
        for (((n, &x), &r), &hn) in n.iter_mut().zip(&xp[2 * u..3 * u]).zip(r).zip(hn.iter()) {
            *n = x + r * hn;
        }
        tanh_in_place(n);
        for (((hn, &n), &z), &h) in h_new.iter_mut().zip(n.iter()).zip(z).zip(h) {
            *hn = n + z * (h - n);
        }
    }

    #[inline(always)]
    fn backward<T: Real>(s: &[T], dh: &[T], _: &[T], d_xp: &mut [T], d_hp: &mut [T], dh_prev: &mut [T], _: &mut [T]) {
        let (u, one) = (dh.len(), T::one());
        for k in 0..u {
            let (r, z, n, hn, hp) = (s[k], s[u + k], s[2 * u + k], s[3 * u + k], s[4 * u + k]);
            let dn = dh[k] * (one - z) * (one - n * n);
            let dr = dn * hn * r * (one - r);
            let dz = dh[k] * (hp - n) * z * (one - z);
            (d_xp[k], d_hp[k]) = (dr, dr);
            (d_xp[u + k], d_hp[u + k]) = (dz, dz);
            (d_xp[2 * u + k], d_hp[2 * u + k]) = (dn, dn * r);
            dh_prev[k] = dh[k] * z;
        }
    }
}
