//! Labelled text through the whole pipeline, by the built binary: train, eval, saliency, t-SNE,
//! faithfulness and export on `data/sst-tsv` (SST-2 sentences as TSV, made by
//! `scripts/make_sst_tsv.py`), class names from the data in every output; and a small data set
//! of its own (jsonl, csv and tsv splits, other field names, classes fixed by `--classes`,
//! integer labels), with bad rows reported by file and line.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::salient;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The rows of a gzip TSV file (header dropped), as (text, label).
fn tsv_rows(path: &Path) -> Vec<(String, String)> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text.lines().skip(1).map(|l| l.split_once('\t').unwrap()).map(|(t, l)| (t.into(), l.into())).collect()
}

/// The values of a CSV column.
fn column(path: &Path, name: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let at = reader.headers().unwrap().iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column"));
    reader.records().map(|r| r.unwrap()[at].to_string()).collect()
}

#[test]
fn the_sst_tsv_example_runs_through_the_whole_pipeline() {
    let data = root().join("data/sst-tsv");
    let work = tempfile::tempdir().unwrap();
    let model = work.path().join("model");
    let (ok, _, err) = salient(&[
        "train",
        "--arch",
        "lstm",
        "--data",
        s(&data),
        "--out",
        s(&model),
        "--epochs",
        "2",
        "--embedding-dim",
        "16",
        "--hidden-dim",
        "16",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("classes (in order): negative, positive"), "{err}");
    assert!(err.contains("no phrase labels"), "{err}");
    let config = json(&model.join("config.json"));
    assert_eq!(config["model"]["task"], serde_json::json!({"classes": ["negative", "positive"]}));
    assert!(config["dev"].get("phrase_accuracy").is_none(), "no phrase accuracy is made up: {}", config["dev"]);

    // Eval: sentence level only, over every row of the test file.
    let test = tsv_rows(&data.join("test.tsv.gz"));
    let (ok, out, err) = salient(&["eval", "--model", s(&model), "--data", s(&data)]);
    assert!(ok, "{err}");
    assert!(out.contains("phrase accuracy not available"), "{out}");
    let (ok, out, err) = salient(&["eval", "--model", s(&model), "--data", s(&data), "--json"]);
    assert!(ok, "{err}");
    let scores: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(scores["sentences"], test.len());
    assert_eq!(scores["classes"], serde_json::json!(["negative", "positive"]));
    assert!(scores["phrase_accuracy"].is_null() && scores["phrases"].is_null(), "{scores}");
    let accuracy = scores["sentence_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.65, "two epochs of a small LSTM reach well above chance on SST-2: {accuracy}");
    // An SST model's data is not a labelled-text model's.
    let (ok, _, err) = salient(&["eval", "--model", s(&model), "--data", s(&root().join("data/sst"))]);
    assert!(!ok && err.contains("trained on labelled text") && err.contains("--data"), "{err}");

    // Saliency: a class by its name from the data.
    let sal = work.path().join("saliency");
    let (ok, _, err) = salient(&[
        "saliency",
        "--model",
        s(&model),
        "--text",
        "a gorgeous , witty film",
        "--text",
        "dull and lifeless",
        "--class",
        "positive",
        "--out",
        s(&sal),
        "--quiet",
    ]);
    assert!(ok, "{err}");
    let results = json(&sal.join("saliency.json"));
    let results = results["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!((&r["class"], &r["class_name"]), (&serde_json::json!(1), &serde_json::json!("positive")));
        assert_eq!(r["provenance"]["task"]["classes"], serde_json::json!(["negative", "positive"]));
    }
    let svg = std::fs::read_to_string(sal.join("sentence-0001.svg")).unwrap();
    assert!(svg.contains("class positive") && svg.contains("predicted "), "the figure names the classes");

    // t-SNE of sentences sampled from dev: gold and predicted classes by name.
    let tsne = work.path().join("tsne");
    let (ok, _, err) = salient(&[
        "tsne",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--sample",
        "40",
        "--perplexity",
        "8",
        "--out",
        s(&tsne),
        "--quiet",
    ]);
    assert!(ok, "{err}");
    let gold = column(&tsne.join("tsne.csv"), "gold");
    assert_eq!(gold.len(), 40);
    let dev: Vec<String> = tsv_rows(&data.join("dev.tsv.gz")).into_iter().map(|(_, l)| l).collect();
    for class in ["negative", "positive"] {
        assert!(gold.iter().any(|g| g == class), "40 dev sentences hold both classes: {gold:?}");
    }
    assert!(gold.iter().all(|g| dev.contains(g)));
    assert_eq!(column(&tsne.join("tsne.csv"), "p_positive").len(), 40);
    assert_eq!(json(&tsne.join("tsne.json"))["results"][0]["classes"], serde_json::json!(["negative", "positive"]));

    // Faithfulness on test sentences.
    let (ok, out, err) = salient(&[
        "faithfulness",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--limit",
        "6",
        "--methods",
        "grad",
        "--json",
    ]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["sentences"].as_u64(), &report["task"]["classes"][1]),
        (Some(6), &serde_json::json!("positive"))
    );

    // Export: a saliency and a t-SNE figure from one spec.
    let spec = work.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "[defaults]\nmodel = {:?}\n\n[[figure]]\nname = \"words\"\nkind = \"saliency\"\ntext = [\"a witty film\"]\n\
             class = \"negative\"\n\n[[figure]]\nname = \"map\"\nkind = \"tsne\"\ndata = {:?}\nsample = 30\nperplexity = 5\n",
            s(&model),
            s(&data)
        ),
    )
    .unwrap();
    let paper = work.path().join("paper");
    let (ok, _, err) = salient(&["export", "--spec", s(&spec), "--out", s(&paper), "--quiet"]);
    assert!(ok, "{err}");
    let words = json(&paper.join("words/saliency.json"));
    assert_eq!(words["results"][0]["class_name"], "negative");
    assert_eq!(column(&paper.join("map/tsne.csv"), "p_negative").len(), 30);
    let manifest = std::fs::read_to_string(paper.join("manifest.json")).unwrap();
    assert!(!manifest.contains("\"failed\""), "{manifest}");
}

