//! `salient eval`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use salient::checkpoint::load_classifier;
use salient::data::{sst, Split};
use salient::eval::evaluate;

use salient::figures::{data_dir, ModelArg, DEFAULT_CLASSIFIER, DEFAULT_SST};

use super::{GlobalArgs, JsonArg};

/// Score a trained classifier on an SST split: accuracy on whole sentences and on every
/// labelled phrase (binary models skip neutral ones).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model.
    #[command(flatten)]
    model: ModelArg,
    /// Directory with SST trees, or a data set's name: a path that exists wins; a name is looked up in
    /// $SALIENT_DATA, then the data/ of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/data (~/.local/share/salient/data).
    #[arg(long, value_name = "DIR|NAME", default_value = DEFAULT_SST)]
    data: PathBuf,
    /// Which split to score.
    #[arg(long, value_enum, default_value_t = Split::Test)]
    split: Split,
    /// Print one JSON object instead of text.
    #[command(flatten)]
    json: JsonArg,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let device = global.device.open()?;
    let model = args.model.resolve(DEFAULT_CLASSIFIER)?;
    let loaded = load_classifier(&model, &device)?;
    let trees =
        sst::load_split_for(&data_dir(&args.data)?, args.split, loaded.card.model.task, global.limits().tree_tokens)?;
    let config = loaded.card.model;
    let result = evaluate(&loaded.model, &loaded.vocab, &trees, config.task)
        .with_context(|| format!("evaluating {}", model.display()))?;
    if args.json.json {
        let json = serde_json::json!({
            "model": model,
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
