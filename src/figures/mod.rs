//! Figures: every figure kind defined once, for the command line, the export spec and every
//! output format.
//!
//! A figure kind is one options type and one `make`:
//!
//! | kind | options | what it draws |
//! | --- | --- | --- |
//! | `saliency` | [`saliency::SaliencyOptions`] | tokens x embedding dimensions per sentence (the paper's Figure 3) |
//! | `heatmap` | [`heatmap::HeatmapOptions`] | representations, per-step states or gates (Figure 1) |
//! | `tsne` | [`projection::ProjectionOptions`] | t-SNE or PCA of phrase representations (Figure 2) |
//! | `autoencoder-saliency` | [`autoencoder::AutoencoderSaliencyOptions`] | output x input tokens per sentence |
//! | `faithfulness` | [`faithfulness::FaithfulnessOptions`] | comprehensiveness and sufficiency per method |
//!
//! Each options type is a clap argument group *and* a serde struct: the subcommand parses it from
//! the command line, the [`spec`] reader deserializes it from a TOML table, and its defaults come
//! from the clap declarations alone ([`clap_defaults`]), so that `--help` shows the values a spec
//! gets too. [`Figure::make`] computes the results (through [`crate::explain`] or
//! [`crate::project`], which return plain data) and hands them to one [`Writer`], which turns
//! them into every requested [`Format`]: SVG, CSV, JSON, the HTML page, and PNG and PDF
//! converted from each SVG ([`crate::render::Converter`]); how drawings look comes from each
//! kind's [`StyleArgs`]. A figure kind never writes a file itself.

pub mod autoencoder;
pub mod faithfulness;
pub mod heatmap;
pub mod projection;
pub mod saliency;
pub mod spec;
pub mod style;

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::{gather, Failure, Sentence, Vocab};
use crate::error::{Error, Result};
use crate::explain::{Baseline, MethodParams};
pub use crate::export::Format;
use crate::export::{index_html, IndexEntry, OutputDir};
use crate::render::{heatmap_svg, scatter_svg, Converter, Heatmap, RenderOptions, ScaleOptions, Scatter, Style};
pub use style::StyleArgs;

/// The shipped classifier a figure uses when none is named.
pub const DEFAULT_CLASSIFIER: &str = "data/models/bilstm-fine";
/// The shipped autoencoder.
pub const DEFAULT_AUTOENCODER: &str = "data/models/autoencoder";
/// The SST trees shipped with salient.
pub const DEFAULT_SST: &str = "data/sst";

/// Reports the progress of long work to whoever runs it (a progress bar, a log, nothing).
pub trait Progress: Send {
    /// A stage of `total` steps begins ("grad", "drawing", "tsne").
    fn stage(&mut self, name: &str, total: usize);
    /// `done` steps of the current stage are finished.
    fn advance(&mut self, done: usize);
    /// A remark that stops nothing (a word read as unknown, a phrase given twice), as soon as
    /// it is known; the figure's output lists it too.
    fn note(&mut self, _text: &str) {}
}

/// Progress that nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&mut self, _: &str, _: usize) {}
    fn advance(&mut self, _: usize) {}
}

/// Where and how a figure runs: not part of what it shows, so not part of its options.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Where tensors live.
    pub device: candle_core::Device,
    /// Worker threads for attribution and t-SNE (results do not depend on them).
    pub threads: usize,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime { device: candle_core::Device::Cpu, threads: 1 }
    }
}

/// What making a figure produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureOutput {
    /// The model used: its directory and the SHA-256 of its weights.
    pub model: Option<crate::checkpoint::ModelSource>,
    /// The files written, relative to the output directory, in the order written.
    pub files: Vec<String>,
    /// The settings actually used (defaults filled in), for the record.
    pub settings: serde_json::Value,
    /// Remarks that stopped nothing (unknown words, a KL divergence).
    pub notes: Vec<String>,
    /// Inputs that could not be used; the others were.
    pub failures: Vec<Failure>,
    /// One line saying what was made.
    pub summary: String,
}

/// A figure kind: its options, from the command line or a spec, and how it is made.
pub trait Figure: clap::Args + clap::FromArgMatches + Serialize + DeserializeOwned + Default {
    /// Its name in specs (`kind = "saliency"`).
    const KIND: &'static str;
    /// Options that name files: in a spec they are relative to the spec's directory.
    const PATHS: &'static [&'static str];

    /// Compute the figure and write it into `out` in every one of `formats`.
    fn make(
        &self,
        runtime: &Runtime,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput>;
}

