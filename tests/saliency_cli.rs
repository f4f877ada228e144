//! `salient saliency`, `heatmap` and `faithfulness` end to end, on small models trained here on
//! a toy treebank (so these tests do not wait for the shipped models).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::Device;
use salient::data::Task;
use salient::limits::Limits;
use salient::model::Arch;
use salient::train::{train, TrainOptions};

mod common;

use common::{salient, write_treebank};

/// The toy data and an LSTM and an RNN trained on it, once for all tests.
fn fixture() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static FIXTURE: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_treebank(dir.path());
        let mut models = Vec::new();
        for arch in [Arch::LSTM, Arch::RNN] {
            let out = dir.path().join(arch.name());
            let options = TrainOptions {
                embedding_dim: 8,
                hidden_dim: 6,
                epochs: 8,
                batch_size: 4,
                lr: 0.3,
                dropout: 0.0,
                init_scale: 0.3,
                ..TrainOptions::recommended(arch, Task::Fine)
            };
            train(dir.path(), &out, options, false, &Limits::DEFAULT, &Device::Cpu, &mut |_| {}).unwrap();
            models.push(out);
        }
        let rnn = models.pop().unwrap();
        let lstm = models.pop().unwrap();
        (dir, lstm, rnn)
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn saliency_writes_figures_csv_json_and_an_index() {
    let (_, lstm, _) = fixture();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("figs");
    let (ok, _, err) = salient(&[
        "saliency",
        "--model",
        s(lstm),
        "--text",
        "the film is good",
        "--text",
        "the <script> & movie is bad",
        "--out",
        s(&dir),
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("not in the vocabulary") && err.contains("<script>"), "unknown words are noted: {err}");
    for f in ["sentence-0001.svg", "sentence-0002.svg", "index.html", "saliency.csv", "tokens.csv", "saliency.json"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let svg = std::fs::read_to_string(dir.join("sentence-0002.svg")).unwrap();
    assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"), "tokens are escaped");
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert!(svg.contains("lstm · grad · S_c = exp(z_c) · class "), "title names model, method, score, class");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("saliency.json")).unwrap()).unwrap();
    let first = &json["results"][0];
    let p = &first["provenance"];
    assert_eq!(p["method"], "grad");
    assert_eq!(p["score"], "paper");
    assert_eq!(p["class"], "predicted");
    assert_eq!(p["model"]["weights_sha256"].as_str().unwrap().len(), 64);
    assert!(p["model"]["dir"].as_str().unwrap().ends_with("lstm"));
    assert_eq!(first["tokens"].as_array().unwrap().len(), 4);
    assert_eq!(first["matrix"][0].as_array().unwrap().len(), 8, "tokens x 8 embedding dimensions");
    let csv = std::fs::read_to_string(dir.join("saliency.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("sentence,position,token,word,dimension,value"));
    assert_eq!(csv.lines().count(), 1 + (4 + 6) * 8, "one line per sentence, token and dimension");
    assert!(
        csv.lines().any(|l| l.starts_with("2,1,") && l.contains(",<script>,0,")),
        "long format keeps the token and the word: {csv}"
    );
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(index.matches("<svg").count() == 2 && index.contains("\\u003cscript\\u003e"), "figures inline");
    assert!(index.matches("<script").count() == 2, "no markup from the input, only the page's data and code");

    // Nothing is overwritten without --force.
    let (ok, _, err) = salient(&["saliency", "--model", s(lstm), "--text", "the film is good", "--out", s(&dir)]);
    assert!(!ok);
    assert!(err.contains("already exists") && err.contains("--force"), "{err}");
    let (ok, _, err) = salient(&[
        "saliency",
        "--model",
        s(lstm),
        "--text",
        "the film is good",
        "--out",
        s(&dir),
        "--force",
        "--format",
        "svg",
    ]);
    assert!(ok, "{err}");
}

#[test]
fn bad_lines_are_reported_and_the_others_still_written() {
    let (_, lstm, _) = fixture();
    let out = tempfile::tempdir().unwrap();
    let input = out.path().join("in.txt");
    std::fs::write(&input, "the film is good\nzorp blargh\n\nthe movie is not bad at all the end\nthe plot is poor\n")
        .unwrap();
    let dir = out.path().join("o");
    let (ok, _, err) = salient(&[
        "saliency",
        "--model",
        s(lstm),
        "--input",
        s(&input),
        "--out",
        s(&dir),
        "--method",
        "ig",
        "--steps",
        "16",
        "--max-tokens",
        "6",
        "--shared-scale",
    ]);
    assert!(!ok, "failures make the exit status non-zero");
    assert!(err.contains("line 2") && err.contains("every word is unknown"), "{err}");
    assert!(err.contains("line 4") && err.contains("more than the limit of 6"), "{err}");
    assert!(err.contains("2 input(s) could not be used"), "{err}");
    assert!(dir.join("sentence-0001.svg").is_file() && dir.join("sentence-0005.svg").is_file());
    assert!(!dir.join("sentence-0002.svg").exists());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("saliency.json")).unwrap()).unwrap();
    assert_eq!(json["results"].as_array().unwrap().len(), 2);
    assert_eq!(json["failures"].as_array().unwrap().len(), 2);
    assert_eq!(json["failures"][0]["at"], "line 2");
    let c = &json["results"][0]["completeness"];
    assert!(c["error"].as_f64().unwrap() >= 0.0 && c["delta"].is_number(), "IG reports completeness: {c}");
    assert_eq!(json["results"][0]["provenance"]["options"]["steps"], 16);
    let svg = std::fs::read_to_string(dir.join("sentence-0001.svg")).unwrap();
    assert!(svg.contains("completeness"));
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(index.contains("line 2") && index.contains("failed"));
}

