//! `salient autoencoder ...`: train, score, run and explain the LSTM autoencoder.

use std::path::PathBuf;

use anyhow::{Context, Result};
use salient::checkpoint::load_autoencoder;
use salient::data::corpus::{self, CorpusSplit};
use salient::data::PairBatch;
use salient::eval::{evaluate_reconstruction, ReconstructionScores};
use salient::figures::autoencoder::AutoencoderSaliencyOptions;
use salient::figures::{data_dir, InputArgs, ModelArg, SeedArg, DEFAULT_AUTOENCODER};
use salient::train::autoencoder::{train_autoencoder, AutoencoderOptions, InitFrom};
use salient::train::EpochRecord;

use super::figure::FigureArgs;
use super::train::progress;
use super::{GlobalArgs, JsonArg};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Train an autoencoder on a sentence corpus (resumable; selects on dev perplexity).
    Train(TrainArgs),
    /// Score a trained autoencoder on a corpus split: token accuracy, exact match, perplexity.
    Eval(EvalArgs),
    /// Rebuild sentences (greedy decoding or beam search) and print input and output tokens.
    Reconstruct(ReconstructArgs),
    /// Saliency of every input token for every output token, as SVG heatmaps plus CSV and JSON.
    Saliency(FigureArgs<AutoencoderSaliencyOptions>),
}

/// Train on `<data>/train.txt(.gz)`, select on `<data>/dev.txt(.gz)` (one sentence per line).
///
/// The best epoch (lowest dev perplexity) is written to --out as model.safetensors +
/// config.json + tokenizer.json, and --out/checkpoint holds the last epoch for --resume.
#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// Directory with train/dev/test sentence files, or a data set's name: a path that exists wins; a name is looked up in
    /// $SALIENT_DATA, then the data/ of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/data (~/.local/share/salient/data).
    #[arg(long, value_name = "DIR|NAME", default_value = "autoencoder")]
    data: PathBuf,
    /// Output directory.
    #[arg(long, default_value = "runs/autoencoder")]
    out: PathBuf,
    /// Embedding size.
    #[arg(long, default_value_t = AutoencoderOptions::default().embedding_dim)]
    embedding_dim: usize,
    /// Hidden size of encoder and decoder.
    #[arg(long, default_value_t = AutoencoderOptions::default().hidden_dim)]
    hidden_dim: usize,
    /// Most vocabulary entries (4 special tokens included); rarer words become [UNK].
    #[arg(long, default_value_t = AutoencoderOptions::default().vocab_size)]
    vocab_size: usize,
    /// Longest sentence in tokens; longer ones are left out.
    #[arg(long, default_value_t = AutoencoderOptions::default().max_len)]
    max_len: usize,
    /// Let the encoder read left to right (by default it reads right to left).
    #[arg(long)]
    forward_input: bool,
    /// Keep case (by default tokens are lower-cased).
    #[arg(long)]
    keep_case: bool,
    /// Most epochs.
    #[arg(long, default_value_t = AutoencoderOptions::default().epochs)]
    epochs: usize,
    /// Sentences per mini-batch.
    #[arg(long, default_value_t = AutoencoderOptions::default().batch_size)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = AutoencoderOptions::default().lr)]
    lr: f64,
    /// Largest global gradient norm.
    #[arg(long, default_value_t = AutoencoderOptions::default().clip_norm)]
    clip_norm: f64,
    /// Dropout on input embeddings.
    #[arg(long, default_value_t = AutoencoderOptions::default().dropout)]
    dropout: f32,
    /// Dropout on the decoder's hidden states before the output softmax.
    #[arg(long, default_value_t = AutoencoderOptions::default().output_dropout)]
    output_dropout: f32,
    /// Start from a trained autoencoder's weights and vocabulary (a directory or a model's name,
    /// such as `autoencoder`) instead of random ones; the run's shape options must match it.
    #[arg(long, value_name = "DIR|NAME")]
    init_from: Option<PathBuf>,
    /// Seed for initialisation, shuffling and dropout.
    #[command(flatten)]
    seed: SeedArg,
    /// Stop after this many epochs without a lower dev perplexity.
    #[arg(long, default_value_t = AutoencoderOptions::default().patience)]
    patience: usize,
    /// Storage type of the selected model's weights.
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
    weights_dtype: String,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
}

impl TrainArgs {
    fn options(&self) -> Result<AutoencoderOptions> {
        let init_from = match &self.init_from {
            Some(given) => Some(
                InitFrom::of(&salient::locate::SearchPath::models().resolve(given)?)
                    .with_context(|| format!("reading --init-from {}", given.display()))?,
            ),
            None => None,
        };
        Ok(AutoencoderOptions {
            embedding_dim: self.embedding_dim,
            hidden_dim: self.hidden_dim,
            vocab_size: self.vocab_size,
            max_len: self.max_len,
            reverse_input: !self.forward_input,
            lowercase: !self.keep_case,
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            clip_norm: self.clip_norm,
            dropout: self.dropout,
            seed: self.seed.seed,
            patience: self.patience,
            weights_dtype: self.weights_dtype.clone(),
            output_dropout: self.output_dropout,
            init_from,
            ..AutoencoderOptions::default()
        })
    }
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// The model.
    #[command(flatten)]
    model: ModelArg,
    /// Directory with train/dev/test sentence files, or a data set's name: a path that exists wins; a name is looked up in
    /// $SALIENT_DATA, then the data/ of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/data (~/.local/share/salient/data).
    #[arg(long, value_name = "DIR|NAME", default_value = "autoencoder")]
    data: PathBuf,
    /// Which split to score.
    #[arg(long, default_value = "test", value_parser = ["train", "dev", "test"])]
    split: String,
    /// Print the scores as JSON.
    #[command(flatten)]
    json: JsonArg,
}

