//! `salient merge`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use salient::figures::merge::merge;

use super::{GlobalArgs, JsonArg, OutArgs};

/// Join the output directories of the shards of one run (`saliency --shard I/N`,
/// `faithfulness --shard I/N`) into what the unsharded run writes, byte for byte.
///
/// Every shard must be given once, each finished (its record's last line written), all of the
/// same run: the same model weights, input, options and formats (the shards record them). The
/// formats written are those the shards were asked for.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shards' output directories, in any order.
    #[arg(value_name = "SHARD_DIR", required = true)]
    pub shards: Vec<PathBuf>,
    /// Where to write the merged run.
    #[command(flatten)]
    pub out: OutArgs,
    /// JSON on standard output.
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let dir = args.out.required()?;
    let existed = dir.exists();
    let made = merge(&args.shards, dir, args.out.existing(), &mut global.progress());
    let made = match made {
        Ok(made) => made,
        Err(e) => {
            if !existed {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(anyhow::Error::new(e)).context(format!(
                "merging {} shard(s) into {}",
                args.shards.len(),
                dir.display()
            ));
        }
    };
    for failure in &made.failures {
        global.warn(&failure.message);
    }
    if args.json.json {
        println!("{}", serde_json::to_string_pretty(&made)?);
    }
    global.say(format!("merged {} shard(s): {} into {}", args.shards.len(), made.summary, dir.display()));
    if !made.failures.is_empty() {
        // As the unsharded run does.
        anyhow::bail!("{} input(s) could not be used (see the warnings above); the others were", made.failures.len());
    }
    Ok(())
}