#[test]
fn clear_errors_for_bad_requests() {
    let (tmp, lstm, _) = fixture();
    let out = tmp.path().join("never");
    let run = |extra: &[&str]| {
        let mut args = vec!["saliency", "--model", s(lstm), "--out", s(&out)];
        args.extend_from_slice(extra);
        salient(&args)
    };
    let (ok, _, err) = run(&["--text", "the film", "--method", "lime"]);
    assert!(!ok && err.contains("'lime'") && err.contains("grad, grad-input, ig"), "{err}");
    let (ok, _, err) = run(&["--text", "   "]);
    assert!(!ok && err.contains("the sentence is empty"), "{err}");
    let (ok, _, err) = run(&["--text", "qqq xxx"]);
    assert!(!ok && err.contains("every word is unknown"), "{err}");
    let (ok, _, err) = run(&["--text", "the film", "--class", "happy"]);
    assert!(!ok && err.contains("--class") && err.contains("very positive"), "{err}");
    let (ok, _, err) = run(&["--text", "the film", "--method", "ig", "--steps", "0"]);
    assert!(!ok && err.contains("--steps"), "{err}");
    let (ok, _, err) = run(&["--text", "the film", "--vmin", "2", "--vmax", "1"]);
    assert!(!ok && err.contains("vmin"), "{err}");
    // An output directory that cannot be created (its parent is a file).
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let (ok, _, err) = salient(&["saliency", "--model", s(lstm), "--text", "the film", "--out", s(&file.join("sub"))]);
    assert!(!ok && err.contains("--out") && err.contains("cannot write into"), "{err}");
    let (ok, _, err) = salient(&["saliency", "--model", "/nonexistent/m", "--text", "x", "--out", s(&out)]);
    assert!(!ok && err.contains("/nonexistent/m"), "{err}");
    assert!(!out.exists(), "failed runs leave no output directory behind");
}

