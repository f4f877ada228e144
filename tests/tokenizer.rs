//! The PTB tokenizer of the shipped models: stable on text that is already split (SST trees,
//! PTB-style input), faithful to the words its vocabulary holds, and giving the ids that Python's
//! `tokenizers` gives for the same `tokenizer.json`.

use std::path::Path;

use salient::data::corpus::{self, CorpusSplit};
use salient::data::vocab::UNK_ID;
use salient::data::{sst, Split, Vocab};

fn shipped(name: &str) -> Vocab {
    Vocab::load(&Path::new("data/models").join(name).join("tokenizer.json")).unwrap()
}

/// SST trees are PTB-split; read as raw text, a sentence must give the ids of its tokens. Only a
/// word the vocabulary does not know may be split differently (an unknown `A.I.` is one `[UNK]`
/// in the tree, `a.i` `.` in text): of 11,855 sentences, 10 hold such a word.
#[test]
fn sst_sentences_read_as_raw_text_give_the_ids_of_their_tokens() {
    let vocab = shipped("lstm-fine");
    let (mut checked, mut differ) = (0, Vec::new());
    for split in Split::ALL {
        for tree in sst::load_split(Path::new("data/sst"), split, usize::MAX).unwrap() {
            let text = tree.tokens.join(" ");
            let ids = vocab.token_ids(&tree.tokens);
            if vocab.encode_text(&text).unwrap().ids != ids {
                assert!(ids.contains(&UNK_ID), "every word is known, yet split differently: {text}");
                differ.push(text);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 11_855);
    assert!(differ.len() <= 10, "{} sentences split differently: {differ:#?}", differ.len());
}

#[test]
fn abbreviations_in_the_vocabulary_keep_their_period() {
    let vocab = shipped("bilstm-binary");
    let e = vocab.encode_text("Mr. Deeds went to the U.S. and saw E.T. with 10,000 fans.").unwrap();
    assert_eq!(
        e.tokens,
        ["mr.", "deeds", "went", "to", "the", "u.s.", "and", "saw", "e.t.", "with", "10,000", "fans", "."]
    );
    assert!(!e.ids.contains(&UNK_ID), "{e:?}");
    assert_eq!(e.words[0], "Mr.");
}

#[test]
fn ptb_form_and_raw_form_give_the_same_ids_with_every_shipped_tokenizer() {
    for name in ["rnn-fine", "autoencoder"] {
        let vocab = shipped(name);
        let ids = |t: &str| vocab.encode_text(t).unwrap().ids;
        assert_eq!(ids("It 's good ."), ids("It's good."), "{name}");
        assert_eq!(ids("I ca n't believe it 's not 1\\/2 ."), ids("I can't believe it's not 1/2."), "{name}");
        assert_eq!(ids("They 're here , we 've seen ."), ids("They're here, we've seen."), "{name}");
    }
}

/// Sentences that exercise every rule: quotes of all kinds, brackets, clitics, abbreviations,
/// escapes, numbers, ellipses, non-ASCII letters and spaces, PTB-split text.
const TRICKY: &[&str] = &[
    "I can't stand it.",
    "It 's good .",
    "It's good.",
    "Mr. O'Neil's \"best\" film (so far) -- it's 1/2 *great*... isn't it?!",
    "'Tis the season: 'em, ol' rock 'n' roll, the '90s; students' union.",
    "He said ‘hi’ and “bye” in the U.S. at 5 p.m. Cannot wait.",
    "CAN'T WON'T DON'T I'M YOU'RE THEY'D WE'LL",
    "x's's can'tn't cannot's I'd've",
    "1\\/2 of the `` film '' -LRB- not -RRB- \\* stars",
    "[brackets] {braces} <angles> 50% $10 #1 @home a&b x+y=z",
    "Ça va? Mamá También, 8\u{a0}1/2 hours — naïve café",
    "tabs\tand  double  spaces\r\nand CRLF",
    "St. Louis, Pa., Dr. No, J.R.R. Tolkien, A.I., etc.",
    "\"Quoted at the start\" and \"(in brackets)\" and \"at the end\"",
    "...",
    "",
];

/// Python's `tokenizers` reading each shipped `tokenizer.json` gives the ids salient gives, on
/// the tricky sentences, SST sentences and news sentences. Needs the virtual environment that
/// `.ci/run` makes (`python3 -m venv target/py && target/py/bin/pip install tokenizers`);
/// without it the test says so and passes.
#[test]
fn python_tokenizers_gives_the_same_ids() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    let has_tokenizers = python.is_file()
        && std::process::Command::new(&python)
            .args(["-c", "import tokenizers"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !has_tokenizers {
        println!("skipped: no {} with `tokenizers` (see .ci/run)", python.display());
        return;
    }
    let mut sentences: Vec<String> = TRICKY.iter().map(|s| s.to_string()).collect();
    for tree in sst::load_split(Path::new("data/sst"), Split::Dev, usize::MAX).unwrap().iter().take(300) {
        sentences.push(tree.tokens.join(" "));
    }
    sentences
        .extend(corpus::load_split(Path::new("data/autoencoder"), CorpusSplit::Dev).unwrap().iter().take(300).cloned());
    let models = ["rnn-fine", "lstm-binary", "bilstm-fine", "autoencoder"];
    let script = r#"
import json, sys
from tokenizers import Tokenizer
job = json.load(sys.stdin)
out = {}
for path in job["tokenizers"]:
    tok = Tokenizer.from_file(path)
    out[path] = [tok.encode(s, add_special_tokens=False).ids for s in job["sentences"]]
json.dump(out, sys.stdout)
"#;
    let paths: Vec<String> = models.iter().map(|m| format!("data/models/{m}/tokenizer.json")).collect();
    let job = serde_json::json!({ "tokenizers": paths, "sentences": sentences });
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(job.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python failed");
    let python_ids: std::collections::HashMap<String, Vec<Vec<u32>>> = serde_json::from_slice(&output.stdout).unwrap();
    for path in &paths {
        let vocab = Vocab::load(Path::new(path)).unwrap();
        assert_eq!(python_ids[path].len(), sentences.len(), "{path}");
        for (sentence, theirs) in sentences.iter().zip(&python_ids[path]) {
            let ours = vocab.encode_text(sentence).unwrap();
            assert_eq!(&ours.ids, theirs, "{path}: {sentence:?}: ours {:?}", ours.tokens);
        }
    }
}
