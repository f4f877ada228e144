//! `salient train`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use salient::data::{dataset, vectors, Fields, Task};
use salient::model::Arch;
use salient::train::{self, EpochRecord, LrSchedule, PhraseSet, TrainEvent, TrainOptions};

use salient::figures::{data_dir, SeedArg, DEFAULT_SST};

use super::GlobalArgs;

/// Train a classifier on every unique labelled phrase of SST's train split (or every occurrence:
/// --phrases all), or on the sentences of your own labelled text.
///
/// --data holds the train and dev splits: SST trees (`train.txt.gz` or `train.txt`, ...; give
/// --task) or labelled text (`train.tsv`, `train.csv` or `train.jsonl`, each optionally `.gz`;
/// one file per split). The classes of labelled text are its train labels: `0..=max` when all
/// are whole numbers, otherwise the names sorted; --classes fixes their names and order.
///
/// After each epoch the model is scored on dev sentences; the best epoch is written to --out as
/// model.safetensors + config.json + tokenizer.json, and --out/checkpoint holds the last epoch
/// for --resume. Test is never looked at.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Encoder architecture.
    #[arg(long, value_enum)]
    arch: Arch,
    /// For SST trees: fine-grained (5 classes) or binary (neutral phrases dropped).
    #[arg(long, value_enum)]
    task: Option<Task>,
    /// Data directory, or a data set's name: SST trees or labelled text (see above).
    /// A path that exists wins; a name is looked up in
    /// $SALIENT_DATA, then the data/ of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/data (~/.local/share/salient/data).
    #[arg(long, value_name = "DIR|NAME", default_value = DEFAULT_SST)]
    data: PathBuf,
    /// For labelled text: the class names in class order, comma-separated (every train and dev
    /// label must be one of them, or an index 0..k-1) [default: from the train labels].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// The fields of labelled text.
    #[command(flatten)]
    fields: Fields,
    /// Output directory (default: runs/<arch>-<task>, with `text` as the task for labelled text).
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
    /// Embedding size [default: 60, or the dimension of the --embeddings file].
    #[arg(long, value_name = "N")]
    embedding_dim: Option<usize>,
    /// Start the embeddings from pretrained word vectors: a GloVe text file (`word v1 ... vd` a
    /// line) or a word2vec/fastText text file (a `count dim` line first), `.gz` too. A vocabulary
    /// word takes the vector of the same word, else of the first word equal to it once both are
    /// lower-cased; the others start random. The embedding size is the file's; the hidden size
    /// stays --hidden-dim. What the vectors cover is printed and kept in config.json. --resume
    /// reads only the file's first line (for its dimension), or nothing with --embedding-dim.
    #[arg(long, value_name = "FILE")]
    embeddings: Option<PathBuf>,
    /// Keep the embeddings as they start (with --embeddings, the pretrained vectors): no
    /// update and no L2 decay; the other weights train as usual.
    #[arg(long)]
    freeze_embeddings: bool,
    /// Hidden size (per direction).
    #[arg(long, default_value_t = 60)]
    hidden_dim: usize,
    /// Keep case (by default tokens are lower-cased).
    #[arg(long)]
    keep_case: bool,
    /// Storage type of the selected model's weights.
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
    weights_dtype: String,
    /// Train on every unique labelled phrase, or on every phrase occurrence (as the paper's
    /// code did: frequent phrases weigh more). Labelled text: `all` keeps repeated sentences.
    #[arg(long, value_enum, default_value_t = PhraseSet::Unique)]
    phrases: PhraseSet,
    /// Word dropout: replace each training token by [UNK] with this probability.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    word_dropout: f32,
    /// Score and select, after each epoch, the average of the last K epochs' weights (1: the
    /// weights themselves); training goes on from the weights.
    #[arg(long, default_value_t = 1, value_name = "K")]
    average_last: usize,
    /// Learning-rate schedule: constant --lr, or Smith's triangular cyclical policy, from
    /// --lr-min up to --lr and back once every --cycle-epochs epochs (per batch). Find the
    /// bounds with --lr-range-test.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Constant)]
    lr_schedule: ScheduleArg,
    /// The lower learning rate of --lr-schedule triangular and of --lr-range-test.
    #[arg(long, value_name = "LR")]
    lr_min: Option<f64>,
    /// Epochs per triangular cycle (up and down).
    #[arg(long, default_value_t = 2.0, value_name = "EPOCHS")]
    cycle_epochs: f64,
    /// Instead of training: the learning-rate range test. One epoch with the rate rising
    /// geometrically from --lr-min to --lr batch by batch, dev sentence accuracy measured at
    /// 25 points; writes --out/lr-range.csv (batch, lr, smoothed training loss, dev accuracy)
    /// and prints the rate of the best dev accuracy and a triangular range below it.
    #[arg(long)]
    lr_range_test: bool,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
}

