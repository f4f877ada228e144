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
//! them into every requested [`Format`]: SVG, CSV, JSON, the HTML page ([`report`]), the
//! notebook ([`notebook`]), and PNG and PDF converted from each SVG
//! ([`crate::render::Converter`]); how drawings look comes from each kind's [`StyleArgs`]. A
//! figure kind never writes a file itself.

pub mod autoencoder;
pub mod faithfulness;
pub mod heatmap;
pub mod merge;
pub mod notebook;
pub mod projection;
pub mod report;
pub mod saliency;
pub mod spec;
pub mod style;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::{gather, Failure, Sentence, Vocab};
use crate::error::{Error, Result};
use crate::explain::{Baseline, MethodParams};
pub use crate::export::Format;
use crate::export::{run_key, OutputDir, Partial, Shard, ShardRecord};
use crate::limits::{Limited, Limits};
use crate::render::{heatmap_svg, scatter_svg, Converter, Heatmap, RenderOptions, ScaleOptions, Scatter, Style};
pub use style::StyleArgs;

/// The shipped classifier a figure uses when none is named (a name: see [`crate::locate`]).
pub const DEFAULT_CLASSIFIER: &str = "bilstm-fine";
/// The shipped autoencoder (a name).
pub const DEFAULT_AUTOENCODER: &str = "autoencoder";
/// The SST trees shipped with salient (a data set name: see [`crate::locate`]).
pub const DEFAULT_SST: &str = "sst";

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
    /// The most work a request may ask for (results do not depend on them either).
    pub limits: Limits,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime { device: candle_core::Device::Cpu, threads: 1, limits: Limits::DEFAULT }
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
    /// The figure as a section of the interactive report (when `html` was asked for), so that
    /// an export can put every figure on one page.
    #[serde(skip)]
    pub section: Option<report::Section>,
    /// When the run was a shard of a larger one: which, and of what run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
}

/// A figure kind: its options, from the command line or a spec, and how it is made.
pub trait Figure: clap::Args + clap::FromArgMatches + Serialize + DeserializeOwned + Default {
    /// Its name in specs (`kind = "saliency"`).
    const KIND: &'static str;
    /// Options that name files: in a spec they are relative to the spec's directory.
    const PATHS: &'static [&'static str];

    /// The shard of the input this figure is made of, when it is a part of a run split over
    /// several machines (see [`crate::export::shard`]).
    fn shard(&self) -> Option<Shard> {
        None
    }

    /// Compute the figure and write it into `out` in every one of `formats`.
    fn make(
        &self,
        runtime: &Runtime,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput>;
}

/// The key of the run that makes a figure with `options` in `formats` (for its output
/// directory's record): that of the unsharded run, or, for a shard, of that shard.
pub fn figure_key<T: Figure>(options: &T, formats: &[Format]) -> String {
    match options.shard() {
        None => unsharded_key(options, formats),
        Some(shard) => run_key(&(T::KIND, options, formats, shard)),
    }
}

/// The key of the unsharded run (options are serialized without their shard).
pub(crate) fn unsharded_key<T: Figure>(options: &T, formats: &[Format]) -> String {
    run_key(&(T::KIND, options, formats))
}

/// Make a figure into `out` with `make`, unless `out` records it as complete (a resumed run
/// whose files are all intact: what making it reported then is returned, and nothing is made);
/// a figure made is recorded as complete.
pub fn make_recorded(out: &OutputDir, make: impl FnOnce() -> Result<FigureOutput>) -> Result<FigureOutput> {
    if let Some(mut made) = out.completed::<FigureOutput>() {
        // Its page, for a page of many figures.
        made.section =
            std::fs::read_to_string(out.path().join(INDEX)).ok().and_then(|html| report::read_section(&html));
        return Ok(made);
    }
    let made = make()?;
    out.done(&made)?;
    Ok(made)
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
/// `shard` is not one: splitting a run over machines is the command line's business, and a
/// figure of a spec is always whole.
pub(crate) fn option_names<T: clap::Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("names"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| id != "help" && id != "shard")
        .collect()
}

