//! `salient eval`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use salient::checkpoint::load_classifier;
use salient::data::{sst, Split};
use salient::eval::evaluate;

use super::DeviceArg;

/// Score a trained classifier on an SST split: accuracy on whole sentences and on every
/// labelled phrase (binary models skip neutral ones).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (model.safetensors, config.json, tokenizer.json).
    #[arg(long, default_value = "data/models/bilstm-fine")]
    model: PathBuf,
    /// Directory with SST trees.
    #[arg(long, default_value = "data/sst")]
    data: PathBuf,
    /// Which split to score.
    #[arg(long, default_value = "test", value_parser = parse_split)]
    split: Split,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Where tensors live.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

fn parse_split(s: &str) -> Result<Split, String> {
    s.parse()
}

pub fn run(args: Args) -> Result<()> {
    let device = args.device.open()?;
    let loaded = load_classifier(&args.model, &device)?;
    let trees = sst::load_split_for(&args.data, args.split, loaded.card.model.task)?;
    let config = loaded.card.model;
    let result = evaluate(&loaded.model, &loaded.vocab, &trees, config.task)
        .with_context(|| format!("evaluating {}", args.model.display()))?;
    if args.json {
        let json = serde_json::json!({
            "model": args.model,
            "arch": config.arch,
            "task": config.task,
            "split": args.split,
            "sentence_accuracy": result.sentence_accuracy,
            "phrase_accuracy": result.phrase_accuracy,
            "sentences": result.sentences,
            "phrases": result.phrases,
            "weights_sha256": loaded.card.weights_sha256,
        });
        println!("{json}");
    } else {
        println!(
            "{} {} on {}: sentence accuracy {:.4} ({} sentences), phrase accuracy {:.4} ({} phrases)",
            config.arch,
            config.task,
            args.split,
            result.sentence_accuracy,
            result.sentences,
            result.phrase_accuracy,
            result.phrases
        );
    }
    Ok(())
}