/// The value of every option of a clap argument group when nothing is given: the defaults of
/// its declarations. Figure options use it as their `Default`, so that a spec gets exactly the
/// defaults that `--help` shows.
pub fn clap_defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults").no_binary_name(true));
    let matches = command
        .try_get_matches_from(std::iter::empty::<String>())
        .unwrap_or_else(|e| panic!("figure options must all have defaults: {e}"));
    T::from_arg_matches(&matches).unwrap_or_else(|e| panic!("figure options must all have defaults: {e}"))
}

/// The option names of a clap argument group (its fields' names, as a spec writes them).
pub(crate) fn option_names<T: clap::Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("names"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| id != "help")
        .collect()
}

/// `--model`: a model directory.
#[derive(Debug, Clone, PartialEq, Default, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelArg {
    /// Model directory (model.safetensors, config.json, tokenizer.json) [default:
    /// data/models/bilstm-fine; for the autoencoder, data/models/autoencoder].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

impl ModelArg {
    /// The directory given, or `default`.
    pub fn dir_or(&self, default: &str) -> PathBuf {
        self.model.clone().unwrap_or_else(|| PathBuf::from(default))
    }
}

/// `--text` / `--input`: the sentences to work on.
#[derive(Debug, Clone, PartialEq, Default, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct InputArgs {
    /// A sentence; repeat for several (ids 1, 2, ...).
    #[arg(long, conflicts_with = "input")]
    pub text: Vec<String>,
    /// A file with one sentence per line, UTF-8 (`.gz` is decompressed; blank lines are skipped; a
    /// sentence's id is its line number). A bad line (not UTF-8, too long, only unknown words) is
    /// reported and the other sentences are still used.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// The sentences of an input, checked against a vocabulary: the good ones, the notes (unknown
/// words) and the failures (bad lines), or an error when none can be used.
pub struct Sentences {
    /// The usable sentences, in input order.
    pub sentences: Vec<Sentence>,
    /// Remarks (words read as `[UNK]`).
    pub notes: Vec<String>,
    /// Lines that cannot be used, with why.
    pub failures: Vec<Failure>,
}

impl InputArgs {
    /// Read and check the sentences.
    pub fn sentences(&self, vocab: &Vocab, max_tokens: usize) -> Result<Sentences> {
        let contents = match &self.input {
            Some(path) => Some(crate::data::text::read_file(path).map_err(|e| Error::io("cannot read", path, e))?),
            None => None,
        };
        if contents.is_none() && self.text.is_empty() {
            return Err(Error::NoInput { what: "sentences" });
        }
        let mut out = Sentences { sentences: Vec::new(), notes: Vec::new(), failures: Vec::new() };
        for result in gather(&self.text, contents.as_deref(), vocab, max_tokens) {
            match result {
                Ok(s) => {
                    let unknown = s.unknown_words();
                    if !unknown.is_empty() {
                        out.notes.push(format!(
                            "sentence {}: not in the vocabulary (read as [UNK]): {}",
                            s.id,
                            unknown.join(" ")
                        ));
                    }
                    out.sentences.push(s);
                }
                Err(e) => {
                    let at = match &e {
                        Error::Sentence(s) => s.at().to_string(),
                        _ => "input".to_string(),
                    };
                    out.failures.push(Failure { at, message: e.to_string() });
                }
            }
        }
        if out.sentences.is_empty() {
            return Err(Error::NothingUsable {
                input: self.input.as_ref().map_or_else(|| "the texts given".to_string(), |p| p.display().to_string()),
                reasons: out.failures.iter().map(|f| f.message.clone()).collect(),
            });
        }
        Ok(out)
    }
}

/// `--vmin`, `--vmax`, `--shared-scale`: colour scales of heatmaps.
#[derive(Debug, Clone, Copy, PartialEq, Default, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct ScaleArgs {
    /// Lower end of the colour scale [default: 0 for magnitudes, -vmax for signed values].
    #[arg(long, allow_hyphen_values = true)]
    pub vmin: Option<f32>,
    /// Upper end of the colour scale [default: the largest value].
    #[arg(long, allow_hyphen_values = true)]
    pub vmax: Option<f32>,
    /// One colour scale for all heatmaps of the figure, so that they compare.
    #[arg(long)]
    pub shared_scale: bool,
}

impl ScaleArgs {
    /// The renderer's scale options, checked.
    pub fn options(&self) -> Result<ScaleOptions> {
        let scale = ScaleOptions { vmin: self.vmin, vmax: self.vmax, shared: self.shared_scale };
        scale.check()?;
        Ok(scale)
    }
}

/// Options of the attribution methods that take any (integrated gradients, SmoothGrad).
#[derive(Debug, Clone, Copy, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodArgs {
    /// Integrated gradients: interpolation steps.
    #[arg(long, default_value_t = MethodParams::default().steps)]
    pub steps: usize,
    /// Integrated gradients: the baseline.
    #[arg(long, value_enum, default_value_t = MethodParams::default().baseline)]
    pub baseline: Baseline,
    /// SmoothGrad: noisy samples per sentence.
    #[arg(long, default_value_t = MethodParams::default().samples)]
    pub samples: usize,
    /// SmoothGrad: noise level, a fraction of the sentence's embedding range.
    #[arg(long, default_value_t = MethodParams::default().noise)]
    pub noise: f32,
}

