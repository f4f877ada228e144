//! Data: the Stanford Sentiment Treebank, labelled text, vocabularies and batches. Knows
//! nothing of models.

pub mod batch;
pub mod classes;
pub mod corpus;
pub mod dataset;
pub mod labelled;
pub mod sentence;
pub mod sst;
pub mod text;
pub mod vectors;
pub mod vocab;

pub use batch::{Batch, Example, PairBatch};
pub use classes::Classes;
pub use labelled::Fields;
pub use sentence::{gather, read_lines, Failure, Sentence, DEFAULT_MAX_TOKENS};
pub use sst::{Split, Task, Tree};
pub use vocab::{EncodedText, Vocab};
