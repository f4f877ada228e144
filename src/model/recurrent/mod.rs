//! Recurrent layers: a cell kind ([`Tanh`], [`Lstm`], [`Gru`]) read in one [`Direction`], with
//! padding masks.
//!
//! A cell owns its weights and knows one step; a [`Layer`] runs a cell over a sentence in one
//! direction; a bidirectional encoder is two layers. Each cell kind has its own state type
//! ([`State`]: `h` alone, or the LSTM's `(h, c)`) and its own gates ([`CellKind::gates`]).
//!
//! Shapes: input `x` is time-major `(seq_len, batch, input)`; the optional mask is one
//! `(batch, 1)` tensor per position (1 real, 0 padding). At a padded position the state is
//! carried over unchanged, so with left padding a forward layer starts from zeros at the first
//! real token and a backward layer ends on it: a padded batch computes what each sentence
//! computes alone.
//!
//! Every cell stacks `G` gate blocks of `hidden` rows in `W_ih (G·hidden, input)`,
//! `W_hh (G·hidden, hidden)`, `b_ih`, `b_hh (G·hidden)`; a layer computes the input projections
//! `W_ih x_t + b_ih` of all positions in one product, then steps:
//!
//! - tanh RNN (`G = 1`): `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`.
//! - LSTM (`G = 4`, PyTorch order i, f, g, o): `[i f g o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`,
//!   `c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)`, `h_t = σ(o) ⊙ tanh(c_t)`.
//! - GRU (`G = 3`, PyTorch order r, z, n): `r = σ(W_ir x + b_ir + W_hr h + b_hr)`,
//!   `z = σ(W_iz x + b_iz + W_hz h + b_hz)`, `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`,
//!   `h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}`.
//!
//! Weights use PyTorch's names (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, with
//! `_reverse` for the backward direction), named in one place ([`Weights`]), so checkpoints load
//! in `torch.nn.RNN`, `LSTM` and `GRU`.

mod gru;
mod lstm;
mod tanh;

use candle_core::Tensor;
use candle_nn::VarBuilder;

pub use gru::Gru;
pub use lstm::{Lstm, LstmState};
pub use tanh::Tanh;

use super::trace::{Direction, Gate, Observer, Site, SiteKind};
use crate::error::Result;

/// The kind of a recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// Elman RNN with tanh.
    Tanh,
    /// Long short-term memory.
    Lstm,
    /// Gated recurrent unit.
    Gru,
}

impl CellKind {
    /// Every cell kind.
    pub const ALL: [CellKind; 3] = [CellKind::Tanh, CellKind::Lstm, CellKind::Gru];

    /// Number of stacked gate blocks `G` in the weight matrices.
    pub fn blocks(self) -> usize {
        match self {
            CellKind::Tanh => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// The gates a step reports to an [`Observer`], in the order it reports them.
    pub fn gates(self) -> &'static [Gate] {
        match self {
            CellKind::Tanh => &[],
            CellKind::Lstm => &[Gate::Input, Gate::Forget, Gate::Output, Gate::Candidate],
            CellKind::Gru => &[Gate::Reset, Gate::Update, Gate::Candidate],
        }
    }

    /// The gates whose values lie in `[0, 1]` (the sigmoids), as the gates view draws them.
    pub fn unit_gates(self) -> &'static [Gate] {
        match self {
            CellKind::Tanh => &[],
            CellKind::Lstm => &[Gate::Input, Gate::Forget, Gate::Output],
            CellKind::Gru => &[Gate::Reset, Gate::Update],
        }
    }

    /// The architecture name of one forward layer (`rnn`, `lstm`, `gru`).
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Tanh => "rnn",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// The architecture name of a bidirectional pair (`birnn`, `bilstm`, `bigru`).
    pub fn bidirectional_name(self) -> &'static str {
        match self {
            CellKind::Tanh => "birnn",
            CellKind::Lstm => "bilstm",
            CellKind::Gru => "bigru",
        }
    }
}

