//! The record of what salient wrote into an output directory, so that a run killed at any moment
//! can be finished (`--resume`) and an earlier run's files can be replaced without touching
//! anything else (`--force`).
//!
//! Every output directory holds a record, [`RECORD`] (`.salient.jsonl`): JSON lines, appended
//! as the run goes (one `write` each, so a kill leaves at most a torn last line, which is
//! ignored):
//!
//! - `{"run": KEY}` first: what the run is (a SHA-256 of the figure kind, its options and its
//!   formats; for `export`, of the spec and the formats asked for);
//! - `{"file": NAME, "size": N, "sha256": HEX}` for each file, written *before* the file is moved
//!   into place, so that no file of the run is ever in the directory unrecorded;
//! - `{"dir": NAME}` for each sub-directory the run writes into (`export`'s figures);
//! - `{"done": ...}` last, once the figure is complete: what making it reported.
//!
//! What an existing record means depends on [`Existing`]:
//! - [`Existing::Refuse`] (the default): a file the record lists that is still there stops the run;
//! - [`Existing::Replace`] (`--force`): the files the record lists are removed first (those whose
//!   bytes are still what salient wrote; sub-directories the same way, and removed when left
//!   empty), and nothing else;
//! - [`Existing::Resume`] (`--resume`): a run with the same key goes on; a figure recorded as
//!   done whose files are all intact is not made again, and a file recorded with the bytes about
//!   to be written is left as it is.
//!
//! Temporary files (`.NAME.tmp-PID`) of runs that no longer live are removed when a directory is
//! opened.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The record's file name in every output directory.
pub const RECORD: &str = ".salient.jsonl";

/// What to do with files that an earlier run left in an output directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Existing {
    /// Stop if any is still there.
    #[default]
    Refuse,
    /// Remove what the earlier run wrote, then write anew (`--force`).
    Replace,
    /// Finish the earlier run (`--resume`).
    Resume,
}

/// The key of a run: the SHA-256 of `what` (kind, options and formats) as JSON.
pub fn run_key(what: &impl Serialize) -> String {
    let json = serde_json::to_vec(what).unwrap_or_default();
    hex(&Sha256::digest(&json))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileSum {
    pub size: u64,
    pub sha256: String,
}

/// A SHA-256 being computed as bytes arrive.
#[derive(Default)]
pub(crate) struct Summer {
    hasher: Sha256,
    size: u64,
}

impl Summer {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    pub(crate) fn sum(self) -> FileSum {
        FileSum { size: self.size, sha256: hex(&self.hasher.finalize()) }
    }
}

/// The size and SHA-256 of the file at `path`, if it can be read.
fn sum_of_file(path: &Path) -> Option<FileSum> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut summer = Summer::default();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer).ok()?;
        if n == 0 {
            return Some(summer.sum());
        }
        summer.update(&buffer[..n]);
    }
}

/// One line of the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Run { run: String },
    File { file: String, size: u64, sha256: String },
    Dir { dir: String },
    Done { done: serde_json::Value },
}

/// What a record says.
#[derive(Debug, Clone, Default)]
struct Record {
    run: String,
    files: BTreeMap<String, FileSum>,
    dirs: BTreeSet<String>,
    done: Option<serde_json::Value>,
}

/// A name a record may hold: one plain entry of its own directory (a record edited by hand
/// cannot make salient touch anything outside).
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\']) && name != RECORD
}

