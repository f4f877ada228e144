//! One figure kind, one definition: each kind made through its command and through a one-figure
//! export spec gives the same files with the same bytes; spec errors name the figure and the
//! option; every option of a command can be written in a spec.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::salient;
use salient::export::manifest::RECORD;
use salient::figures::spec::Spec;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir` with its bytes, by path relative to `dir`; not salient's record of
/// what it wrote (`.salient.jsonl`, which names the run's paths).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == RECORD {
            continue;
        }
        out.insert(path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap());
    }
    out
}

/// A spec option's TOML text from a command-line value.
fn toml_value(key: &str, value: &str) -> String {
    let repeated = ["text", "highlight"];
    if repeated.contains(&key) {
        return format!("[{value:?}]");
    }
    if key == "methods" {
        let items: Vec<String> = value.split(',').map(|v| format!("{v:?}")).collect();
        return format!("[{}]", items.join(", "));
    }
    if value.parse::<f64>().is_ok() {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

/// Make `kind` with the command `command` and `args` (`--key value` pairs or `--flag`), and
/// through a spec with the same options; the two directories must hold the same bytes.
fn same_both_ways(command: &[&str], kind: &str, args: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let by_cli = tmp.path().join("cli");
    let mut cli_args: Vec<&str> = command.to_vec();
    cli_args.extend_from_slice(args);
    cli_args.extend_from_slice(&["--out", s(&by_cli), "--threads", "2"]);
    let (ok, _, err) = salient(&cli_args);
    assert!(ok, "{command:?}: {err}");

    let mut spec = format!("[[figure]]\nname = \"fig\"\nkind = \"{kind}\"\n");
    let mut k = 0;
    while k < args.len() {
        let key = args[k].trim_start_matches("--").replace('-', "_");
        match args.get(k + 1).filter(|v| !v.starts_with("--")) {
            Some(value) => {
                spec += &format!("{key} = {}\n", toml_value(&key, value));
                k += 2;
            }
            None => {
                spec += &format!("{key} = true\n");
                k += 1;
            }
        }
    }
    let spec_path = tmp.path().join("one.toml");
    std::fs::write(&spec_path, &spec).unwrap();
    let by_spec = tmp.path().join("spec");
    let (ok, _, err) = salient(&["export", "--spec", s(&spec_path), "--out", s(&by_spec), "--threads", "1"]);
    assert!(ok, "{spec}\n{err}");

    let a = files(&by_cli);
    let b = files(&by_spec.join("fig"));
    assert!(!a.is_empty());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{kind}: the same files");
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{kind}: {name} differs between the command and the spec");
    }
    for format in ["svg", "csv", "json", "html"] {
        assert!(a.keys().any(|n| n.ends_with(format)), "{kind}: no {format} file among {:?}", a.keys());
    }
}

#[test]
fn saliency_is_the_same_from_the_command_and_the_spec() {
    let model = root().join("data/models/lstm-fine");
    same_both_ways(
        &["saliency"],
        "saliency",
        &["--model", s(&model), "--text", "I hate the movie .", "--method", "ig", "--steps", "8", "--shared-scale"],
    );
}

#[test]
fn heatmaps_are_the_same_from_the_command_and_the_spec() {
    let model = root().join("data/models/bilstm-fine");
    for view in ["representation", "states", "gates"] {
        same_both_ways(&["heatmap"], "heatmap", &["--model", s(&model), "--text", "not bad", "--view", view]);
    }
}

#[test]
fn projections_are_the_same_from_the_command_and_the_spec() {
    let model = root().join("data/models/lstm-fine");
    same_both_ways(
        &["tsne"],
        "tsne",
        &["--model", s(&model), "--preset", "negation", "--iterations", "300", "--seed", "4", "--labels", "all"],
    );
}

#[test]
fn autoencoder_saliency_is_the_same_from_the_command_and_the_spec() {
    let model = root().join("data/models/autoencoder");
    same_both_ways(
        &["autoencoder", "saliency"],
        "autoencoder-saliency",
        &["--model", s(&model), "--text", "The government said on Monday .", "--score", "logprob"],
    );
}

#[test]
fn faithfulness_is_the_same_from_the_command_and_the_spec() {
    let model = root().join("data/models/rnn-fine");
    let data = root().join("data/sst");
    same_both_ways(
        &["faithfulness"],
        "faithfulness",
        &["--model", s(&model), "--data", s(&data), "--methods", "grad,erasure", "--limit", "6", "--split", "dev"],
    );
}

#[test]
fn spec_errors_name_the_figure_and_the_option() {
    let parse = |text: &str| Spec::parse(text, "s.toml", Path::new(".")).unwrap_err().to_string();
    let e = parse("[[figure]]\nname = \"a\"\nkind = \"saliency\"\nsteps = \"many\"\n");
    assert!(e.contains("s.toml") && e.contains("figure `a`") && e.contains("`steps`"), "{e}");
    let e = parse("[[figure]]\nname = \"a\"\nkind = \"heatmap\"\nmethod = \"grad\"\n");
    assert!(e.contains("`method`") && e.contains("not an option of a heatmap figure") && e.contains("view"), "{e}");
    let e = parse("[defaults]\nperplexty = 3\n[[figure]]\nname = \"a\"\nkind = \"tsne\"\n");
    assert!(e.contains("defaults.perplexty"), "{e}");
    let e = parse("[[figure]]\nname = \"a\"\nkind = \"tsne\"\nformat = [\"gif\"]\n");
    assert!(e.contains("`format`") && e.contains("svg, csv, json, html"), "{e}");
    let e = parse("[[figure]]\nname = \"a\"\nkind = \"heatmap\"\nview = \"weights\"\n");
    assert!(e.contains("`view`") && e.contains("weights"), "{e}");
}

#[test]
fn defaults_fill_only_the_options_a_kind_has_and_paths_follow_the_spec() {
    let spec = Spec::parse(
        "[defaults]\nmodel = \"m\"\nmethod = \"ig\"\nformat = [\"csv\"]\n\
         [[figure]]\nname = \"a\"\nkind = \"saliency\"\n\
         [[figure]]\nname = \"b\"\nkind = \"heatmap\"\nmodel = \"/abs\"\nformat = [\"svg\"]\n",
        "s.toml",
        Path::new("specs"),
    )
    .unwrap();
    use salient::figures::spec::FigureOptions;
    use salient::figures::Format;
    let FigureOptions::Saliency(a) = &spec.figures[0].options else { panic!("a is a saliency figure") };
    assert_eq!(a.method, "ig");
    assert_eq!(a.model.model.as_deref(), Some(Path::new("specs/m")));
    assert_eq!(a.method_args.steps, 50, "the command's default");
    assert_eq!(spec.figures[0].formats, Some(vec![Format::Csv]));
    let FigureOptions::Heatmap(b) = &spec.figures[1].options else { panic!("b is a heatmap") };
    assert_eq!(b.model.model.as_deref(), Some(Path::new("/abs")));
    assert_eq!(spec.figures[1].formats, Some(vec![Format::Svg]));
}

#[test]
fn a_format_list_limits_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let (ok, _, err) =
        salient(&["heatmap", "--text", "good", "--model", "data/models/rnn-fine", "--out", s(&out), "--format", "csv"]);
    assert!(ok, "{err}");
    assert_eq!(files(&out).keys().collect::<Vec<_>>(), ["heatmap.csv"]);
}

#[test]
fn hostile_text_stays_inert_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let hostile = "=HYPERLINK(\"x\") the movie <script>alert(1)</script> \"><img src=x onerror=alert(1)> 'good'";
    let model = root().join("data/models/lstm-fine");
    let (ok, _, err) = salient(&["saliency", "--model", s(&model), "--text", hostile, "--out", s(&out)]);
    assert!(ok, "{err}");
    let svg = std::fs::read_to_string(out.join("sentence-0001.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    assert!(doc.descendants().all(|n| !matches!(n.tag_name().name(), "script" | "img")), "no element from the text");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    // The page's own two scripts (its data and its code) and no other markup from the text.
    assert!(html.matches("<script").count() == 2 && !html.contains("<img"), "the page holds no markup from the text");
    assert!(!html.contains("<script>alert") && html.contains("\\u003cscript\\u003ealert(1)"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("saliency.json")).unwrap()).unwrap();
    assert_eq!(json["results"][0]["text"], hostile, "JSON keeps the text exactly");
    let csv = std::fs::read_to_string(out.join("tokens.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let words: Vec<String> = reader.records().map(|r| r.unwrap()[3].to_string()).collect();
    assert!(words.iter().all(|w| !w.starts_with(['=', '+', '@'])), "no cell starts a formula: {words:?}");
    assert_eq!(words[0], "'=HYPERLINK", "neutralised with an apostrophe: {words:?}");
    assert_eq!(salient::export::csv::original_cell(&words[0]), "=HYPERLINK");
}

/// `notebooks-export/paper` is what `salient export --spec examples/paper.toml` makes now: a
/// change that alters any figure, table or record of the paper shows here (remake the bundle
/// with the command in notebooks-export/README.md and say why in the commit).
#[test]
fn the_committed_paper_bundle_is_current() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("paper");
    let out_arg = out.to_str().unwrap();
    let status = common::salient_cmd()
        .args(["export", "--spec", "examples/paper.toml", "--out", out_arg, "--quiet"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success());
    let shipped = root().join("notebooks-export/paper");
    let mut names = Vec::new();
    for figure in std::fs::read_dir(&out).unwrap() {
        let path = figure.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            for (file, bytes) in files(&path) {
                let committed = std::fs::read(shipped.join(&name).join(&file)).unwrap_or_default();
                assert!(committed == bytes, "notebooks-export/paper/{name}/{file} is stale");
                names.push(format!("{name}/{file}"));
            }
        } else if name != RECORD {
            assert!(std::fs::read(shipped.join(&name)).unwrap() == std::fs::read(&path).unwrap(), "{name} is stale");
        }
    }
    assert!(names.len() > 50, "{names:?}");
    for figure in std::fs::read_dir(&shipped).unwrap() {
        let path = figure.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for file in files(&path).keys() {
                assert!(
                    names.contains(&format!("{name}/{file}")),
                    "notebooks-export/paper/{name}/{file} is not made any more"
                );
            }
        }
    }
}
