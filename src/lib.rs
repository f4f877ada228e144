//! salient: see inside neural NLP models.
//!
//! The house reads one way: [`data`] -> [`model`] -> ([`train`], [`eval`], [`checkpoint`]) ->
//! ([`explain`], [`project`]) -> [`figures`] (drawn by [`render`], written by [`export`]); no
//! module uses one to its right, and [`error`] is below them all.
//!
//! - [`data`]: the Stanford Sentiment Treebank parser, the PTB-style vocabulary, sentences,
//!   batches, sentence corpora.
//! - [`model`]: recurrent cells (tanh RNN, LSTM, GRU) behind one interface, classifiers reading
//!   in one or two directions, and the LSTM autoencoder on candle, with
//!   [hooks](model::trace); the autoencoder's fused softmax loss ([`model::loss`]).
//! - [`train`]: AdaGrad, the training loop, resumable checkpoints.
//! - [`eval`]: sentence- and phrase-level accuracy.
//! - [`checkpoint`]: model directories (`model.safetensors`, `config.json`, `tokenizer.json`).
//! - [`import`]: classifiers trained in PyTorch (a state dict as safetensors) made into model
//!   directories.
//! - [`explain`]: attribution methods behind one interface (gradient, gradient x input,
//!   integrated gradients, SmoothGrad, erasure, variance), views of representations, states and
//!   gates, faithfulness scores, autoencoder saliency: plain data with provenance.
//! - [`project`]: phrase representations projected to 2-d with t-SNE or PCA (the paper's Figure 2).
//! - [`figures`]: each figure kind defined once (options and `make`), for the command line, the
//!   export spec and every output format.
//! - [`render`]: SVG heatmaps from plain labelled matrices, labelled scatter plots.
//! - [`export`]: safe file writing, CSV tables, JSON documents, the HTML page.
//! - [`alloc`]: allocator settings for programs that run with mimalloc.
#![deny(missing_docs)]

/// candle's tensor crate, which the library's types use: a library user needs no other
/// dependency to call into the models.
pub use candle_core;

/// The README's library example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod alloc;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod explain;
pub mod export;
pub mod figures;
pub mod import;
pub mod limits;
pub mod locate;
pub mod model;
pub mod project;
pub mod render;
pub mod train;

pub use error::{Error, Result};
