//! Pretrained word vectors in the text formats of GloVe and word2vec, read for a vocabulary.
//!
//! Both formats hold one vector a line: the word, then its `d` values, separated by spaces (or
//! tabs). word2vec's text format (also fastText's `.vec`) starts with a header line `count dim`;
//! a first line of exactly two fields that are both whole numbers is taken for that header
//! (a GloVe file's first line has a word and at least one value, and 1-dimensional vectors are
//! not a thing anyone ships). A name ending in `.gz` is decompressed while it is read.
//!
//! The file is streamed: only the vectors of the vocabulary's words are kept, so a GloVe file of
//! several gigabytes costs the memory of the vocabulary's rows. Every line is still checked,
//! and the first bad one stops the reading with its file, line and what was expected
//! ([`VectorsError`]): a line with the wrong number of values for the file's dimension (set by
//! the header, or else by the first vector), a value that is not a finite number, a header that
//! gives another count of vectors than the file holds, an empty file.
//!
//! Line rules follow [`super::text`]: a UTF-8 byte-order mark at the start is skipped, `\r\n`
//! ends a line as `\n` does; blank lines are skipped. A line whose word is not UTF-8, and a line
//! with more fields than `1 + d` whose extra leading fields are not all numbers (GloVe's 840B
//! file has a few "words" holding spaces, such as `. . .`), has its values checked but is not
//! matched: no vocabulary token contains a space or an invalid byte.
//!
//! **Case.** A vocabulary word takes the vector of the same word in the file when there is one
//! (exact match); otherwise the vector of the first word in the file that equals it after both
//! are lower-cased (so `London` in a lower-cased vocabulary finds `London` in a cased file, and
//! `The` in a cased vocabulary finds `the` in GloVe's lower-cased files; files are sorted by
//! frequency, so the first variant is the most common one). When the file holds a word twice,
//! the first vector counts. `[PAD]` and `[UNK]` are never matched.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use salient::data::{vectors, Vocab};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("vectors.txt");
//! std::fs::write(&path, "2 3\ngood 0.5 1 -1\nBad 0 0.25 2\n")?;
//! let vocab = Vocab::build(["good", "bad", "movie"], true, 1)?;
//! let found = vectors::read(&path, &vocab, 3)?;
//! assert_eq!(found.format, vectors::VectorFormat::Word2vec);
//! assert_eq!(found.row(vocab.token_id("good")), Some(&[0.5f32, 1.0, -1.0][..]));
//! assert_eq!(found.row(vocab.token_id("bad")), Some(&[0.0f32, 0.25, 2.0][..]), "found lower-cased");
//! assert_eq!(found.row(vocab.token_id("movie")), None);
//! assert_eq!((found.found(), found.found_lowercase()), (2, 1));
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::vocab::{Vocab, PAD_ID, UNK_ID};
use crate::error::{DimFrom, VectorsError};

/// The text format of a vector file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorFormat {
    /// `word v1 ... vd` a line, no header.
    Glove,
    /// A `count dim` header line, then `word v1 ... vd` a line.
    Word2vec,
}

/// How a vocabulary word found its vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// The same word.
    Exact,
    /// A word equal to it once both are lower-cased.
    Lowercase,
}

/// The vectors of a vocabulary's words, as read from a file by [`read`].
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainedVectors {
    /// The file's format.
    pub format: VectorFormat,
    /// Values per vector.
    pub dim: usize,
    /// Vectors in the file (every line read, matched or not).
    pub file_vectors: usize,
    /// SHA-256 of the file's bytes as stored (compressed, for a `.gz`), hex.
    pub sha256: String,
    /// By vocabulary id: the vector found for it and how.
    rows: Vec<Option<(Vec<f32>, Match)>>,
}

impl PretrainedVectors {
    /// The vector of vocabulary id `id`, if the file has one for its word.
    pub fn row(&self, id: u32) -> Option<&[f32]> {
        self.rows.get(id as usize)?.as_ref().map(|(v, _)| v.as_slice())
    }

    /// Vocabulary words that found a vector.
    pub fn found(&self) -> usize {
        self.rows.iter().flatten().count()
    }

    /// Vocabulary words that found a vector only once lower-cased.
    pub fn found_lowercase(&self) -> usize {
        self.rows.iter().flatten().filter(|(_, m)| *m == Match::Lowercase).count()
    }

    /// Overwrite the rows of a row-major `(vocab, dim)` table with the vectors found; the other
    /// rows stay as they are.
    pub fn copy_into(&self, table: &mut [f32]) {
        for (id, row) in self.rows.iter().enumerate() {
            if let Some((v, _)) = row {
                table[id * self.dim..(id + 1) * self.dim].copy_from_slice(v);
            }
        }
    }

