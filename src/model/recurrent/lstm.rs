//! The LSTM cell (PyTorch gate order i, f, g, o):
//! `[i f g o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`, `c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)`,
//! `h_t = σ(o) ⊙ tanh(c_t)`.

use candle_core::Tensor;

use super::{carry, Cell, CellKind, GateSink, State, Weights};
use crate::error::Result;
use crate::model::hand::{add_into, sigmoid_in_place, tanh_in_place, HostCell, Real};
use crate::model::trace::Gate;

/// The LSTM cell.
#[derive(Debug, Clone)]
pub struct Lstm {
    weights: Weights,
}

/// The LSTM's state: the hidden state `h` and the cell state `c`, each `(batch, hidden)`.
#[derive(Debug, Clone)]
pub struct LstmState {
    h: Tensor,
    c: Tensor,
}

impl LstmState {
    /// A state from `h` and `c`.
    pub fn new(h: Tensor, c: Tensor) -> Self {
        LstmState { h, c }
    }

    /// The hidden state `h`.
    pub fn h(&self) -> &Tensor {
        &self.h
    }

    /// The cell state `c`.
    pub fn c(&self) -> &Tensor {
        &self.c
    }
}

impl State for LstmState {
    fn hidden(&self) -> &Tensor {
        &self.h
    }
    fn cell(&self) -> Option<&Tensor> {
        Some(&self.c)
    }
    fn carry(self, prev: Option<&Self>, m: &Tensor) -> Result<Self> {
        Ok(LstmState { h: carry(self.h, prev.map(|p| &p.h), m)?, c: carry(self.c, prev.map(|p| &p.c), m)? })
    }
}

impl Cell for Lstm {
    type State = LstmState;
    const KIND: CellKind = CellKind::Lstm;

    fn new(weights: Weights) -> Self {
        Lstm { weights }
    }

    fn weights(&self) -> &Weights {
        &self.weights
    }

    fn input_bias(&self) -> Result<Tensor> {
        Ok((&self.weights.b_ih + &self.weights.b_hh)?)
    }

    fn step(&self, xp: &Tensor, prev: Option<&LstmState>, gates: &mut GateSink) -> Result<LstmState> {
        let h = self.weights.hidden_size();
        let pre = match prev {
            Some(s) => (xp + self.weights.recurrent(&s.h)?)?,
            None => xp.clone(),
        };
        let sig = candle_nn::ops::sigmoid(&pre)?;
        let i = sig.narrow(1, 0, h)?;
        let f = sig.narrow(1, h, h)?;
        let g = pre.narrow(1, 2 * h, h)?.tanh()?;
        let o = sig.narrow(1, 3 * h, h)?;
        let c = match prev {
            Some(s) => ((&f * &s.c)? + (&i * &g)?)?,
            None => (&i * &g)?,
        };
        for (gate, value) in [(Gate::Input, &i), (Gate::Forget, &f), (Gate::Output, &o), (Gate::Candidate, &g)] {
            gates.gate(gate, value)?;
        }
        Ok(LstmState { h: (&o * c.tanh()?)?, c })
    }

    fn zero_state(&self, batch: usize, like: &Tensor) -> Result<LstmState> {
        let zeros = Tensor::zeros((batch, self.weights.hidden_size()), like.dtype(), like.device())?;
        Ok(LstmState { h: zeros.clone(), c: zeros })
    }
}

/// Saved per unit: `i f g o` (activated), `c_{t-1}`, `tanh(c_t)`.
impl HostCell for Lstm {
    const EXTRA: usize = 1;
    const SAVED: usize = 6;
    const SHARED_PROJECTION_GRADIENT: bool = true;

    #[inline(always)]
    fn forward<T: Real>(xp: &[T], hp: &[T], _: &[T], c: &[T], h_new: &mut [T], c_new: &mut [T], s: &mut [T]) {
        // Whole-row passes rather than one unit at a time, so that each loop vectorises.
        let h = h_new.len();
        let (gates, rest) = s.split_at_mut(4 * h);
        add_into(gates, xp, hp);
        let (if_, go) = gates.split_at_mut(2 * h);
        let (g, o) = go.split_at_mut(h);
        sigmoid_in_place(if_);
        tanh_in_place(g);
        sigmoid_in_place(o);
        let (i, f) = if_.split_at(h);
        let (c_prev, tc) = rest.split_at_mut(h);
        c_prev.copy_from_slice(c);
        for (((cn, &i), &f), (&g, &cp)) in c_new.iter_mut().zip(i).zip(f).zip(g.iter().zip(c)) {
            *cn = f * cp + i * g;
        }
        tc.copy_from_slice(c_new);
        tanh_in_place(tc);
        for ((hn, &o), &tc) in h_new.iter_mut().zip(o.iter()).zip(tc.iter()) {
            *hn = o * tc;
        }
    }

    #[inline(always)]
    fn backward<T: Real>(
        s: &[T],
        dh: &[T],
        dc: &[T],
        d_xp: &mut [T],
        _: &mut [T],
        dh_prev: &mut [T],
        dc_prev: &mut [T],
    ) {
        let (h, one) = (dh.len(), T::one());
        for k in 0..h {
            let (i, f, g, o, cp, tc) = (s[k], s[h + k], s[2 * h + k], s[3 * h + k], s[4 * h + k], s[5 * h + k]);
            let dct = dc[k] + dh[k] * o * (one - tc * tc);
            let d = [
                dct * g * i * (one - i),
                dct * cp * f * (one - f),
                dct * i * (one - g * g),
                dh[k] * tc * o * (one - o),
            ];
            for (j, v) in d.into_iter().enumerate() {
                d_xp[j * h + k] = v;
            }
            (dh_prev[k], dc_prev[k]) = (T::zero(), dct * f);
        }
    }
}
