//! Writing files: an output directory checked before any work is done ([`OutputDir`]), CSV
//! tables ([`csv`]), JSON documents with their failures ([`Document`]) and a self-contained HTML
//! page's escaping ([`escape_html`]). What goes into them is decided by [`crate::figures`].
//!
//! Every file is written to a temporary name in its directory and then moved into place, so an
//! interrupted run leaves no half-written file. An [`OutputDir`] records every file it writes
//! ([`manifest`]), so that a run killed at any moment can be finished ([`Existing::Resume`]) and
//! an earlier run's files replaced without touching others ([`Existing::Replace`]); otherwise a
//! file that exists already is never replaced.

pub mod csv;
mod html;
pub mod manifest;
pub mod shard;

pub use html::escape_html;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::data::Failure;
use crate::error::{Error, Result};
pub use manifest::{run_key, Existing};
use manifest::{FileSum, Journal, Summer};
pub use shard::{Shard, ShardRecord};

/// An output format. Every figure kind writes each of them from the same result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One SVG file per figure.
    Svg,
    /// The numbers in long format, one line per number.
    Csv,
    /// The results with their provenance and the inputs that failed.
    Json,
    /// `index.html`: the interactive report of the directory, one self-contained page (inline
    /// SVG, CSS and JavaScript; opens from disk).
    Html,
    /// `figures.ipynb`: a Jupyter notebook with the provenance, every figure, and code that
    /// redraws one from the CSV (which it brings, with the SVG files, when not asked for).
    Ipynb,
    /// One PNG file per figure, drawn from its SVG (resvg).
    Png,
    /// One PDF file per figure, drawn from its SVG (svg2pdf; vector, text as outlines).
    Pdf,
}

impl Format {
    /// Every format, in the order files are written.
    pub const ALL: [Format; 7] =
        [Format::Svg, Format::Csv, Format::Json, Format::Html, Format::Ipynb, Format::Png, Format::Pdf];
    /// What is written when no format is named.
    pub const DEFAULT: [Format; 5] = [Format::Svg, Format::Csv, Format::Json, Format::Html, Format::Ipynb];
}

/// A checked output directory, with the record of what salient writes into it
/// ([`manifest`]).
#[derive(Debug, Clone)]
pub struct OutputDir {
    dir: PathBuf,
    journal: Arc<Mutex<Journal>>,
}

impl OutputDir {
    /// Create `dir` if needed and check that files can be written into it; `overwrite` replaces
    /// what an earlier run wrote ([`Existing::Replace`]), else that stops the run.
    pub fn prepare(dir: &Path, overwrite: bool) -> Result<Self> {
        Self::open(dir, if overwrite { Existing::Replace } else { Existing::Refuse }, "")
    }

    /// Create `dir` if needed, check that files can be written into it, and deal with what an
    /// earlier run left there as `existing` says; `run` is this run's key ([`run_key`]).
    pub fn open(dir: &Path, existing: Existing, run: &str) -> Result<Self> {
        let unwritable = |message: String| Error::OutputDir { dir: dir.to_path_buf(), message };
        if dir.exists() && !dir.is_dir() {
            return Err(unwritable("it is a file, not a directory".into()));
        }
        std::fs::create_dir_all(dir).map_err(|e| unwritable(e.to_string()))?;
        let journal = Journal::open(dir, existing, run).map_err(|e| match e {
            Error::Io { source, .. } => unwritable(source.to_string()),
            e => e,
        })?;
        Ok(OutputDir { dir: dir.to_path_buf(), journal: Arc::new(Mutex::new(journal)) })
    }

    /// The sub-directory `name`, recorded as this run's, opened as this directory is.
    pub fn sub(&self, name: &str, run: &str) -> Result<OutputDir> {
        let existing = {
            let mut journal = self.journal();
            journal.dir(name)?;
            journal.existing()
        };
        OutputDir::open(&self.dir.join(name), existing, run)
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Fail, before anything is written, if any of `names` exists and is in the way: any, unless
    /// replacing; when resuming, one that the earlier run did not record.
    pub fn check_free<S: AsRef<str>>(&self, names: &[S]) -> Result<()> {
        let journal = self.journal();
        let in_way = |name: &str| match journal.existing() {
            Existing::Replace => false,
            Existing::Refuse => self.dir.join(name).exists(),
            Existing::Resume => self.dir.join(name).exists() && !journal.knows(name),
        };
        match names.iter().find(|n| in_way(n.as_ref())) {
            Some(name) => Err(Error::Exists { path: self.dir.join(name.as_ref()) }),
            None => Ok(()),
        }
    }

    /// Write `bytes` to `name` in the directory: to a temporary file, recorded, then moved into
    /// place (see [`manifest`]).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let mut partial = self.partial(name)?;
        partial.append(bytes)?;
        self.commit(partial)
    }

