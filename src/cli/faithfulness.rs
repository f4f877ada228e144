//! `salient faithfulness`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use salient::checkpoint::load_classifier;
use salient::data::{sst, Split};
use salient::explain::faithfulness::{evaluate, FaithfulnessOptions};
use salient::explain::{build_method, Explainer, Method, ModelSource, ScoreKind, Sentence};
use salient::export::write_file;

use super::options::MethodArgs;
use super::saliency::{progress_bar, threads};
use super::DeviceArg;

/// Score attribution methods by how faithful they are to the model, on an SST split.
///
/// Comprehensiveness: how much the predicted class's probability falls when a sentence's top
/// 10, 20, 50% tokens by attribution are removed (higher is better). Sufficiency: how much it
/// falls when only those tokens are kept (lower is better). AOPC is the mean over the three.
/// A seeded random attribution is the baseline. Prints a Markdown table; --json writes JSON.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (model.safetensors, config.json, tokenizer.json).
    #[arg(long, default_value = "data/models/bilstm-fine")]
    pub model: PathBuf,
    /// Methods, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "grad,grad-input,ig,smoothgrad,erasure,variance")]
    pub methods: Vec<String>,
    /// Directory with SST trees.
    #[arg(long, default_value = "data/sst")]
    pub data: PathBuf,
    /// Which split's sentences (binary models skip neutral ones).
    #[arg(long, default_value = "test", value_parser = parse_split)]
    pub split: Split,
    /// Only the first N sentences.
    #[arg(long)]
    pub limit: Option<usize>,
    /// The score the attributions explain [default: each method's own: paper, logprob for erasure].
    #[arg(long, value_enum)]
    pub score: Option<ScoreKind>,
    #[command(flatten)]
    pub method_args: MethodArgs,
    /// Write the report as JSON to this file too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Replace an existing --json file.
    #[arg(long)]
    pub force: bool,
    /// Sentences per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Worker threads [default: the number of CPUs].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where tensors live.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

fn parse_split(s: &str) -> Result<Split, String> {
    s.parse()
}

pub fn run(args: Args) -> Result<()> {
    let device = args.device.open()?;
    let loaded = load_classifier(&args.model, &device)?;
    let params = args.method_args.params();
    let methods: Vec<Box<dyn Method>> = args
        .methods
        .iter()
        .filter(|m| !m.trim().is_empty())
        .map(|m| build_method(m, &params))
        .collect::<Result<_, _>>()?;
    if let Some(path) = &args.json {
        if path.exists() && !args.force {
            anyhow::bail!("{} already exists; pass --force to overwrite it", path.display());
        }
    }
    let task = loaded.card.model.task;
    let trees = sst::load_split_for(&args.data, args.split, task)?;
    let mut sentences: Vec<Sentence> = trees
        .iter()
        .enumerate()
        .filter(|(_, t)| task.map_label(t.root_label()).is_some())
        .map(|(i, t)| Sentence::from_tokens(&loaded.vocab, i + 1, &t.tokens))
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(n) = args.limit {
        sentences.truncate(n);
    }
    let explainer = Explainer::new(&loaded.model, ModelSource::of(&loaded))
        .batch_size(args.batch_size)
        .threads(threads(args.threads));
    let refs: Vec<&dyn Method> = methods.iter().map(|m| m.as_ref()).collect();
    let mut bar: Option<(String, indicatif::ProgressBar)> = None;
    let report = evaluate(
        &explainer,
        &refs,
        &sentences,
        args.score,
        &FaithfulnessOptions { seed: args.method_args.seed, ..Default::default() },
        &mut |name, done| {
            if bar.as_ref().map(|(n, _)| n.as_str()) != Some(name) {
                if let Some((_, b)) = bar.take() {
                    b.finish_and_clear();
                }
                bar = Some((name.to_string(), progress_bar(sentences.len(), name)));
            }
            if let Some((_, b)) = &bar {
                b.set_position(done as u64);
            }
        },
    )
    .with_context(|| format!("scoring faithfulness on {} {} sentences", sentences.len(), args.split))?;
    if let Some((_, b)) = bar.take() {
        b.finish_and_clear();
    }
    println!(
        "faithfulness of {} ({} {}) on {} {} sentences; removing / keeping the top 10, 20, 50% tokens\n",
        ModelSource::of(&loaded).name(),
        loaded.card.model.arch,
        task,
        report.sentences,
        args.split
    );
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report)?;
        write_file(path, &json, args.force)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
