//! The figure commands (`saliency`, `heatmap`, `tsne`, `autoencoder saliency`): each parses one
//! figure kind's options and hands them to the library's `make`.

use anyhow::{bail, Result};
use salient::export::OutputDir;
use salient::figures::{figure_key, make_recorded, Figure};

use super::{FormatArgs, GlobalArgs, JsonArg, OutArgs};

/// A figure kind's options, and where and how to write it.
#[derive(Debug, clap::Args)]
pub struct FigureArgs<T: Figure + Send + Sync + 'static> {
    /// The figure's options.
    #[command(flatten)]
    pub options: T,
    /// Where to write.
    #[command(flatten)]
    pub out: OutArgs,
    /// What to write.
    #[command(flatten)]
    pub format: FormatArgs,
    /// JSON on standard output.
    #[command(flatten)]
    pub json: JsonArg,
}

/// Make the figure, print its notes, and fail if any input could not be used.
pub fn run<T: Figure + Send + Sync + 'static>(args: FigureArgs<T>, global: &GlobalArgs) -> Result<()> {
    let dir = args.out.required()?;
    let runtime = global.runtime()?;
    let existed = dir.exists();
    let key = figure_key(&args.options, &args.format.format);
    let out = OutputDir::open(dir, args.out.existing(), &key)?;
    let made = make_recorded(&out, || args.options.make(&runtime, &out, &args.format.format, &mut global.progress()));
    let made = match made {
        Ok(made) => made,
        Err(e) => {
            // A run that failed before writing anything leaves nothing behind.
            out.remove_record_if_unused();
            if !existed {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(anyhow::Error::new(e).context(format!("making a {} figure in {}", T::KIND, dir.display())));
        }
    };
    for failure in &made.failures {
        global.warn(&failure.message);
    }
    if args.json.json {
        println!("{}", serde_json::to_string_pretty(&made)?);
    }
    global.say(format!("{} into {}", made.summary, dir.display()));
    if !made.failures.is_empty() {
        bail!("{} input(s) could not be used (see the warnings above); the others were", made.failures.len());
    }
    Ok(())
}
