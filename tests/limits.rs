//! Bounded work: requests whose work grows without bound are refused before the work starts,
//! with an error that names the option and the flag that lifts the limit; within the limits (or
//! with the limit raised) the same requests run.

mod common;

use std::time::{Duration, Instant};

use common::salient;

/// A balanced tree over `n` leaves (`w0` .. `w{n-1}`), every node labelled `label`.
fn balanced_tree(words: &[String], label: u8) -> String {
    if words.len() == 1 {
        return format!("({label} {})", words[0]);
    }
    let (left, right) = words.split_at(words.len() / 2);
    format!("({label} {} {})", balanced_tree(left, label), balanced_tree(right, label))
}

/// Run `args` and expect a quick failure whose message contains every one of `expected`.
fn refused(args: &[&str], expected: &[&str]) {
    let start = Instant::now();
    let (ok, _, err) = salient(args);
    assert!(!ok, "{args:?} should fail");
    for e in expected {
        assert!(err.contains(e), "{args:?}: expected {e:?} in\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    // Refused before the work: well under what the work itself would take (minutes).
    assert!(start.elapsed() < Duration::from_secs(60), "{args:?} took {:?}", start.elapsed());
}

#[test]
fn a_tree_above_the_token_limit_names_its_line_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let words: Vec<String> = (0..1_500).map(|i| format!("w{i}")).collect();
    let big = balanced_tree(&words, 3);
    let small = "(1 (2 a) (1 bad))";
    std::fs::write(dir.path().join("dev.txt"), format!("{small}\n{big}\n")).unwrap();
    let data = dir.path().to_str().unwrap();
    refused(
        &["eval", "--data", data, "--split", "dev"],
        &["dev.txt:2", "1500 tokens", "limit of 1000", "--max-tree-tokens"],
    );
    refused(&["eval", "--data", data, "--split", "dev", "--max-tree-tokens", "100"], &["dev.txt:2", "limit of 100"]);
    // Raised, the same split is scored: two sentences.
    let (ok, out, err) = salient(&["eval", "--data", data, "--split", "dev", "--max-tree-tokens", "2000", "--json"]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["sentences"], 2, "{out}");
    let (ok, _, err) = salient(&["eval", "--data", data, "--split", "dev", "--no-limits"]);
    assert!(ok, "{err}");
}

#[test]
fn options_that_multiply_the_work_are_bounded() {
    refused(
        &["autoencoder", "reconstruct", "--text", "the market fell .", "--beam", "1000000"],
        &["beam = 1000000", "limit of 256", "--no-limits"],
    );
    refused(&["saliency", "--text", "a good film", "--threads", "1000000"], &["threads = 1000000", "--no-limits"]);
    refused(&["saliency", "--text", "a good film", "--threads", "0"], &["--threads must be at least 1"]);
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("out");
    let out = out.to_str().unwrap();
    refused(
        &["saliency", "--text", "a good film", "--method", "ig", "--steps", "100000000", "--out", out],
        &["steps = 100000000", "limit of 10000", "--no-limits"],
    );
    refused(
        &["saliency", "--text", "a good film", "--method", "smoothgrad", "--samples", "100000000", "--out", out],
        &["samples = 100000000", "--no-limits"],
    );
    refused(
        &["tsne", "--sample", "100000000", "--out", out],
        &["sample = 100000000", "limit of 100000", "--no-limits"],
    );
    refused(&["tsne", "--preset", "negation", "--iterations", "100000000", "--out", out], &["iterations = 100000000"]);
    // 3 x perplexity + 1 above usize::MAX wrapped to a small count and was accepted.
    refused(&["tsne", "--preset", "negation", "--perplexity", "1e300", "--out", out], &["invalid perplexity"]);
    assert!(!std::path::Path::new(out).join("tsne.svg").exists());
}

#[test]
fn no_limits_lifts_them() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("out");
    let (ok, _, err) = salient(&[
        "saliency",
        "--text",
        "a good film",
        "--threads",
        "300",
        "--no-limits",
        "--out",
        dir.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(ok, "{err}");
    assert!(dir.join("saliency.csv").exists());
}
