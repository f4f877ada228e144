//! Subcommands, one file each, and the arguments they share (each declared once, here).

mod autoencoder;
mod eval;
mod export;
mod faithfulness;
mod figure;
mod import;
mod merge;
mod models;
mod train;

use std::path::PathBuf;

use anyhow::{bail, Result};
use candle_core::Device;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use salient::export::Existing;
use salient::figures::heatmap::HeatmapOptions;
use salient::figures::projection::ProjectionOptions;
use salient::figures::saliency::SaliencyOptions;
use salient::figures::{Format, Progress, Runtime};
use salient::limits::{Limited, Limits};

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
    /// Train a classifier on SST or your own labelled text: tanh RNN, LSTM or GRU, one or two directions (resumable; selects on dev).
    Train(train::Args),
    /// Score a trained model on a split of SST or labelled text (sentence, and for SST phrase, accuracy).
    Eval(eval::Args),
    /// Explain predictions: saliency heatmaps (gradient, IG, SmoothGrad, erasure, ...) per sentence.
    Saliency(figure::FigureArgs<SaliencyOptions>),
    /// Draw a model's insides: representations of phrases, per-step states, gates (LSTM, GRU).
    Heatmap(figure::FigureArgs<HeatmapOptions>),
    /// Score attribution methods by comprehensiveness and sufficiency on a split of SST or labelled text.
    Faithfulness(faithfulness::Args),
    /// The LSTM sequence-to-sequence autoencoder: train, eval, reconstruct, saliency.
    Autoencoder(autoencoder::Args),
    /// Project phrase representations to 2-d with t-SNE or PCA (the paper's Figure 2).
    Tsne(figure::FigureArgs<ProjectionOptions>),
    /// Make many figures from one TOML spec, each into its own directory, with a manifest.
    Export(export::Args),
    /// The interactive report of a spec: every figure on one self-contained HTML page.
    Report(export::ReportArgs),
    /// Make a model directory from a classifier trained in PyTorch (a state dict as safetensors).
    ///
    /// The PyTorch module must have salient's architecture and attribute names: `embedding`
    /// (nn.Embedding), `encoder` (a one-layer nn.RNN with tanh, nn.LSTM or nn.GRU, bidirectional
    /// for birnn/bilstm/bigru; its final hidden states, forward then backward, are the
    /// representation) and `classifier` (nn.Linear to 5 or 2 classes). Save its state dict with
    /// `safetensors.torch.save_file(model.state_dict(), "model.safetensors")`. The sizes come from
    /// the tensors, and every name and shape is checked. The model is scored on the SST dev split
    /// and the scores are recorded in its config.json; then every command (saliency, heatmap,
    /// tsne, faithfulness, export) explains it. `examples/pytorch_interop.py --export DIR` trains
    /// such a model in PyTorch and imports it.
    Import(import::Args),
    /// Join the directories of a run's shards (--shard I/N) into what one run writes.
    Merge(merge::Args),
    /// List the models that --model NAME can name: name, arch, task, dev score, directory.
    Models(models::Args),
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Where tensors live (cuda needs a build with `--features cuda`).
    #[arg(long, value_enum, global = true, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Worker threads: attribution and t-SNE [default: every CPU]; training [default: 1; more
    /// split each classifier batch's rows and the large matrix products across threads, and
    /// the weights then depend on the count, by rounding].
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Print nothing but results and errors (no progress, notes or summaries).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Longest SST tree (or labelled text) accepted, in tokens (SST's longest has 56; every phrase of a tree is
    /// scored, so the work grows with the square of its size).
    #[arg(long, global = true, value_name = "N", default_value_t = Limits::DEFAULT.tree_tokens)]
    pub max_tree_tokens: usize,
    /// Lift salient's limits on the work one request may ask for: --max-tree-tokens, --beam
    /// above 256, --threads above 256, --steps and --samples above 10,000, t-SNE's --iterations
    /// and points (--sample, or the phrases given) above 100,000.
    #[arg(long, global = true)]
    pub no_limits: bool,
}

impl GlobalArgs {
    /// Device, threads and limits for the library.
    pub fn runtime(&self) -> Result<Runtime> {
        self.check_threads()?;
        let threads = self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Ok(Runtime { device: self.device.open()?, threads, limits: self.limits() })
    }

