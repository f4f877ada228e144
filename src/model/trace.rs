//! Hooks into a forward pass: every intermediate value, handed to whoever asks.
//!
//! A forward pass calls [`Observer::observe`] at each [`Site`] the observer
//! [`wants`](Observer::wants): the input embeddings, each step's hidden state, cell state (LSTM)
//! and gates (each cell kind has its own, [`CellKind::gates`](super::recurrent::CellKind::gates)),
//! the final representation and the logits. Values stay in the autograd graph, so a
//! gradient can be taken from any of them. [`Trace`] is the ready-made observer that records
//! what a [`TraceRequest`] asks for; [`NoTrace`] records nothing (training).

use candle_core::{Tensor, D};

use crate::error::Result;

/// Which way a recurrent layer reads the sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Left to right.
    Forward,
    /// Right to left.
    Backward,
}

/// A gate of a gated cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gate {
    /// LSTM input gate `i`.
    Input,
    /// LSTM forget gate `f`.
    Forget,
    /// LSTM output gate `o`.
    Output,
    /// The candidate value: the LSTM's `g = tanh(...)`, the GRU's new state `n = tanh(...)`.
    Candidate,
    /// GRU reset gate `r`.
    Reset,
    /// GRU update gate `z`.
    Update,
}

impl Gate {
    /// Lower-case name (`input`, `forget`, `reset`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Gate::Input => "input",
            Gate::Forget => "forget",
            Gate::Output => "output",
            Gate::Candidate => "candidate",
            Gate::Reset => "reset",
            Gate::Update => "update",
        }
    }
}

/// A place in the forward pass where a value can be observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Site {
    /// Input embeddings, `(batch, seq_len, embedding_dim)`.
    Embeddings,
    /// Hidden state after reading position `position`, `(batch, hidden)`.
    Hidden {
        /// Which direction.
        direction: Direction,
        /// Token position (0-based, in sentence order).
        position: usize,
    },
    /// LSTM cell state after reading position `position`, `(batch, hidden)`.
    Cell {
        /// Which direction.
        direction: Direction,
        /// Token position.
        position: usize,
    },
    /// Gate activation at position `position`, `(batch, hidden)`.
    Gate {
        /// Which direction.
        direction: Direction,
        /// Which gate.
        gate: Gate,
        /// Token position.
        position: usize,
    },
    /// The sentence representation fed to the output layer, `(batch, repr_dim)`.
    Representation,
    /// Class scores before the softmax, `(batch, num_classes)`.
    Logits,
}

/// The kind of a site, without its position: what an observer can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteKind {
    /// [`Site::Embeddings`].
    Embeddings,
    /// [`Site::Hidden`].
    Hidden,
    /// [`Site::Cell`].
    Cell,
    /// [`Site::Gate`].
    Gates,
    /// [`Site::Representation`].
    Representation,
    /// [`Site::Logits`].
    Logits,
}

impl Site {
    /// The kind of this site.
    pub fn kind(&self) -> SiteKind {
        match self {
            Site::Embeddings => SiteKind::Embeddings,
            Site::Hidden { .. } => SiteKind::Hidden,
            Site::Cell { .. } => SiteKind::Cell,
            Site::Gate { .. } => SiteKind::Gates,
            Site::Representation => SiteKind::Representation,
            Site::Logits => SiteKind::Logits,
        }
    }
}

/// Anything that wants to see intermediate values of a forward pass.
pub trait Observer {
    /// Whether values of this kind should be handed over (asked before any work is done for it).
    fn wants(&self, kind: SiteKind) -> bool;
    /// Receive one value. The tensor is part of the autograd graph.
    fn observe(&mut self, site: Site, value: &Tensor) -> Result<()>;
}

/// An observer that wants nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTrace;

impl Observer for NoTrace {
    fn wants(&self, _: SiteKind) -> bool {
        false
    }
    fn observe(&mut self, _: Site, _: &Tensor) -> Result<()> {
        Ok(())
    }
}

