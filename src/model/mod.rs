//! Models: recurrent sentiment classifiers (each cell kind of [`recurrent`], forward or
//! bidirectional) and the LSTM autoencoder, built on candle, with hooks.
//!
//! ```text
//! ids (batch, seq_len) ──embedding──> x (batch, seq_len, dim) ──recurrent layer(s)──>
//!     representation (batch, hidden | 2·hidden) ──linear──> logits (batch, classes)
//! ```
//! [`Classifier::forward`] runs the whole pass; [`Classifier::forward_embedded`] starts from
//! embeddings the caller supplies (a `Var`, to take gradients with respect to them). Both hand
//! every intermediate value to an [`Observer`](trace::Observer).
//! [`Classifier::input_gradient`] differentiates a score of the logits with respect to the
//! embeddings, on the hand-written CPU pass ([`hand`]) where it applies;
//! [`Classifier::training_gradients`] and [`Autoencoder::training_gradients`] give a batch's loss
//! and every gradient for training, on the hand-written pass for f32 weights on the CPU and on
//! candle's autograd otherwise ([`TrainingPass`]).
//!
//! The cells ([`recurrent`]) sit behind one small interface ([`recurrent::Cell`]: weights, a
//! state type, one step); an architecture ([`Arch`]) is a cell kind and whether it also reads
//! right to left.

pub mod autoencoder;
pub mod classifier;
pub mod embedding;
pub(crate) mod exp;
pub mod hand;
pub mod loss;
pub mod recurrent;
pub mod trace;

pub use autoencoder::{Autoencoder, AutoencoderConfig};
pub use classifier::{Arch, Classifier, ClassifierConfig, Dropout, InputGradient, UnknownArch};
pub use hand::train::{TrainingGradients, TrainingPass};
pub use hand::Unsupported;
pub use recurrent::CellKind;
pub use trace::{Direction, Gate, NoTrace, Observer, Site, SiteKind, Trace, TraceRequest};
