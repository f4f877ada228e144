//! `salient autoencoder saliency`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use salient::checkpoint::load_autoencoder;
use salient::explain::autoencoder::{explain, DecoderScore, OutputChoice, ReconstructionSaliency};
use salient::export::{self, Document, Format, IndexEntry, OutputDir};
use salient::render::{heatmap_svg, Heatmap, RenderOptions};

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

fn step_name(id: usize, t: usize) -> String {
    format!("sentence-{id:04}-step-{:02}.svg", t + 1)
}

/// Column width that fits the longest input word (so that no label is dropped).
fn column_width(map: &Heatmap) -> u32 {
    let longest = map.column_labels.iter().map(|l| l.chars().count().min(12)).max().unwrap_or(1) as u32;
    (longest * 7 + 10).max(24)
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

    let mut names: Vec<String> = Vec::new();
    let mut maps: Vec<Heatmap> = Vec::new();
    let mut files: Vec<Vec<String>> = Vec::new();
    if args.figures.wants(Format::Svg) {
        for r in &results {
            let mut mine = vec![format!("sentence-{:04}.svg", r.sentence)];
            maps.push(r.matrix_heatmap());
            if !args.no_steps {
                for t in 0..r.output_tokens.len() {
                    mine.push(step_name(r.sentence, t));
                    maps.push(r.step_heatmap(t));
                }
            }
            names.extend(mine.iter().cloned());
            files.push(mine);
        }
        names.push("index.html".into());
    }
    if args.figures.wants(Format::Csv) {
        names.extend(["matrix.csv".to_string(), "gradients.csv".to_string()]);
    }
    if args.figures.wants(Format::Json) {
        names.push("saliency.json".into());
    }
    out.check_free(&names)?;

    if args.figures.wants(Format::Svg) {
        // Matrices and step maps are scaled separately: their numbers differ in kind.
        let (matrix_maps, step_maps): (Vec<(usize, &Heatmap)>, Vec<(usize, &Heatmap)>) =
            maps.iter().enumerate().partition(|(_, m)| m.x_label == "input token");
        let bar = progress_bar(maps.len(), "drawing");
        for group in [matrix_maps, step_maps] {
            let owned: Vec<Heatmap> = group.iter().map(|(_, m)| (*m).clone()).collect();
            let ranges = scale.ranges(&owned)?;
            for ((k, map), range) in group.iter().zip(ranges) {
                let column_width = (map.x_label == "input token").then(|| column_width(map));
                let svg =
                    heatmap_svg(map, &RenderOptions { range: Some(range), column_width, ..RenderOptions::default() })?;
                out.write(&names[*k], svg.as_bytes())?;
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        let entries: Vec<IndexEntry> = results
            .iter()
            .zip(&files)
            .map(|(r, f)| IndexEntry { caption: format!("#{}: {}", r.sentence, r.text), files: f.clone(), error: None })
            .chain(failures.iter().map(|f| IndexEntry {
                caption: f.at.clone(),
                files: Vec::new(),
                error: Some(f.message.clone()),
            }))
            .collect();
        let title = format!("{} · autoencoder saliency · {}", args.model.display(), args.score.formula());
        out.write("index.html", export::index_html(&title, &entries).as_bytes())?;
    }
    if args.figures.wants(Format::Csv) {
        out.write("matrix.csv", &export::csv::reconstruction_matrix(&results)?)?;
        out.write("gradients.csv", &export::csv::reconstruction_gradients(&results)?)?;
    }
    let n = results.len();
    if args.figures.wants(Format::Json) {
        out.write(
            "saliency.json",
            &Document::new("salient autoencoder saliency", results, failures.clone()).to_json()?,
        )?;
    }
    eprintln!("explained {n} sentence(s) into {}", out.path().display());
    if !failures.is_empty() {
        bail!("{} input(s) could not be explained (see the warnings above); the others were written", failures.len());
    }
    Ok(())
}