impl std::fmt::Display for CellKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A recurrent layer's four tensors, under PyTorch's names.
#[derive(Debug, Clone)]
pub struct Weights {
    /// `W_ih`, `(G·hidden, input)`.
    pub ih: Tensor,
    /// `W_hh`, `(G·hidden, hidden)`.
    pub hh: Tensor,
    /// `b_ih`, `(G·hidden)`.
    pub b_ih: Tensor,
    /// `b_hh`, `(G·hidden)`.
    pub b_hh: Tensor,
    /// `W_ih` transposed (a view, made once).
    ih_t: Tensor,
    /// `W_hh` transposed (a view, made once).
    hh_t: Tensor,
    hidden: usize,
}

impl Weights {
    /// PyTorch's names of the four tensors of layer 0, in the order of [`Weights::named`].
    const NAMES: [&'static str; 4] = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];

    fn names(direction: Direction) -> [String; 4] {
        Self::NAMES.map(|n| match direction {
            Direction::Forward => n.to_string(),
            Direction::Backward => format!("{n}_reverse"),
        })
    }

    /// Every tensor's name and shape for a layer of `kind` reading in `direction`.
    pub fn shapes(kind: CellKind, direction: Direction, input: usize, hidden: usize) -> Vec<(String, Vec<usize>)> {
        let g = kind.blocks() * hidden;
        Self::names(direction).into_iter().zip([vec![g, input], vec![g, hidden], vec![g], vec![g]]).collect()
    }

    /// Load from `vb` (names and shapes as in [`Weights::shapes`]).
    pub fn load(vb: &VarBuilder, kind: CellKind, direction: Direction, input: usize, hidden: usize) -> Result<Self> {
        let mut tensors = Vec::with_capacity(4);
        for (name, shape) in Self::shapes(kind, direction, input, hidden) {
            tensors.push(vb.get(shape.as_slice(), &name)?);
        }
        let [ih, hh, b_ih, b_hh]: [Tensor; 4] = tensors.try_into().expect("four tensors");
        Ok(Weights { ih_t: ih.t()?, hh_t: hh.t()?, ih, hh, b_ih, b_hh, hidden })
    }

    /// The tensors under their names for `direction`.
    pub fn named(&self, direction: Direction) -> Vec<(String, Tensor)> {
        Self::names(direction)
            .into_iter()
            .zip([&self.ih, &self.hh, &self.b_ih, &self.b_hh].map(Tensor::clone))
            .collect()
    }

    /// Hidden size.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// `h W_hh^T`, `(batch, G·hidden)` from `h` `(batch, hidden)`.
    pub fn recurrent(&self, h: &Tensor) -> Result<Tensor> {
        Ok(h.matmul(&self.hh_t)?)
    }
}

/// The state a cell carries from step to step.
pub trait State: Clone {
    /// The hidden state `h`, `(batch, hidden)`: the layer's output.
    fn hidden(&self) -> &Tensor;
    /// The LSTM's cell state `c`, `(batch, hidden)`; `None` for cells without one.
    fn cell(&self) -> Option<&Tensor> {
        None
    }
    /// Apply a step's padding mask `m` `(batch, 1)`: `prev + m ⊙ (self − prev)`, or `m ⊙ self`
    /// from the zero state.
    fn carry(self, prev: Option<&Self>, m: &Tensor) -> Result<Self>;
}

/// A hidden state alone (tanh RNN, GRU).
impl State for Tensor {
    fn hidden(&self) -> &Tensor {
        self
    }
    fn carry(self, prev: Option<&Self>, m: &Tensor) -> Result<Self> {
        carry(self, prev, m)
    }
}

/// `prev + m ⊙ (new − prev)`, or `m ⊙ new` when `prev` is the zero state.
fn carry(new: Tensor, prev: Option<&Tensor>, m: &Tensor) -> Result<Tensor> {
    Ok(match prev {
        Some(p) => (p + (new - p)?.broadcast_mul(m)?)?,
        None => new.broadcast_mul(m)?,
    })
}

/// Where a step hands its gate activations: to an observer that wants them, or nowhere.
pub struct GateSink<'a> {
    observer: Option<&'a mut dyn Observer>,
    direction: Direction,
    position: usize,
}

