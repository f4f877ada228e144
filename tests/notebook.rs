//! Jupyter notebooks (`--format ipynb`): every notebook salient writes is valid against the
//! official nbformat v4.5 JSON schema (`tests/data/nbformat/`), shows the very SVG files it sits
//! beside, reads only files that exist relative to itself, and keeps hostile text inert.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::salient;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The notebook at `path`, checked against the nbformat v4.5 schema and for unique cell ids.
fn valid_notebook(path: &Path) -> Value {
    let schema = read_json(&root().join("tests/data/nbformat/nbformat.v4.5.schema.json"));
    let validator = jsonschema::draft4::new(&schema).expect("the nbformat schema compiles");
    let notebook = read_json(path);
    let errors: Vec<String> =
        validator.iter_errors(&notebook).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{} is not a valid nbformat 4 notebook:\n{}", path.display(), errors.join("\n"));
    assert_eq!((notebook["nbformat"].as_u64(), notebook["nbformat_minor"].as_u64()), (Some(4), Some(5)));
    let mut ids = HashSet::new();
    for cell in cells(&notebook) {
        assert!(
            ids.insert(cell["id"].as_str().unwrap().to_string()),
            "{}: cell id {} twice",
            path.display(),
            cell["id"]
        );
    }
    notebook
}

fn cells(notebook: &Value) -> &Vec<Value> {
    notebook["cells"].as_array().unwrap()
}

fn source(cell: &Value) -> String {
    match &cell["source"] {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().map(|l| l.as_str().unwrap()).collect(),
        other => panic!("source {other}"),
    }
}

/// The stored SVG outputs of a notebook, in order.
fn svg_outputs(notebook: &Value) -> Vec<String> {
    cells(notebook)
        .iter()
        .filter_map(|c| c["outputs"].as_array())
        .flatten()
        .filter_map(|o| o["data"]["image/svg+xml"].as_array())
        .map(|lines| lines.iter().map(|l| l.as_str().unwrap()).collect())
        .collect()
}