    /// The limits on work: `--max-tree-tokens`, or none with `--no-limits`.
    pub fn limits(&self) -> Limits {
        if self.no_limits {
            Limits::NONE
        } else {
            Limits { tree_tokens: self.max_tree_tokens, ..Limits::DEFAULT }
        }
    }

    /// `--threads`: at least 1, and within the limits.
    fn check_threads(&self) -> Result<()> {
        if let Some(n) = self.threads {
            if n == 0 {
                bail!("--threads must be at least 1");
            }
            self.limits().check(Limited::Threads, n)?;
        }
        Ok(())
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

/// `--out`, `--force` and `--resume`: where files go, and what happens to what is there.
#[derive(Debug, Clone, clap::Args)]
pub struct OutArgs {
    /// Output directory (created if needed). It records what salient writes into it
    /// (.salient.jsonl: each file with its SHA-256, written before the file is put in place),
    /// so that an interrupted run can be finished and an earlier run's files replaced. Without
    /// --force or --resume, a file that is there already stops the run before any work.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace what an earlier run of salient wrote here: the files its record lists are removed
    /// first (and its figures' directories, for export), so that no stale figure remains; files
    /// of your own stay, unless one has the name of a file this run writes.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Finish an interrupted run (killed, or stopped by an error) with the same options: files
    /// recorded and intact are kept, figures recorded as complete are not made again, the rest is
    /// made; the result is byte for byte that of an uninterrupted run. A directory without a
    /// record starts a new run.
    #[arg(long)]
    pub resume: bool,
}

impl OutArgs {
    /// What to do with the files of an earlier run.
    pub fn existing(&self) -> Existing {
        match (self.force, self.resume) {
            (true, _) => Existing::Replace,
            (false, true) => Existing::Resume,
            (false, false) => Existing::Refuse,
        }
    }

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

/// Advice for an error of the library (a [`salient::Error`] or an SST reading error), in the
/// command line's own words.
pub fn hint(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = error.downcast_ref::<salient::error::SstError>() {
        return sst_hint(e);
    }
    if let Some(e) = error.downcast_ref::<salient::error::LabelledError>() {
        return labelled_hint(e);
    }
    library_hint(error.downcast_ref::<salient::Error>()?)
}

fn sst_hint(error: &salient::error::SstError) -> Option<String> {
    use salient::error::SstError;
    Some(match error {
        SstError::Missing { .. } => "pass --data DIR with the SST files".into(),
        SstError::TreeTooLarge { .. } => {
            "raise the limit with --max-tree-tokens N (or lift every limit with --no-limits)".into()
        }
        _ => return None,
    })
}

fn labelled_hint(error: &salient::error::LabelledError) -> Option<String> {
    use salient::error::LabelledError;
    Some(match error {
        LabelledError::NoColumn { role: "text", .. } | LabelledError::MissingField { role: "text", .. } => {
            "name the text's column or key with --text-field NAME".into()
        }
        LabelledError::NoColumn { .. } | LabelledError::MissingField { .. } => {
            "name the label's column or key with --label-field NAME".into()
        }
        LabelledError::UnknownLabel { .. } => {
            "give every class in order with `salient train --classes a,b,c` (for eval, the data must use the \
             model's classes)"
                .into()
        }
        LabelledError::Ambiguous { .. } => "keep one file per split in --data DIR".into(),
        LabelledError::Mismatch { .. } => {
            "pass --data DIR with data of the model's kind: SST trees for an SST model, labelled text for one \
             trained on labelled text"
                .into()
        }
        LabelledError::TooLong { .. } => {
            "raise the limit with --max-tree-tokens N (or lift every limit with --no-limits)".into()
        }
        _ => return None,
    })
}

fn library_hint(error: &salient::Error) -> Option<String> {
    use salient::error::{ImportError, SentenceError};
    use salient::Error;
    Some(match error {
        Error::Exists { .. } => {
            "pass --resume to finish an interrupted run, --force to replace what an earlier run wrote (and overwrite \
             this file), or choose another --out"
                .into()
        }
        Error::OtherRun { .. } => {
            "--resume needs the options the interrupted run was started with; pass --force to replace its files".into()
        }
        Error::OutputDir { .. } => "choose another --out".into(),
        Error::NoInput { what: "sentences" } => "give --text (repeatable) or --input FILE".into(),
        Error::PhraseSource => "give one of --phrases FILE, --sample N, --preset NAME".into(),
        Error::Sentence(SentenceError::TooLong { .. }) => "raise the limit with --max-tokens".into(),
        Error::Sst(e) => return sst_hint(e),
        Error::Labelled(e) => return labelled_hint(e),
        Error::OverLimit { .. } => "pass --no-limits to run it anyway".into(),
        Error::InvalidArgument { name, .. } => format!("see --{} in --help", name.replace('_', "-")),
        Error::WithFailures { error, .. } => return library_hint(error),
        Error::RunExists { .. } => "pass --resume to continue it, or choose another --out".into(),
        Error::ResumeOptions { .. } => {
            "pass the options the run was started with (only --epochs and --patience may change)".into()
        }
        Error::Import(e) => match **e {
            ImportError::Vocabulary { .. } => {
                "pass --tokenizer with the tokenizer.json the PyTorch model was trained with".into()
            }
            ImportError::Unreadable { .. } | ImportError::NotFloat { .. } => {
                "see `salient import --help` for how to save the state dict".into()
            }
            _ => "check --arch, and that the PyTorch module names its parts embedding, encoder and classifier (see \
                  `salient import --help`)"
                .into(),
        },
        Error::Shard(e) => return shard_hint(e),
        Error::NoModel { .. } => {
            "pass --model DIR with a directory made by `salient train`, or --model NAME with a name `salient models` \
             lists"
                .into()
        }
        Error::UnknownName { what: "model", variable, .. } => format!(
            "pass --model DIR with a model directory, or set ${variable} to a directory holding model directories \
             (`salient models` lists the names found)"
        ),
        Error::UnknownName { variable, .. } => {
            format!("pass --data DIR with the data, or set ${variable} to a directory holding data sets")
        }
        _ => return None,
    })
}

fn shard_hint(error: &salient::error::ShardError) -> Option<String> {
    use salient::error::ShardError;
    Some(match error {
        ShardError::Incomplete { .. } | ShardError::Changed { .. } => {
            "run that shard again with its command and --resume (or --force), then merge".into()
        }
        ShardError::Missing { .. } => "give every shard's directory; run the missing shards first".into(),
        ShardError::Mismatch { .. } | ShardError::Duplicate { .. } => {
            "give the directories of one run's shards, each once".into()
        }
        ShardError::NotAShard { .. } => "give directories written with --shard I/N".into(),
        _ => return None,
    })
}

/// Parse the command line and run it.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    let global = cli.global;
    global.check_threads()?;
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
        Command::Report(args) => export::report(args, &global),
        Command::Import(args) => import::run(args, &global),
        Command::Merge(args) => merge::run(args, &global),
        Command::Models(args) => models::run(args, &global),
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
    fn import_parses() {
        let cli = parse(&[
            "import",
            "--from-pytorch",
            "m.safetensors",
            "--tokenizer",
            "t.json",
            "--arch",
            "bilstm",
            "--out",
            "o",
        ]);
        let Command::Import(_) = cli.command else { panic!("not import") };
        assert!(
            Cli::try_parse_from(["salient", "import", "--from-pytorch", "m", "--tokenizer", "t", "--out", "o"])
                .is_err(),
            "--arch is required"
        );
    }

    #[test]
    fn shards_parse() {
        let cli = parse(&["saliency", "--input", "f.txt", "--shard", "1/3", "--out", "o"]);
        let Command::Saliency(a) = cli.command else { panic!("not saliency") };
        assert_eq!(a.options.shard.map(|s| (s.index, s.count)), Some((1, 3)));
        let cli = parse(&["faithfulness", "--shard", "0/2", "--out", "o"]);
        let Command::Faithfulness(a) = cli.command else { panic!("not faithfulness") };
        assert_eq!(a.options.shard.map(|s| s.to_string()), Some("0/2".into()));
        let cli = parse(&["merge", "--out", "m", "a", "b"]);
        let Command::Merge(a) = cli.command else { panic!("not merge") };
        assert_eq!(a.shards.len(), 2);
        for bad in [&["saliency", "--shard", "0/2"][..], &["saliency", "--input", "f", "--shard", "2/2"]] {
            assert!(Cli::try_parse_from(std::iter::once("salient").chain(bad.iter().copied())).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn models_parses() {
        assert!(matches!(parse(&["models", "--json"]).command, Command::Models(_)));
    }

    #[test]
    fn control_characters_do_not_reach_the_terminal() {
        assert_eq!(escape_terminal("a\u{1b}[31mb\u{7}"), "a\\u{1b}[31mb\\u{7}");
    }
}