/// `--lr-schedule` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ScheduleArg {
    Constant,
    Triangular,
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
        TrainEvent::Embeddings(c) => eprintln!(
            "pretrained vectors: {} of {} vocabulary words ({}, {} of them matched lower-cased), {} of the {} \
             training tokens; {} vectors of {} values in {}",
            c.found,
            c.vocab_words,
            percent(c.word_share()),
            c.found_lowercase,
            percent(c.token_share()),
            c.train_tokens,
            c.file_vectors,
            c.dim,
            super::escape_terminal(&c.file.display().to_string()),
        ),
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

/// The embedding size: --embedding-dim, the dimension of the --embeddings file (they must
/// agree when both are given), or the default.
fn embedding_dim(args: &Args, task: &salient::data::Classes) -> Result<usize> {
    let Some(path) = &args.embeddings else {
        return Ok(args.embedding_dim.unwrap_or(TrainOptions::recommended(args.arch, task.clone()).embedding_dim));
    };
    match (vectors::dimension(path), args.embedding_dim) {
        (Ok((_, dim)), Some(given)) if given != dim => bail!(
            "--embedding-dim {given} disagrees with --embeddings {}: its vectors have {dim} values; leave \
             --embedding-dim out (the file sets it) or pass --embedding-dim {dim}",
            path.display()
        ),
        (Ok((_, dim)), _) => Ok(dim),
        // A resumed run does not read the vectors again: the embedding size is enough.
        (Err(_), Some(given)) if args.resume => Ok(given),
        (Err(e), _) if args.resume => Err(anyhow::Error::new(e).context(
            "--resume reads the first line of --embeddings for the embedding size; pass --embedding-dim N \
             (the run's embedding size) to resume without the file",
        )),
        (Err(e), _) => Err(e.into()),
    }
}

/// A share as a percentage, with two decimals below 1% (so that a few words are not "0.0%").
fn percent(share: f64) -> String {
    let p = 100.0 * share;
    if p < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

fn options(args: &Args, task: salient::data::Classes) -> Result<TrainOptions> {
    Ok(TrainOptions {
        fields: args.fields.clone(),
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        l2: args.l2,
        dropout: args.dropout,
        seed: args.seed.seed,
        patience: args.patience,
        embedding_dim: embedding_dim(args, &task)?,
        hidden_dim: args.hidden_dim,
        lowercase: !args.keep_case,
        weights_dtype: args.weights_dtype.clone(),
        embeddings: args.embeddings.clone(),
        freeze_embeddings: args.freeze_embeddings,
        phrases: args.phrases,
        word_dropout: args.word_dropout,
        average_last: args.average_last,
        lr_schedule: match args.lr_schedule {
            ScheduleArg::Constant => LrSchedule::Constant,
            ScheduleArg::Triangular => LrSchedule::Triangular {
                min_lr: args.lr_min.context("--lr-schedule triangular needs --lr-min (its lower rate)")?,
                cycle_epochs: args.cycle_epochs,
            },
        },
        ..TrainOptions::recommended(args.arch, task)
    })
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let device = global.device.open()?;
    let data = data_dir(&args.data)?;
    let task = dataset::train_classes(&data, args.task, &args.fields, args.classes.clone()).context(
        "choosing the classes (SST trees take --task fine or binary; labelled text its labels or --classes)",
    )?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("runs/{}-{}", args.arch, task)));
    if let salient::data::Classes::Text(names) = &task {
        eprintln!("classes (in order): {}", names.join(", "));
    }
    let options = options(&args, task)?;
    if args.lr_range_test {
        return range_test(&args, &data, &out, &options, global, &device);
    }
    let what = format!("{} {}", args.arch, options.task);
    let mut progress = progress("phrases", |r: &EpochRecord| format!("dev {}", describe(&r.dev)));
    let state = train::train(&data, &out, options, args.resume, &global.limits(), &device, &mut progress)
        .with_context(|| format!("training {what} into {}", out.display()))?;
    match state.best {
        Some((epoch, dev)) => eprintln!(
            "selected epoch {epoch} (dev {}){}; model in {}",
            describe(&dev),
            if state.stopped_early { ", stopped early" } else { "" },
            out.display()
        ),
        None => eprintln!("no epoch was run; model in {}", out.display()),
    }
    Ok(())
}