impl Default for MethodArgs {
    fn default() -> Self {
        clap_defaults()
    }
}

impl MethodArgs {
    /// The library's method parameters, with `seed`.
    pub fn params(&self, seed: u64) -> MethodParams {
        MethodParams { steps: self.steps, baseline: self.baseline, samples: self.samples, noise: self.noise, seed }
    }
}

/// `--seed`: the seed of every random number a figure draws.
#[derive(Debug, Clone, Copy, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedArg {
    /// Seed of random numbers (SmoothGrad's noise, t-SNE's start, sampling, random baselines).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl Default for SeedArg {
    fn default() -> Self {
        clap_defaults()
    }
}

/// A drawing, before it becomes SVG.
#[derive(Debug, Clone)]
pub(crate) enum Drawing {
    /// A heatmap, with a fixed column width when it needs one.
    Heatmap { map: Heatmap, column_width: Option<u32> },
    /// A scatter plot.
    Scatter(Scatter),
}

/// One figure file of a kind's result.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
    /// The file name without `.svg`.
    pub stem: String,
    /// What is drawn.
    pub drawing: Drawing,
    /// Heatmaps of one group share a scale when the scale is shared (a kind may keep figures
    /// whose numbers differ in kind apart).
    pub scale_group: usize,
}

impl Panel {
    pub(crate) fn heatmap(stem: String, map: Heatmap, scale_group: usize) -> Self {
        Panel { stem, drawing: Drawing::Heatmap { map, column_width: None }, scale_group }
    }
}

/// One entry of the HTML page.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub caption: String,
    /// Indices into the panels.
    pub panels: Vec<usize>,
    pub error: Option<String>,
}

impl Entry {
    pub(crate) fn failure(f: &Failure) -> Self {
        Entry { caption: f.at.clone(), panels: Vec::new(), error: Some(f.message.clone()) }
    }
}

/// The files a figure will write, known before the work starts (so that an existing file stops
/// the run before anything is computed).
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub panels: Vec<String>,
    pub tables: Vec<&'static str>,
    pub document: &'static str,
}

/// The name of the HTML page.
pub const INDEX: &str = "index.html";

impl Plan {
    /// Every file name, for `formats`.
    pub(crate) fn files(&self, formats: &[Format]) -> Vec<String> {
        let mut names = Vec::new();
        for format in Format::ALL.iter().filter(|f| formats.contains(f)) {
            match format {
                Format::Svg => names.extend(self.panels.iter().map(|s| format!("{s}.svg"))),
                Format::Csv => names.extend(self.tables.iter().map(|s| s.to_string())),
                Format::Json => names.push(self.document.to_string()),
                Format::Html => names.push(INDEX.to_string()),
                Format::Png => names.extend(self.panels.iter().map(|s| format!("{s}.png"))),
                Format::Pdf => names.extend(self.panels.iter().map(|s| format!("{s}.pdf"))),
            }
        }
        names
    }
}

/// Turns one kind's result into every requested format: the only place that writes figure
/// files.
pub(crate) struct Writer<'a> {
    out: &'a OutputDir,
    formats: &'a [Format],
    plan: Plan,
    written: Vec<String>,
    style: Style,
    /// Turns each drawn SVG into PNG and PDF (when wanted).
    converter: Option<Converter>,
    png_scale: f32,
}

impl<'a> Writer<'a> {
    /// Check that none of the plan's files exists (unless overwriting) before any work.
    pub(crate) fn new(out: &'a OutputDir, formats: &'a [Format], plan: Plan) -> Result<Self> {
        if formats.is_empty() {
            return Err(Error::NoInput { what: "output formats" });
        }
        out.check_free(&plan.files(formats))?;
        Ok(Writer {
            out,
            formats,
            plan,
            written: Vec::new(),
            style: Style::default(),
            converter: None,
            png_scale: StyleArgs::default().png_scale,
        })
    }

    /// Draw with `style` (titles, size, fonts), checked now, before any work: also that its
    /// font family can be found when PNG or PDF is wanted.
    pub(crate) fn with_style(mut self, style: &StyleArgs) -> Result<Self> {
        self.style = style.style()?;
        self.png_scale = style.png_scale;
        if self.wants(Format::Png) || self.wants(Format::Pdf) {
            self.converter = Some(Converter::new(&self.style.font_family, self.png_scale)?);
        }
        Ok(self)
    }

    pub(crate) fn wants(&self, format: Format) -> bool {
        self.formats.contains(&format)
    }

    fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.out.write(name, bytes)?;
        self.written.push(name.to_string());
        Ok(())
    }

    /// Draw `panels` (SVG files and the HTML page with `entries` under `title`).
    pub(crate) fn figures(
        &mut self,
        title: &str,
        panels: &[Panel],
        entries: &[Entry],
        scale: &ScaleOptions,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let (svg, html) = (self.wants(Format::Svg), self.wants(Format::Html));
        let (png, pdf) = (self.wants(Format::Png), self.wants(Format::Pdf));
        if !svg && !html && !png && !pdf {
            return Ok(());
        }
        if (png || pdf) && self.converter.is_none() {
            self.converter = Some(Converter::new(&self.style.font_family, self.png_scale)?);
        }
        let title = self.style.title.clone().unwrap_or_else(|| title.to_string());
        if panels.len() != self.plan.panels.len() || panels.iter().zip(&self.plan.panels).any(|(p, s)| &p.stem != s) {
            return Err(Error::Render {
                what: title.to_string(),
                message: "the figures drawn are not the figures planned".into(),
            });
        }
        let ranges = scale_ranges(panels, scale)?;
        progress.stage("drawing", panels.len());
        let mut drawn = Vec::with_capacity(panels.len());
        for (k, (panel, range)) in panels.iter().zip(ranges).enumerate() {
            let text = match &panel.drawing {
                Drawing::Heatmap { map, column_width } => heatmap_svg(
                    map,
                    &RenderOptions {
                        range,
                        column_width: *column_width,
                        style: self.style.clone(),
                        ..RenderOptions::default()
                    },
                )?,
                Drawing::Scatter(scatter) => scatter_svg(scatter, &self.style)?,
            };
            if svg {
                self.write(&format!("{}.svg", panel.stem), text.as_bytes())?;
            }
            if let Some(converter) = self.converter.clone() {
                if png {
                    self.write(&format!("{}.png", panel.stem), &converter.png(&text)?)?;
                }
                if pdf {
                    self.write(&format!("{}.pdf", panel.stem), &converter.pdf(&text)?)?;
                }
            }
            drawn.push(text);
            progress.advance(k + 1);
        }
        if html {
            let index: Vec<IndexEntry> = entries
                .iter()
                .map(|e| IndexEntry {
                    caption: e.caption.clone(),
                    figures: e.panels.iter().map(|&k| drawn[k].clone()).collect(),
                    error: e.error.clone(),
                })
                .collect();
            self.write(INDEX, index_html(&title, &index).as_bytes())?;
        }
        Ok(())
    }

    /// Write the CSV tables, computed only when CSV is wanted.
    pub(crate) fn tables(&mut self, tables: impl FnOnce() -> Result<Vec<Vec<u8>>>) -> Result<()> {
        if !self.wants(Format::Csv) {
            return Ok(());
        }
        let tables = tables()?;
        let names = self.plan.tables.clone();
        for (name, bytes) in names.iter().zip(tables) {
            self.write(name, &bytes)?;
        }
        Ok(())
    }

    /// Write the JSON document, computed only when JSON is wanted.
    pub(crate) fn document(&mut self, document: impl FnOnce() -> Result<Vec<u8>>) -> Result<()> {
        if !self.wants(Format::Json) {
            return Ok(());
        }
        let bytes = document()?;
        let name = self.plan.document;
        self.write(name, &bytes)
    }

    /// The files written.
    pub(crate) fn finish(self) -> Vec<String> {
        self.written
    }
}

/// The renderer's colour map for a kind of value.
pub(crate) fn values(kind: crate::explain::ValueKind) -> crate::render::Values {
    use crate::explain::ValueKind;
    use crate::render::Values;
    match kind {
        ValueKind::Magnitude => Values::Magnitude,
        ValueKind::Signed => Values::Signed,
        ValueKind::Unit => Values::Unit,
    }
}

/// The colour scale of each panel: heatmaps by their scale group, scatter plots none.
fn scale_ranges(panels: &[Panel], scale: &ScaleOptions) -> Result<Vec<Option<(f32, f32)>>> {
    let mut ranges = vec![None; panels.len()];
    let mut groups: Vec<usize> = panels.iter().map(|p| p.scale_group).collect();
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        let (indices, maps): (Vec<usize>, Vec<&Heatmap>) = panels
            .iter()
            .enumerate()
            .filter(|(_, p)| p.scale_group == group)
            .filter_map(|(k, p)| match &p.drawing {
                Drawing::Heatmap { map, .. } => Some((k, map)),
                Drawing::Scatter(_) => None,
            })
            .unzip();
        for (k, range) in indices.into_iter().zip(scale.ranges(&maps)?) {
            ranges[k] = Some(range);
        }
    }
    Ok(ranges)
}