/// Every `DIR = Path("…")` of the notebook's code cells, and every `"name.csv"` / `"name.svg"`
/// read after it: each must exist relative to the notebook's directory.
fn files_read_exist(notebook: &Value, dir: &Path) -> usize {
    let mut current: Option<PathBuf> = None;
    let mut checked = 0;
    for cell in cells(notebook).iter().filter(|c| c["cell_type"] == "code") {
        let code = source(cell);
        if let Some(rest) = code.split("DIR = Path(\"").nth(1) {
            let rel = rest.split('"').next().unwrap();
            assert!(!Path::new(rel).is_absolute(), "DIR is relative: {rel}");
            current = Some(dir.join(rel));
        }
        for quoted in code.split('"').skip(1).step_by(2) {
            if quoted.ends_with(".csv") || quoted.ends_with(".svg") {
                let base = current.as_ref().expect("DIR is set before a file is read");
                assert!(base.join(quoted).is_file(), "{} is read but not there", base.join(quoted).display());
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn the_paper_export_writes_valid_notebooks_that_show_every_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("paper");
    let status = common::salient_cmd()
        .args(["export", "--spec", "examples/paper.toml", "--out", s(&out), "--quiet", "--format", "ipynb"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success());

    let paper = valid_notebook(&out.join("paper.ipynb"));
    let manifest = read_json(&out.join("manifest.json"));
    let mut all_svgs = Vec::new();
    for figure in manifest["figures"].as_array().unwrap() {
        let name = figure["name"].as_str().unwrap();
        let dir = out.join(name);
        let own = valid_notebook(&dir.join("figures.ipynb"));
        // ipynb alone brings the SVG and CSV files its cells read.
        let mut svg_files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "svg"))
            .collect();
        svg_files.sort();
        assert!(!svg_files.is_empty(), "{name}: no SVG");
        assert!(std::fs::read_dir(&dir).unwrap().any(|e| e.unwrap().path().extension().is_some_and(|e| e == "csv")));
        let mut stored = svg_outputs(&own);
        stored.sort();
        let mut on_disk: Vec<String> = svg_files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
        on_disk.sort();
        assert!(stored == on_disk, "{name}: the notebook shows exactly the SVG files beside it");
        assert!(files_read_exist(&own, &dir) > svg_files.len(), "{name}: the figures and a CSV are read");
        all_svgs.extend(on_disk);
        let provenance = source(&cells(&own)[0]);
        let sha = figure["model"]["weights_sha256"].as_str().unwrap();
        assert!(provenance.contains(sha), "{name}: the provenance names the weights' SHA-256");
        assert!(provenance.contains("salient "), "{name}: and the command");
    }
    let mut stored = svg_outputs(&paper);
    stored.sort();
    all_svgs.sort();
    assert!(stored == all_svgs, "paper.ipynb shows every figure of the bundle");
    assert!(files_read_exist(&paper, &out) > all_svgs.len());
    assert!(
        source(&cells(&paper)[0]).contains("salient export \\-\\-spec")
            || source(&cells(&paper)[0]).contains("salient export --spec")
    );
    // The JSON and HTML were not asked for.
    assert!(!out.join("fig1b-negation/heatmap.json").exists() && !out.join("fig1b-negation/index.html").exists());
}

#[test]
fn hostile_text_stays_text_in_the_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let hostile = "a $x$ <img src=x onerror=alert(1)> \"\"\" ''' `x` ``` # *b* [l](javascript:alert(1)) \\ =SUM(A1) NA";
    let model = root().join("data/models/lstm-fine");
    let (ok, _, err) =
        salient(&["saliency", "--model", s(&model), "--text", hostile, "--out", s(&out), "--format", "ipynb"]);
    assert!(ok, "{err}");
    let notebook = valid_notebook(&out.join("figures.ipynb"));
    for cell in cells(&notebook).iter().filter(|c| c["cell_type"] == "markdown") {
        let text = source(cell);
        // Outside fenced blocks no markup can start: no `<`, and every `$`, `*`, `[`, `` ` ``
        // and `#` of the text is escaped.
        let mut fence: Option<String> = None;
        for line in text.lines() {
            match &fence {
                Some(f) if line == f => fence = None,
                Some(f) => assert!(!line.starts_with(f.as_str()), "nothing in a block ends it: {line}"),
                None if line.starts_with("```") => fence = Some(line.chars().take_while(|&c| c == '`').collect()),
                None => {
                    assert!(!line.contains('<'), "no HTML in markdown: {line}");
                    let chars: Vec<char> = line.chars().collect();
                    for (k, &c) in chars.iter().enumerate() {
                        if "$[]#`".contains(c) && !line.starts_with('#') {
                            assert!(k > 0 && chars[k - 1] == '\\', "`{c}` unescaped in: {line}");
                        }
                    }
                }
            }
        }
        assert!(fence.is_none(), "every block is closed");
    }
    let provenance = source(&cells(&notebook)[0]);
    let as_json = serde_json::to_string(hostile).unwrap();
    assert!(provenance.contains(&as_json), "the options show the text as JSON, in a code block");
    // The command, run by a shell, gives back the text exactly.
    if let Ok(bash) = std::process::Command::new("bash").arg("--version").output() {
        assert!(bash.status.success());
        let command = provenance.lines().find(|l| l.starts_with("salient saliency ")).unwrap();
        let printed = std::process::Command::new("bash")
            .args(["-c", &format!("salient() {{ printf '%s\\0' \"$@\"; }}; {command}")])
            .output()
            .unwrap();
        let words: Vec<&str> = std::str::from_utf8(&printed.stdout).unwrap().split('\0').collect();
        assert!(words.windows(2).any(|w| w == ["--text", hostile]), "{words:?}");
    }
}

#[test]
fn every_figure_kind_writes_a_valid_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let rnn = root().join("data/models/rnn-fine");
    let data = root().join("data/sst");
    let runs: [&[&str]; 3] = [
        &["faithfulness", "--model", s(&rnn), "--data", s(&data), "--methods", "grad,erasure", "--limit", "4"],
        &["heatmap", "--model", s(&rnn), "--text", "not bad", "--view", "states"],
        &["tsne", "--model", s(&rnn), "--preset", "negation", "--iterations", "250", "--method", "pca"],
    ];
    for (k, args) in runs.iter().enumerate() {
        let out = tmp.path().join(k.to_string());
        let mut all = args.to_vec();
        all.extend_from_slice(&["--out", s(&out), "--format", "ipynb,json"]);
        let (ok, _, err) = salient(&all);
        assert!(ok, "{args:?}: {err}");
        let notebook = valid_notebook(&out.join("figures.ipynb"));
        assert!(files_read_exist(&notebook, &out) >= 2, "{args:?}");
        let command = source(&cells(&notebook)[0]);
        assert!(command.contains(&format!("salient {} ", args[0])), "{command}");
        assert!(command.contains("--format json,ipynb"), "{command}");
        assert!(out.join("figures.ipynb").is_file() && !out.join("index.html").exists());
    }
}

/// The validator is not a rubber stamp: a notebook whose cell lost its id, or whose version is
/// a string, is refused.
#[test]
fn the_schema_refuses_a_broken_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let model = root().join("data/models/rnn-fine");
    let (ok, _, err) =
        salient(&["heatmap", "--model", s(&model), "--text", "good", "--out", s(&out), "--format", "ipynb"]);
    assert!(ok, "{err}");
    let path = out.join("figures.ipynb");
    let good = valid_notebook(&path);
    let schema = read_json(&root().join("tests/data/nbformat/nbformat.v4.5.schema.json"));
    let validator = jsonschema::draft4::new(&schema).unwrap();
    let mut no_id = good.clone();
    no_id["cells"][0].as_object_mut().unwrap().remove("id");
    assert!(!validator.is_valid(&no_id));
    let mut minor = good.clone();
    minor["nbformat_minor"] = Value::String("5".into());
    assert!(!validator.is_valid(&minor));
    let mut output = good;
    output["cells"][3]["outputs"][0]["output_type"] = Value::String("picture".into());
    assert!(!validator.is_valid(&output));
}