/// `--lr-range-test`: run it, write `out/lr-range.csv` (never over an existing file), print the
/// measured points and a suggested triangular range.
fn range_test(
    args: &Args,
    data: &std::path::Path,
    out: &std::path::Path,
    options: &TrainOptions,
    global: &GlobalArgs,
    device: &candle_core::Device,
) -> Result<()> {
    let min_lr =
        args.lr_min.context("--lr-range-test needs --lr-min (the rate it starts from; --lr is where it ends)")?;
    let path = out.join("lr-range.csv");
    if path.exists() {
        bail!("{} already exists; give another --out (salient does not overwrite a range test)", path.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    eprintln!("learning-rate range test: {} {}, lr {min_lr} -> {} over one epoch", args.arch, options.task, options.lr);
    let mut report = |p: &train::RangePoint| {
        if let Some(acc) = p.dev_accuracy {
            eprintln!(
                "batch {:>5}  lr {:<10.4e}  loss {:.4}  dev sentence accuracy {acc:.4}",
                p.batch, p.lr, p.smoothed_loss
            );
        }
    };
    let points = train::lr_range_test(data, options, min_lr, 25, &global.limits(), device, &mut report)
        .with_context(|| format!("the learning-rate range test on {}", data.display()))?;
    let mut csv = String::from("batch,lr,smoothed_loss,dev_sentence_accuracy\n");
    for p in &points {
        let acc = p.dev_accuracy.map(|a| a.to_string()).unwrap_or_default();
        csv.push_str(&format!("{},{},{},{acc}\n", p.batch, p.lr, p.smoothed_loss));
    }
    let tmp = out.join(".lr-range.csv.tmp");
    std::fs::write(&tmp, csv).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    let best =
        points.iter().filter_map(|p| Some((p.lr, p.dev_accuracy?))).fold(None, |b: Option<(f64, f64)>, (lr, acc)| {
            if b.is_none_or(|(_, a)| acc > a) {
                Some((lr, acc))
            } else {
                b
            }
        });
    if let Some((lr, acc)) = best {
        eprintln!(
            "best dev sentence accuracy {acc:.4} at lr {lr:.4e}; a triangular range to try: \
             --lr-schedule triangular --lr-min {:.3e} --lr {lr:.3e}",
            lr / 4.0
        );
    }
    if points.last().is_some_and(|p| p.lr < options.lr * (1.0 - 1e-9)) {
        eprintln!("stopped early: the loss diverged");
    }
    eprintln!("every batch in {}", path.display());
    Ok(())
}

/// Dev scores in words; phrase accuracy only where the data labels phrases.
fn describe(dev: &salient::eval::SplitScores) -> String {
    match dev.phrase_accuracy {
        Some(phrase) => format!("sentence accuracy {:.4}, phrase {phrase:.4}", dev.sentence_accuracy),
        None => format!("sentence accuracy {:.4}; no phrase labels", dev.sentence_accuracy),
    }
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
        assert_eq!(
            options(&w.args, Task::Binary.into()).unwrap(),
            TrainOptions::recommended(Arch::BILSTM, Task::Binary)
        );
        let w = Wrapper::try_parse_from(["train", "--arch", "rnn", "--task", "fine", "--lr", "0.1", "--keep-case"])
            .unwrap();
        let o = options(&w.args, Task::Fine.into()).unwrap();
        assert_eq!((o.lr, o.lowercase), (0.1, false));
    }

    #[test]
    fn labelled_text_flags() {
        let w = Wrapper::try_parse_from([
            "train",
            "--arch",
            "lstm",
            "--data",
            "d",
            "--classes",
            "neg,pos",
            "--text-field",
            "sentence",
            "--label-field",
            "y",
        ])
        .unwrap();
        assert_eq!((w.args.task, w.args.classes.as_deref()), (None, Some(&["neg".to_string(), "pos".to_string()][..])));
        let o = options(&w.args, salient::data::Classes::text(vec!["neg".into(), "pos".into()]).unwrap()).unwrap();
        assert_eq!((o.fields.text_field.as_str(), o.fields.label_field.as_str()), ("sentence", "y"));
    }
}
