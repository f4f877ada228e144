//! salient: see inside neural NLP models.
//!
//! - [`data`]: the Stanford Sentiment Treebank parser, the PTB-style vocabulary, batches.
//! - [`model`]: tanh RNN, LSTM and BiLSTM classifiers on candle, with [hooks](model::trace).
//! - [`train`]: AdaGrad, the training loop, resumable checkpoints.
//! - [`eval`]: sentence- and phrase-level accuracy.
//! - [`checkpoint`]: model directories (`model.safetensors`, `config.json`, `tokenizer.json`).
#![deny(missing_docs)]

pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod model;
pub mod train;

pub use error::{Error, Result};