impl GateSink<'_> {
    /// A sink that drops every gate.
    pub fn none() -> GateSink<'static> {
        GateSink { observer: None, direction: Direction::Forward, position: 0 }
    }

    /// Report one gate's activation `(batch, hidden)`.
    pub fn gate(&mut self, gate: Gate, value: &Tensor) -> Result<()> {
        match self.observer.as_deref_mut() {
            Some(o) => o.observe(Site::Gate { direction: self.direction, gate, position: self.position }, value),
            None => Ok(()),
        }
    }
}

/// A recurrent cell: its weights and one step.
pub trait Cell: Sized {
    /// What it carries from step to step.
    type State: State;
    /// Its kind.
    const KIND: CellKind;
    /// Build from loaded weights.
    fn new(weights: Weights) -> Self;
    /// Its weights.
    fn weights(&self) -> &Weights;
    /// The bias added to the input projection `W_ih x` of every position (the rest is the step's).
    fn input_bias(&self) -> Result<Tensor>;
    /// One step from the input projection `xp` `(batch, G·hidden)` and the previous state
    /// (`None`: the zero state), reporting gates to `gates`.
    fn step(&self, xp: &Tensor, prev: Option<&Self::State>, gates: &mut GateSink) -> Result<Self::State>;
    /// The zero state for `batch` rows, in the type and on the device of `like`.
    fn zero_state(&self, batch: usize, like: &Tensor) -> Result<Self::State>;
}

/// A cell reading a sentence in one direction.
#[derive(Debug, Clone)]
pub struct Layer<C> {
    cell: C,
    direction: Direction,
}

/// What [`Layer::run`] returns.
#[derive(Debug, Clone)]
pub struct LayerOutput<S> {
    /// The state after the last position read (the last position for a forward layer, the
    /// first for a backward one).
    pub state: S,
    /// Every step's hidden state in sentence order, when asked for (else empty).
    pub steps: Vec<Tensor>,
}

impl<C: Cell> Layer<C> {
    /// Load the cell's weights from `vb` (PyTorch names, see [`Weights`]).
    pub fn load(vb: &VarBuilder, direction: Direction, input: usize, hidden: usize) -> Result<Self> {
        Ok(Layer { cell: C::new(Weights::load(vb, C::KIND, direction, input, hidden)?), direction })
    }

    /// Load the cell's weights from `vb` under a forward layer's names (as a one-direction
    /// `torch.nn.LSTM` holds them, with no `_reverse`), to read in `direction`.
    pub fn load_one_direction(vb: &VarBuilder, direction: Direction, input: usize, hidden: usize) -> Result<Self> {
        Ok(Layer { cell: C::new(Weights::load(vb, C::KIND, Direction::Forward, input, hidden)?), direction })
    }

    /// The cell.
    pub fn cell(&self) -> &C {
        &self.cell
    }

