//! t-SNE and PCA projections, the scatter figure, `salient tsne` and `salient export`.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use salient::figures::spec::{FigureOptions, Spec};
use salient::project::tsne::{tsne, TsneParams};
use salient::render::{scatter_svg, Labels, Scatter, ScatterPoint};

mod common;

use common::salient;

/// `per` points around each of `k` centres in `d` dimensions, the centres 20 apart.
fn clusters(k: usize, per: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for c in 0..k {
        for _ in 0..per {
            for a in 0..d {
                let centre = if a == c % d { 20.0 * (c + 1) as f32 } else { 0.0 };
                out.push(centre + rng.random::<f32>() * 2.0 - 1.0);
            }
        }
    }
    out
}

fn quick() -> TsneParams {
    TsneParams { perplexity: 15.0, iterations: 400, ..TsneParams::default() }
}

#[test]
fn barnes_hut_is_bit_reproducible_for_a_seed_on_any_thread_count() {
    let data = clusters(3, 60, 10, 1);
    let a = tsne(&data, 180, 10, &quick(), 2).unwrap();
    let b = tsne(&data, 180, 10, &quick(), 2).unwrap();
    let one = tsne(&data, 180, 10, &quick(), 1).unwrap();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.coords), bits(&b.coords), "same seed, same coordinates");
    assert_eq!(bits(&a.coords), bits(&one.coords), "one thread or two, same coordinates");
    let other = tsne(&data, 180, 10, &TsneParams { seed: 2, ..quick() }, 2).unwrap();
    assert_ne!(bits(&a.coords), bits(&other.coords), "another seed, other coordinates");
    assert!(a.kl_divergence.is_some_and(|kl| kl.is_finite() && kl > 0.0));
}