/// `--model`: a model directory, or a model's name.
#[derive(Debug, Clone, PartialEq, Default, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelArg {
    /// Model directory (model.safetensors, config.json, tokenizer.json), or a model's name
    /// (`salient models` lists them): a path that exists wins; a name is looked up in
    /// $SALIENT_MODELS, then the data/models of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/models (~/.local/share/salient/models) [default: bilstm-fine; for
    /// the autoencoder, autoencoder].
    #[arg(long, value_name = "DIR|NAME")]
    pub model: Option<PathBuf>,
}

impl ModelArg {
    /// The directory given or named, or the one `default` names (see [`crate::locate`]).
    pub fn resolve(&self, default: &str) -> Result<PathBuf> {
        crate::locate::SearchPath::models().resolve(self.model.as_deref().unwrap_or(Path::new(default)))
    }
}

/// A data directory given as `--data` (a path, or a data set's name such as `sst`), resolved
/// as [`crate::locate`] says.
pub fn data_dir(given: &Path) -> Result<PathBuf> {
    crate::locate::SearchPath::data().resolve(given)
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
    /// The SHA-256 of the input: the file's bytes as read, or the texts given, each ending in a
    /// line break.
    pub sha256: String,
}

/// The note for a sentence with words the vocabulary does not hold.
pub(crate) fn unknown_note(s: &Sentence) -> Option<String> {
    let unknown = s.unknown_words();
    (!unknown.is_empty())
        .then(|| format!("sentence {}: not in the vocabulary (read as [UNK]): {}", s.id, unknown.join(" ")))
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
        let sha256 = match &contents {
            Some(bytes) => crate::export::shard::input_sha256(bytes),
            None => crate::export::shard::input_sha256(
                self.text.iter().map(|t| format!("{t}\n")).collect::<String>().as_bytes(),
            ),
        };
        let mut out = Sentences { sentences: Vec::new(), notes: Vec::new(), failures: Vec::new(), sha256 };
        for result in gather(&self.text, contents.as_deref(), vocab, max_tokens) {
            match result {
                Ok(s) => {
                    out.notes.extend(unknown_note(&s));
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
    /// One colour scale for all heatmaps of the figure, so that they compare (for a long input,
    /// every result is then kept in memory until all are made, unless both --vmin and --vmax are
    /// given).
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
    /// The library's method parameters, with `seed`, within `limits`.
    pub fn params(&self, seed: u64, limits: &Limits) -> Result<MethodParams> {
        limits.check(Limited::Steps, self.steps)?;
        limits.check(Limited::Samples, self.samples)?;
        Ok(MethodParams { steps: self.steps, baseline: self.baseline, samples: self.samples, noise: self.noise, seed })
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
        for format in Format::ALL.iter().filter(|f| writes(formats, **f)) {
            match format {
                Format::Svg => names.extend(self.panels.iter().map(|s| format!("{s}.svg"))),
                Format::Csv => names.extend(self.tables.iter().map(|s| s.to_string())),
                Format::Json => names.push(self.document.to_string()),
                Format::Html => names.push(INDEX.to_string()),
                Format::Ipynb => names.push(notebook::NOTEBOOK.to_string()),
                Format::Png => names.extend(self.panels.iter().map(|s| format!("{s}.png"))),
                Format::Pdf => names.extend(self.panels.iter().map(|s| format!("{s}.pdf"))),
            }
        }
        names
    }
}

/// Whether `format`'s files are written when `formats` are asked for: a notebook brings the SVG
/// and CSV files it reads.
fn writes(formats: &[Format], format: Format) -> bool {
    formats.contains(&format) || (matches!(format, Format::Svg | Format::Csv) && formats.contains(&Format::Ipynb))
}

/// Turns one kind's result into every requested format: the only place that writes figure
/// files.
///
/// A kind may hand its results over in parts (a long input, a batch at a time), calling
/// [`Writer::figures`], [`Writer::tables`] and [`Writer::document`] once per part: SVG files are
/// written as they are drawn, and the page, the tables and the document are streamed to
/// temporary files and put in place by [`Writer::finish`], so that memory does not grow with the
/// input.
pub(crate) struct Writer<'a> {
    out: &'a OutputDir,
    formats: &'a [Format],
    plan: Plan,
    written: Vec<String>,
    /// Panels drawn so far.
    drawn: usize,
    /// The HTML page's section, gathered part by part.
    section: Option<report::Section>,
    tables: Vec<(Partial, Vec<u8>)>,
    document: Option<Partial>,
    /// The title and the figures drawn (file stem, SVG; the first [`INLINE_FIGURES`]), kept for
    /// the notebook.
    notebook: (String, Vec<(String, String)>),
    /// The notebook, once made.
    pending_notebook: Option<Vec<u8>>,
    style: Style,
    /// Turns each drawn SVG into PNG and PDF (when wanted).
    converter: Option<Converter>,
    png_scale: f32,
}

/// Figures shown inline on the page; later ones are shown from their SVG files (when written),
/// so that the page of a long input stays small enough to open.
pub const INLINE_FIGURES: usize = 500;

/// Results the page holds for its interactive view; the rest are counted and left to the CSV
/// and JSON files, so that the page of a long input stays small enough to open.
pub const REPORT_RESULTS: usize = 500;

impl<'a> Writer<'a> {
    /// Check that none of the plan's files is in the way (see [`OutputDir::check_free`]) before
    /// any work.
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
            drawn: 0,
            section: None,
            tables: Vec::new(),
            document: None,
            notebook: Default::default(),
            pending_notebook: None,
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
        writes(self.formats, format)
    }

    fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.out.write(name, bytes)?;
        self.written.push(name.to_string());
        Ok(())
    }

    /// Draw `panels`, the next figures of the plan, into SVG files, and keep them for the HTML
    /// page under `title` (the first [`INLINE_FIGURES`] inline, later ones as links to their
    /// files).
    pub(crate) fn figures(
        &mut self,
        title: &str,
        panels: &[Panel],
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
        let title = title.as_str();
        let planned = self.plan.panels.get(self.drawn..self.drawn + panels.len()).unwrap_or_default();
        if planned.len() != panels.len() || panels.iter().zip(planned).any(|(p, s)| &p.stem != s) {
            return Err(Error::Render {
                what: title.to_string(),
                message: "the figures drawn are not the figures planned".into(),
            });
        }
        let ranges = scale_ranges(panels, scale)?;
        if !panels.is_empty() {
            progress.stage("drawing", panels.len());
        }
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
            if self.wants(Format::Ipynb) && self.drawn + k < INLINE_FIGURES {
                self.notebook.0 = title.to_string();
                self.notebook.1.push((panel.stem.clone(), text.clone()));
            }
            if html {
                drawn.push(text);
            }
            progress.advance(k + 1);
        }
        if html {
            let first = self.drawn;
            let section = self.section.get_or_insert_with(|| report::Section::new(title));
            if section.title.is_empty() {
                section.title = title.to_string();
            }
            for (k, (panel, text)) in panels.iter().zip(drawn).enumerate() {
                if first + k < INLINE_FIGURES || !svg {
                    section.figures.push(text);
                } else {
                    section.linked.push(format!("{}.svg", panel.stem));
                }
            }
        }
        self.drawn += panels.len();
        Ok(())
    }

    /// Add a part of the kind's results to the HTML page (the interactive report of this
    /// figure): `data` is computed only when HTML is wanted (see [`report::Section`] for what
    /// each kind gives); the page keeps the first [`REPORT_RESULTS`] results.
    pub(crate) fn page(
        &mut self,
        kind: &str,
        data: impl FnOnce() -> Result<serde_json::Value>,
        failures: &[Failure],
    ) -> Result<()> {
        if !self.wants(Format::Html) {
            return Ok(());
        }
        let section = self.section.get_or_insert_with(|| report::Section::new(""));
        section.kind = kind.to_string();
        section.add(data()?, REPORT_RESULTS);
        section.failures.extend_from_slice(failures);
        Ok(())
    }

    /// Write the notebook, when it is wanted: the provenance of a figure made with `options` by
    /// `command`, the figures drawn, and `redraw`'s cell.
    pub(crate) fn notebook<T: Figure>(
        &mut self,
        command: &str,
        options: &T,
        model: Option<&crate::checkpoint::ModelSource>,
        settings: &serde_json::Value,
        redraw: notebook::Redraw,
    ) -> Result<()> {
        if !self.wants(Format::Ipynb) {
            return Ok(());
        }
        let (title, svgs) = &self.notebook;
        let about = notebook::About::new(title, command, options, self.formats, model, settings);
        // Written last, by `finish`, as the order of the formats says.
        self.pending_notebook = Some(notebook::figure_notebook(&about, svgs, redraw).to_json()?);
        Ok(())
    }

    /// Write the CSV tables, computed only when CSV is wanted. A later call continues the
    /// tables: its tables' header lines are the same and are not repeated.
    pub(crate) fn tables(&mut self, tables: impl FnOnce() -> Result<Vec<Vec<u8>>>) -> Result<()> {
        if !self.wants(Format::Csv) {
            return Ok(());
        }
        let tables = tables()?;
        if self.tables.is_empty() {
            for (name, bytes) in self.plan.tables.iter().zip(tables) {
                let mut partial = self.out.partial(name)?;
                partial.append(&bytes)?;
                let header = bytes.split_inclusive(|&b| b == b'\n').next().unwrap_or_default().to_vec();
                self.tables.push((partial, header));
            }
            return Ok(());
        }
        for ((partial, header), bytes) in self.tables.iter_mut().zip(tables) {
            let rows = bytes.strip_prefix(header.as_slice()).ok_or_else(|| Error::Encode {
                format: "CSV",
                message: "a later part of a table has another header".into(),
            })?;
            partial.append(rows)?;
        }
        Ok(())
    }

    /// Write the JSON document, computed only when JSON is wanted; a later call appends to it
    /// (see [`crate::export::DocumentStream`]).
    pub(crate) fn document(&mut self, document: impl FnOnce() -> Result<Vec<u8>>) -> Result<()> {
        if !self.wants(Format::Json) {
            return Ok(());
        }
        let bytes = document()?;
        if self.document.is_none() {
            self.document = Some(self.out.partial(self.plan.document)?);
        }
        self.document.as_mut().expect("the document was just started").append(&bytes)
    }

    /// Put the page, the tables and the document in place: the files written, in order, and the
    /// figure as a section of the interactive report, for a page of many figures.
    pub(crate) fn finish(mut self) -> Result<(Vec<String>, Option<report::Section>)> {
        if self.drawn != self.plan.panels.len() && (self.wants(Format::Svg) || self.wants(Format::Html)) {
            return Err(Error::Render {
                what: self.section.as_ref().map_or_else(String::new, |p| p.title.clone()),
                message: "the figures drawn are not the figures planned".into(),
            });
        }
        let section = self.section.take();
        if let Some(section) = &section {
            let html = report::page(&section.title, std::slice::from_ref(section))?;
            self.write(INDEX, html.as_bytes())?;
        }
        let tables = std::mem::take(&mut self.tables);
        for ((partial, _), name) in tables.into_iter().zip(self.plan.tables.clone()) {
            self.commit(partial, name)?;
        }
        if let Some(document) = self.document.take() {
            self.commit(document, self.plan.document)?;
        }
        if let Some(bytes) = self.pending_notebook.take() {
            self.write(notebook::NOTEBOOK, &bytes)?;
        }
        Ok((self.written, section))
    }

    fn commit(&mut self, partial: Partial, name: &str) -> Result<()> {
        self.out.commit(partial)?;
        self.written.push(name.to_string());
        Ok(())
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
