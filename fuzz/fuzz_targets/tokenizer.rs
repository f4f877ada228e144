//! The PTB tokenizer of a shipped model on arbitrary text: never a panic, one id, token and word
//! per token, ids in the vocabulary, and no token that is empty or holds a separator.
//!
//! Splitting its own output again is stable on PTB-style text (tests/tokenizer.rs checks all SST
//! sentences) but not on every string: in a word such as `a's.'s` one rule exposes what an
//! earlier rule has already passed (`a's.` `'s`, then `a 's . 's`), so that property is not
//! asserted here.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use salient::data::Vocab;

fn vocab() -> &'static Vocab {
    static VOCAB: OnceLock<Vocab> = OnceLock::new();
    VOCAB.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/models/lstm-fine/tokenizer.json");
        Vocab::load(&path).expect("the shipped tokenizer loads")
    })
}

fuzz_target!(|text: &str| {
    let vocab = vocab();
    let once = vocab.encode_text(text).expect("any text can be split");
    assert_eq!(once.ids.len(), once.tokens.len());
    assert_eq!(once.ids.len(), once.words.len());
    assert!(once.ids.iter().all(|&id| (id as usize) < vocab.len()));
    assert!(once.tokens.iter().all(|t| !t.is_empty() && !t.contains([' ', '\t', '\r', '\n'])));
});
