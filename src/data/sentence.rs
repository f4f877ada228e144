//! Sentences to explain: raw text or SST tokens, looked up in a model's vocabulary and checked
//! (not empty, not only unknown words, not too long), each with an id that names it in errors,
//! file names and exports.

use serde::{Deserialize, Serialize};

use crate::data::vocab::{Vocab, UNK_ID};
use crate::error::{Result, SentenceError};

/// The default limit on a sentence's length, in tokens (the longest SST sentence has 56).
pub const DEFAULT_MAX_TOKENS: usize = 120;

/// A sentence ready for a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentence {
    /// Its id: the line number in an input file, or the ordinal of a `--text`.
    pub id: usize,
    /// The text as the user gave it.
    pub text: String,
    /// Vocabulary ids, one per token.
    pub ids: Vec<u32>,
    /// Tokens as the vocabulary sees them (`ca`, `n't`, `-lrb-`).
    pub tokens: Vec<String>,
    /// The user's characters for each token (for figures).
    pub words: Vec<String>,
}

impl Sentence {
    /// Split raw `text` the PTB way and look it up; `at` names it in errors ("line 3").
    pub fn encode(vocab: &Vocab, id: usize, at: &str, text: &str, max_tokens: usize) -> Result<Sentence> {
        if text.trim().is_empty() {
            return Err(SentenceError::Empty { at: at.to_string() }.into());
        }
        let e = vocab.encode_text(text)?;
        let sentence = Sentence { id, text: text.to_string(), ids: e.ids, tokens: e.tokens, words: e.words };
        sentence.check(at, max_tokens)?;
        Ok(sentence)
    }

    /// An already-split (SST) token sequence.
    pub fn from_tokens<S: AsRef<str>>(vocab: &Vocab, id: usize, tokens: &[S]) -> Sentence {
        let tokens: Vec<String> = tokens.iter().map(|t| t.as_ref().to_string()).collect();
        Sentence {
            id,
            text: tokens.join(" "),
            ids: vocab.token_ids(&tokens),
            words: tokens.clone(),
            tokens: tokens.iter().map(|t| if vocab.lowercase() { t.to_lowercase() } else { t.clone() }).collect(),
        }
    }

    /// Check the length and the vocabulary coverage.
    pub fn check(&self, at: &str, max_tokens: usize) -> Result<(), SentenceError> {
        if self.ids.is_empty() {
            return Err(SentenceError::Empty { at: at.to_string() });
        }
        if self.ids.len() > max_tokens {
            return Err(SentenceError::TooLong { at: at.to_string(), tokens: self.ids.len(), max: max_tokens });
        }
        if self.ids.iter().all(|&id| id == UNK_ID) {
            return Err(SentenceError::AllUnknown { at: at.to_string(), words: self.words.clone() });
        }
        Ok(())
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The words the vocabulary does not know.
    pub fn unknown_words(&self) -> Vec<&str> {
        self.ids.iter().zip(&self.words).filter(|(&id, _)| id == UNK_ID).map(|(_, w)| w.as_str()).collect()
    }
}

/// The sentences of an input file's bytes, one per line (read by [`lines`](super::text::lines):
/// a byte-order mark is skipped, CRLF accepted); blank lines are skipped and each sentence's id
/// is its line number. A bad line (not UTF-8, empty after splitting, too long, only unknown
/// words) gives an error in its place, so the others can still be used.
pub fn read_lines(contents: &[u8], vocab: &Vocab, max_tokens: usize) -> Vec<Result<Sentence>> {
    super::text::lines(contents)
        .filter(|line| !line.bytes.iter().all(u8::is_ascii_whitespace))
        .map(|line| {
            let at = format!("line {}", line.number);
            match line.text() {
                Ok(text) => Sentence::encode(vocab, line.number, &at, text.trim(), max_tokens),
                Err(column) => Err(SentenceError::NotUtf8 { at, column }.into()),
            }
        })
        .collect()
}

/// The sentences of `--text` values (ids 1, 2, ...) or of an input file's bytes (ids are line
/// numbers): each a sentence or the reason it cannot be used.
pub fn gather(texts: &[String], file: Option<&[u8]>, vocab: &Vocab, max_tokens: usize) -> Vec<Result<Sentence>> {
    match file {
        Some(contents) => read_lines(contents, vocab, max_tokens),
        None => texts
            .iter()
            .enumerate()
            .map(|(i, t)| Sentence::encode(vocab, i + 1, &format!("text {}", i + 1), t, max_tokens))
            .collect(),
    }
}

/// A bad input (a line of a file) that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Where it was ("line 3").
    pub at: String,
    /// What was wrong.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        Vocab::build("i like the movie .".split(' '), true, 1).unwrap()
    }

    #[test]
    fn bad_sentences_say_what_is_wrong() {
        let v = vocab();
        let err = |text: &str, max| Sentence::encode(&v, 1, "text 1", text, max).unwrap_err().to_string();
        assert!(err("   ", 10).contains("text 1: the sentence is empty"));
        let e = err("zorp blargh", 10);
        assert!(e.contains("every word is unknown") && e.contains("zorp blargh"), "{e}");
        let e = err("i like the movie .", 3);
        assert!(e.contains("5 tokens, more than the limit of 3") && e.contains("raise the limit"), "{e}");
        let ok = Sentence::encode(&v, 1, "x", "I like zorp", 10).unwrap();
        assert_eq!(ok.unknown_words(), ["zorp"]);
        assert_eq!(ok.words, ["I", "like", "zorp"]);
    }

    #[test]
    fn a_bad_line_does_not_hide_the_others() {
        let v = vocab();
        let lines = read_lines(b"I like the movie .\n\nzorp\nthe movie\n", &v, 10);
        assert_eq!(lines.len(), 3, "the blank line is skipped");
        assert_eq!(lines[0].as_ref().unwrap().id, 1);
        assert!(lines[1].as_ref().unwrap_err().to_string().starts_with("line 3:"));
        assert_eq!(lines[2].as_ref().unwrap().id, 4);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_one_bad_line() {
        let v = vocab();
        let lines = read_lines(b"\xEF\xBB\xBFthe movie\r\nI \xFF like\r\nI like the movie .\r\n", &v, 10);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].as_ref().unwrap().words, ["the", "movie"], "byte-order mark skipped");
        let e = lines[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("not UTF-8") && e.contains("byte 3"), "{e}");
        assert_eq!(lines[2].as_ref().unwrap().id, 3, "CRLF lines keep their numbers");
    }
}
