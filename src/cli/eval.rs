//! `salient eval`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use salient::checkpoint::load_classifier;
use salient::data::{dataset, Fields, Split};
use salient::eval::evaluate;

use salient::figures::{data_dir, ModelArg, DEFAULT_CLASSIFIER, DEFAULT_SST};

use super::{GlobalArgs, JsonArg};

/// Score a trained classifier on a split: accuracy on whole sentences and, for SST trees, on
/// every labelled phrase (binary models skip neutral ones). Labelled text has no phrase labels,
/// so only its sentence accuracy is given.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model.
    #[command(flatten)]
    model: ModelArg,
    /// Data directory, or a data set's name: SST trees (train/dev/test .txt.gz or .txt) or
    /// labelled text (.tsv, .csv or .jsonl, optionally .gz) of the kind the model was trained on.
    /// A path that exists wins; a name is looked up in
    /// $SALIENT_DATA, then the data/ of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/data (~/.local/share/salient/data).
    #[arg(long, value_name = "DIR|NAME", default_value = DEFAULT_SST)]
    data: PathBuf,
    /// The fields of labelled text.
    #[command(flatten)]
    fields: Fields,
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
    let config = &loaded.card.model;
    let trees = dataset::load_split_for(
        &data_dir(&args.data)?,
        args.split,
        &config.task,
        &args.fields,
        global.limits().tree_tokens,
    )?;
    let result = evaluate(&loaded.model, &loaded.vocab, &trees, config.task.clone())
        .with_context(|| format!("evaluating {}", model.display()))?;
    if args.json.json {
        let json = serde_json::json!({
            "model": model,
            "arch": config.arch,
            "task": config.task,
            "classes": config.task.names(),
            "split": args.split,
            "sentence_accuracy": result.sentence_accuracy,
            "phrase_accuracy": result.phrase_accuracy,
            "sentences": result.sentences,
            "phrases": result.phrases,
            "weights_sha256": loaded.card.weights_sha256,
        });
        println!("{json}");
    } else {
        let phrase = match (result.phrase_accuracy, result.phrases) {
            (Some(accuracy), Some(n)) => format!("phrase accuracy {accuracy:.4} ({n} phrases)"),
            _ => "phrase accuracy not available (labelled text has no phrase labels)".to_string(),
        };
        println!(
            "{} {} on {}: sentence accuracy {:.4} ({} sentences), {phrase}",
            config.arch, config.task, args.split, result.sentence_accuracy, result.sentences
        );
    }
    Ok(())
}