/// Which values a [`Trace`] records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TraceRequest {
    /// Record the input embeddings.
    pub embeddings: bool,
    /// Record per-step hidden states.
    pub hidden: bool,
    /// Record per-step cell states (LSTMs only).
    pub cell: bool,
    /// Record per-step gate activations (gated cells only).
    pub gates: bool,
    /// Record the final representation.
    pub representation: bool,
    /// Record the logits.
    pub logits: bool,
}

impl TraceRequest {
    /// Everything.
    pub fn all() -> Self {
        TraceRequest { embeddings: true, hidden: true, cell: true, gates: true, representation: true, logits: true }
    }

    fn wants(&self, kind: SiteKind) -> bool {
        match kind {
            SiteKind::Embeddings => self.embeddings,
            SiteKind::Hidden => self.hidden,
            SiteKind::Cell => self.cell,
            SiteKind::Gates => self.gates,
            SiteKind::Representation => self.representation,
            SiteKind::Logits => self.logits,
        }
    }
}

/// A recording of one forward pass: the values a [`TraceRequest`] asked for.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    request: TraceRequest,
    records: Vec<(Site, Tensor)>,
}

impl Trace {
    /// An empty trace that will record what `request` asks for.
    pub fn new(request: TraceRequest) -> Self {
        Trace { request, records: Vec::new() }
    }

    /// The recorded value at a site, if any.
    pub fn get(&self, site: Site) -> Option<&Tensor> {
        self.records.iter().find(|(s, _)| *s == site).map(|(_, t)| t)
    }

    /// All recorded values, in the order they were produced.
    pub fn records(&self) -> &[(Site, Tensor)] {
        &self.records
    }

    /// Per-step values of one kind and direction stacked in position order:
    /// `(batch, seq_len, hidden)`; `None` when none were recorded.
    pub fn steps(&self, kind: SiteKind, direction: Direction, gate: Option<Gate>) -> Result<Option<Tensor>> {
        let mut steps: Vec<(usize, &Tensor)> = self
            .records
            .iter()
            .filter_map(|(site, t)| match *site {
                Site::Hidden { direction: d, position } if kind == SiteKind::Hidden && d == direction => {
                    Some((position, t))
                }
                Site::Cell { direction: d, position } if kind == SiteKind::Cell && d == direction => {
                    Some((position, t))
                }
                Site::Gate { direction: d, gate: g, position }
                    if kind == SiteKind::Gates && d == direction && Some(g) == gate =>
                {
                    Some((position, t))
                }
                _ => None,
            })
            .collect();
        if steps.is_empty() {
            return Ok(None);
        }
        steps.sort_by_key(|(p, _)| *p);
        let tensors: Vec<&Tensor> = steps.into_iter().map(|(_, t)| t).collect();
        Ok(Some(Tensor::stack(&tensors, 1)?))
    }

    /// The final representation, `(batch, repr_dim)`.
    pub fn representation(&self) -> Option<&Tensor> {
        self.get(Site::Representation)
    }

    /// The logits, `(batch, num_classes)`.
    pub fn logits(&self) -> Option<&Tensor> {
        self.get(Site::Logits)
    }

    /// The input embeddings, `(batch, seq_len, dim)`.
    pub fn embeddings(&self) -> Option<&Tensor> {
        self.get(Site::Embeddings)
    }

    /// Softmax probabilities from the recorded logits.
    pub fn probabilities(&self) -> Result<Option<Tensor>> {
        Ok(match self.logits() {
            Some(l) => Some(candle_nn::ops::softmax(l, D::Minus1)?),
            None => None,
        })
    }
}

impl Observer for Trace {
    fn wants(&self, kind: SiteKind) -> bool {
        self.request.wants(kind)
    }
    fn observe(&mut self, site: Site, value: &Tensor) -> Result<()> {
        self.records.push((site, value.clone()));
        Ok(())
    }
}
