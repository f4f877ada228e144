//! `salient import --from-pytorch`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use candle_core::DType;
use salient::checkpoint::{CONFIG_FILE, WEIGHTS_FILE};
use salient::data::{dataset, Fields, Split};
use salient::eval::{evaluate, SplitScores};
use salient::figures::{data_dir, DEFAULT_SST};
use salient::import::import_classifier;
use salient::model::Arch;

use super::{GlobalArgs, JsonArg};

/// The options of `salient import` (its help is the subcommand's doc comment in `mod.rs`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state dict, as a safetensors file.
    #[arg(long, value_name = "FILE")]
    from_pytorch: PathBuf,
    /// The tokenizer the model was trained with: a Hugging Face `tokenizers` tokenizer.json
    /// whose ids are the embedding's rows, with [PAD] at id 0 and [UNK] at id 1.
    #[arg(long, value_name = "FILE")]
    tokenizer: PathBuf,
    /// The encoder's architecture.
    #[arg(long, value_enum)]
    arch: Arch,
    /// Output directory for the model (created; it must not hold a model yet, unless --force).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace the model files in --out.
    #[arg(long)]
    force: bool,
    /// Directory with SST trees, or a data set's name (found as for `salient eval --data`): the dev
    /// split is scored.
    #[arg(long, value_name = "DIR|NAME", default_value = DEFAULT_SST)]
    data: PathBuf,
    /// Storage type of the weights.
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
    weights_dtype: String,
    /// Print one JSON object instead of text.
    #[command(flatten)]
    json: JsonArg,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let device = global.device.open()?;
    for name in [CONFIG_FILE, WEIGHTS_FILE] {
        let existing = args.out.join(name);
        if existing.exists() && !args.force {
            bail!("{} exists already; choose another --out, or pass --force to replace that model", existing.display());
        }
    }
    let imported = import_classifier(&args.from_pytorch, &args.tokenizer, args.arch, &device)
        .with_context(|| format!("importing {}", args.from_pytorch.display()))?;
    let config = imported.config.clone();
    let trees = dataset::load_split_for(
        &data_dir(&args.data)?,
        Split::Dev,
        &config.task,
        &Fields::default(),
        global.limits().tree_tokens,
    )?;
    let scores = evaluate(&imported.model, &imported.vocab, &trees, config.task.clone())
        .with_context(|| format!("scoring {} on the dev split", args.from_pytorch.display()))?;
    let dev = SplitScores { sentence_accuracy: scores.sentence_accuracy, phrase_accuracy: scores.phrase_accuracy };
    let dtype = if args.weights_dtype == "f16" { DType::F16 } else { DType::F32 };
    imported.save(&args.out, dev, dtype)?;
    if args.json.json {
        let json = serde_json::json!({
            "model": args.out,
            "arch": config.arch,
            "task": config.task,
            "vocab_size": config.vocab_size,
            "embedding_dim": config.embedding_dim,
            "hidden_dim": config.hidden_dim,
            "dev": dev,
        });
        println!("{json}");
    } else {
        println!(
            "imported a {} {} classifier (vocabulary {}, embedding {}, hidden {}) into {}: dev sentence accuracy \
             {:.4}{}",
            config.arch,
            config.task,
            config.vocab_size,
            config.embedding_dim,
            config.hidden_dim,
            args.out.display(),
            dev.sentence_accuracy,
            dev.phrase_accuracy.map_or_else(String::new, |p| format!(", phrase accuracy {p:.4}"))
        );
    }
    global.note(format!("explain it: salient saliency --model {} --text \"...\" --out DIR", args.out.display()));
    Ok(())
}