    /// A file `name` to be written piece by piece into a temporary file; nothing is in place
    /// until it is committed.
    pub(crate) fn partial(&self, name: &str) -> Result<Partial> {
        Partial::create(self.dir.join(name))
    }

    /// Move a written file into place: recorded first, then linked (or, when replacing or
    /// resuming a file of the earlier run, renamed) into place; an existing file that is not the
    /// run's own is an [`Error::Exists`] and stays as it was. A resumed run leaves a file that
    /// already holds exactly these bytes as it is.
    pub(crate) fn commit(&self, mut partial: Partial) -> Result<PathBuf> {
        let path = partial.path.clone();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let sum = partial.finish()?;
        let io = |e| Error::io("cannot write", &path, e);
        let mut journal = self.journal();
        let replace = match journal.existing() {
            Existing::Resume if journal.has(&name, &sum) && manifest::holds(&path, &sum) => return Ok(path),
            Existing::Resume => journal.knows(&name) || !path.exists(),
            Existing::Replace => true,
            Existing::Refuse => false,
        };
        if !replace && path.exists() {
            return Err(Error::Exists { path });
        }
        journal.file(&name, sum)?;
        if replace {
            std::fs::rename(&partial.tmp, &path).map_err(io)?;
            return Ok(path);
        }
        // A hard link fails when the target exists: no window in which another file is replaced.
        match std::fs::hard_link(&partial.tmp, &path) {
            Ok(()) => Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Exists { path }),
            Err(_) if path.exists() => Err(Error::Exists { path }),
            // File systems without hard links.
            Err(_) => std::fs::rename(&partial.tmp, &path).map_err(io).map(|()| path),
        }
    }

    /// What making the figure in this directory reported, when a resumed run had completed it and
    /// its files are all intact.
    pub fn completed<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.journal().completed().and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Record that the run in this directory is complete, with what it reported.
    pub fn done(&self, report: &impl Serialize) -> Result<()> {
        let value =
            serde_json::to_value(report).map_err(|e| Error::Encode { format: "JSON", message: e.to_string() })?;
        self.journal().done(value)
    }

    /// Remove the directory's record if the run recorded nothing written (so that a run that
    /// failed before writing leaves nothing behind).
    pub fn remove_record_if_unused(&self) {
        if self.journal().is_empty() {
            let _ = std::fs::remove_file(self.dir.join(manifest::RECORD));
        }
    }
}

/// A file being written piece by piece to a temporary name next to its place (see
/// [`OutputDir::partial`]); the temporary is removed when it is dropped.
pub(crate) struct Partial {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    summer: Summer,
}

impl Partial {
    fn create(path: PathBuf) -> Result<Partial> {
        let tmp = temporary(&path);
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io("cannot write", &path, e))?;
        Ok(Partial { path, tmp, file: Some(std::io::BufWriter::new(file)), summer: Summer::default() })
    }

    /// Append `bytes`.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self.file.as_mut().ok_or_else(|| Error::invalid("file", "written after it was finished"))?;
        file.write_all(bytes).map_err(|e| Error::io("cannot write", &self.path, e))?;
        self.summer.update(bytes);
        Ok(())
    }

    /// Flush and close the temporary file: its size and SHA-256.
    fn finish(&mut self) -> Result<FileSum> {
        if let Some(file) = self.file.take() {
            file.into_inner().map_err(|e| Error::io("cannot write", &self.path, e.into_error()))?;
        }
        Ok(std::mem::take(&mut self.summer).sum())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// The temporary name of `path` in this process: `.NAME.tmp-PID` next to it.
fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write `bytes` to `path` through a temporary file in the same directory. Without `overwrite`
/// an existing file is an [`Error::Exists`] and stays as it was.
pub fn write_file(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    let tmp = temporary(path);
    let io = |e| Error::io("cannot write", path, e);
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        drop(f);
        if overwrite {
            return std::fs::rename(&tmp, path).map_err(io);
        }
        // A hard link fails when the target exists: no window in which another file is replaced.
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Exists { path: path.to_path_buf() }),
            Err(_) if path.exists() => Err(Error::Exists { path: path.to_path_buf() }),
            // File systems without hard links.
            Err(_) => std::fs::rename(&tmp, path).map_err(io),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// The JSON document of a run: its results and the inputs that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document<T> {
    /// What made it (`salient saliency`, `salient heatmap`).
    pub command: String,
    /// salient's version.
    pub salient_version: String,
    /// One entry per sentence or view; each carries its own provenance.
    pub results: Vec<T>,
    /// Inputs that could not be used.
    pub failures: Vec<Failure>,
}