#[test]
fn every_method_and_score_runs_from_the_command_line() {
    let (_, lstm, _) = fixture();
    let out = tempfile::tempdir().unwrap();
    for (k, method) in ["grad", "grad-input", "ig", "smoothgrad", "erasure", "variance"].iter().enumerate() {
        let score = ["logit", "prob", "paper", "logprob", "logprob", "paper"][k];
        let dir = out.path().join(method);
        let (ok, _, err) = salient(&[
            "saliency",
            "--model",
            s(lstm),
            "--text",
            "the movie is great",
            "--out",
            s(&dir),
            "--method",
            method,
            "--score",
            score,
            "--class",
            "positive",
            "--samples",
            "4",
            "--steps",
            "8",
            "--format",
            "svg,json",
        ]);
        assert!(ok, "{method}: {err}");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("saliency.json")).unwrap()).unwrap();
        assert_eq!(json["results"][0]["provenance"]["method"], *method);
        if *method != "variance" {
            assert_eq!(json["results"][0]["class"], 3);
            assert_eq!(json["results"][0]["provenance"]["score"], score);
        }
        assert!(!dir.join("saliency.csv").exists(), "only the formats asked for");
    }
}

#[test]
fn heatmap_views() {
    let (_, lstm, rnn) = fixture();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("repr");
    let (ok, _, err) = salient(&[
        "heatmap",
        "--model",
        s(lstm),
        "--text",
        "good",
        "--text",
        "not good",
        "--text",
        "bad",
        "--text",
        "not bad",
        "--out",
        s(&dir),
    ]);
    assert!(ok, "{err}");
    let svg = std::fs::read_to_string(dir.join("representation.svg")).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
    assert!(svg.contains("not bad") && svg.contains("final representation"));
    let csv = std::fs::read_to_string(dir.join("heatmap.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("view,sentence,position,token,dimension,value"));
    assert_eq!(csv.lines().count(), 1 + 4 * 6);

    let dir = out.path().join("gates");
    let (ok, _, err) =
        salient(&["heatmap", "--model", s(lstm), "--text", "the film is good", "--out", s(&dir), "--view", "gates"]);
    assert!(ok, "{err}");
    for gate in ["input", "forget", "output"] {
        assert!(dir.join(format!("gates-0001-{gate}-forward.svg")).is_file(), "{gate}");
    }
    let dir = out.path().join("states");
    let (ok, _, err) =
        salient(&["heatmap", "--model", s(rnn), "--text", "the film is good", "--out", s(&dir), "--view", "states"]);
    assert!(ok, "{err}");
    assert!(dir.join("states-0001.svg").is_file());
    let (ok, _, err) = salient(&[
        "heatmap",
        "--model",
        s(rnn),
        "--text",
        "the film",
        "--out",
        s(&out.path().join("g")),
        "--view",
        "gates",
    ]);
    assert!(!ok && err.contains("no gates"), "{err}");
}

#[test]
fn faithfulness_prints_a_table_with_the_random_baseline() {
    let (tmp, lstm, _) = fixture();
    let json = tmp.path().join("faith.json");
    let (ok, table, err) = salient(&[
        "faithfulness",
        "--model",
        s(lstm),
        "--data",
        s(tmp.path()),
        "--split",
        "test",
        "--methods",
        "grad,erasure",
        "--limit",
        "8",
        "--out",
        s(&json),
        "--format",
        "json,csv",
    ]);
    assert!(ok, "{err}");
    for word in ["| grad |", "| erasure |", "| random |", "AOPC comp", "comp 10%", "suff 50%"] {
        assert!(table.contains(word), "{word} missing from\n{table}");
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json.join("faithfulness.json")).unwrap()).unwrap();
    let report = &doc["results"][0];
    let csv = std::fs::read_to_string(json.join("faithfulness.csv")).unwrap();
    assert!(csv.starts_with("method,measure,fraction,value\n") && csv.contains("random,aopc_sufficiency,,"), "{csv}");
    assert_eq!(report["sentences"], 8);
    assert_eq!(report["methods"].as_array().unwrap().len(), 3);
    assert_eq!(report["options"]["fractions"], serde_json::json!([0.1, 0.2, 0.5]));
    let (ok, _, err) =
        salient(&["faithfulness", "--model", s(lstm), "--data", s(tmp.path()), "--methods", "grad,nope"]);
    assert!(!ok && err.contains("'nope'") && err.contains("grad-input"), "{err}");
}
