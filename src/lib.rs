//! salient: see inside neural NLP models.
//!
//! - [`data`]: the Stanford Sentiment Treebank parser, the PTB-style vocabulary, batches.
//! - [`model`]: tanh RNN, LSTM and BiLSTM classifiers and the LSTM autoencoder on candle, with
//!   [hooks](model::trace); the autoencoder's fused softmax loss ([`model::loss`]).
//! - [`train`]: AdaGrad, the training loop, resumable checkpoints.
//! - [`eval`]: sentence- and phrase-level accuracy.
//! - [`checkpoint`]: model directories (`model.safetensors`, `config.json`, `tokenizer.json`).
//! - [`explain`]: attribution methods behind one interface (gradient, gradient x input,
//!   integrated gradients, SmoothGrad, erasure, variance), views of representations, states and
//!   gates, and faithfulness scores.
//! - [`project`]: phrase representations projected to 2-d with t-SNE or PCA (the paper's Figure 2).
//! - [`render`]: SVG heatmaps from plain labelled matrices, labelled scatter plots.
//! - [`export`]: CSV (long format), JSON with provenance, HTML indexes, safe file writing.
//! - [`alloc`]: allocator settings for programs that run with mimalloc.
#![deny(missing_docs)]

pub mod alloc;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod explain;
pub mod export;
pub mod model;
pub mod project;
pub mod render;
pub mod train;

pub use error::{Error, Result};
