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
    /// A file's SHA-256 is not the one recorded for it: a flipped byte, a truncated or
    /// interrupted write, or a file from another model.
    #[error("{file} is corrupt or does not belong here: its SHA-256 is {found}, but {recorded_in} records {expected}")]
    ChecksumMismatch {
        /// The file whose content does not match.
        file: PathBuf,
        /// The file that records the expected checksum.
        recorded_in: PathBuf,
        /// The recorded SHA-256, hex.
        expected: String,
        /// The SHA-256 of the file as read, hex.
        found: String,
    },
    /// Training diverged: a loss or a weight became NaN or infinite. Nothing of that epoch was
    /// saved.
    #[error(
        "training diverged in epoch {epoch}: {quantity} is {value}; nothing of this epoch was saved, {}",
        kept_note(*.last_good_epoch)
    )]
    Diverged {
        /// The 1-based epoch in which it happened.
        epoch: usize,
        /// What is not finite (the training loss of a batch, a named weight or optimizer entry).
        quantity: String,
        /// Its value (NaN or infinite).
        value: f32,
        /// The epoch of the last good checkpoint, which is kept (0 when no epoch completed).
        last_good_epoch: usize,
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

fn kept_note(last_good_epoch: usize) -> String {
    match last_good_epoch {
        0 => "and no earlier epoch had completed; try a smaller learning rate".into(),
        e => format!("the checkpoint of epoch {e} and the selected model are kept; try a smaller learning rate"),
    }
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
