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
/// through a spec with the same options; the two directories must hold the same bytes, which
/// are returned.
fn same_both_ways(command: &[&str], kind: &str, args: &[&str]) -> BTreeMap<String, Vec<u8>> {
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
    a
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

/// The text nodes of an SVG file, trimmed.
fn svg_texts(bytes: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(bytes).unwrap();
    let doc = roxmltree::Document::parse(text).expect("well-formed SVG");
    doc.descendants().filter(|n| n.has_tag_name("text")).map(|n| n.text().unwrap_or("").trim().to_string()).collect()
}

#[test]
fn titles_captions_and_sizes_are_the_same_from_the_command_and_the_spec() {
    let model = root().join("data/models/bilstm-fine");
    let files = same_both_ways(
        &["heatmap"],
        "heatmap",
        &[
            "--model",
            s(&model),
            "--text",
            "not bad",
            "--view",
            "states",
            "--title",
            "Figure 1a: hidden states",
            "--caption",
            "Hidden states of the BiLSTM after each word of not bad.",
            "--width",
            "700",
            "--font-size",
            "13",
        ],
    );
    let svg = &files["states-0001.svg"];
    let texts = svg_texts(svg);
    assert_eq!(texts[0], "Figure 1a: hidden states", "the title written: {texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("#1: not bad")), "the sentence line stays: {texts:?}");
    assert!(texts.iter().any(|t| t.contains("Hidden states of the BiLSTM")), "the caption: {texts:?}");
    assert!(String::from_utf8_lossy(svg).starts_with("<svg width=\"700\""), "the width asked for");
    // The page's title is the one written too.
    let html = String::from_utf8_lossy(&files["index.html"]).into_owned();
    assert!(html.contains("<title>Figure 1a: hidden states</title>"), "the page title");

    let lstm = root().join("data/models/lstm-fine");
    let files =
        same_both_ways(&["saliency"], "saliency", &["--model", s(&lstm), "--text", "I hate it .", "--no-title"]);
    let texts = svg_texts(&files["sentence-0001.svg"]);
    assert!(
        !texts.iter().any(|t| t.contains("lstm-fine") || t.starts_with("#1") || t.starts_with("predicted")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "|∂S_c/∂e|"), "the colour bar's caption in Unicode: {texts:?}");
}

#[test]
fn png_and_pdf_come_beside_the_svg_and_fonts_are_checked_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let model = root().join("data/models/rnn-fine");
    let (ok, _, err) = salient(&[
        "heatmap",
        "--text",
        "good",
        "--model",
        s(&model),
        "--out",
        s(&out),
        "--format",
        "svg,png,pdf",
        "--png-scale",
        "1",
    ]);
    assert!(ok, "{err}");
    let made = files(&out);
    assert_eq!(made.keys().collect::<Vec<_>>(), ["representation.pdf", "representation.png", "representation.svg"]);
    let png = resvg::tiny_skia::Pixmap::decode_png(&made["representation.png"]).expect("a PNG");
    let doc = String::from_utf8_lossy(&made["representation.svg"]).into_owned();
    let width: u32 = doc.split('"').nth(1).unwrap().parse().unwrap();
    assert_eq!(png.width(), width, "one PNG pixel a figure pixel with --png-scale 1");
    assert!(made["representation.pdf"].starts_with(b"%PDF-"));

    let (ok, _, err) = salient(&[
        "heatmap",
        "--text",
        "good",
        "--model",
        s(&model),
        "--out",
        s(&tmp.path().join("f")),
        "--format",
        "png",
        "--font-family",
        "No Such Font 7",
    ]);
    assert!(!ok && err.contains("No Such Font 7") && err.contains("installed"), "{err}");
    assert!(!tmp.path().join("f/representation.png").exists());

    // In a spec: `format` and the style options.
    let spec = tmp.path().join("s.toml");
    std::fs::write(
        &spec,
        format!(
            "[[figure]]\nname = \"a\"\nkind = \"heatmap\"\nmodel = {:?}\ntext = [\"good\"]\nformat = [\"png\"]\n\
             png_scale = 0.5\nno_title = true\nfont_size = 10\n",
            s(&model)
        ),
    )
    .unwrap();
    let (ok, _, err) = salient(&["export", "--spec", s(&spec), "--out", s(&tmp.path().join("e"))]);
    assert!(ok, "{err}");
    let made = files(&tmp.path().join("e/a"));
    assert_eq!(made.keys().collect::<Vec<_>>(), ["representation.png"]);
}

#[test]
fn real_figures_have_round_ticks_whole_notes_and_bilstm_halves() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, halves) in [("bilstm-fine", true), ("lstm-fine", false)] {
        let out = tmp.path().join(name);
        let model = root().join("data/models").join(name);
        for view in ["representation", "states"] {
            let (ok, _, err) = salient(&[
                "heatmap",
                "--model",
                s(&model),
                "--text",
                "very good",
                "--text",
                "not very good",
                "--view",
                view,
                "--out",
                s(&out.join(view)),
                "--format",
                "svg",
            ]);
            assert!(ok, "{err}");
        }
        for (view, file) in [("representation", "representation.svg"), ("states", "states-0001.svg")] {
            let bytes = std::fs::read(out.join(view).join(file)).unwrap();
            let texts = svg_texts(&bytes);
            assert!(!texts.iter().any(|t| t.ends_with('…')), "{name}/{file}: a cut label: {texts:?}");
            assert_eq!(
                texts.iter().any(|t| t == "forward →") && texts.iter().any(|t| t == "← backward"),
                halves,
                "{name}/{file}: halves named only for the BiLSTM: {texts:?}"
            );
            // Ticks: the numbers drawn left-aligned right of the colour bar.
            let svg = String::from_utf8(bytes).unwrap();
            let doc = roxmltree::Document::parse(&svg).unwrap();
            let ticks: Vec<f64> = doc
                .descendants()
                .filter(|n| n.has_tag_name("text") && n.attribute("text-anchor") == Some("start"))
                .filter_map(|n| n.text().and_then(|t| t.trim().parse::<f64>().ok()))
                .collect();
            assert!(ticks.len() >= 3, "{name}/{file}: ticks {ticks:?}");
            let step = ticks[1] - ticks[0];
            let magnitude = 10f64.powf(step.abs().log10().floor());
            let mantissa = step.abs() / magnitude;
            assert!(
                [1.0, 2.0, 2.5, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6),
                "{name}/{file}: step {step} of {ticks:?} is not round"
            );
            for pair in ticks.windows(2) {
                assert!(((pair[1] - pair[0]) - step).abs() < 1e-6 * magnitude, "{name}/{file}: {ticks:?}");
            }
            for t in &ticks {
                assert!(((t / step).round() - t / step).abs() < 1e-6, "{name}/{file}: {t} not a multiple of {step}");
            }
        }
        let texts = svg_texts(&std::fs::read(out.join("representation/representation.svg")).unwrap());
        let notes: Vec<&String> = texts
            .iter()
            .filter(|t| t.contains("negative") || t.contains("positive") || t.starts_with("neutral"))
            .collect();
        assert_eq!(notes.len(), 2, "{name}: a prediction per phrase: {texts:?}");
        for note in notes {
            let number = note.rsplit(' ').next().unwrap();
            assert!(number.len() == 5 && number.parse::<f64>().is_ok(), "{name}: `{note}` keeps its probability whole");
        }
    }
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
    assert!(e.contains("`format`") && e.contains("svg, csv, json, html, ipynb, png, pdf"), "{e}");
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
