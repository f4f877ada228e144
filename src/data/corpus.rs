//! Plain-text sentence corpora for the autoencoder: one sentence per line, UTF-8, optionally
//! gzipped, split into `train`, `dev` (model selection) and `test` (held-out reporting) files.

use std::path::{Path, PathBuf};

use crate::data::vocab::{Vocab, UNK_ID};
use crate::error::{Error, Result};

/// A split of a sentence corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CorpusSplit {
    /// Training sentences.
    Train,
    /// Model-selection sentences.
    Dev,
    /// Held-out sentences for reporting.
    Test,
}

impl CorpusSplit {
    /// The split's file stem.
    pub fn name(self) -> &'static str {
        match self {
            CorpusSplit::Train => "train",
            CorpusSplit::Dev => "dev",
            CorpusSplit::Test => "test",
        }
    }
}

impl std::str::FromStr for CorpusSplit {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "train" => Ok(CorpusSplit::Train),
            "dev" => Ok(CorpusSplit::Dev),
            "test" => Ok(CorpusSplit::Test),
            other => Err(format!("unknown split `{other}`; expected train, dev or test")),
        }
    }
}

/// Read every sentence of a file (gzip if the name ends in `.gz`), trimmed; blank lines are an
/// error naming the line, as is text that is not UTF-8.
pub fn read_sentences(path: &Path) -> Result<Vec<String>> {
    let bytes = crate::data::sst::read_bytes(path).map_err(|e| Error::io("cannot read", path, e))?;
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let mut out = Vec::new();
    if body.is_empty() {
        return Ok(out);
    }
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let text = std::str::from_utf8(line).map_err(|e| Error::Corpus {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("not UTF-8 text ({e})"),
        })?;
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Corpus {
                path: path.to_path_buf(),
                line: i + 1,
                message: "blank line; a corpus holds one sentence per line".into(),
            });
        }
        out.push(text.to_string());
    }
    Ok(out)
}

/// Load `<dir>/<split>.txt.gz`, or else `<dir>/<split>.txt`.
pub fn load_split(dir: &Path, split: CorpusSplit) -> Result<Vec<String>> {
    let tried: Vec<PathBuf> =
        vec![dir.join(format!("{}.txt.gz", split.name())), dir.join(format!("{}.txt", split.name()))];
    match tried.iter().find(|p| p.is_file()) {
        Some(path) => read_sentences(path),
        None => Err(Error::invalid(
            "data",
            format!(
                "no {} split in {}: expected {} or {} (one sentence per line)",
                split.name(),
                dir.display(),
                tried[0].display(),
                tried[1].display()
            ),
        )),
    }
}

/// Sentences turned into token ids, with what was left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EncodedCorpus {
    /// Token ids of each kept sentence (without start and end tokens).
    pub sentences: Vec<Vec<u32>>,
    /// Sentences longer than the length limit, left out.
    pub too_long: usize,
    /// Tokens kept, and how many of them are `[UNK]`.
    pub tokens: usize,
    /// Unknown tokens among [`EncodedCorpus::tokens`].
    pub unknown: usize,
}

/// Tokenize sentences with `vocab`, keeping those of at most `max_len` tokens.
pub fn encode(sentences: &[String], vocab: &Vocab, max_len: usize) -> Result<EncodedCorpus> {
    let mut out = EncodedCorpus::default();
    for s in sentences {
        let ids = vocab.encode_text(s)?.ids;
        if ids.is_empty() {
            continue;
        }
        if ids.len() > max_len {
            out.too_long += 1;
            continue;
        }
        out.tokens += ids.len();
        out.unknown += ids.iter().filter(|&&id| id == UNK_ID).count();
        out.sentences.push(ids);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_and_non_utf8_lines_are_errors_with_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.txt");
        std::fs::write(&ok, "One sentence .\n  Two  \n").unwrap();
        assert_eq!(read_sentences(&ok).unwrap(), vec!["One sentence .", "Two"]);
        let blank = dir.path().join("blank.txt");
        std::fs::write(&blank, "a\n\nb\n").unwrap();
        let e = read_sentences(&blank).unwrap_err().to_string();
        assert!(e.contains("blank.txt:2:"), "{e}");
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, b"a\nb\xff\n").unwrap();
        let e = read_sentences(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.txt:2:") && e.contains("UTF-8"), "{e}");
    }
}
