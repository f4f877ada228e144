//! The library's error type: every failure names what went wrong, where, and what to do next.

use std::path::PathBuf;

use crate::data::sst::SstError;

/// Everything that can go wrong in salient.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SST data could not be read or parsed.
    #[error(transparent)]
    Sst(#[from] SstError),
    /// A line of a sentence corpus cannot be used.
    #[error("{path}:{line}: {message}")]
    Corpus {
        /// The corpus file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A data directory has no file for a corpus split.
    #[error(
        "no {split} split in {}: expected {} or {} (one sentence per line)",
        dir.display(),
        tried[0].display(),
        tried[1].display()
    )]
    MissingSplit {
        /// The data directory.
        dir: PathBuf,
        /// The split's name.
        split: &'static str,
        /// The paths tried, `.txt.gz` first.
        tried: [PathBuf; 2],
    },
    /// A data directory has two files for one corpus split.
    #[error(
        "both {} and {} exist; remove or rename one so that the {split} split is unambiguous",
        paths[0].display(),
        paths[1].display()
    )]
    AmbiguousSplit {
        /// The split's name.
        split: &'static str,
        /// The two files, `.txt.gz` first.
        paths: [PathBuf; 2],
    },
    /// A corpus split's file holds no sentence.
    #[error("{}: no sentences; the {split} split needs at least one (one sentence per line)", path.display())]
    EmptySplit {
        /// The file.
        path: PathBuf,
        /// The split's name.
        split: &'static str,
    },
    /// No sentence of a corpus file can be used: each is too long or has no token.
    #[error(
        "{}: no usable sentence: {too_long} of its {sentences} sentences are longer than {max_len} tokens, \
         the others have no token",
        path.display()
    )]
    NoUsableSentence {
        /// The file.
        path: PathBuf,
        /// Sentences in the file.
        sentences: usize,
        /// Those longer than the limit.
        too_long: usize,
        /// The limit, in tokens.
        max_len: usize,
    },
    /// A classifier was to be scored on trees none of whose sentences the task labels; the
    /// accuracy would be a ratio of nothing.
    #[error(
        "nothing to score: none of the {trees} sentences given has a {task} label (the binary task drops \
         neutral ones)"
    )]
    NoSentenceToScore {
        /// Trees given.
        trees: usize,
        /// The task.
        task: crate::data::Task,
    },
    /// An autoencoder was to be scored on no sentence; every score would be a ratio of nothing.
    #[error("nothing to score: no sentence within the length limit of {max_len} tokens ({too_long} longer left out)")]
    NoSentenceToReconstruct {
        /// Sentences left out for being too long.
        too_long: usize,
        /// The model's length limit.
        max_len: usize,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot read", "cannot write", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint directory is missing a file, is corrupt, or does not match its config.
    #[error("checkpoint {dir}: {message}")]
    Checkpoint {
        /// The checkpoint directory.
        dir: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The tokenizer could not be built, saved or loaded.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An argument or option has a value salient cannot use.
    #[error("invalid {name}: {message}")]
    InvalidArgument {
        /// The argument's name, as the user wrote it (`--lr`, `text`, ...).
        name: &'static str,
        /// What was expected.
        message: String,
    },
    /// An attribution method name that salient does not know.
    #[error("unknown attribution method `{name}`; known methods: {known}")]
    UnknownMethod {
        /// The name as given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A sentence that cannot be explained (empty, only unknown words, too long).
    #[error("{0}")]
    Sentence(#[from] crate::explain::SentenceError),
    /// An output file exists and overwriting was not asked for.
    #[error("{path} already exists; pass --force to overwrite it, or choose another --out")]
    Exists {
        /// The file that would be overwritten.
        path: PathBuf,
    },
    /// A figure could not be drawn.
    #[error("cannot draw {what}: {message}")]
    Render {
        /// The figure.
        what: String,
        /// The drawing backend's complaint.
        message: String,
    },
    /// A tensor operation failed (a bug, a shape mismatch, or an unavailable device).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error with the path it concerns.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    /// A checkpoint error.
    pub fn checkpoint(dir: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Checkpoint { dir: dir.into(), message: message.into() }
    }

    /// An invalid-argument error.
    pub fn invalid(name: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument { name, message: message.into() }
    }
}