impl Record {
    /// The record of `dir`, if it has one that starts with a run line; lines after a torn or
    /// unreadable one are not trusted.
    fn read(dir: &Path) -> Result<Option<Record>> {
        let path = dir.join(RECORD);
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("cannot read", &path, e)),
        };
        let mut lines = text.split_inclusive(|&b| b == b'\n').filter(|l| l.ends_with(b"\n"));
        let Some(Ok(Line::Run { run })) = lines.next().map(serde_json::from_slice::<Line>) else {
            return Ok(None);
        };
        let mut record = Record { run, ..Record::default() };
        for line in lines {
            match serde_json::from_slice::<Line>(line) {
                Ok(Line::File { file, size, sha256 }) if plain_name(&file) => {
                    record.files.insert(file, FileSum { size, sha256 });
                }
                Ok(Line::Dir { dir }) if plain_name(&dir) => {
                    record.dirs.insert(dir);
                }
                Ok(Line::Done { done }) => record.done = Some(done),
                _ => break,
            }
        }
        Ok(Some(record))
    }

    /// A file the record lists (in `dir` or a recorded sub-directory) that is still there.
    fn present(&self, dir: &Path) -> Result<Option<PathBuf>> {
        if let Some(name) = self.files.keys().find(|n| dir.join(n).exists()) {
            return Ok(Some(dir.join(name)));
        }
        for name in &self.dirs {
            let sub = dir.join(name);
            if let Some(path) = Record::read(&sub)?.map(|r| r.present(&sub)).transpose()?.flatten() {
                return Ok(Some(path));
            }
        }
        Ok(None)
    }

    /// Whether every recorded file is in `dir` with the recorded bytes.
    fn intact(&self, dir: &Path) -> bool {
        self.files.iter().all(|(name, sum)| sum_of_file(&dir.join(name)).as_ref() == Some(sum))
    }

    /// The record's lines.
    fn lines(&self) -> Vec<Line> {
        let mut lines = vec![Line::Run { run: self.run.clone() }];
        lines.extend(self.dirs.iter().map(|d| Line::Dir { dir: d.clone() }));
        lines.extend(self.files.iter().map(|(f, s)| Line::File {
            file: f.clone(),
            size: s.size,
            sha256: s.sha256.clone(),
        }));
        lines.extend(self.done.iter().map(|d| Line::Done { done: d.clone() }));
        lines
    }
}

fn line_bytes(line: &Line) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Remove what `record` lists from `dir`: files whose bytes are still the recorded ones, and
/// recorded sub-directories the same way (each removed when left empty).
fn clear(dir: &Path, record: &Record) -> Result<()> {
    for (name, sum) in &record.files {
        let path = dir.join(name);
        if sum_of_file(&path).as_ref() == Some(sum) {
            std::fs::remove_file(&path).map_err(|e| Error::io("cannot remove", &path, e))?;
        }
    }
    for name in &record.dirs {
        let sub = dir.join(name);
        if let Some(inner) = Record::read(&sub)? {
            clear(&sub, &inner)?;
            remove_stale_temporaries(&sub);
            let record = sub.join(RECORD);
            std::fs::remove_file(&record).map_err(|e| Error::io("cannot remove", &record, e))?;
            // Left in place when it holds files that are not salient's.
            let _ = std::fs::remove_dir(&sub);
        }
    }
    Ok(())
}

/// Remove `.NAME.tmp-PID` files of processes that no longer run (where the system says which
/// do: `/proc`). Elsewhere they stay: they are never read, so they trip nothing.
fn remove_stale_temporaries(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp-")).map(|(_, pid)| pid) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The open record of a directory in use: appended to as files are written.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: std::fs::File,
    record: Record,
    existing: Existing,
}

impl Journal {
    /// Open the record of `dir` for a run with key `run`, after dealing with what an earlier
    /// run left as `existing` says; fails when the directory cannot be written.
    pub(crate) fn open(dir: &Path, existing: Existing, run: &str) -> Result<Journal> {
        remove_stale_temporaries(dir);
        let old = Record::read(dir)?;
        let fresh = Record { run: run.to_string(), ..Record::default() };
        let record = match (existing, old) {
            (_, None) => fresh,
            (Existing::Refuse, Some(old)) => {
                if let Some(path) = old.present(dir)? {
                    return Err(Error::Exists { path });
                }
                fresh
            }
            (Existing::Replace, Some(old)) => {
                clear(dir, &old)?;
                fresh
            }
            (Existing::Resume, Some(old)) if old.run != run => {
                return Err(Error::OtherRun { dir: dir.to_path_buf() });
            }
            (Existing::Resume, Some(mut old)) => {
                if old.done.is_some() && !old.intact(dir) {
                    old.done = None;
                }
                old
            }
        };
        let path = dir.join(RECORD);
        let bytes: Vec<u8> = record.lines().iter().flat_map(line_bytes).collect();
        super::write_file(&path, &bytes, true)?;
        let file =
            std::fs::OpenOptions::new().append(true).open(&path).map_err(|e| Error::io("cannot write", &path, e))?;
        Ok(Journal { path, file, record, existing })
    }

