//! Recurrent layers: a tanh RNN and an LSTM, read in either direction, with padding masks.
//!
//! Shapes: input `x` is time-major `(seq_len, batch, input)`; the optional mask is one
//! `(batch, 1)` tensor per position (1 real, 0 padding). At a padded position the state is
//! carried over unchanged, so with left padding a forward layer starts from zeros at the first
//! real token and a backward layer ends on it: a padded batch computes what each sentence
//! computes alone.
//!
//! Tanh RNN: `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`.
//! LSTM (PyTorch gate order i, f, g, o): `[i f g o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`,
//! `c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)`, `h_t = σ(o) ⊙ tanh(c_t)`.
//! Weights use PyTorch's names (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, with
//! `_reverse` for the backward direction), so checkpoints load in `torch.nn.RNN`/`LSTM`.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::trace::{Direction, Gate, Observer, Site, SiteKind};
use crate::error::Result;

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Elman RNN with tanh.
    Tanh,
    /// Long short-term memory.
    Lstm,
}

impl CellKind {
    /// Number of stacked gate blocks in the weight matrices (1 or 4).
    pub fn gates(self) -> usize {
        match self {
            CellKind::Tanh => 1,
            CellKind::Lstm => 4,
        }
    }
}

/// One recurrent layer reading in one direction.
#[derive(Debug, Clone)]
pub struct RecurrentLayer {
    kind: CellKind,
    direction: Direction,
    hidden: usize,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
}

/// Parameter names and shapes of a layer: `(name, shape)`.
pub fn parameter_shapes(
    kind: CellKind,
    direction: Direction,
    input: usize,
    hidden: usize,
) -> Vec<(String, Vec<usize>)> {
    let suffix = if direction == Direction::Backward { "_reverse" } else { "" };
    let g = kind.gates() * hidden;
    vec![
        (format!("weight_ih_l0{suffix}"), vec![g, input]),
        (format!("weight_hh_l0{suffix}"), vec![g, hidden]),
        (format!("bias_ih_l0{suffix}"), vec![g]),
        (format!("bias_hh_l0{suffix}"), vec![g]),
    ]
}

impl RecurrentLayer {
    /// Load the layer's weights from `vb` (PyTorch names, see the module docs).
    pub fn load(vb: VarBuilder, kind: CellKind, direction: Direction, input: usize, hidden: usize) -> Result<Self> {
        let shapes = parameter_shapes(kind, direction, input, hidden);
        let get = |i: usize| vb.get(shapes[i].1.as_slice(), &shapes[i].0);
        let (weight_ih, weight_hh) = (get(0)?, get(1)?);
        let (bias_ih, bias_hh) = (get(2)?, get(3)?);
        Ok(RecurrentLayer { kind, direction, hidden, weight_ih, weight_hh, bias_ih, bias_hh })
    }

    /// Hidden size.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Run over a time-major input `(seq_len, batch, input)`; returns the state after the last
    /// position read (the last position for a forward layer, the first for a backward one),
    /// `(batch, hidden)`.
    pub fn forward(&self, x: &Tensor, mask: Option<&[Tensor]>, observer: &mut dyn Observer) -> Result<Tensor> {
        Ok(self.run(x, mask, None, false, observer)?.hidden)
    }

