//! `salient faithfulness`.

use anyhow::{Context, Result};
use salient::export::OutputDir;
use salient::figures::faithfulness::{markdown, FaithfulnessOptions};
use salient::figures::{figure_key, make_recorded, Figure};

use super::{FormatArgs, GlobalArgs, JsonArg, OutArgs};

/// Score attribution methods by how faithful they are to the model, on a split of SST trees or
/// labelled text.
///
/// Comprehensiveness: how much the predicted class's probability falls when a sentence's top
/// 10, 20, 50% tokens by attribution are removed (higher is better). Sufficiency: how much it
/// falls when only those tokens are kept (lower is better). AOPC is the mean over the three.
/// A seeded random attribution is the baseline. Prints a Markdown table (--json: the report as
/// JSON); with --out, also writes faithfulness.svg, .csv, .json and index.html.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to score.
    #[command(flatten)]
    pub options: FaithfulnessOptions,
    /// Where to write files (optional).
    #[command(flatten)]
    pub out: OutArgs,
    /// What to write.
    #[command(flatten)]
    pub format: FormatArgs,
    /// JSON on standard output.
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    if args.options.shard.is_some() && args.out.out.is_none() {
        anyhow::bail!("a shard writes its numbers into a directory for `salient merge`: give --out DIR");
    }
    let runtime = global.runtime()?;
    let key = figure_key(&args.options, &args.format.format);
    let out = args.out.out.as_ref().map(|d| OutputDir::open(d, args.out.existing(), &key)).transpose()?;
    if let (Some(shard), Some(out)) = (args.options.shard, &out) {
        // A shard writes its sentences' numbers, for `salient merge`.
        let made = make_recorded(out, || args.options.make(&runtime, out, &args.format.format, &mut global.progress()))
            .with_context(|| format!("scoring faithfulness (shard {shard})"))?;
        if args.json.json {
            println!("{}", serde_json::to_string_pretty(&made)?);
        }
        global.say(format!("{} into {}", made.summary, out.path().display()));
        return Ok(());
    }
    if let Some(out) = &out {
        args.options.check_out(out, &args.format.format)?;
    }
    let report = args.options.report(&runtime, &mut global.progress()).context("scoring faithfulness")?;
    if args.json.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "faithfulness of {} ({} {}) on {} {} sentences; removing / keeping the top 10, 20, 50% tokens\n",
            report.model.name(),
            report.arch,
            report.task,
            report.sentences,
            args.options.split
        );
        print!("{}", markdown(&report));
    }
    if let Some(out) = out {
        let (files, section) = args.options.write(&report, &out, &args.format.format, &mut global.progress())?;
        global.say(format!("wrote {} file(s) into {}", files.len(), out.path().display()));
        out.done(&args.options.output(&report, files, section))?;
    }
    Ok(())
}