impl<T: Serialize> Document<T> {
    /// A document for `command`.
    pub fn new(command: &str, results: Vec<T>, failures: Vec<Failure>) -> Self {
        Document { command: command.into(), salient_version: env!("CARGO_PKG_VERSION").into(), results, failures }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| Error::Encode { format: "JSON", message: e.to_string() })
    }
}

/// A [`Document`] written piece by piece, so that its results need not all be in memory: the
/// bytes are those of [`Document::to_json`] with the same results.
pub(crate) struct DocumentStream {
    head: Vec<u8>,
    tail: Vec<u8>,
    items: usize,
}

impl DocumentStream {
    /// The document of `command` with `failures`.
    pub(crate) fn new(command: &str, failures: Vec<Failure>) -> Result<Self> {
        const EMPTY: &[u8] = b"\"results\": []";
        let whole = Document::<()>::new(command, Vec::new(), failures).to_json()?;
        let at = whole
            .windows(EMPTY.len())
            .position(|w| w == EMPTY)
            .ok_or_else(|| Error::Encode { format: "JSON", message: "the document has no results array".into() })?;
        let split = at + EMPTY.len() - 1;
        Ok(DocumentStream { head: whole[..split].to_vec(), tail: whole[split + 1..].to_vec(), items: 0 })
    }

    /// The bytes that follow for `results` (the document's start with the first ones).
    pub(crate) fn results<T: Serialize>(&mut self, results: &[T]) -> Result<Vec<u8>> {
        let mut out = if self.items == 0 { std::mem::take(&mut self.head) } else { Vec::new() };
        for result in results {
            let json = serde_json::to_string_pretty(result)
                .map_err(|e| Error::Encode { format: "JSON", message: e.to_string() })?;
            out.extend_from_slice(if self.items == 0 { b"\n" } else { b",\n" });
            for (k, line) in json.split('\n').enumerate() {
                if k > 0 {
                    out.push(b'\n');
                }
                out.extend_from_slice(b"    ");
                out.extend_from_slice(line.as_bytes());
            }
            self.items += 1;
        }
        Ok(out)
    }

    /// The document's last bytes.
    pub(crate) fn end(mut self) -> Vec<u8> {
        let mut out = if self.items == 0 { std::mem::take(&mut self.head) } else { b"\n  ".to_vec() };
        out.push(b']');
        out.extend_from_slice(&self.tail);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_files_are_kept_unless_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::prepare(&dir.path().join("new/sub"), false).unwrap();
        out.write("a.txt", b"one").unwrap();
        let err = out.write("a.txt", b"two").unwrap_err();
        assert!(matches!(&err, Error::Exists { path } if path.ends_with("a.txt")), "{err}");
        assert_eq!(std::fs::read(out.path().join("a.txt")).unwrap(), b"one");
        assert!(out.check_free(&["a.txt"]).is_err());
        assert!(out.check_free(&["b.txt"]).is_ok());
        let forced = OutputDir::prepare(out.path(), true).unwrap();
        forced.write("a.txt", b"two").unwrap();
        assert_eq!(std::fs::read(out.path().join("a.txt")).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != manifest::RECORD)
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
    }

    #[test]
    fn a_streamed_document_is_the_document() {
        #[derive(Serialize)]
        struct R {
            a: Vec<f32>,
            b: Option<String>,
            c: Vec<Vec<u8>>,
            d: std::collections::BTreeMap<String, u8>,
        }
        let r = |k: u8| R {
            a: vec![k as f32 / 3.0],
            b: k.is_multiple_of(2).then(|| "x\ny \"z\"".into()),
            c: vec![vec![], vec![k]],
            d: Default::default(),
        };
        let failures = vec![Failure { at: "line 2".into(), message: "bad".into() }];
        for (n, parts) in [(0, vec![0]), (1, vec![1]), (3, vec![1, 2]), (4, vec![0, 3, 0, 1])] {
            let results: Vec<R> = (0..n).map(r).collect();
            let whole = Document::new("salient x", results, failures.clone()).to_json().unwrap();
            let mut stream = DocumentStream::new("salient x", failures.clone()).unwrap();
            let mut bytes = Vec::new();
            let mut k = 0;
            for part in parts {
                let items: Vec<R> = (k..k + part).map(r).collect();
                bytes.extend(stream.results(&items).unwrap());
                k += part;
            }
            bytes.extend(stream.end());
            assert_eq!(String::from_utf8(bytes).unwrap(), String::from_utf8(whole).unwrap(), "{n} results");
        }
    }

    #[test]
    fn a_file_is_not_an_output_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = OutputDir::prepare(&file, false).unwrap_err();
        assert!(matches!(&err, Error::OutputDir { dir, .. } if dir == &file), "{err}");
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}
