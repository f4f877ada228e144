//! `salient saliency`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use salient::checkpoint::load_classifier;
use salient::explain::{
    build_method, gather, ClassChoice, Explainer, ModelSource, ScoreKind, Sentence, Target, DEFAULT_MAX_TOKENS,
};
use salient::export::batch::write_heatmaps;
use salient::export::{self, Document, Failure, Format, IndexEntry, OutputDir};
use salient::render::{Heatmap, ScaleOptions};

use super::options::{FigureArgs, MethodArgs};
use super::DeviceArg;

/// Explain a classifier's decision on each sentence: a heatmap of tokens x embedding
/// dimensions per sentence (the paper's first-derivative saliency by default), the per-token
/// scores, and the numbers as CSV and JSON.
///
/// Methods: grad (|dS/de|, the paper's), grad-input (dS/de * e), ig (integrated gradients),
/// smoothgrad (|dS/de| under seeded noise), erasure (drop in log p when a word is removed),
/// variance ((e - mean e)^2). Output: sentence-NNNN.svg per sentence and index.html (svg),
/// saliency.csv and tokens.csv (csv), saliency.json with provenance (json).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (model.safetensors, config.json, tokenizer.json).
    #[arg(long, default_value = "data/models/bilstm-fine")]
    pub model: PathBuf,
    /// A sentence to explain; repeat for several.
    #[arg(long, required_unless_present = "input", conflicts_with = "input")]
    pub text: Vec<String>,
    /// A file with one sentence per line (blank lines are skipped; a sentence's id is its line
    /// number). A bad line is reported and the other sentences are still explained.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output directory (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Attribution method: grad, grad-input, ig, smoothgrad, erasure, variance.
    #[arg(long, default_value = "grad")]
    pub method: String,
    /// The class score to explain: logit, prob, paper (exp(logit)), logprob [default: paper;
    /// logprob for erasure].
    #[arg(long, value_enum)]
    pub score: Option<ScoreKind>,
    /// The class to explain: `predicted`, a class index, or a class name (`positive`).
    #[arg(long, default_value = "predicted")]
    pub class: String,
    #[command(flatten)]
    pub figures: FigureArgs,
    #[command(flatten)]
    pub method_args: MethodArgs,
    /// Longest sentence accepted, in tokens.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
    /// Sentences per batch (one forward and backward pass each).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Worker threads [default: the number of CPUs].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// Where tensors live.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
pub fn progress_bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {per_sec} {elapsed}<{eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar
}

