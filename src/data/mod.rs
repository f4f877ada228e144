//! Data: the Stanford Sentiment Treebank, vocabularies and batches. Knows nothing of models.

pub mod batch;
pub mod corpus;
pub mod sst;
pub mod text;
pub mod vocab;

pub use batch::{Batch, Example};
pub use sst::{Split, Task, Tree};
pub use vocab::{EncodedText, Vocab};