/// A data set of its own: every format, other field names, classes fixed in an order of the
/// user's, labels by name or index.
fn write_reviews(dir: &Path) {
    let raves = ["a triumph", "simply wonderful", "great fun", "a delight", "truly moving", "warm and funny"];
    let pans = ["a mess", "truly awful", "dull and flat", "a bore", "painfully slow", "cold and lifeless"];
    let mut jsonl = String::new();
    for (r, p) in raves.iter().zip(pans) {
        jsonl += &format!("{{\"review\": \"{r}\", \"verdict\": \"rave\", \"id\": 1}}\n");
        jsonl += &format!("{{\"review\": \"{p}\", \"verdict\": \"pan\"}}\n");
    }
    std::fs::write(dir.join("train.jsonl"), jsonl).unwrap();
    // dev: csv with quoting, labels as indices into --classes rave,pan.
    std::fs::write(dir.join("dev.csv"), "verdict,review\n0,\"great, warm fun\"\n1,\"awful, dull mess\"\n").unwrap();
    std::fs::write(dir.join("test.tsv"), "review\tverdict\nsimply a triumph\trave\na dull bore\tpan\n").unwrap();
}

#[test]
fn own_data_with_other_fields_and_fixed_classes() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("reviews");
    std::fs::create_dir(&data).unwrap();
    write_reviews(&data);
    let model = work.path().join("model");
    let fields = ["--text-field", "review", "--label-field", "verdict"];
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--arch", "rnn", "--data", s(&data), "--out", s(&model), "--epochs", "2"];
        args.extend_from_slice(&["--embedding-dim", "4", "--hidden-dim", "4"]);
        args.extend_from_slice(extra);
        salient(&args)
    };
    let (ok, _, err) = train(&[]);
    assert!(!ok && err.contains("train.jsonl:1: no `text` field") && err.contains("--text-field"), "{err}");
    let (ok, _, err) = train(&[&fields[..], &["--task", "fine"]].concat());
    assert!(!ok && err.contains("labelled text has its own classes"), "{err}");
    let (ok, _, err) = train(&[&fields[..], &["--classes", "rave,pan"]].concat());
    assert!(ok, "{err}");
    assert_eq!(json(&model.join("config.json"))["model"]["task"]["classes"], serde_json::json!(["rave", "pan"]));

    let (ok, out, err) =
        salient(&[&["eval", "--model", s(&model), "--data", s(&data), "--json"][..], &fields].concat());
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["sentences"], 2);
    let sal = work.path().join("saliency");
    let (ok, _, err) = salient(&["saliency", "--model", s(&model), "--text", "great fun", "--out", s(&sal), "--quiet"]);
    assert!(ok, "{err}");
    let name = json(&sal.join("saliency.json"))["results"][0]["class_name"].as_str().unwrap().to_string();
    assert!(name == "rave" || name == "pan", "{name}");
    let (ok, _, err) = salient(&[
        "saliency",
        "--model",
        s(&model),
        "--text",
        "great fun",
        "--class",
        "positive",
        "--out",
        s(&work.path().join("refused")),
    ]);
    assert!(!ok && err.contains("0 (rave), 1 (pan)"), "{err}");

    // A bad row: its file and line, and what to do.
    std::fs::write(data.join("test.tsv"), "review\tverdict\nfine\trave\nso-so\tmeh\n").unwrap();
    let (ok, _, err) = salient(&[&["eval", "--model", s(&model), "--data", s(&data)][..], &fields].concat());
    assert!(!ok && err.contains("test.tsv:3: unknown label `meh`; the classes are rave, pan"), "{err}");
    // Two files for one split: which is meant is unclear.
    std::fs::write(data.join("test.jsonl.gz"), "").unwrap();
    let (ok, _, err) = salient(&[&["eval", "--model", s(&model), "--data", s(&data)][..], &fields].concat());
    assert!(!ok && err.contains("test.tsv") && err.contains("test.jsonl.gz") && err.contains("keep one"), "{err}");
}