/// Threads to use: the user's choice or the number of CPUs.
pub fn threads(choice: Option<usize>) -> usize {
    choice.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

/// Sentences from `--text` or `--input`, with the bad ones reported on stderr.
pub fn sentences(
    texts: &[String],
    input: Option<&PathBuf>,
    vocab: &salient::data::Vocab,
    max_tokens: usize,
) -> Result<(Vec<Sentence>, Vec<Failure>)> {
    let contents = match input {
        Some(path) => {
            Some(std::fs::read_to_string(path).with_context(|| format!("cannot read --input {}", path.display()))?)
        }
        None => None,
    };
    let (mut good, mut failures) = (Vec::new(), Vec::new());
    for result in gather(texts, contents.as_deref(), vocab, max_tokens) {
        match result {
            Ok(s) => {
                let unknown = s.unknown_words();
                if !unknown.is_empty() {
                    eprintln!("note: sentence {}: not in the vocabulary (read as [UNK]): {}", s.id, unknown.join(" "));
                }
                good.push(s);
            }
            Err(e) => {
                eprintln!("warning: {e}");
                let at = match &e {
                    salient::Error::Sentence(s) => s.at().to_string(),
                    _ => "input".to_string(),
                };
                failures.push(Failure { at, message: e.to_string() });
            }
        }
    }
    if good.is_empty() {
        match input {
            Some(path) => bail!("no sentence of {} can be explained (see above)", path.display()),
            None => bail!(
                "no sentence can be explained: {}",
                failures.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; ")
            ),
        }
    }
    Ok((good, failures))
}

/// Index entries: each sentence with its figures, then the failures.
pub fn index_entries(sentences: &[Sentence], files: &[Vec<String>], failures: &[Failure]) -> Vec<IndexEntry> {
    sentences
        .iter()
        .zip(files)
        .map(|(s, f)| IndexEntry { caption: format!("#{}: {}", s.id, s.text), files: f.clone(), error: None })
        .chain(failures.iter().map(|f| IndexEntry {
            caption: f.at.clone(),
            files: Vec::new(),
            error: Some(f.message.clone()),
        }))
        .collect()
}

/// Draw `maps` on their scales and write them as `names`, with a progress bar.
pub fn write_figures(out: &OutputDir, names: &[String], maps: &[Heatmap], scale: &ScaleOptions) -> Result<()> {
    let bar = progress_bar(maps.len(), "drawing");
    write_heatmaps(out, names, maps, scale, &mut |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let device = args.device.open()?;
    let loaded = load_classifier(&args.model, &device)?;
    let params = args.method_args.params();
    let method = build_method(&args.method, &params)?;
    let class = ClassChoice::parse(&args.class, loaded.card.model.task.class_names())?;
    let target = Target { class, score: args.score.unwrap_or(method.default_score()) };
    let (sentences, failures) = sentences(&args.text, args.input.as_ref(), &loaded.vocab, args.max_tokens)?;

    let svg = args.figures.wants(Format::Svg);
    let figure_names: Vec<String> = sentences.iter().map(|s| format!("sentence-{:04}.svg", s.id)).collect();
    let mut names: Vec<String> = Vec::new();
    if svg {
        names.extend(figure_names.iter().cloned());
        names.push("index.html".into());
    }
    if args.figures.wants(Format::Csv) {
        names.extend(["saliency.csv".to_string(), "tokens.csv".to_string()]);
    }
    if args.figures.wants(Format::Json) {
        names.push("saliency.json".into());
    }
    let scale = args.figures.scale();
    scale.check()?;
    let out = OutputDir::prepare(&args.out, args.force)?;
    out.check_free(&names)?;

    let explainer = Explainer::new(&loaded.model, ModelSource::of(&loaded))
        .batch_size(args.batch_size)
        .threads(threads(args.threads));
    let bar = progress_bar(sentences.len(), method.name());
    let attributions = explainer
        .attribute(method.as_ref(), &sentences, &target, &mut |done| bar.set_position(done as u64))
        .with_context(|| format!("explaining with {}", method.name()))?;
    bar.finish_and_clear();

    if svg {
        let maps: Vec<Heatmap> = attributions.iter().map(|a| a.heatmap()).collect();
        write_figures(&out, &figure_names, &maps, &scale)?;
        let files: Vec<Vec<String>> = figure_names.iter().map(|f| vec![f.clone()]).collect();
        let entries = index_entries(&sentences, &files, &failures);
        let title = format!("{} · {} · {}", ModelSource::of(&loaded).name(), method.name(), target.score.formula());
        out.write("index.html", export::index_html(&title, &entries).as_bytes())?;
    }
    if args.figures.wants(Format::Csv) {
        out.write("saliency.csv", &export::csv::attributions(&attributions)?)?;
        out.write("tokens.csv", &export::csv::token_scores(&attributions)?)?;
    }
    if args.figures.wants(Format::Json) {
        let n = attributions.len();
        out.write("saliency.json", &Document::new("salient saliency", attributions, failures.clone()).to_json()?)?;
        eprintln!("explained {n} sentence(s) with {} into {}", method.name(), out.path().display());
    } else {
        eprintln!("explained {} sentence(s) with {} into {}", attributions.len(), method.name(), out.path().display());
    }
    if !failures.is_empty() {
        bail!("{} input(s) could not be explained (see the warnings above); the others were written", failures.len());
    }
    Ok(())
}
