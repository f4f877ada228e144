//! `salient autoencoder saliency`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use salient::checkpoint::load_autoencoder;
use salient::explain::autoencoder::{explain, DecoderScore, OutputChoice, ReconstructionSaliency};
use salient::export::reconstruction::{self, ReconstructionFiles};
use salient::export::OutputDir;

use super::options::FigureArgs;
use super::saliency::{progress_bar, sentences};
use super::DeviceArg;

/// For each output token and each input token, the gradient of the decoder's score for the
/// output token with respect to the input token's embedding.
///
/// Per sentence: sentence-NNNN.svg, the output x input matrix of ‖∂S_t/∂e_i‖₂, and (unless
/// --no-steps) sentence-NNNN-step-TT.svg, input tokens x embedding dimensions of |∂S_t/∂e_ij|
/// for output step TT. Also index.html (svg), matrix.csv and gradients.csv (csv), and
/// saliency.json with provenance (json).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (model.safetensors, config.json, tokenizer.json).
    #[arg(long, default_value = super::autoencoder::DEFAULT_MODEL)]
    model: PathBuf,
    /// A sentence to explain; repeat for several.
    #[arg(long, required_unless_present = "input", conflicts_with = "input")]
    text: Vec<String>,
    /// A file with one sentence per line (blank lines are skipped; a sentence's id is its line
    /// number). A bad line is reported and the other sentences are still explained.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Output directory (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// The decoder score to differentiate.
    #[arg(long, value_enum, default_value_t = DecoderScore::Logit)]
    score: DecoderScore,
    /// Which output tokens to explain: the model's greedy reconstruction, or the input itself.
    #[arg(long, value_enum, default_value_t = OutputChoice::Greedy)]
    outputs: OutputChoice,
    /// Longest sentence accepted, in tokens [default: the model's training limit].
    #[arg(long)]
    max_tokens: Option<usize>,
    /// Draw only the output x input matrix, not one map per output step.
    #[arg(long)]
    no_steps: bool,
    #[command(flatten)]
    figures: FigureArgs,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
    /// Where tensors live.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
}

pub fn run(args: Args) -> Result<()> {
    let device = args.device.open()?;
    let loaded = load_autoencoder(&args.model, &device, candle_core::DType::F32)?;
    let max_tokens = args.max_tokens.unwrap_or(loaded.model.config().max_len);
    let (sentences, failures) = sentences(&args.text, args.input.as_ref(), &loaded.vocab, max_tokens)?;
    let scale = args.figures.scale();
    scale.check()?;
    let out = OutputDir::prepare(&args.out, args.force)?;

    let bar = progress_bar(sentences.len(), "saliency");
    let mut results: Vec<ReconstructionSaliency> = Vec::with_capacity(sentences.len());
    for s in &sentences {
        results.push(
            explain(&loaded, s, args.score, args.outputs, max_tokens.max(loaded.model.config().max_len))
                .with_context(|| format!("explaining sentence {}", s.id))?,
        );
        bar.inc(1);
    }
    bar.finish_and_clear();

    let files = ReconstructionFiles {
        formats: args.figures.format.clone(),
        steps: !args.no_steps,
        scale,
        title: format!("{} · autoencoder saliency · {}", args.model.display(), args.score.formula()),
        command: "salient autoencoder saliency".into(),
    };
    let bar = progress_bar(reconstruction::figure_count(&results, &files), "drawing");
    reconstruction::write(&out, &results, &failures, &files, &mut || bar.inc(1))?;
    bar.finish_and_clear();
    eprintln!("explained {} sentence(s) into {}", results.len(), out.path().display());
    if !failures.is_empty() {
        bail!("{} input(s) could not be explained (see the warnings above); the others were written", failures.len());
    }
    Ok(())
}