#[derive(Debug, clap::Args)]
struct ReconstructArgs {
    /// The model.
    #[command(flatten)]
    model: ModelArg,
    /// The sentences.
    #[command(flatten)]
    input: InputArgs,
    /// Print JSON lines (input tokens, output tokens) instead of text.
    #[command(flatten)]
    json: JsonArg,
    /// Beam width (1: greedy decoding).
    #[arg(long, default_value_t = 1)]
    beam: usize,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    match args.command {
        Command::Train(a) => train(a, global),
        Command::Eval(a) => eval(a, global),
        Command::Reconstruct(a) => reconstruct(a, global),
        Command::Saliency(a) => super::figure::run(a, global),
    }
}

fn describe(s: &ReconstructionScores) -> String {
    format!(
        "token accuracy {:.4}  greedy {:.4}  exact match {:.4}  perplexity {:.2}  ({} sentences, {} longer left out)",
        s.token_accuracy, s.greedy_token_accuracy, s.exact_match, s.perplexity, s.sentences, s.too_long
    )
}

fn train(args: TrainArgs, global: &GlobalArgs) -> Result<()> {
    let device = global.device.open()?;
    let mut progress =
        progress("sentences", |r: &EpochRecord<ReconstructionScores>| format!("dev {}", describe(&r.dev)));
    let state =
        train_autoencoder(&data_dir(&args.data)?, &args.out, args.options()?, args.resume, &device, &mut progress)
            .with_context(|| format!("training an autoencoder into {}", args.out.display()))?;
    match &state.best {
        Some((epoch, dev)) => eprintln!(
            "selected epoch {epoch} (dev {}){}; model in {}",
            describe(dev),
            if state.stopped_early { ", stopped early" } else { "" },
            args.out.display()
        ),
        None => eprintln!("no epoch was run; model in {}", args.out.display()),
    }
    Ok(())
}

fn eval(args: EvalArgs, global: &GlobalArgs) -> Result<()> {
    let device = global.device.open()?;
    let model = args.model.resolve(DEFAULT_AUTOENCODER)?;
    let loaded = load_autoencoder(&model, &device, candle_core::DType::F32)?;
    let split: CorpusSplit = args.split.parse().map_err(anyhow::Error::msg)?;
    let text = corpus::load_split(&data_dir(&args.data)?, split)?;
    let encoded = corpus::encode(&text, &loaded.vocab, loaded.model.config().max_len)?;
    let scores = evaluate_reconstruction(&loaded.model, &encoded.sentences, encoded.too_long, 128)?;
    if args.json.json {
        let out = serde_json::json!({
            "model": model, "split": args.split, "weights_sha256": loaded.card.weights_sha256,
            "max_len": loaded.model.config().max_len, "scores": scores,
            "unknown_token_share": encoded.unknown as f64 / encoded.tokens.max(1) as f64,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{} {}: {}", model.display(), args.split, describe(&scores));
        println!(
            "unknown tokens: {:.2}% of {} (they count as reconstructed when the model writes [UNK])",
            100.0 * encoded.unknown as f64 / encoded.tokens.max(1) as f64,
            encoded.tokens
        );
    }
    Ok(())
}

fn reconstruct(args: ReconstructArgs, global: &GlobalArgs) -> Result<()> {
    global.limits().check(salient::limits::Limited::Beam, args.beam)?;
    let device = global.device.open()?;
    let loaded = load_autoencoder(&args.model.resolve(DEFAULT_AUTOENCODER)?, &device, candle_core::DType::F32)?;
    let max_len = loaded.model.config().max_len;
    let input = args.input.sentences(&loaded.vocab, max_len)?;
    for note in &input.notes {
        global.note(note);
    }
    for failure in &input.failures {
        global.warn(&failure.message);
    }
    for s in &input.sentences {
        let (output, ended) = if args.beam == 1 {
            let b = PairBatch::new(&[&s.ids], &[&s.ids]);
            loaded.model.greedy(&b, max_len)?.remove(0)
        } else {
            let (tokens, _, ended) = loaded.model.beam(&s.ids, args.beam, max_len)?;
            (tokens, ended)
        };
        let exact = salient::eval::is_exact(&s.ids, &output, ended);
        let output: Vec<String> = output.iter().map(|&id| loaded.vocab.id_to_token(id).unwrap_or_default()).collect();
        if args.json.json {
            let line = serde_json::json!({
                "input": s.tokens, "output": output, "ended": ended, "exact": exact,
            });
            println!("{line}");
        } else {
            println!("in : {}", s.tokens.join(" "));
            println!("out: {}{}", output.join(" "), if ended { "" } else { " [no end token within the length limit]" });
        }
    }
    if !input.failures.is_empty() {
        anyhow::bail!(
            "{} input(s) could not be reconstructed (see the warnings above); the others were",
            input.failures.len()
        );
    }
    Ok(())
}
