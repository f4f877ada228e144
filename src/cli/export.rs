//! `salient export`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use salient::export::batch::{Batch, Spec, MANIFEST};

use super::saliency::{progress_bar, threads};
use super::DeviceArg;

/// Make every figure of a spec (TOML): t-SNE projections, saliency maps, representation
/// heatmaps, autoencoder saliency, each into its own directory under --out as SVG + CSV, and
/// manifest.json recording what each was made from (model directory and weights checksum,
/// seed, options, files) or why it failed. A failed figure does not stop the others. Paths in the spec are relative to the
/// spec file. `examples/paper.toml` makes every figure of the paper from the shipped models.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec: `[defaults]` (model, data, seed) and `[[figure]]` tables with a name and a
    /// kind (tsne, saliency, heatmap, autoencoder-saliency) and their options.
    #[arg(long)]
    pub spec: PathBuf,
    /// Output directory (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Threads for t-SNE and attribution [default: the number of CPUs].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// Where tensors live.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

pub fn run(args: Args) -> Result<()> {
    let bytes = std::fs::read(&args.spec).with_context(|| format!("cannot read --spec {}", args.spec.display()))?;
    let text =
        String::from_utf8(bytes.clone()).with_context(|| format!("{} is not UTF-8 text", args.spec.display()))?;
    let spec = Spec::parse(&text, &args.spec.display().to_string())?;
    let device = args.device.open()?;
    let batch = Batch {
        spec: &spec,
        spec_path: &args.spec,
        spec_bytes: &bytes,
        out: &args.out,
        overwrite: args.force,
        threads: threads(args.threads),
        device: &device,
    };
    let bar = progress_bar(spec.figures.len(), "figures");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {elapsed} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let manifest = batch.run(&mut |done, name| {
        bar.set_position(done as u64);
        bar.set_message(name.to_string());
    })?;
    bar.finish_and_clear();
    for f in &manifest.figures {
        match &f.error {
            None => eprintln!("{}: {} file(s)", f.name, f.files.len()),
            Some(e) => eprintln!("{}: FAILED: {e}", f.name),
        }
        for note in &f.notes {
            eprintln!("  note: {note}");
        }
    }
    let failed = manifest.failures().len();
    let made = manifest.figures.len() - failed;
    eprintln!("made {made} figure(s) into {}; see {}", args.out.display(), args.out.join(MANIFEST).display());
    if failed > 0 {
        bail!("{failed} figure(s) failed (listed above and in {MANIFEST}); the others were made");
    }
    Ok(())
}