    fn append(&mut self, line: Line) -> Result<()> {
        self.file.write_all(&line_bytes(&line)).map_err(|e| Error::io("cannot write", &self.path, e))
    }

    /// How existing files are treated.
    pub(crate) fn existing(&self) -> Existing {
        self.existing
    }

    /// Whether `name` is recorded with `sum`.
    pub(crate) fn has(&self, name: &str, sum: &FileSum) -> bool {
        self.record.files.get(name) == Some(sum)
    }

    /// Whether `name` is recorded at all (with any bytes).
    pub(crate) fn knows(&self, name: &str) -> bool {
        self.record.files.contains_key(name) || self.record.dirs.contains(name)
    }

    /// Record that `name` gets the bytes `sum`.
    pub(crate) fn file(&mut self, name: &str, sum: FileSum) -> Result<()> {
        self.append(Line::File { file: name.to_string(), size: sum.size, sha256: sum.sha256.clone() })?;
        self.record.files.insert(name.to_string(), sum);
        Ok(())
    }

    /// Record that the run writes into the sub-directory `name`.
    pub(crate) fn dir(&mut self, name: &str) -> Result<()> {
        if self.record.dirs.insert(name.to_string()) {
            self.append(Line::Dir { dir: name.to_string() })?;
        }
        Ok(())
    }

    /// Record that the run is complete, with what it reported.
    pub(crate) fn done(&mut self, report: serde_json::Value) -> Result<()> {
        self.append(Line::Done { done: report.clone() })?;
        self.record.done = Some(report);
        Ok(())
    }

    /// What a complete earlier run reported, when resuming it and its files are all intact.
    pub(crate) fn completed(&self) -> Option<&serde_json::Value> {
        self.record.done.as_ref()
    }

    /// Whether the record lists nothing written.
    pub(crate) fn is_empty(&self) -> bool {
        self.record.files.is_empty() && self.record.dirs.is_empty()
    }
}

/// What the record of a directory says about its run, for reading a finished run's files back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Finished {
    /// The directory has no record.
    NoRecord,
    /// The run has no last line: it was stopped before the end.
    Incomplete,
    /// The run finished, but this file is no longer what it wrote.
    Changed(String),
    /// The run finished and its files are intact: what it reported.
    Done(serde_json::Value),
}

/// Whether the run recorded in `dir` finished, and its files are intact.
pub(crate) fn finished(dir: &Path) -> Result<Finished> {
    let Some(record) = Record::read(dir)? else { return Ok(Finished::NoRecord) };
    let Some(done) = record.done else { return Ok(Finished::Incomplete) };
    if let Some((name, _)) = record.files.iter().find(|(name, sum)| !holds(&dir.join(name), sum)) {
        return Ok(Finished::Changed(name.clone()));
    }
    Ok(Finished::Done(done))
}

