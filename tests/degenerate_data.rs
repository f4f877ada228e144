//! Empty or degenerate data is an error naming the file, never a score over nothing; files with a
//! byte-order mark or CRLF line ends read like plain ones; the autoencoder's exact-match flags
//! compare ids.

mod common;

use std::path::Path;

use candle_core::{DType, Device};
use common::salient;
use salient::checkpoint::{load_autoencoder, load_classifier};
use salient::data::Sentence;
use salient::data::Task;
use salient::eval::{evaluate, evaluate_reconstruction};
use salient::explain::autoencoder::{explain, OutputChoice};
use salient::explain::ScoreKind;
use salient::Error;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const TREES: &str = "(4 (2 the) (4 good))\n(0 (2 the) (0 bad))\n(3 (2 quite) (3 fine))\n";
const NEUTRAL: &str = "(2 (2 the) (2 film))\n(2 (3 good) (1 bad))\n";

#[test]
fn classifier_training_refuses_empty_and_unusable_dev_splits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.txt"), TREES).unwrap();
    let dev = dir.path().join("dev.txt");
    let out = dir.path().join("out");
    let train = |task: &str| {
        salient(&["train", "--arch", "rnn", "--task", task, "--epochs", "1", "--data", s(dir.path()), "--out", s(&out)])
    };
    std::fs::write(&dev, "").unwrap();
    let (ok, _, err) = train("fine");
    assert!(!ok && err.contains(s(&dev)) && err.contains("no trees"), "{err}");
    std::fs::write(&dev, NEUTRAL).unwrap();
    let (ok, _, err) = train("binary");
    assert!(!ok && err.contains(s(&dev)) && err.contains("binary"), "{err}");
    assert!(!out.join("config.json").exists(), "nothing is selected from a dev split of nothing");
}

#[test]
fn eval_refuses_ambiguous_and_unusable_splits_and_reads_bom_crlf_files() {
    let dir = tempfile::tempdir().unwrap();
    let eval = |split: &str| {
        salient(&["eval", "--model", "data/models/rnn-binary", "--data", s(dir.path()), "--split", split, "--json"])
    };
    // A byte-order mark and CRLF line ends.
    let crlf = format!("\u{feff}{}", TREES.replace('\n', "\r\n"));
    std::fs::write(dir.path().join("test.txt"), crlf).unwrap();
    let (ok, out, err) = eval("test");
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sentences"], 3);
    // Both test.txt and test.txt.gz: which one is meant is unclear.
    std::fs::write(dir.path().join("test.txt.gz"), b"").unwrap();
    let (ok, _, err) = eval("test");
    assert!(!ok && err.contains("test.txt.gz") && err.contains(s(&dir.path().join("test.txt "))), "{err}");
    // Neutral sentences only, under the binary task: nothing to score.
    std::fs::write(dir.path().join("dev.txt"), NEUTRAL).unwrap();
    let (ok, out, err) = eval("dev");
    assert!(!ok && out.is_empty() && err.contains("dev.txt") && err.contains("binary"), "{err}");
}

#[test]
fn scoring_nothing_is_an_error_not_a_zero() {
    let classifier = load_classifier(Path::new("data/models/rnn-fine"), &Device::Cpu).unwrap();
    let neutral: Vec<_> = NEUTRAL
        .lines()
        .enumerate()
        .map(|(i, l)| salient::data::sst::parse_tree(l, Path::new("x"), i + 1).unwrap())
        .collect();
    assert!(matches!(
        evaluate(&classifier.model, &classifier.vocab, &[], Task::Fine),
        Err(Error::NoSentenceToScore { trees: 0, .. })
    ));
    assert!(matches!(
        evaluate(&classifier.model, &classifier.vocab, &neutral, Task::Binary),
        Err(Error::NoSentenceToScore { trees: 2, task: "binary" })
    ));
    assert_eq!(evaluate(&classifier.model, &classifier.vocab, &neutral, Task::Fine).unwrap().sentences, 2);
    let autoencoder = load_autoencoder(Path::new("data/models/autoencoder"), &Device::Cpu, DType::F32).unwrap();
    match evaluate_reconstruction(&autoencoder.model, &[], 4, 8) {
        Err(e @ Error::NoSentenceToReconstruct { too_long: 4, .. }) => {
            assert!(e.to_string().contains("4 longer"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn autoencoder_refuses_splits_without_a_usable_sentence() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.txt"), "the cat sat .\na dog ran .\n").unwrap();
    let dev = dir.path().join("dev.txt");
    std::fs::write(&dev, "the cat sat on a mat in the sun .\r\n").unwrap();
    let out = dir.path().join("out");
    let (ok, _, err) = salient(&[
        "autoencoder",
        "train",
        "--data",
        s(dir.path()),
        "--out",
        s(&out),
        "--epochs",
        "1",
        "--max-len",
        "5",
        "--embedding-dim",
        "4",
        "--hidden-dim",
        "4",
    ]);
    assert!(!ok && err.contains(s(&dev)) && err.contains("no usable sentence"), "{err}");
    assert!(!out.join("config.json").exists());
    std::fs::write(dir.path().join("test.txt"), "\u{feff}").unwrap();
    let (ok, _, err) = salient(&["autoencoder", "eval", "--data", s(dir.path()), "--split", "test"]);
    assert!(!ok && err.contains("test.txt") && err.contains("no sentences"), "{err}");
}

#[test]
fn reconstruct_json_exact_compares_ids_so_unknown_words_count() {
    let (ok, out, err) = salient(&[
        "autoencoder",
        "reconstruct",
        "--json",
        "--text",
        "the zorblax is here .",
        "--text",
        "the cat sat on the mat .",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // The unknown word comes back as [UNK], which is what the model read: a perfect rebuild.
    assert_eq!(lines[0]["output"], serde_json::json!(["the", "[UNK]", "is", "here", "."]));
    assert_eq!(lines[0]["exact"], true);
    assert_eq!(lines[1]["exact"], false, "{}", lines[1]);
}

#[test]
fn saliency_of_the_reference_reports_whether_the_greedy_output_is_exact() {
    let loaded = load_autoencoder(Path::new("data/models/autoencoder"), &Device::Cpu, DType::F32).unwrap();
    for (text, exact) in [("the cat sat on the mat .", false), ("the minister said on tuesday .", true)] {
        let sentence = Sentence::encode(&loaded.vocab, 1, "--text 1", text, 30).unwrap();
        for outputs in [OutputChoice::Greedy, OutputChoice::Reference] {
            let r = explain(&loaded, &sentence, ScoreKind::Logit, outputs, 30).unwrap();
            assert_eq!(r.exact, exact, "{text} {outputs:?}");
        }
        let reference = explain(&loaded, &sentence, ScoreKind::Logit, OutputChoice::Reference, 30).unwrap();
        assert_eq!(reference.output_tokens.len(), sentence.ids.len() + 1, "the reference and [EOS]");
    }
}