    /// The direction it reads in.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Run over a time-major input `(seq_len, batch, input)` from an optional initial state,
    /// keeping every step's hidden state when `keep_steps`. The observer hears each step's
    /// hidden state, cell state and gates (positions in sentence order).
    pub fn run(
        &self,
        x: &Tensor,
        mask: Option<&[Tensor]>,
        init: Option<&C::State>,
        keep_steps: bool,
        observer: &mut dyn Observer,
    ) -> Result<LayerOutput<C::State>> {
        let (seq_len, batch, input) = x.dims3()?;
        let w = self.cell.weights();
        let g = C::KIND.blocks() * w.hidden;
        // All input projections in one product: (T·B, input) x (input, G·H).
        let projected = x
            .reshape((seq_len * batch, input))?
            .matmul(&w.ih_t)?
            .broadcast_add(&self.cell.input_bias()?)?
            .reshape((seq_len, batch, g))?;
        let want_hidden = observer.wants(SiteKind::Hidden);
        let want_cell = observer.wants(SiteKind::Cell);
        let want_gates = observer.wants(SiteKind::Gates) && !C::KIND.gates().is_empty();
        let direction = self.direction;
        let positions: Box<dyn Iterator<Item = usize>> = match direction {
            Direction::Forward => Box::new(0..seq_len),
            Direction::Backward => Box::new((0..seq_len).rev()),
        };
        let mut state: Option<C::State> = init.cloned();
        let mut steps = Vec::with_capacity(if keep_steps { seq_len } else { 0 });
        for position in positions {
            let xp = projected.get(position)?;
            let mut new = if want_gates {
                let mut sink = GateSink { observer: Some(&mut *observer), direction, position };
                self.cell.step(&xp, state.as_ref(), &mut sink)?
            } else {
                self.cell.step(&xp, state.as_ref(), &mut GateSink::none())?
            };
            if let Some(mask) = mask {
                new = new.carry(state.as_ref(), &mask[position])?;
            }
            if want_hidden {
                observer.observe(Site::Hidden { direction, position }, new.hidden())?;
            }
            if let (true, Some(c)) = (want_cell, new.cell()) {
                observer.observe(Site::Cell { direction, position }, c)?;
            }
            if keep_steps {
                steps.push(new.hidden().clone());
            }
            state = Some(new);
        }
        if direction == Direction::Backward {
            steps.reverse();
        }
        let state = match state {
            Some(s) => s,
            None => self.cell.zero_state(batch, x)?,
        };
        Ok(LayerOutput { state, steps })
    }
}

/// A layer of any cell kind: what a classifier's encoder holds.
#[derive(Debug, Clone)]
pub enum AnyLayer {
    /// A tanh RNN layer.
    Tanh(Layer<Tanh>),
    /// An LSTM layer.
    Lstm(Layer<Lstm>),
    /// A GRU layer.
    Gru(Layer<Gru>),
}

impl AnyLayer {
    /// Load a layer of `kind` reading in `direction` from `vb`.
    pub fn load(vb: &VarBuilder, kind: CellKind, direction: Direction, input: usize, hidden: usize) -> Result<Self> {
        Ok(match kind {
            CellKind::Tanh => AnyLayer::Tanh(Layer::load(vb, direction, input, hidden)?),
            CellKind::Lstm => AnyLayer::Lstm(Layer::load(vb, direction, input, hidden)?),
            CellKind::Gru => AnyLayer::Gru(Layer::load(vb, direction, input, hidden)?),
        })
    }

    /// The cell kind.
    pub fn kind(&self) -> CellKind {
        match self {
            AnyLayer::Tanh(_) => CellKind::Tanh,
            AnyLayer::Lstm(_) => CellKind::Lstm,
            AnyLayer::Gru(_) => CellKind::Gru,
        }
    }

    /// The direction it reads in.
    pub fn direction(&self) -> Direction {
        match self {
            AnyLayer::Tanh(l) => l.direction,
            AnyLayer::Lstm(l) => l.direction,
            AnyLayer::Gru(l) => l.direction,
        }
    }

    /// The cell's weights.
    pub fn weights(&self) -> &Weights {
        match self {
            AnyLayer::Tanh(l) => l.cell.weights(),
            AnyLayer::Lstm(l) => l.cell.weights(),
            AnyLayer::Gru(l) => l.cell.weights(),
        }
    }

    /// The hidden state after the last position read, `(batch, hidden)` (see [`Layer::run`]).
    pub fn forward(&self, x: &Tensor, mask: Option<&[Tensor]>, observer: &mut dyn Observer) -> Result<Tensor> {
        Ok(match self {
            AnyLayer::Tanh(l) => l.run(x, mask, None, false, observer)?.state,
            AnyLayer::Lstm(l) => l.run(x, mask, None, false, observer)?.state.hidden().clone(),
            AnyLayer::Gru(l) => l.run(x, mask, None, false, observer)?.state,
        })
    }
}
