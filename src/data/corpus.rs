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

/// The sentences of one corpus file.
///
/// Dereferences to its sentences, so it can be passed wherever a `&[String]` is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpus {
    /// The file they were read from (named in errors).
    pub path: PathBuf,
    /// One sentence per line, trimmed.
    pub sentences: Vec<String>,
}

impl std::ops::Deref for Corpus {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.sentences
    }
}

/// Read every sentence of a file (gzip if the name ends in `.gz`), trimmed; blank lines are an
/// error naming the line, as is text that is not UTF-8. Lines are read by
/// [`text::lines`](super::text::lines): a byte-order mark at the start is skipped and CRLF line
/// ends are accepted. A file without lines gives no sentences.
pub fn read_sentences(path: &Path) -> Result<Corpus> {
    let bytes = super::text::read_file(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut sentences = Vec::new();
    for line in super::text::lines(&bytes) {
        let corpus_error = |message: String| Error::Corpus { path: path.to_path_buf(), line: line.number, message };
        let text =
            line.text().map_err(|column| corpus_error(format!("not UTF-8 text (byte {column} of the line)")))?.trim();
        if text.is_empty() {
            return Err(corpus_error("blank line; a corpus holds one sentence per line".into()));
        }
        sentences.push(text.to_string());
    }
    Ok(Corpus { path: path.to_path_buf(), sentences })
}

/// Load `<dir>/<split>.txt.gz` or `<dir>/<split>.txt`: exactly one of them must exist, and it
/// must hold at least one sentence.
pub fn load_split(dir: &Path, split: CorpusSplit) -> Result<Corpus> {
    use super::text::{find_split, SplitFile};
    let path = match find_split(dir, split.name()).map_err(|(path, e)| Error::io("cannot read", path, e))? {
        SplitFile::Found(path) => path,
        SplitFile::Missing(tried) => {
            return Err(Error::MissingSplit { dir: dir.to_path_buf(), split: split.name(), tried })
        }
        SplitFile::Both(paths) => return Err(Error::AmbiguousSplit { split: split.name(), paths }),
    };
    let corpus = read_sentences(&path)?;
    if corpus.is_empty() {
        return Err(Error::EmptySplit { path, split: split.name() });
    }
    Ok(corpus)
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

/// Tokenize a corpus with `vocab`, keeping the sentences of 1 to `max_len` tokens; an error
/// ([`Error::NoUsableSentence`], naming the file) when none is left.
pub fn encode(corpus: &Corpus, vocab: &Vocab, max_len: usize) -> Result<EncodedCorpus> {
    let mut out = EncodedCorpus::default();
    for s in corpus.iter() {
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
    if out.sentences.is_empty() {
        return Err(Error::NoUsableSentence {
            path: corpus.path.clone(),
            sentences: corpus.len(),
            too_long: out.too_long,
            max_len,
        });
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
        assert_eq!(read_sentences(&ok).unwrap().sentences, vec!["One sentence .", "Two"]);
        let blank = dir.path().join("blank.txt");
        std::fs::write(&blank, "a\n\nb\n").unwrap();
        let e = read_sentences(&blank).unwrap_err().to_string();
        assert!(e.contains("blank.txt:2:"), "{e}");
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, b"a\nb\xff\n").unwrap();
        let e = read_sentences(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.txt:2:") && e.contains("UTF-8"), "{e}");
    }
    #[test]
    fn byte_order_mark_and_crlf_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.txt");
        std::fs::write(&path, b"\xEF\xBB\xBFThe first .\r\nThe second .\r\n").unwrap();
        assert_eq!(read_sentences(&path).unwrap().sentences, ["The first .", "The second ."]);
    }

    #[test]
    fn empty_ambiguous_and_unusable_splits_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("dev.txt");
        std::fs::write(&dev, b"\xEF\xBB\xBF").unwrap();
        match load_split(dir.path(), CorpusSplit::Dev) {
            Err(e @ Error::EmptySplit { .. }) => assert!(e.to_string().contains(&dev.display().to_string()), "{e}"),
            other => panic!("{other:?}"),
        }
        std::fs::write(&dev, "one two three four .\nfive six seven .\n").unwrap();
        std::fs::write(dir.path().join("dev.txt.gz"), b"").unwrap();
        match load_split(dir.path(), CorpusSplit::Dev) {
            Err(e @ Error::AmbiguousSplit { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("dev.txt.gz") && msg.contains(&format!("{} ", dev.display())), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(dir.path().join("dev.txt.gz")).unwrap();
        let corpus = load_split(dir.path(), CorpusSplit::Dev).unwrap();
        let vocab = Vocab::build("one two .".split(' '), true, 1).unwrap();
        assert_eq!(encode(&corpus, &vocab, 5).unwrap().sentences.len(), 2);
        match encode(&corpus, &vocab, 3) {
            Err(e @ Error::NoUsableSentence { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&dev.display().to_string()) && msg.contains("2 sentences"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        match load_split(dir.path(), CorpusSplit::Test) {
            Err(e @ Error::MissingSplit { .. }) => assert!(e.to_string().contains("test.txt.gz"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
