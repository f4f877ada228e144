//! Subcommands, one file each, and the arguments they share (each declared once, here).

mod autoencoder;
mod eval;
mod export;
mod faithfulness;
mod figure;
mod train;

use std::path::PathBuf;

use anyhow::{bail, Result};
use candle_core::Device;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use salient::figures::heatmap::HeatmapOptions;
use salient::figures::projection::ProjectionOptions;
use salient::figures::saliency::SaliencyOptions;
use salient::figures::{Format, Progress, Runtime};

/// salient: train sentiment models on the Stanford Sentiment Treebank and see inside them.
#[derive(Debug, Parser)]
#[command(name = "salient", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: GlobalArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a classifier on SST: tanh RNN, LSTM or GRU, one or two directions (resumable; selects on dev).
    Train(train::Args),
    /// Score a trained model on an SST split (sentence and phrase accuracy).
    Eval(eval::Args),
    /// Explain predictions: saliency heatmaps (gradient, IG, SmoothGrad, erasure, ...) per sentence.
    Saliency(figure::FigureArgs<SaliencyOptions>),
    /// Draw a model's insides: representations of phrases, per-step states, gates (LSTM, GRU).
    Heatmap(figure::FigureArgs<HeatmapOptions>),
    /// Score attribution methods by comprehensiveness and sufficiency on an SST split.
    Faithfulness(faithfulness::Args),
    /// The LSTM sequence-to-sequence autoencoder: train, eval, reconstruct, saliency.
    Autoencoder(autoencoder::Args),
    /// Project phrase representations to 2-d with t-SNE or PCA (the paper's Figure 2).
    Tsne(figure::FigureArgs<ProjectionOptions>),
    /// Make many figures from one TOML spec, each into its own directory, with a manifest.
    Export(export::Args),
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Where tensors live (cuda needs a build with `--features cuda`).
    #[arg(long, value_enum, global = true, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Worker threads: attribution and t-SNE [default: every CPU]; training's matrix products
    /// [default: 1, which is fastest for these small matrices].
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Print nothing but results and errors (no progress, notes or summaries).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

impl GlobalArgs {
    /// Device and threads for the library.
    pub fn runtime(&self) -> Result<Runtime> {
        if self.threads == Some(0) {
            bail!("--threads must be at least 1");
        }
        let threads = self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Ok(Runtime { device: self.device.open()?, threads })
    }

    /// A note for the user, unless quiet.
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("note: {}", escape_terminal(text.as_ref()));
        }
    }

    /// A line saying what was done, unless quiet.
    pub fn say(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", escape_terminal(text.as_ref()));
        }
    }

    /// A warning; printed even when quiet.
    pub fn warn(&self, text: impl AsRef<str>) {
        eprintln!("warning: {}", escape_terminal(text.as_ref()));
    }

    /// Progress bars on standard error (when it is a terminal and not quiet), and notes (unless
    /// quiet).
    pub fn progress(&self) -> Bars {
        Bars {
            bar: None,
            visible: !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            quiet: self.quiet,
        }
    }
}

/// Control characters of user text made visible before they reach a terminal (an escape
/// sequence in an input must not drive the user's terminal).
pub fn escape_terminal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> =
                if c.is_control() && c != '\n' && c != '\t' { c.escape_default().collect() } else { vec![c] };
            escaped
        })
        .collect()
}

/// `--out` and `--force`: where files go.
#[derive(Debug, Clone, clap::Args)]
pub struct OutArgs {
    /// Output directory (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
}

impl OutArgs {
    /// The output directory, required by this command.
    pub fn required(&self) -> Result<&PathBuf> {
        match &self.out {
            Some(dir) => Ok(dir),
            None => bail!("this command writes files: give --out DIR"),
        }
    }
}

/// `--format`: which files to write.
#[derive(Debug, Clone, clap::Args)]
pub struct FormatArgs {
    /// What to write, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "svg,csv,json,html,ipynb")]
    pub format: Vec<Format>,
}

/// `--json`: print the result as JSON on standard output.
#[derive(Debug, Clone, clap::Args)]
pub struct JsonArg {
    /// Print the result as JSON on standard output (files go to --out).
    #[arg(long)]
    pub json: bool,
}

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DeviceArg {
    /// The CPU (default).
    #[default]
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
}

impl DeviceArg {
    /// Open the device.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceArg::Cpu => Ok(Device::Cpu),
            DeviceArg::Cuda => {
                if !cfg!(feature = "cuda") {
                    bail!("--device cuda needs a build with the GPU feature: cargo build --release --features cuda");
                }
                Ok(Device::new_cuda(0)?)
            }
        }
    }
}

/// Progress bars for the library's long work, one per stage.
pub struct Bars {
    bar: Option<ProgressBar>,
    visible: bool,
    quiet: bool,
}

impl Progress for Bars {
    fn stage(&mut self, name: &str, total: usize) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {per_sec} {elapsed}<{eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        if self.visible {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar = Some(bar);
    }

    fn advance(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        }
    }

