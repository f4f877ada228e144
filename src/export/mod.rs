//! Writing files: an output directory checked before any work is done ([`OutputDir`]), CSV
//! tables ([`csv`]), JSON documents with their failures ([`Document`]) and a self-contained HTML
//! page ([`index_html`]). What goes into them is decided by [`crate::figures`].
//!
//! Every file is written to a temporary name in its directory and then moved into place, so an
//! interrupted run leaves no half-written file. A file that exists already is never replaced
//! unless the [`OutputDir`] was opened with `overwrite` (the CLI's `--force`).

pub mod csv;
mod index;

pub use index::{escape_html, index_html, IndexEntry};

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::Failure;
use crate::error::{Error, Result};

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
    /// `index.html`: every figure of the directory inline on one page (opens from disk).
    Html,
    /// One PNG file per figure, drawn from its SVG (resvg).
    Png,
    /// One PDF file per figure, drawn from its SVG (svg2pdf; vector, text as outlines).
    Pdf,
}

impl Format {
    /// Every format, in the order files are written.
    pub const ALL: [Format; 6] = [Format::Svg, Format::Csv, Format::Json, Format::Html, Format::Png, Format::Pdf];
    /// What is written when no format is named.
    pub const DEFAULT: [Format; 4] = [Format::Svg, Format::Csv, Format::Json, Format::Html];
}

/// A checked output directory.
#[derive(Debug, Clone)]
pub struct OutputDir {
    dir: PathBuf,
    overwrite: bool,
}

impl OutputDir {
    /// Create `dir` if needed and check that files can be written into it.
    pub fn prepare(dir: &Path, overwrite: bool) -> Result<Self> {
        let unwritable = |e: std::io::Error| Error::OutputDir { dir: dir.to_path_buf(), message: e.to_string() };
        if dir.exists() && !dir.is_dir() {
            return Err(Error::OutputDir { dir: dir.to_path_buf(), message: "it is a file, not a directory".into() });
        }
        std::fs::create_dir_all(dir).map_err(unwritable)?;
        let probe = dir.join(format!(".salient-probe-{}", std::process::id()));
        std::fs::File::create(&probe).and_then(|mut f| f.write_all(b"")).map_err(unwritable)?;
        let _ = std::fs::remove_file(&probe);
        Ok(OutputDir { dir: dir.to_path_buf(), overwrite })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Fail, before anything is written, if any of `names` exists and overwriting is off.
    pub fn check_free<S: AsRef<str>>(&self, names: &[S]) -> Result<()> {
        if self.overwrite {
            return Ok(());
        }
        match names.iter().map(|n| self.dir.join(n.as_ref())).find(|p| p.exists()) {
            Some(path) => Err(Error::Exists { path }),
            None => Ok(()),
        }
    }

    /// Write `bytes` to `name` in the directory: to a temporary file, then moved into place
    /// (without replacing an existing file unless overwriting is on).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.dir.join(name);
        write_file(&path, bytes, self.overwrite)?;
        Ok(path)
    }
}

/// Write `bytes` to `path` through a temporary file in the same directory. Without `overwrite`
/// an existing file is an [`Error::Exists`] and stays as it was.
pub fn write_file(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
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
        let leftovers: Vec<_> = std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
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