    /// What the vectors cover of a vocabulary and of the training tokens `train_ids` (one id
    /// per token occurrence; `[UNK]` counts as not covered).
    pub fn coverage(&self, file: &Path, train_ids: impl IntoIterator<Item = u32>) -> Coverage {
        let (mut train_tokens, mut covered) = (0, 0);
        for id in train_ids {
            train_tokens += 1;
            covered += usize::from(self.row(id).is_some());
        }
        Coverage {
            file: file.to_path_buf(),
            sha256: self.sha256.clone(),
            format: self.format,
            dim: self.dim,
            file_vectors: self.file_vectors,
            vocab_words: self.rows.len().saturating_sub(2),
            found: self.found(),
            found_lowercase: self.found_lowercase(),
            train_tokens,
            train_tokens_covered: covered,
        }
    }
}

/// Where a model's embeddings started: the vector file and how much of the vocabulary and of
/// the training text it covers (kept in `config.json` as `pretrained_embeddings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The vector file, as given.
    pub file: PathBuf,
    /// SHA-256 of the file as stored, hex.
    pub sha256: String,
    /// Its format.
    pub format: VectorFormat,
    /// Values per vector (the embedding size).
    pub dim: usize,
    /// Vectors in the file.
    pub file_vectors: usize,
    /// Vocabulary words, `[PAD]` and `[UNK]` not counted.
    pub vocab_words: usize,
    /// Vocabulary words that started from a vector of the file.
    pub found: usize,
    /// Of those, the ones matched only once lower-cased.
    pub found_lowercase: usize,
    /// Token occurrences in the training text.
    pub train_tokens: usize,
    /// Of those, the ones whose vocabulary word started from a vector.
    pub train_tokens_covered: usize,
}

impl Coverage {
    /// `found / vocab_words` (0 for an empty vocabulary).
    pub fn word_share(&self) -> f64 {
        self.found as f64 / self.vocab_words.max(1) as f64
    }

    /// `train_tokens_covered / train_tokens` (0 without tokens).
    pub fn token_share(&self) -> f64 {
        self.train_tokens_covered as f64 / self.train_tokens.max(1) as f64
    }
}

/// A reader that hashes what passes through it.
struct Hashing<'h, R> {
    inner: R,
    hasher: &'h mut Sha256,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A line's 1-based number and its fields.
type NumberedFields<'b> = (usize, Vec<&'b [u8]>);

/// The lines of a vector file, numbered from 1, without line ends or a leading byte-order mark.
struct Lines<'a> {
    reader: Box<dyn BufRead + 'a>,
    path: &'a Path,
    buf: Vec<u8>,
    number: usize,
}

impl<'a> Lines<'a> {
    /// Open `path` (decompressing a `.gz`), feeding its stored bytes to `hasher`.
    fn open(path: &'a Path, hasher: &'a mut Sha256) -> Result<Self, VectorsError> {
        let file = std::fs::File::open(path).map_err(|source| VectorsError::Io { path: path.to_path_buf(), source })?;
        let raw = Hashing { inner: file, hasher };
        let reader: Box<dyn BufRead + 'a> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(BufReader::new(raw))))
        } else {
            Box::new(BufReader::with_capacity(1 << 16, raw))
        };
        Ok(Lines { reader, path, buf: Vec::new(), number: 0 })
    }

    /// The next line that holds a field, with its number and fields; `None` at the end.
    fn next_fields(&mut self) -> Result<Option<NumberedFields<'_>>, VectorsError> {
        let (start, end) = loop {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| VectorsError::Io { path: self.path.to_path_buf(), source })?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            let start = if self.number == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
            let mut end = self.buf.len();
            if self.buf[start..end].ends_with(b"\n") {
                end -= 1;
            }
            if self.buf[start..end].ends_with(b"\r") {
                end -= 1;
            }
            if self.buf[start..end].iter().any(|&b| !is_separator(b)) {
                break (start, end);
            }
        };
        let fields = self.buf[start..end].split(|&b| is_separator(b)).filter(|f| !f.is_empty()).collect();
        Ok(Some((self.number, fields)))
    }
}