    fn note(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        let line = format!("note: {}", escape_terminal(text));
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Advice for an error of the library, in the command line's own words.
pub fn hint(error: &salient::Error) -> Option<String> {
    use salient::error::SentenceError;
    use salient::Error;
    Some(match error {
        Error::Exists { .. } => "pass --force to overwrite it, or choose another --out".into(),
        Error::OutputDir { .. } => "choose another --out".into(),
        Error::NoInput { what: "sentences" } => "give --text (repeatable) or --input FILE".into(),
        Error::PhraseSource => "give one of --phrases FILE, --sample N, --preset NAME".into(),
        Error::Sentence(SentenceError::TooLong { .. }) => "raise the limit with --max-tokens".into(),
        Error::Sst(salient::error::SstError::Missing { .. }) => "pass --data DIR with the SST files".into(),
        Error::InvalidArgument { name, .. } => format!("see --{} in --help", name.replace('_', "-")),
        Error::WithFailures { error, .. } => return hint(error),
        Error::RunExists { .. } => "pass --resume to continue it, or choose another --out".into(),
        Error::ResumeOptions { .. } => {
            "pass the options the run was started with (only --epochs and --patience may change)".into()
        }
        Error::NoModel { .. } => {
            "pass --model DIR with a directory made by `salient train`, or a shipped model under data/models".into()
        }
        _ => return None,
    })
}

/// Parse the command line and run it.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    let global = cli.global;
    if let Some(n) = global.threads {
        if matches!(cli.command, Command::Train(_) | Command::Autoencoder(_)) {
            // SAFETY: no other thread has started yet.
            unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
        }
    }
    match cli.command {
        Command::Train(args) => train::run(args, &global),
        Command::Eval(args) => eval::run(args, &global),
        Command::Saliency(args) => figure::run(args, &global),
        Command::Heatmap(args) => figure::run(args, &global),
        Command::Faithfulness(args) => faithfulness::run(args, &global),
        Command::Autoencoder(args) => autoencoder::run(args, &global),
        Command::Tsne(args) => figure::run(args, &global),
        Command::Export(args) => export::run(args, &global),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("salient").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn train_parses() {
        let cli = parse(&["train", "--arch", "lstm", "--task", "binary", "--seed", "3", "--threads", "2"]);
        assert!(matches!(cli.command, Command::Train(_)));
        assert_eq!(cli.global.threads, Some(2));
    }

    #[test]
    fn eval_parses() {
        let cli = parse(&["eval", "--model", "m", "--split", "dev", "--json", "--quiet"]);
        assert!(matches!(cli.command, Command::Eval(_)) && cli.global.quiet);
    }

    #[test]
    fn saliency_parses() {
        let cli = parse(&[
            "saliency", "--text", "a b", "--method", "ig", "--steps", "7", "--out", "o", "--format", "svg,csv",
        ]);
        let Command::Saliency(a) = cli.command else { panic!("not saliency") };
        assert_eq!((a.options.method.as_str(), a.options.method_args.steps), ("ig", 7));
        assert_eq!(a.format.format, [Format::Svg, Format::Csv]);
        assert!(
            Cli::try_parse_from(["salient", "saliency", "--method", "nope"]).is_err(),
            "methods come from the registry"
        );
    }

    #[test]
    fn heatmap_parses() {
        let cli = parse(&["heatmap", "--text", "good", "--view", "gates", "--device", "cpu", "--out", "o"]);
        assert!(matches!(cli.command, Command::Heatmap(_)));
    }

    #[test]
    fn faithfulness_parses() {
        let cli = parse(&["faithfulness", "--methods", "grad,ig", "--limit", "3", "--json"]);
        let Command::Faithfulness(a) = cli.command else { panic!("not faithfulness") };
        assert_eq!(a.options.methods, ["grad", "ig"]);
    }

    #[test]
    fn autoencoder_parses() {
        for args in [
            &["autoencoder", "train", "--out", "o", "--epochs", "1"][..],
            &["autoencoder", "eval", "--split", "dev", "--json"],
            &["autoencoder", "reconstruct", "--text", "a", "--beam", "3"],
            &["autoencoder", "saliency", "--text", "a", "--score", "paper", "--no-steps", "--out", "o"],
        ] {
            assert!(matches!(parse(args).command, Command::Autoencoder(_)));
        }
    }

    #[test]
    fn tsne_parses() {
        let cli = parse(&["tsne", "--preset", "negation", "--perplexity", "5", "--out", "o", "--threads", "1"]);
        let Command::Tsne(a) = cli.command else { panic!("not tsne") };
        assert_eq!(a.options.perplexity, Some(5.0));
        assert!(
            Cli::try_parse_from(["salient", "tsne", "--preset", "nope"]).is_err(),
            "presets come from the registry"
        );
    }

    #[test]
    fn export_parses() {
        let cli = parse(&["export", "--spec", "s.toml", "--out", "o", "--force", "--format", "csv"]);
        assert!(matches!(cli.command, Command::Export(_)));
    }

    #[test]
    fn control_characters_do_not_reach_the_terminal() {
        assert_eq!(escape_terminal("a\u{1b}[31mb\u{7}"), "a\\u{1b}[31mb\\u{7}");
    }
}
