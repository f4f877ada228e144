//! `salient export`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use salient::figures::spec::{base_of, Batch, Spec, KINDS, MANIFEST};
use salient::figures::Format;

use super::{GlobalArgs, JsonArg, OutArgs};

/// Make every figure of a spec (TOML), each into its own directory under --out in every format
/// (SVG, CSV, JSON, index.html and figures.ipynb unless the spec or --format says otherwise),
/// a notebook joining the figures' notebooks named after the spec (paper.toml: paper.ipynb), and
/// manifest.json recording what each was made from (model directory and weights checksum,
/// options with their defaults, the settings used, files) or why it failed. A failed figure
/// does not stop the others. Paths in the spec are relative to the spec file.
/// `examples/paper.toml` makes every figure of the paper from the shipped models.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec: `[defaults]` (any figure option, and `format`) and `[[figure]]` tables, each
    /// with a `name`, a `kind` and that kind's options, named as the command's options
    /// (`--shared-scale` is `shared_scale`).
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// Where to write.
    #[command(flatten)]
    pub out: OutArgs,
    /// What to write for every figure, comma-separated (svg, csv, json, html, ipynb) [default: what
    /// the spec says, else all].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub format: Option<Vec<Format>>,
    /// Print the manifest as JSON on standard output.
    #[command(flatten)]
    pub json: JsonArg,
}

/// The interactive report of a spec: `export --format html`. DIR/index.html holds every figure
/// on one self-contained page (inline SVG, CSS and JavaScript; opens from disk, no server):
/// saliency with the models side by side and a switch between the methods computed, t-SNE with
/// hover, zoom and search, the autoencoder's output x input matrices. Each figure's own page is
/// written into its directory beside it.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The spec, as for `salient export`.
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// Where to write.
    #[command(flatten)]
    pub out: OutArgs,
    /// Print the manifest as JSON on standard output.
    #[command(flatten)]
    pub json: JsonArg,
}

/// `salient report`: `export` with only the HTML format.
pub fn report(args: ReportArgs, global: &GlobalArgs) -> Result<()> {
    run(Args { spec: args.spec, out: args.out, format: Some(vec![Format::Html]), json: args.json }, global)
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    let dir = args.out.required()?;
    let bytes = std::fs::read(&args.spec).with_context(|| format!("cannot read --spec {}", args.spec.display()))?;
    let text =
        String::from_utf8(bytes.clone()).with_context(|| format!("{} is not UTF-8 text", args.spec.display()))?;
    let spec = Spec::parse(&text, &args.spec.display().to_string(), &base_of(&args.spec))
        .with_context(|| format!("figure kinds: {}", KINDS.join(", ")))?;
    let runtime = global.runtime()?;
    let batch = Batch {
        spec: &spec,
        spec_path: &args.spec,
        spec_bytes: &bytes,
        out: dir,
        existing: args.out.existing(),
        formats: args.format.clone(),
        runtime: &runtime,
    };
    let total = spec.figures.len();
    let manifest = batch.run(&mut global.progress(), &mut |done, name| {
        global.say(format!("[{done}/{total}] {name}"));
    })?;
    for f in &manifest.figures {
        match &f.error {
            None => global.say(format!("{}: {} file(s)", f.name, f.files.len())),
            Some(e) => global.warn(format!("{}: FAILED: {e}", f.name)),
        }
        for failure in &f.failures {
            global.warn(format!("{}: {}", f.name, failure.message));
        }
    }
    if args.json.json {
        println!("{}", serde_json::to_string_pretty(&manifest)?);
    }
    let failed = manifest.failures().len();
    global.say(format!(
        "made {} figure(s) into {}; see {}",
        manifest.figures.len() - failed,
        dir.display(),
        dir.join(MANIFEST).display()
    ));
    if failed > 0 {
        bail!("{failed} figure(s) failed (listed above and in {MANIFEST}); the others were made");
    }
    Ok(())
}
