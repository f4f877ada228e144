//! `salient tsne`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use salient::checkpoint::load_classifier;
use salient::data::Split;
use salient::explain::{ModelSource, DEFAULT_MAX_TOKENS};
use salient::project::figure::{self, PhraseSource};
use salient::project::{self, Init, Method, TsneParams};
use salient::render::{scatter_svg, Labels};

use super::saliency::{progress_bar, threads};
use super::DeviceArg;

/// Project phrase representations to 2-d (the paper's Figure 2) with t-SNE or PCA: a labelled
/// scatter plot (tsne.svg), the coordinates, labels and probabilities (tsne.csv) and everything
/// with provenance (tsne.json).
///
/// Phrases: --phrases FILE (one a line; an optional tab and a gold label, a class name or index;
/// `#` starts a comment), --sample N --split dev|test (unique SST phrases with gold labels), or
/// --preset negation (negations and intensifications among random words). A phrase given twice
/// is projected once (with a note); unknown words are noted; a phrase of unknown words only is
/// reported by line and left out. The same seed gives the same coordinates, bit for bit, on any
/// number of threads.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (model.safetensors, config.json, tokenizer.json).
    #[arg(long, default_value = "data/models/bilstm-fine")]
    pub model: PathBuf,
    /// A file of phrases, one a line.
    #[arg(long, required_unless_present_any = ["sample", "preset"], conflicts_with_all = ["sample", "preset"])]
    pub phrases: Option<PathBuf>,
    /// Draw this many unique labelled phrases from --split.
    #[arg(long, requires = "split", conflicts_with = "preset")]
    pub sample: Option<usize>,
    /// The SST split to sample from.
    #[arg(long, value_parser = parse_split, requires = "sample")]
    pub split: Option<Split>,
    /// Directory with SST trees (for --sample).
    #[arg(long, default_value = "data/sst")]
    pub data: PathBuf,
    /// A shipped phrase list: negation.
    #[arg(long)]
    pub preset: Option<String>,
    /// Output directory (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Projection: tsne, or pca (exact and fast).
    #[arg(long, value_enum, default_value_t = MethodArg::Tsne)]
    pub method: MethodArg,
    /// t-SNE perplexity (needs 3 x perplexity + 1 phrases) [default: 30; 10 for --preset negation].
    #[arg(long)]
    pub perplexity: Option<f64>,
    /// t-SNE gradient steps, the 250 exaggerated ones included.
    #[arg(long, default_value_t = 1000)]
    pub iterations: usize,
    /// t-SNE learning rate [default: max(phrases / 48, 50)].
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// t-SNE Barnes-Hut accuracy: 0 is exact (slow beyond a few thousand phrases), 0.5 is faster
    /// and a little less accurate.
    #[arg(long, default_value_t = 0.3)]
    pub theta: f64,
    /// t-SNE start: random (from --seed) or pca.
    #[arg(long, value_enum, default_value_t = Init::Random)]
    pub init: Init,
    /// Seed of t-SNE's random start and of --sample's draw.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A phrase to highlight (bold label, larger ringed point); repeat for several.
    #[arg(long)]
    pub highlight: Vec<String>,
    /// Which point labels to draw.
    #[arg(long, value_enum, default_value_t = Labels::Auto)]
    pub labels: Labels,
    /// Threads for t-SNE (the result does not depend on them) [default: the number of CPUs].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Longest phrase accepted, in tokens.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// Where tensors live.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// Which projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Barnes-Hut t-SNE.
    Tsne,
    /// Principal components.
    Pca,
}

fn parse_split(s: &str) -> Result<Split, String> {
    s.parse()
}

pub fn run(args: Args) -> Result<()> {
    let source = match (&args.phrases, args.sample, &args.preset) {
        (Some(path), _, _) => PhraseSource::Phrases(path.clone()),
        (_, Some(n), _) => PhraseSource::Sample {
            n,
            split: args.split.unwrap_or(Split::Dev),
            data: args.data.clone(),
            seed: args.seed,
        },
        (_, _, Some(name)) => PhraseSource::Preset(name.clone()),
        _ => bail!("give --phrases FILE, --sample N --split dev|test, or --preset negation"),
    };
    let preset_perplexity = match &args.preset {
        Some(name) => Some(figure::preset(name)?.perplexity),
        None => None,
    };
    let method = match args.method {
        MethodArg::Pca => Method::Pca,
        MethodArg::Tsne => Method::Tsne(TsneParams {
            perplexity: args.perplexity.or(preset_perplexity).unwrap_or(30.0),
            iterations: args.iterations,
            learning_rate: args.learning_rate,
            theta: args.theta,
            init: args.init,
            seed: args.seed,
            ..TsneParams::default()
        }),
    };
    if let Method::Tsne(p) = &method {
        p.check(usize::MAX)?;
    }
    let names = ["tsne.svg", "tsne.csv", "tsne.json"];
    let out = salient::export::OutputDir::prepare(&args.out, args.force)?;
    out.check_free(&names)?;

    let device = args.device.open()?;
    let loaded = load_classifier(&args.model, &device)?;
    let (set, mut highlight) = source.load(&loaded.vocab, loaded.card.model.task, args.max_tokens)?;
    highlight.extend(args.highlight.iter().cloned());
    for note in &set.notes {
        eprintln!("note: {note}");
    }
    for failure in &set.failures {
        eprintln!("warning: {}", failure.message);
    }
    if set.phrases.is_empty() {
        bail!("no phrase can be projected (see above)");
    }
    let unmatched: Vec<&String> = args
        .highlight
        .iter()
        .filter(|h| !set.phrases.iter().any(|p| p.sentence.text.trim().eq_ignore_ascii_case(h.trim())))
        .collect();
    for h in unmatched {
        eprintln!("note: --highlight \"{h}\" is not among the phrases");
    }

    let model_source = ModelSource::of(&loaded);
    let bar = progress_bar(
        match &method {
            Method::Tsne(p) => p.iterations,
            Method::Pca => 1,
        },
        method.name(),
    );
    let projection = project::project_with_progress(
        &loaded.model,
        &model_source,
        &set.phrases,
        &method,
        &highlight,
        threads(args.threads),
        &mut |done| bar.set_position(done as u64),
    )
    .with_context(|| format!("projecting {} phrase(s) with {}", set.phrases.len(), method.name()))?;
    bar.finish_and_clear();

    let scatter = figure::scatter(&projection, &source.describe(), args.labels);
    out.write("tsne.svg", scatter_svg(&scatter)?.as_bytes())?;
    out.write("tsne.csv", &figure::csv(&projection)?)?;
    let doc = salient::export::Document::new("salient tsne", vec![projection], set.failures.clone());
    out.write("tsne.json", &doc.to_json()?)?;
    eprintln!("projected {} phrase(s) with {} into {}", set.phrases.len(), method.name(), out.path().display());
    if !set.failures.is_empty() {
        bail!("{} phrase(s) could not be used (see the warnings above); the others were projected", set.failures.len());
    }
    Ok(())
}