    /// Run over a time-major input `(seq_len, batch, input)` from an optional initial state
    /// `(h, c)` (`c` only for an LSTM), keeping every step's hidden state when `keep_steps`.
    pub fn run(
        &self,
        x: &Tensor,
        mask: Option<&[Tensor]>,
        init: Option<&LayerState>,
        keep_steps: bool,
        observer: &mut dyn Observer,
    ) -> Result<LayerOutput> {
        let (seq_len, batch, input) = x.dims3()?;
        let h = self.hidden;
        // All input projections in one matmul: (T*B, input) x (input, G*H).
        let projected = x
            .reshape((seq_len * batch, input))?
            .matmul(&self.weight_ih.t()?)?
            .broadcast_add(&(&self.bias_ih + &self.bias_hh)?)?
            .reshape((seq_len, batch, self.kind.gates() * h))?;
        let w_hh = self.weight_hh.t()?;
        let want_hidden = observer.wants(SiteKind::Hidden);
        let want_cell = observer.wants(SiteKind::Cell) && self.kind == CellKind::Lstm;
        let want_gates = observer.wants(SiteKind::Gates) && self.kind == CellKind::Lstm;
        let positions: Box<dyn Iterator<Item = usize>> = match self.direction {
            Direction::Forward => Box::new(0..seq_len),
            Direction::Backward => Box::new((0..seq_len).rev()),
        };
        let direction = self.direction;
        let mut state: Option<(Tensor, Option<Tensor>)> = init.map(|s| (s.hidden.clone(), s.cell.clone()));
        let mut steps = Vec::with_capacity(if keep_steps { seq_len } else { 0 });
        for position in positions {
            let mut pre = projected.get(position)?;
            if let Some((h_prev, _)) = &state {
                pre = (pre + h_prev.matmul(&w_hh)?)?;
            }
            let (mut h_new, mut c_new) = match self.kind {
                CellKind::Tanh => (pre.tanh()?, None),
                CellKind::Lstm => {
                    let sig = candle_nn::ops::sigmoid(&pre)?;
                    let i = sig.narrow(1, 0, h)?;
                    let f = sig.narrow(1, h, h)?;
                    let g = pre.narrow(1, 2 * h, h)?.tanh()?;
                    let o = sig.narrow(1, 3 * h, h)?;
                    let c = match &state {
                        Some((_, Some(c_prev))) => ((&f * c_prev)? + (&i * &g)?)?,
                        _ => (&i * &g)?,
                    };
                    if want_gates {
                        for (gate, value) in
                            [(Gate::Input, &i), (Gate::Forget, &f), (Gate::Output, &o), (Gate::Candidate, &g)]
                        {
                            observer.observe(Site::Gate { direction, gate, position }, value)?;
                        }
                    }
                    ((&o * c.tanh()?)?, Some(c))
                }
            };
            if let Some(mask) = mask {
                let m = &mask[position];
                // Carry the previous state over padding: s = s_prev + m (s_new - s_prev).
                h_new = match &state {
                    Some((h_prev, _)) => (h_prev + (h_new - h_prev)?.broadcast_mul(m)?)?,
                    None => h_new.broadcast_mul(m)?,
                };
                c_new = match (c_new, &state) {
                    (Some(c), Some((_, Some(c_prev)))) => Some((c_prev + (c - c_prev)?.broadcast_mul(m)?)?),
                    (Some(c), _) => Some(c.broadcast_mul(m)?),
                    (None, _) => None,
                };
            }
            if want_hidden {
                observer.observe(Site::Hidden { direction, position }, &h_new)?;
            }
            if want_cell {
                if let Some(c) = &c_new {
                    observer.observe(Site::Cell { direction, position }, c)?;
                }
            }
            if keep_steps {
                steps.push(h_new.clone());
            }
            state = Some((h_new, c_new));
        }
        if self.direction == Direction::Backward {
            steps.reverse();
        }
        let (hidden, cell) = match state {
            Some(s) => s,
            None => {
                let zeros = Tensor::zeros((batch, h), x.dtype(), x.device())?;
                let cell = (self.kind == CellKind::Lstm).then(|| zeros.clone());
                (zeros, cell)
            }
        };
        Ok(LayerOutput { hidden, cell, steps })
    }
}

/// A recurrent state: the hidden state and, for an LSTM, the cell state, each `(batch, hidden)`.
#[derive(Debug, Clone)]
pub struct LayerState {
    /// Hidden state `h`.
    pub hidden: Tensor,
    /// Cell state `c` (LSTM only).
    pub cell: Option<Tensor>,
}

/// What [`RecurrentLayer::run`] returns.
#[derive(Debug, Clone)]
pub struct LayerOutput {
    /// Hidden state after the last position read, `(batch, hidden)`.
    pub hidden: Tensor,
    /// Cell state after the last position read (LSTM only).
    pub cell: Option<Tensor>,
    /// Every step's hidden state in sentence order, when asked for (else empty).
    pub steps: Vec<Tensor>,
}

impl LayerOutput {
    /// The final state, to start another layer from.
    pub fn state(&self) -> LayerState {
        LayerState { hidden: self.hidden.clone(), cell: self.cell.clone() }
    }
}

impl RecurrentLayer {
    /// The layer's weights under their PyTorch names.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let suffix = if self.direction == Direction::Backward { "_reverse" } else { "" };
        vec![
            (format!("weight_ih_l0{suffix}"), self.weight_ih.clone()),
            (format!("weight_hh_l0{suffix}"), self.weight_hh.clone()),
            (format!("bias_ih_l0{suffix}"), self.bias_ih.clone()),
            (format!("bias_hh_l0{suffix}"), self.bias_hh.clone()),
        ]
    }
}