/// Fields are separated by spaces and tabs.
fn is_separator(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A word2vec header: exactly two fields, both whole numbers.
fn header(fields: &[&[u8]]) -> Option<(usize, usize)> {
    let number = |f: &[u8]| std::str::from_utf8(f).ok()?.parse::<usize>().ok();
    match fields {
        [count, dim] => Some((number(count)?, number(dim)?)),
        _ => None,
    }
}

/// A field parsed as a finite number.
fn value(field: &[u8]) -> Option<f32> {
    std::str::from_utf8(field).ok()?.parse::<f32>().ok().filter(|v| v.is_finite())
}

/// The format and dimension of a vector file, from its first line (the header, or the first
/// vector); nothing else is read.
pub fn dimension(path: &Path) -> Result<(VectorFormat, usize), VectorsError> {
    let mut hasher = Sha256::new();
    let mut lines = Lines::open(path, &mut hasher)?;
    let Some((line, fields)) = lines.next_fields()? else {
        return Err(VectorsError::Empty { path: path.to_path_buf() });
    };
    match header(&fields) {
        Some((_, dim)) if dim > 0 => Ok((VectorFormat::Word2vec, dim)),
        Some((count, dim)) => Err(zero_dim(path, line, count, dim)),
        None if fields.len() < 2 => Err(no_values(path, line, fields[0])),
        None => Ok((VectorFormat::Glove, fields.len() - 1)),
    }
}

fn zero_dim(path: &Path, line: usize, count: usize, dim: usize) -> VectorsError {
    VectorsError::Header {
        path: path.to_path_buf(),
        line,
        message: format!(
            "the word2vec header `{count} {dim}` gives vectors of 0 values; expected `count dim` with dim >= 1"
        ),
    }
}

fn no_values(path: &Path, line: usize, word: &[u8]) -> VectorsError {
    VectorsError::NoValues { path: path.to_path_buf(), line, word: String::from_utf8_lossy(word).into_owned() }
}

/// Read the vectors of `vocab`'s words from the GloVe or word2vec text file at `path`, whose
/// vectors must have `dim` values (the model's embedding size). See the [module
/// documentation](self) for the formats, the checks and the matching of case.
pub fn read(path: &Path, vocab: &Vocab, dim: usize) -> Result<PretrainedVectors, VectorsError> {
    let file = || path.to_path_buf();
    let mut exact: HashMap<String, u32> = HashMap::new();
    let mut folded: HashMap<String, Vec<u32>> = HashMap::new();
    for id in 0..vocab.len() as u32 {
        if id == PAD_ID || id == UNK_ID {
            continue;
        }
        if let Some(token) = vocab.id_to_token(id) {
            folded.entry(token.to_lowercase()).or_default().push(id);
            exact.insert(token, id);
        }
    }
    let mut rows: Vec<Option<(Vec<f32>, Match)>> = vec![None; vocab.len()];

    let mut hasher = Sha256::new();
    let mut lines = Lines::open(path, &mut hasher)?;
    let Some((first_line, first)) = lines.next_fields()? else {
        return Err(VectorsError::Empty { path: file() });
    };
    let (format, declared, file_dim, from) = match header(&first) {
        Some((count, d)) if d > 0 => (VectorFormat::Word2vec, Some(count), d, DimFrom::Header(first_line)),
        Some((count, d)) => return Err(zero_dim(path, first_line, count, d)),
        None if first.len() < 2 => return Err(no_values(path, first_line, first[0])),
        None => (VectorFormat::Glove, None, first.len() - 1, DimFrom::FirstVector(first_line)),
    };
    if file_dim != dim {
        return Err(VectorsError::ModelDim { path: file(), line: first_line, file_dim, model_dim: dim });
    }
    let pending = (format == VectorFormat::Glove).then_some((first_line, first));
    let (mut file_vectors, mut values) = (0usize, Vec::with_capacity(dim));
    let mut next = match pending {
        Some(first) => Some(Ok(first)),
        None => lines.next_fields().transpose(),
    };
    while let Some(item) = next {
        let (line, fields) = item?;
        file_vectors += 1;
        // The word: the first field, or (GloVe 840B) several fields before the last `dim`.
        let word_fields = match fields.len().checked_sub(dim) {
            Some(w) if w > 1 && fields[1..w].iter().any(|f| value(f).is_none()) => w,
            _ => 1,
        };
        let word = &fields[..word_fields];
        let found = fields.len() - word_fields;
        let word_text = || word.iter().map(|w| String::from_utf8_lossy(w)).collect::<Vec<_>>().join(" ");
        if found == 0 {
            return Err(no_values(path, line, word[0]));
        }
        if found != dim {
            return Err(VectorsError::ValueCount { path: file(), line, word: word_text(), found, expected: dim, from });
        }
        values.clear();
        for (k, field) in fields[word_fields..].iter().enumerate() {
            match value(field) {
                Some(v) => values.push(v),
                None => {
                    return Err(VectorsError::NotANumber {
                        path: file(),
                        line,
                        word: word_text(),
                        index: k + 1,
                        found: String::from_utf8_lossy(field).into_owned(),
                    })
                }
            }
        }
        if word_fields == 1 {
            if let Ok(word) = std::str::from_utf8(word[0]) {
                if let Some(&id) = exact.get(word) {
                    let slot = &mut rows[id as usize];
                    if !matches!(slot, Some((_, Match::Exact))) {
                        *slot = Some((values.clone(), Match::Exact));
                    }
                }
                let lower: Cow<str> =
                    if word.chars().any(char::is_uppercase) { Cow::Owned(word.to_lowercase()) } else { word.into() };
                for &id in folded.get(lower.as_ref()).into_iter().flatten() {
                    let slot = &mut rows[id as usize];
                    if slot.is_none() {
                        *slot = Some((values.clone(), Match::Lowercase));
                    }
                }
            }
        }
        next = lines.next_fields().transpose();
    }
    drop(lines);
    if let Some(count) = declared {
        if count != file_vectors {
            return Err(VectorsError::Header {
                path: file(),
                line: first_line,
                message: format!(
                    "the word2vec header on line {first_line} says the file holds {count} vectors, but it holds \
                     {file_vectors}; fix the count or remove the header line"
                ),
            });
        }
    }
    if file_vectors == 0 {
        return Err(VectorsError::Empty { path: file() });
    }
    let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(PretrainedVectors { format, dim, file_vectors, sha256, rows })
}
