//! Models: the tanh RNN, LSTM and BiLSTM sentiment classifiers, built on candle, with hooks.
//!
//! ```text
//! ids (batch, seq_len) ──embedding──> x (batch, seq_len, dim) ──recurrent layer(s)──>
//!     representation (batch, hidden | 2·hidden) ──linear──> logits (batch, classes)
//! ```
//! [`Classifier::forward`] runs the whole pass; [`Classifier::forward_embedded`] starts from
//! embeddings the caller supplies (a `Var`, to take gradients with respect to them). Both hand
//! every intermediate value to an [`Observer`](trace::Observer).

pub mod autoencoder;
pub mod classifier;
pub mod embedding;
pub mod loss;
pub mod recurrent;
pub mod trace;

pub use autoencoder::{Autoencoder, AutoencoderConfig};
pub use classifier::{Arch, Classifier, ClassifierConfig, Dropout};
pub use trace::{Direction, Gate, NoTrace, Observer, Site, SiteKind, Trace, TraceRequest};
