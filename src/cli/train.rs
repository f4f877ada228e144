//! `salient train`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use salient::data::Task;
use salient::model::Arch;
use salient::train::{self, EpochRecord, TrainEvent, TrainOptions};

use salient::figures::{data_dir, SeedArg, DEFAULT_SST};

use super::GlobalArgs;

/// Train a classifier on every unique labelled phrase of SST's train split.
///
/// After each epoch the model is scored on dev sentences; the best epoch is written to --out as
/// model.safetensors + config.json + tokenizer.json, and --out/checkpoint holds the last epoch
/// for --resume. Test is never looked at.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Encoder architecture.
    #[arg(long, value_enum)]
    arch: Arch,
    /// Fine-grained (5 classes) or binary (neutral phrases dropped).
    #[arg(long, value_enum)]
    task: Task,
    /// Directory with SST train/dev/test trees (`train.txt.gz` or `train.txt`, ...), or a data set's name: a path that exists wins; a name is looked up in
    /// $SALIENT_DATA, then the data/ of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/data (~/.local/share/salient/data).
    #[arg(long, value_name = "DIR|NAME", default_value = DEFAULT_SST)]
    data: PathBuf,
    /// Output directory (default: runs/<arch>-<task>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Most epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Phrases per mini-batch (phrases of equal length are batched together).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// AdaGrad learning rate.
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// L2 penalty on weight matrices and embedding rows.
    #[arg(long, default_value_t = 1e-5)]
    l2: f64,
    /// Dropout on embeddings and on the final representation.
    #[arg(long, default_value_t = 0.5)]
    dropout: f32,
    /// Seed for initialisation, shuffling and dropout.
    #[command(flatten)]
    seed: SeedArg,
    /// Stop after this many epochs without a better dev sentence accuracy.
    #[arg(long, default_value_t = 4)]
    patience: usize,
    /// Embedding size.
    #[arg(long, default_value_t = 60)]
    embedding_dim: usize,
    /// Hidden size (per direction).
    #[arg(long, default_value_t = 60)]
    hidden_dim: usize,
    /// Keep case (by default tokens are lower-cased).
    #[arg(long)]
    keep_case: bool,
    /// Storage type of the selected model's weights.
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
    weights_dtype: String,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
}

/// A training-event handler that draws a progress bar per epoch (on a terminal) and prints one
/// line per finished epoch: loss, `describe(record)`, speed in `unit`s and tokens per second.
pub fn progress<S>(unit: &'static str, describe: impl Fn(&EpochRecord<S>) -> String) -> impl FnMut(TrainEvent<S>) {
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} batches {elapsed}<{eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // Without a terminal (a log file), one line per tenth of an epoch instead of a bar.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if terminal {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
    let (mut loss_avg, mut examples, mut tokens, mut started) = (0f64, 0usize, 0usize, std::time::Instant::now());
    let (mut epoch_now, mut batches_done, mut batches_total) = (0usize, 0usize, 0usize);
    move |event| match event {
        TrainEvent::EpochStart { epoch, batches } => {
            bar.reset();
            bar.set_length(batches as u64);
            bar.set_prefix(epoch.to_string());
            (loss_avg, examples, tokens, started) = (0.0, 0, 0, std::time::Instant::now());
            (epoch_now, batches_done, batches_total) = (epoch, 0, batches);
        }
        TrainEvent::Batch { loss, examples: e, tokens: t } => {
            loss_avg = if examples == 0 { loss as f64 } else { 0.98 * loss_avg + 0.02 * loss as f64 };
            examples += e;
            tokens += t;
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            let message = format!(
                "loss {loss_avg:.3}  {:.0} {unit}/s  {:.0} tokens/s",
                examples as f64 / secs,
                tokens as f64 / secs
            );
            batches_done += 1;
            let tenth = |k: usize| k * 10 / batches_total.max(1);
            if !terminal && tenth(batches_done) > tenth(batches_done - 1) && batches_done < batches_total {
                eprintln!("epoch {epoch_now:>2}  {batches_done}/{batches_total} batches  {message}  {secs:.0}s");
            }
            bar.set_message(message);
            bar.inc(1);
        }
        TrainEvent::EpochEnd(r) => {
            bar.finish_and_clear();
            eprintln!(
                "epoch {:>2}  loss {:.4}  {}  {:.0} {unit}/s  {:.0} tokens/s  {:.1}s{}",
                r.epoch,
                r.train_loss,
                describe(r),
                r.examples_per_s,
                r.tokens_per_s,
                r.seconds,
                if r.improved { "  *saved" } else { "" }
            );
        }
    }
}

fn options(args: &Args) -> TrainOptions {
    TrainOptions {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        l2: args.l2,
        dropout: args.dropout,
        seed: args.seed.seed,
        patience: args.patience,
        embedding_dim: args.embedding_dim,
        hidden_dim: args.hidden_dim,
        lowercase: !args.keep_case,
        weights_dtype: args.weights_dtype.clone(),
        ..TrainOptions::recommended(args.arch, args.task)
    }
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let device = global.device.open()?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("runs/{}-{}", args.arch, args.task)));
    let options = options(&args);
    let mut progress = progress("phrases", |r: &EpochRecord| {
        format!("dev sentence {:.4}  phrase {:.4}", r.dev.sentence_accuracy, r.dev.phrase_accuracy)
    });
    let state =
        train::train(&data_dir(&args.data)?, &out, options, args.resume, &global.limits(), &device, &mut progress)
            .with_context(|| format!("training {} {} into {}", args.arch, args.task, out.display()))?;
    match state.best {
        Some((epoch, dev)) => eprintln!(
            "selected epoch {epoch} (dev sentence accuracy {:.4}, phrase {:.4}){}; model in {}",
            dev.sentence_accuracy,
            dev.phrase_accuracy,
            if state.stopped_early { ", stopped early" } else { "" },
            out.display()
        ),
        None => eprintln!("no epoch was run; model in {}", out.display()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flag_defaults_are_the_recommended_options() {
        let w = Wrapper::try_parse_from(["train", "--arch", "bilstm", "--task", "binary"]).unwrap();
        assert_eq!(options(&w.args), TrainOptions::recommended(Arch::BILSTM, Task::Binary));
        let w = Wrapper::try_parse_from(["train", "--arch", "rnn", "--task", "fine", "--lr", "0.1", "--keep-case"])
            .unwrap();
        let o = options(&w.args);
        assert_eq!((o.lr, o.lowercase), (0.1, false));
    }
}
