//! The vocabulary: a Hugging Face `tokenizers` WordLevel model whose normalizer and pre-tokenizer
//! split raw text the way the Penn Treebank (and so SST) did.
//!
//! SST tokens are already split and escaped, so they are only lower-cased (when the vocabulary
//! is) and looked up. Raw text ("I can't stand it.") goes through the full tokenizer: brackets
//! become `-LRB-`/`-RRB-`, `"` becomes `` `` `` or `''`, `/` and `*` are escaped as in SST (unless
//! already escaped), punctuation is split off and clitics are separated ("ca n't", "it 's"). Only
//! ASCII whitespace separates words, so a no-break space stays inside its word, as in SST.
//!
//! Two rules keep the tokenizer faithful to its vocabulary and to text that is already split:
//! - A word the vocabulary holds whole is not split further: with `u.s.`, `mr.`, `10,000` or
//!   `r&b` in the vocabulary, "U.S." stays one token instead of `U.S` and `.`. The pre-tokenizer
//!   lists these words (those its splitting rules would cut) in its patterns, so the list lives
//!   in `tokenizer.json` and any `tokenizers` implementation splits the same way.
//! - Text in PTB form reads as its raw form does: `It 's good .` gives the ids of `It's good.`
//!   (a standalone clitic is not taken for an opening quote) and `1\/2` stays `1\/2`.
//!
//! A vocabulary built from raw text (the autoencoder's) is counted with a tokenizer that knows
//! no words yet, so no word of it needs to be listed and its tokenizer splits as before.

use std::collections::HashMap;
use std::path::Path;

use tokenizers::models::wordlevel::WordLevel;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    Normalizer, NormalizerWrapper, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
    PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer,
};

use crate::error::{Error, Result};

/// The padding token; always id 0.
pub const PAD_TOKEN: &str = "[PAD]";
/// The unknown-word token; always id 1.
pub const UNK_TOKEN: &str = "[UNK]";
/// Id of [`PAD_TOKEN`].
pub const PAD_ID: u32 = 0;

/// The start-of-sentence token fed to the decoder first; always id 2.
pub const BOS_TOKEN: &str = "[BOS]";
/// The end-of-sentence token the decoder emits last; always id 3.
pub const EOS_TOKEN: &str = "[EOS]";
/// Id of [`BOS_TOKEN`].
pub const BOS_ID: u32 = 2;
/// Id of [`EOS_TOKEN`].
pub const EOS_ID: u32 = 3;
/// Id of [`UNK_TOKEN`].
pub const UNK_ID: u32 = 1;

/// Raw text split into vocabulary ids, with the words the user wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedText {
    /// Token ids, one per token.
    pub ids: Vec<u32>,
    /// The tokens as the vocabulary sees them (normalized, e.g. `ca`, `n't`, `-lrb-`).
    pub tokens: Vec<String>,
    /// The user's own characters for each token (e.g. `ca`, `n't`, `(`), for figures.
    pub words: Vec<String>,
}

impl EncodedText {
    /// How many tokens are not in the vocabulary.
    pub fn unknown_count(&self) -> usize {
        self.ids.iter().filter(|&&id| id == UNK_ID).count()
    }
}

/// A word-level vocabulary backed by a `tokenizers` [`Tokenizer`].
#[derive(Clone)]
pub struct Vocab {
    tokenizer: Tokenizer,
    lowercase: bool,
}

impl std::fmt::Debug for Vocab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocab").field("size", &self.len()).field("lowercase", &self.lowercase).finish()
    }
}