/// The SHA-256 of `bytes`, in hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Whether the file at `path` holds the bytes `sum`.
pub(crate) fn holds(path: &Path, sum: &FileSum) -> bool {
    sum_of_file(path).as_ref() == Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(bytes: &[u8]) -> FileSum {
        let mut s = Summer::default();
        s.update(bytes);
        s.sum()
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_a_resumed_record_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), Existing::Refuse, "k").unwrap();
        journal.file("a.svg", sum(b"a")).unwrap();
        drop(journal);
        // A kill in the middle of a line.
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join(RECORD)).unwrap();
        f.write_all(b"{\"file\":\"b.svg\",\"si").unwrap();
        drop(f);
        let record = Record::read(dir.path()).unwrap().unwrap();
        assert_eq!(record.files.keys().collect::<Vec<_>>(), ["a.svg"]);
        let mut journal = Journal::open(dir.path(), Existing::Resume, "k").unwrap();
        assert!(journal.has("a.svg", &sum(b"a")) && !journal.knows("b.svg"));
        journal.file("b.svg", sum(b"b")).unwrap();
        let record = Record::read(dir.path()).unwrap().unwrap();
        assert_eq!(record.files.keys().collect::<Vec<_>>(), ["a.svg", "b.svg"], "the torn line is gone");
        let err = Journal::open(dir.path(), Existing::Resume, "other").unwrap_err();
        assert!(matches!(err, Error::OtherRun { .. }), "{err}");
    }

    #[test]
    fn replacing_removes_only_what_salient_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("fig");
        std::fs::create_dir(&sub).unwrap();
        let mut top = Journal::open(dir.path(), Existing::Refuse, "k").unwrap();
        top.dir("fig").unwrap();
        top.file("manifest.json", sum(b"m")).unwrap();
        std::fs::write(dir.path().join("manifest.json"), b"m").unwrap();
        let mut inner = Journal::open(&sub, Existing::Refuse, "f").unwrap();
        inner.file("old.svg", sum(b"o")).unwrap();
        inner.file("edited.svg", sum(b"e")).unwrap();
        std::fs::write(sub.join("old.svg"), b"o").unwrap();
        std::fs::write(sub.join("edited.svg"), b"changed by hand").unwrap();
        std::fs::write(dir.path().join("mine.txt"), b"user").unwrap();
        std::fs::write(dir.path().join(".x.tmp-4000000000"), b"half").unwrap();
        let err = Journal::open(dir.path(), Existing::Refuse, "k").unwrap_err();
        assert!(matches!(&err, Error::Exists { .. }), "{err}");
        Journal::open(dir.path(), Existing::Replace, "k2").unwrap();
        assert!(!dir.path().join("manifest.json").exists() && !sub.join("old.svg").exists());
        assert!(sub.join("edited.svg").exists(), "a file changed since is not salient's any more");
        assert!(dir.path().join("mine.txt").exists());
        assert!(!dir.path().join(".x.tmp-4000000000").exists(), "a dead run's temporary is removed");
    }

    #[test]
    fn only_files_still_there_stop_a_new_run() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("fig");
        std::fs::create_dir(&sub).unwrap();
        let mut top = Journal::open(dir.path(), Existing::Refuse, "k").unwrap();
        top.dir("fig").unwrap();
        top.file("gone.json", sum(b"g")).unwrap();
        let mut inner = Journal::open(&sub, Existing::Refuse, "f").unwrap();
        inner.file("a.svg", sum(b"a")).unwrap();
        Journal::open(dir.path(), Existing::Refuse, "k").unwrap();
        let mut top = Journal::open(dir.path(), Existing::Refuse, "k").unwrap();
        top.dir("fig").unwrap();
        std::fs::write(sub.join("a.svg"), b"a").unwrap();
        let err = Journal::open(dir.path(), Existing::Refuse, "k").unwrap_err();
        assert!(matches!(&err, Error::Exists { path } if path == &sub.join("a.svg")), "{err}");
    }

    #[test]
    fn names_outside_the_directory_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"v").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let lines = [
            line_bytes(&Line::Run { run: "k".into() }),
            line_bytes(&Line::File { file: "../victim".into(), size: 1, sha256: sum(b"v").sha256 }),
        ]
        .concat();
        std::fs::write(out.join(RECORD), lines).unwrap();
        Journal::open(&out, Existing::Replace, "k").unwrap();
        assert!(victim.exists());
    }
}
