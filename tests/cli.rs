//! The `salient` binary: help, errors that say what to do, and eval's JSON.

mod common;

use common::salient;

#[test]
fn help_lists_every_subcommand_and_train_option() {
    let (ok, out, _) = salient(&["--help"]);
    assert!(ok);
    assert!(out.contains("train") && out.contains("eval"));
    let (ok, out, _) = salient(&["train", "--help"]);
    assert!(ok);
    for flag in [
        "--arch",
        "--task",
        "--data",
        "--out",
        "--epochs",
        "--batch-size",
        "--lr",
        "--l2",
        "--dropout",
        "--seed",
        "--device",
        "--resume",
    ] {
        assert!(out.contains(flag), "train --help lacks {flag}");
    }
}

#[test]
fn bad_arguments_and_missing_models_are_clear_errors() {
    let (ok, _, err) = salient(&["eval", "--model", "/nonexistent/model"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/model") && err.contains("--model"), "{err}");
    let (ok, _, err) = salient(&["train", "--arch", "transformer", "--task", "fine"]);
    assert!(!ok);
    assert!(err.contains("transformer") && err.contains("bigru"), "{err}");
    let (ok, _, err) = salient(&["eval", "--split", "validation"]);
    assert!(!ok);
    assert!(err.contains("validation"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = salient(&["train", "--arch", "rnn", "--task", "fine", "--data", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("train.txt") && err.contains("--data"), "{err}");
    let (ok, _, err) = salient(&[
        "train",
        "--arch",
        "rnn",
        "--task",
        "fine",
        "--dropout",
        "1.5",
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("--dropout"), "{err}");
}

#[test]
fn eval_json_has_the_documented_keys() {
    let (ok, out, err) = salient(&["eval", "--model", "data/models/rnn-binary", "--split", "dev", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for key in ["arch", "task", "split", "sentence_accuracy", "phrase_accuracy", "sentences", "phrases"] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["arch"], "rnn");
    assert_eq!(v["task"], "binary");
    assert_eq!(v["split"], "dev");
    assert_eq!(v["sentences"], 872);
}