fn tok_err(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

/// The PTB-style normalizer: escapes and bracket/quote rewriting, then optional lower-casing.
fn normalizer(lowercase: bool) -> Result<NormalizerWrapper> {
    // Each replacement surrounds the new token with spaces so that the pre-tokenizer splits it off.
    let rules: &[(&str, &str)] = &[
        (r"\(", " -LRB- "),
        (r"\)", " -RRB- "),
        (r"\[", " -LSB- "),
        (r"\]", " -RSB- "),
        (r"\{", " -LCB- "),
        (r"\}", " -RCB- "),
        // Escape `/` and `*` as SST does, unless they already are (text in PTB form).
        (r"(?<!\\)/", r"\/"),
        (r"(?<!\\)\*", r"\*"),
        // An opening double quote: at the start or after whitespace or an opening bracket.
        (r#"(?:^|(?<=[\s(\[{]))["“]"#, " `` "),
        (r#"["”]"#, " '' "),
        (r"“", " `` "),
        (r"‘", " ` "),
        (r"’", "'"),
    ];
    let mut parts: Vec<NormalizerWrapper> = Vec::new();
    for (pattern, content) in rules {
        let replace =
            Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex((*pattern).to_string()), *content)
                .map_err(tok_err)?;
        parts.push(replace.into());
    }
    if lowercase {
        parts.push(Lowercase.into());
    }
    Ok(NormalizerSequence::new(parts).into())
}

/// The splitting rules after the whitespace split, in order, as regular expressions whose
/// matches are isolated.
const SPLIT_RULES: [&str; 4] = [
    // Punctuation that PTB always splits off; an ellipsis and a double dash stay whole.
    r"\.\.\.|--|[,;:?!%$#&@]|``|''",
    // A word-final period (not the last of an ellipsis).
    r"(?<=[^.])\.$",
    // Opening single quote at the start of a word (not a clitic standing alone, as in PTB text:
    // "it 's"), closing one at its end.
    r"^'(?=[A-Za-z])(?!(?i:s|re|ve|m|ll|d)$)|(?<=[^sS'])'$",
    // Clitics: "can't" -> "ca n't", "it's" -> "it 's", "I'm" -> "I 'm", "cannot" -> "can not";
    // every clitic of a word at once ("cannot's" -> "can not 's"), so that splitting the result
    // again changes nothing.
    r"(?i:n't|'(?:s|re|ve|m|ll|d))(?=(?i:n't|'(?:s|re|ve|m|ll|d))*$)|(?<=^(?i:can))(?i:not)(?=(?i:n't|'(?:s|re|ve|m|ll|d))*$)",
];

/// `text` as a regular expression that matches it literally, in the syntax both `tokenizers`
/// regex engines (fancy-regex in Rust, Oniguruma in Python) read the same way.
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if matches!(c, '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The PTB-style pre-tokenizer: split on ASCII whitespace, then apply [`SPLIT_RULES`]; a word of
/// `whole` (words the vocabulary holds) is matched entirely first, so no rule cuts it.
fn pre_tokenizer(whole: &[&str]) -> Result<PreTokenizerWrapper> {
    let split = |pattern: &str, behavior| -> Result<PreTokenizerWrapper> {
        Ok(Split::new(SplitPattern::Regex(pattern.to_string()), behavior, false).map_err(tok_err)?.into())
    };
    let keep = if whole.is_empty() {
        String::new()
    } else {
        let words: Vec<String> = whole.iter().map(|w| regex_literal(w)).collect();
        format!("^(?:{})$|", words.join("|"))
    };
    // Words: ASCII whitespace only (a no-break space stays inside its word, as in SST).
    let mut steps = vec![split(r"[ \t\r\n]+", SplitDelimiterBehavior::Removed)?];
    for rule in SPLIT_RULES {
        steps.push(split(&format!("{keep}{rule}"), SplitDelimiterBehavior::Isolated)?);
    }
    Ok(PreTokenizerSequence::new(steps).into())
}

/// The words of `vocab` that the pre-tokenizer would cut into pieces (they must be kept whole).
fn words_to_keep_whole(vocab: &[(String, u32)]) -> Result<Vec<&str>> {
    let plain = pre_tokenizer(&[])?;
    let mut whole = Vec::new();
    for (word, _) in vocab {
        if word == PAD_TOKEN || word == UNK_TOKEN {
            continue;
        }
        let mut pre = PreTokenizedString::from(word.as_str());
        plain.pre_tokenize(&mut pre).map_err(tok_err)?;
        if pre.get_splits(OffsetReferential::Original, OffsetType::Byte).len() > 1 {
            whole.push(word.as_str());
        }
    }
    Ok(whole)
}

impl Vocab {
    /// Build a vocabulary from tokens counted on the training split.
    ///
    /// Tokens are ordered by count (most frequent first, ties alphabetically) after `[PAD]` and
    /// `[UNK]`; tokens seen fewer than `min_count` times map to `[UNK]`.
    pub fn build<'a>(tokens: impl IntoIterator<Item = &'a str>, lowercase: bool, min_count: usize) -> Result<Self> {
        Self::build_with(tokens, lowercase, min_count, &[], None)
    }

    /// Like [`Vocab::build`], with `specials` at ids 2, 3, ... after `[PAD]` and `[UNK]`, and at
    /// most `max_size` entries in all (the rarest tokens become `[UNK]`).
    pub(crate) fn build_with<'a>(
        tokens: impl IntoIterator<Item = &'a str>,
        lowercase: bool,
        min_count: usize,
        specials: &[&str],
        max_size: Option<usize>,
    ) -> Result<Self> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for token in tokens {
            let key = if lowercase { token.to_lowercase() } else { token.to_string() };
            *counts.entry(key).or_default() += 1;
        }
        let mut entries: Vec<(String, usize)> =
            counts.into_iter().filter(|(t, n)| *n >= min_count.max(1) && !specials.contains(&t.as_str())).collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut vocab: Vec<(String, u32)> = vec![(PAD_TOKEN.to_string(), PAD_ID), (UNK_TOKEN.to_string(), UNK_ID)];
        for special in specials {
            vocab.push((special.to_string(), vocab.len() as u32));
        }
        let room = max_size.map(|m| m.saturating_sub(vocab.len())).unwrap_or(usize::MAX);
        for (token, _) in entries.into_iter().take(room) {
            let id = vocab.len() as u32;
            vocab.push((token, id));
        }
        Self::from_vocab(vocab, lowercase)
    }

    /// The id of a token given exactly as stored (no lower-casing), if it is in the vocabulary.
    pub(crate) fn exact_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    fn from_vocab(vocab: Vec<(String, u32)>, lowercase: bool) -> Result<Self> {
        let pre_tokenizer = pre_tokenizer(&words_to_keep_whole(&vocab)?)?;
        let model = WordLevel::builder()
            .vocab(vocab.into_iter().collect())
            .unk_token(UNK_TOKEN.to_string())
            .build()
            .map_err(tok_err)?;
        let mut tokenizer = Tokenizer::new(model);
        tokenizer.with_normalizer(Some(normalizer(lowercase)?)).map_err(tok_err)?;
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
        Ok(Self { tokenizer, lowercase })
    }

    /// Load `tokenizer.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let tokenizer =
            Tokenizer::from_file(path).map_err(|e| Error::Tokenizer(format!("cannot load {}: {e}", path.display())))?;
        let lowercase = tokenizer
            .get_normalizer()
            .map(|n| serde_json::to_string(n).unwrap_or_default().contains("\"Lowercase\""))
            .unwrap_or(false);
        if tokenizer.token_to_id(PAD_TOKEN) != Some(PAD_ID) || tokenizer.token_to_id(UNK_TOKEN) != Some(UNK_ID) {
            return Err(Error::Tokenizer(format!(
                "{} is not a salient vocabulary: expected {PAD_TOKEN} at id 0 and {UNK_TOKEN} at id 1",
                path.display()
            )));
        }
        Ok(Self { tokenizer, lowercase })
    }

    /// The tokenizer as `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String> {
        self.tokenizer.to_string(true).map_err(tok_err)
    }

    /// Number of entries, `[PAD]` and `[UNK]` included.
    pub fn len(&self) -> usize {
        self.tokenizer.get_vocab_size(false)
    }

    /// True when the vocabulary has only the special tokens.
    pub fn is_empty(&self) -> bool {
        self.len() <= 2
    }

    /// Whether tokens are lower-cased before look-up.
    pub fn lowercase(&self) -> bool {
        self.lowercase
    }

    /// The id of an already-split (SST) token; `[UNK]`'s id when it is unknown.
    pub fn token_id(&self, token: &str) -> u32 {
        let id = if token == PAD_TOKEN || token == UNK_TOKEN || !self.lowercase {
            self.tokenizer.token_to_id(token)
        } else {
            self.tokenizer.token_to_id(&token.to_lowercase())
        };
        id.unwrap_or(UNK_ID)
    }

    /// Ids of already-split (SST) tokens.
    pub fn token_ids<S: AsRef<str>>(&self, tokens: &[S]) -> Vec<u32> {
        tokens.iter().map(|t| self.token_id(t.as_ref())).collect()
    }

    /// The token for an id, if any.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }

    /// Split raw text the PTB way and look every token up.
    ///
    /// Runs the tokenizer's own normalizer and pre-tokenizer, so `tokens` are the normalized
    /// forms (also for unknown words) and `words` the user's characters behind each.
    pub fn encode_text(&self, text: &str) -> Result<EncodedText> {
        let mut pre = PreTokenizedString::from(text);
        if let Some(normalizer) = self.tokenizer.get_normalizer() {
            pre.normalize(|n| normalizer.normalize(n)).map_err(tok_err)?;
        }
        if let Some(pre_tokenizer) = self.tokenizer.get_pre_tokenizer() {
            pre_tokenizer.pre_tokenize(&mut pre).map_err(tok_err)?;
        }
        let splits = pre.get_splits(OffsetReferential::Original, OffsetType::Byte);
        let mut encoded = EncodedText {
            ids: Vec::with_capacity(splits.len()),
            tokens: Vec::with_capacity(splits.len()),
            words: Vec::with_capacity(splits.len()),
        };
        for (token, (start, end), _) in splits {
            let word = text.get(start..end).map(str::trim).filter(|w| !w.is_empty()).unwrap_or(token);
            encoded.ids.push(self.tokenizer.token_to_id(token).unwrap_or(UNK_ID));
            encoded.tokens.push(token.to_string());
            encoded.words.push(word.to_string());
        }
        Ok(encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        let words = "i ca n't stand it . the movie 's good -lrb- -rrb- `` '' , not 1\\/2 do";
        Vocab::build(words.split(' '), true, 1).unwrap()
    }

    fn tokens(text: &str) -> Vec<String> {
        vocab().encode_text(text).unwrap().tokens
    }

    #[test]
    fn special_tokens_have_fixed_ids() {
        let v = vocab();
        assert_eq!(v.token_id(PAD_TOKEN), PAD_ID);
        assert_eq!(v.token_id("never-seen"), UNK_ID);
        assert_eq!(v.token_id("Movie"), v.token_id("movie"));
        assert_ne!(v.token_id("movie"), UNK_ID);
    }

    #[test]
    fn raw_text_is_split_like_ptb() {
        assert_eq!(tokens("I can't stand it."), ["i", "ca", "n't", "stand", "it", "."]);
        assert_eq!(
            tokens("The movie's good, (not) \"good\""),
            ["the", "movie", "'s", "good", ",", "-lrb-", "not", "-rrb-", "``", "good", "''"]
        );
        assert_eq!(tokens("1/2 I don't"), ["1\\/2", "i", "do", "n't"]);
        assert_eq!(tokens("Wait... what?!"), ["wait", "...", "what", "?", "!"]);
        assert_eq!(tokens("I cannot"), ["i", "can", "not"]);
    }

    #[test]
    fn words_keep_the_users_characters() {
        let e = vocab().encode_text("I can't (really)").unwrap();
        assert_eq!(e.words, ["I", "ca", "n't", "(", "really", ")"]);
        assert_eq!(e.ids.len(), e.words.len());
        assert_eq!(e.unknown_count(), 1);
    }

    #[test]
    fn no_break_space_stays_inside_a_word() {
        let v = Vocab::build(["8\u{a0}1\\/2"], true, 1).unwrap();
        let e = v.encode_text("8\u{a0}1/2").unwrap();
        assert_eq!(e.tokens, ["8\u{a0}1\\/2"]);
        assert_ne!(e.ids[0], UNK_ID);
    }

    #[test]
    fn saved_json_round_trips() {
        let v = vocab();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, v.to_json().unwrap()).unwrap();
        let back = Vocab::load(&path).unwrap();
        assert_eq!(back.len(), v.len());
        assert!(back.lowercase());
        assert_eq!(back.encode_text("I can't").unwrap(), v.encode_text("I can't").unwrap());
    }
    #[test]
    fn words_the_vocabulary_holds_are_not_split() {
        let v = Vocab::build("mr. u.s. 10,000 r&b 'em went to the . , it".split(' '), true, 1).unwrap();
        let tokens = |text: &str| v.encode_text(text).unwrap().tokens;
        assert_eq!(
            tokens("Mr. Smith went to the U.S. with 10,000 R&B fans, 'em."),
            ["mr.", "smith", "went", "to", "the", "u.s.", "with", "10,000", "r&b", "fans", ",", "'em", "."]
        );
        // Words it does not hold are split as before.
        assert_eq!(
            tokens("Dr. No, 5,000 at&t it."),
            ["dr", ".", "no", ",", "5", ",", "000", "at", "&", "t", "it", "."]
        );
        // Without those words in the vocabulary, the period is split off.
        assert_eq!(tokens("the U.K."), ["the", "u.k", "."]);
    }

    #[test]
    fn text_in_ptb_form_gives_the_ids_of_its_raw_form() {
        let v = vocab();
        for (ptb, raw) in [
            ("It 's good .", "It's good."),
            ("I ca n't stand it .", "I can't stand it."),
            ("the movie 's `` good '' , -LRB- not -RRB-", "the movie's \"good\", (not)"),
            ("1\\/2 I do n't", "1/2 I don't"),
            ("I can not", "I cannot"),
            ("you 're , I 'm , we 've , they 'll , he 'd", "you're, I'm, we've, they'll, he'd"),
        ] {
            let (a, b) = (v.encode_text(ptb).unwrap(), v.encode_text(raw).unwrap());
            assert_eq!(a.tokens, b.tokens, "{ptb:?} vs {raw:?}");
            assert_eq!(a.ids, b.ids, "{ptb:?} vs {raw:?}");
        }
    }

    #[test]
    fn splitting_is_idempotent_on_tricky_text() {
        let v = Vocab::build("mr. u.s. 'em".split(' '), true, 1).unwrap();
        for text in [
            "Mr. O'Neil's \"best\" film (so far) -- it's 1/2 *great*... isn't it?!",
            "'Tis the season: 'em, ol' rock 'n' roll, the '90s; students' union.",
            "He said ‘hi’ and “bye” in the U.S. at 5 p.m. Cannot wait.",
            "CAN'T WON'T DON'T I'M YOU'RE",
            // Several clitics on one word.
            "x's's can'tn't cannot's I'd've",
            "a\u{a0}b\tc\r\nd  e",
        ] {
            let once = v.encode_text(text).unwrap();
            let twice = v.encode_text(&once.tokens.join(" ")).unwrap();
            assert_eq!(twice.tokens, once.tokens, "{text:?}");
        }
    }

    /// Every shipped model's `tokenizer.json` is what this code makes of its vocabulary, so the
    /// splitting rules above are the ones the models use. To remake the files after changing the
    /// rules (vocabularies stay as they are): `SALIENT_REWRITE_TOKENIZERS=1 cargo test --release
    /// --lib shipped_tokenizers`.
    #[test]
    fn shipped_tokenizers_are_what_this_code_makes() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/models");
        let mut checked = 0;
        for entry in std::fs::read_dir(&models).unwrap() {
            let path = entry.unwrap().path().join("tokenizer.json");
            if !path.is_file() {
                continue;
            }
            let shipped = Vocab::load(&path).unwrap();
            let mut entries: Vec<(String, u32)> = shipped.tokenizer.get_vocab(false).into_iter().collect();
            entries.sort_by_key(|&(_, id)| id);
            let remade = Vocab::from_vocab(entries, shipped.lowercase()).unwrap();
            assert_eq!(remade.len(), shipped.len());
            let json = remade.to_json().unwrap();
            if std::env::var_os("SALIENT_REWRITE_TOKENIZERS").is_some() {
                std::fs::write(&path, &json).unwrap();
            } else {
                assert!(std::fs::read_to_string(&path).unwrap() == json, "{} is out of date", path.display());
            }
            checked += 1;
        }
        assert_eq!(checked, 7, "six classifiers and the autoencoder");
    }
}
