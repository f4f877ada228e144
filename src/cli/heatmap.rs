//! `salient heatmap`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use salient::checkpoint::load_classifier;
use salient::explain::views::{self, MatrixView, View};
use salient::explain::{ModelSource, DEFAULT_MAX_TOKENS};
use salient::export::{self, Document, Format, OutputDir};
use salient::render::Heatmap;

use super::options::FigureArgs;
use super::saliency::{index_entries, sentences, write_figures};
use super::DeviceArg;

/// Draw a classifier's insides as heatmaps.
///
/// Views: representation (the final representation of each sentence as a row, the paper's
/// Figure 1: compare "good", "not good", "bad", "not bad"), states (the hidden state after each
/// token of a sentence), gates (an LSTM's input, forget and output gates after each token).
/// Output: representation.svg, states-NNNN.svg or gates-NNNN-<gate>-<direction>.svg and
/// index.html (svg), heatmap.csv (csv), heatmap.json with provenance (json).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model directory (model.safetensors, config.json, tokenizer.json).
    #[arg(long, default_value = "data/models/bilstm-fine")]
    pub model: PathBuf,
    /// A sentence or phrase; repeat for several.
    #[arg(long, required_unless_present = "input", conflicts_with = "input")]
    pub text: Vec<String>,
    /// A file with one sentence per line (blank lines are skipped; ids are line numbers).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output directory (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// What to draw.
    #[arg(long, value_enum, default_value_t = View::Representation)]
    pub view: View,
    #[command(flatten)]
    pub figures: FigureArgs,
    /// Longest sentence accepted, in tokens.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// Where tensors live.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

pub fn run(args: Args) -> Result<()> {
    let device = args.device.open()?;
    let loaded = load_classifier(&args.model, &device)?;
    let source = ModelSource::of(&loaded);
    let (sentences, failures) = sentences(&args.text, args.input.as_ref(), &loaded.vocab, args.max_tokens)?;

    // One group of views per sentence (one group in all for the representation view).
    let groups: Vec<Vec<MatrixView>> = match args.view {
        View::Representation => vec![vec![views::representations(&loaded.model, &source, &sentences)?]],
        View::States => {
            sentences.iter().map(|s| Ok(vec![views::states(&loaded.model, &source, s)?])).collect::<Result<_>>()?
        }
        View::Gates => sentences.iter().map(|s| Ok(views::gates(&loaded.model, &source, s)?)).collect::<Result<_>>()?,
    };
    let file_name = |v: &MatrixView| match v.view {
        View::Representation => "representation.svg".to_string(),
        _ => {
            let id = v.rows.first().map_or(0, |r| r.sentence);
            match v.view {
                View::Gates => format!("gates-{id:04}-{}.svg", v.slug().trim_start_matches("gate-")),
                _ => format!("states-{id:04}.svg"),
            }
        }
    };
    let files: Vec<Vec<String>> = groups.iter().map(|g| g.iter().map(file_name).collect()).collect();
    let svg = args.figures.wants(Format::Svg);
    let mut names: Vec<String> = Vec::new();
    if svg {
        names.extend(files.iter().flatten().cloned());
        names.push("index.html".into());
    }
    if args.figures.wants(Format::Csv) {
        names.push("heatmap.csv".into());
    }
    if args.figures.wants(Format::Json) {
        names.push("heatmap.json".into());
    }
    let scale = args.figures.scale();
    scale.check()?;
    let out = OutputDir::prepare(&args.out, args.force)?;
    out.check_free(&names)?;

    let all: Vec<MatrixView> = groups.into_iter().flatten().collect();
    if svg {
        let maps: Vec<Heatmap> = all.iter().map(MatrixView::heatmap).collect();
        write_figures(&out, &files.iter().flatten().cloned().collect::<Vec<_>>(), &maps, &scale)?;
        let entries = match args.view {
            View::Representation => vec![export::IndexEntry {
                caption: format!("{} sentence(s)", sentences.len()),
                files: files[0].clone(),
                error: None,
            }],
            _ => index_entries(&sentences, &files, &[]),
        };
        let mut entries = entries;
        entries.extend(index_entries(&[], &[], &failures));
        let title = format!("{} · {}", source.name(), all[0].describe());
        out.write("index.html", export::index_html(&title, &entries).as_bytes())?;
    }
    if args.figures.wants(Format::Csv) {
        out.write("heatmap.csv", &export::csv::views(&all)?)?;
    }
    let n = all.len();
    if args.figures.wants(Format::Json) {
        out.write("heatmap.json", &Document::new("salient heatmap", all, failures.clone()).to_json()?)?;
    }
    eprintln!("drew {n} heatmap(s) into {}", out.path().display());
    if !failures.is_empty() {
        bail!("{} input(s) could not be drawn (see the warnings above); the others were written", failures.len());
    }
    Ok(())
}