#[test]
fn separated_clusters_stay_separated() {
    let (k, per) = (2, 80);
    let data = clusters(k, per, 8, 3);
    let out = tsne(&data, k * per, 8, &quick(), 2).unwrap();
    let y = &out.coords;
    // Every point's nearest neighbour in the embedding is from its own cluster.
    let mut wrong = 0;
    for i in 0..k * per {
        let nearest = (0..k * per)
            .filter(|&j| j != i)
            .min_by(|&a, &b| {
                let d = |j: usize| (y[2 * i] - y[2 * j]).powi(2) + (y[2 * i + 1] - y[2 * j + 1]).powi(2);
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        wrong += usize::from(nearest / per != i / per);
    }
    assert_eq!(wrong, 0);
    // And the clusters are far apart compared with their size.
    let centre = |c: usize| {
        let pts = &y[2 * c * per..2 * (c + 1) * per];
        let (sx, sy) = pts.chunks(2).fold((0.0, 0.0), |(a, b), p| (a + p[0], b + p[1]));
        (sx / per as f64, sy / per as f64)
    };
    let spread = |c: usize| {
        let (cx, cy) = centre(c);
        y[2 * c * per..2 * (c + 1) * per]
            .chunks(2)
            .map(|p| ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt())
            .fold(0.0, f64::max)
    };
    let ((ax, ay), (bx, by)) = (centre(0), centre(1));
    let gap = ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt();
    assert!(gap > spread(0) + spread(1), "gap {gap}, radii {} {}", spread(0), spread(1));
}

#[test]
fn exact_and_barnes_hut_reach_similar_divergence() {
    let data = clusters(3, 40, 6, 5);
    let exact = tsne(&data, 120, 6, &TsneParams { theta: 0.0, ..quick() }, 2).unwrap();
    let approx = tsne(&data, 120, 6, &quick(), 2).unwrap();
    let (e, a) = (exact.kl_divergence.unwrap(), approx.kl_divergence.unwrap());
    assert!((a - e).abs() < 0.1 * e.max(0.1), "exact {e}, Barnes-Hut {a}");
}

#[test]
fn scatter_svg_is_well_formed_and_escaped() {
    let points: Vec<ScatterPoint> = (0..40)
        .map(|k| ScatterPoint {
            x: (k % 7) as f64,
            y: (k / 7) as f64 * 0.5,
            label: if k == 3 { "<script>alert(\"x\") & co</script>".into() } else { format!("phrase {k}") },
            class: k % 3,
            highlighted: k % 10 == 0,
        })
        .collect();
    let s = Scatter {
        title: "a & b".into(),
        points,
        classes: vec!["negative".into(), "neutral".into(), "positive".into()],
        legend_title: "predicted class".into(),
        labels: Labels::All,
        ..Scatter::default()
    };
    let svg = scatter_svg(&s, &Default::default()).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert!(!svg.contains("<script>"), "labels are escaped");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.iter().any(|t| t.contains("<script>alert")), "the label is there, as text");
    for name in ["negative", "neutral", "positive", "predicted class", "highlighted"] {
        assert!(texts.iter().any(|t| t.contains(name)), "legend has {name}");
    }
    let bold = doc.descendants().filter(|n| n.attribute("font-weight") == Some("bold")).count();
    assert!(bold >= 4, "highlighted labels are bold (and the title): {bold}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn tsne_cli_draws_the_negation_preset() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("neg");
    let args =
        ["tsne", "--model", "data/models/lstm-fine", "--preset", "negation", "--iterations", "300", "--out", s(&out)];
    let (ok, _, err) = salient(&args);
    assert!(ok, "{err}");
    let svg = std::fs::read_to_string(out.join("tsne.svg")).unwrap();
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert!(svg.contains("not bad") && svg.contains("predicted class"));
    let csv = std::fs::read_to_string(out.join("tsne.csv")).unwrap();
    assert_eq!(csv.lines().count(), 63, "header + 22 phrases + 40 random words");
    assert!(csv.lines().next().unwrap().starts_with("phrase,at,x,y,gold,predicted,highlighted,p_very negative"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("tsne.json")).unwrap()).unwrap();
    let r = &json["results"][0];
    assert_eq!(r["method"]["method"], "tsne");
    assert_eq!(r["method"]["perplexity"], 10.0);
    assert_eq!(r["model"]["weights_sha256"].as_str().unwrap().len(), 64);
    // The same seed again gives the same coordinates; existing files need --force.
    let (ok, _, err) = salient(&args);
    assert!(!ok && err.contains("--force"), "{err}");
    let again = dir.path().join("again");
    let mut args2 = args.to_vec();
    let last = args2.len() - 1;
    args2[last] = s(&again);
    assert!(salient(&args2).0);
    assert_eq!(csv, std::fs::read_to_string(again.join("tsne.csv")).unwrap());
}

#[test]
fn tsne_cli_explains_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let phrases = dir.path().join("phrases.txt");
    std::fs::write(&phrases, "good\nnot good\nzorblax qwyjibo\ngood\nbad\tnegative\nawful\tmaybe\n").unwrap();
    let out = dir.path().join("out");
    let (ok, _, err) =
        salient(&["tsne", "--model", "data/models/lstm-fine", "--phrases", s(&phrases), "--out", s(&out)]);
    assert!(!ok);
    assert!(err.contains("perplexity 30 needs at least 91 points") && err.contains("--perplexity"), "{err}");
    assert!(err.contains("phrases.txt line 3") && err.contains("every word is unknown"), "{err}");
    assert!(err.contains("phrases.txt line 4") && err.contains("repeats phrases.txt line 1"), "{err}");
    assert!(err.contains("phrases.txt line 6") && err.contains("gold label `maybe`"), "{err}");
    // PCA needs no perplexity: the good phrases are projected, the bad lines still reported.
    let (ok, _, err) = salient(&[
        "tsne",
        "--model",
        "data/models/lstm-fine",
        "--phrases",
        s(&phrases),
        "--method",
        "pca",
        "--out",
        s(&out),
    ]);
    assert!(!ok && err.contains("2 input(s) could not be used"), "{err}");
    let csv = std::fs::read_to_string(out.join("tsne.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "good, not good, bad: {csv}");
    assert!(csv.contains("bad,phrases.txt line 5,") && csv.contains(",negative,"), "gold label kept: {csv}");
    let (ok, _, err) = salient(&["tsne", "--preset", "nope", "--out", s(&out)]);
    assert!(!ok && err.contains("'nope'") && err.contains("negation"), "{err}");
}

#[test]
fn export_makes_the_good_figures_and_lists_the_failed_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::env::current_dir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            r#"
[defaults]
model = "{root}/data/models/lstm-fine"
seed = 3

[[figure]]
name = "missing-model"
kind = "heatmap"
model = "no/such/model"
text = ["good"]

[[figure]]
name = "negation"
kind = "heatmap"
text = ["good", "not good"]

[[figure]]
name = "too-few"
kind = "tsne"
phrases = "few.txt"

[[figure]]
name = "pca"
kind = "tsne"
method = "pca"
phrases = "few.txt"

[[figure]]
name = "saliency"
kind = "saliency"
model = "{root}/data/models/rnn-fine"
text = ["I hate the movie ."]

[[figure]]
name = "autoencoder"
kind = "autoencoder-saliency"
model = "{root}/data/models/autoencoder"
text = ["The government said on Monday that it would cut taxes ."]
no_steps = true

[[figure]]
name = "not-an-autoencoder"
kind = "autoencoder-saliency"
text = ["good"]
"#,
            root = root.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("few.txt"), "good\nbad\nnot good\nnot bad\n").unwrap();
    let out = dir.path().join("figs");
    let (ok, _, err) = salient(&["export", "--spec", s(&spec), "--out", s(&out)]);
    assert!(!ok && err.contains("3 figure(s) failed"), "{err}");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let figs = m["figures"].as_array().unwrap();
    let status: Vec<(&str, &str)> =
        figs.iter().map(|f| (f["name"].as_str().unwrap(), f["status"].as_str().unwrap())).collect();
    assert_eq!(
        status,
        [
            ("missing-model", "failed"),
            ("negation", "ok"),
            ("too-few", "failed"),
            ("pca", "ok"),
            ("saliency", "ok"),
            ("autoencoder", "ok"),
            ("not-an-autoencoder", "failed")
        ]
    );
    assert!(figs[6]["error"].as_str().unwrap().contains("salient-autoencoder"), "{}", figs[6]["error"]);
    let files: Vec<&str> = figs[5]["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(
        files,
        [
            "autoencoder/sentence-0001.svg",
            "autoencoder/index.html",
            "autoencoder/matrix.csv",
            "autoencoder/gradients.csv",
            "autoencoder/saliency.json",
            "autoencoder/figures.ipynb"
        ]
    );
    // The spec's notebook joins the figures made and names the ones that failed.
    let joined = std::fs::read_to_string(out.join("spec.ipynb")).unwrap();
    assert!(joined.contains("This figure failed") && joined.contains("DIR = Path(\\\"autoencoder\\\")"));
    assert_eq!(figs[5]["settings"]["outputs"], "greedy");
    assert!(figs[0]["error"].as_str().unwrap().contains("no/such/model"));
    assert!(figs[2]["error"].as_str().unwrap().contains("perplexity"), "{}", figs[2]["error"]);
    assert_eq!(m["spec_sha256"].as_str().unwrap().len(), 64);
    for f in figs.iter().filter(|f| f["status"] == "ok") {
        assert_eq!(f["model"]["weights_sha256"].as_str().unwrap().len(), 64);
        for file in f["files"].as_array().unwrap() {
            assert!(out.join(file.as_str().unwrap()).is_file(), "{file} missing");
        }
    }
    assert_eq!(figs[4]["options"]["seed"], 3, "the default seed is recorded");
    assert_eq!(figs[4]["kind"], "saliency");
    assert_eq!(figs[4]["settings"]["method"], "grad", "the settings used are recorded: {}", figs[4]["settings"]);
    assert_eq!(figs[4]["settings"]["score"], "paper");
    assert_eq!(figs[3]["settings"]["method"]["method"], "pca");
    assert!(out.join("saliency/sentence-0001.svg").is_file() && out.join("pca/tsne.csv").is_file());
}

#[test]
fn bad_specs_are_refused_with_the_reason() {
    let e = Spec::parse("[[figure]]\nname = \"a\"\nkind = \"autoencoder\"\n", "x.toml", Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.toml") && e.contains("autoencoder") && e.contains("tsne"), "{e}");
    let e = Spec::parse("[[figure]]\nname = \"a\"\nkind = \"tsne\"\nperplexty = 5\n", "x.toml", Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(e.contains("perplexty"), "{e}");
    let two = "[[figure]]\nname = \"a\"\nkind = \"tsne\"\n[[figure]]\nname = \"a\"\nkind = \"pca\"\n";
    assert!(Spec::parse(two, "x.toml", Path::new(".")).is_err());
    let e = Spec::parse("[[figure]]\nname = \"../up\"\nkind = \"heatmap\"\n", "x.toml", Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(e.contains("names a directory"), "{e}");
}

#[test]
fn the_paper_spec_parses_and_its_models_exist() {
    let path = Path::new("examples/paper.toml");
    let spec =
        Spec::parse(&std::fs::read_to_string(path).unwrap(), "examples/paper.toml", path.parent().unwrap()).unwrap();
    let kinds: Vec<&str> = spec.figures.iter().map(|f| f.kind.as_str()).collect();
    for kind in ["heatmap", "tsne", "saliency", "autoencoder-saliency"] {
        assert!(kinds.contains(&kind), "{kind} figure missing");
    }
    for f in &spec.figures {
        let model = match &f.options {
            FigureOptions::Saliency(o) => o.model.model.clone(),
            FigureOptions::Heatmap(o) => o.model.model.clone(),
            FigureOptions::Projection(o) => o.model.model.clone(),
            FigureOptions::AutoencoderSaliency(o) => o.model.model.clone(),
            FigureOptions::Faithfulness(o) => o.model.model.clone(),
        }
        .expect("every figure of the paper names its model");
        assert!(model.join("config.json").is_file(), "{}: {} does not exist", f.name, model.display());
    }
}

#[test]
fn sampled_phrases_carry_gold_labels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dev");
    let args = [
        "tsne",
        "--model",
        "data/models/lstm-binary",
        "--sample",
        "40",
        "--split",
        "dev",
        "--perplexity",
        "10",
        "--iterations",
        "250",
        "--out",
        s(&out),
    ];
    let (ok, _, err) = salient(&args);
    assert!(ok, "{err}");
    let csv = std::fs::read_to_string(out.join("tsne.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r.contains(",negative,") || r.contains(",positive,")), "binary gold labels: {csv}");
    assert!(std::fs::read_to_string(out.join("tsne.svg")).unwrap().contains("gold label"));
    let (ok, _, err) = salient(&["tsne", "--sample", "100000", "--split", "dev", "--out", s(&out), "--force"]);
    assert!(!ok && err.contains("100000 phrases asked for"), "{err}");
}
