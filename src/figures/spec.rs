//! Batch export for papers: a TOML spec lists figures, one run makes them all, each into its own
//! directory, and a manifest (JSON) records what was made from what.
//!
//! ```toml
//! [defaults]                      # optional: any figure option, given to every figure that
//! model = "../data/models/lstm-fine"   # takes it and does not set it itself
//! seed = 1
//! format = ["svg", "csv"]         # optional; default svg, csv, json, html (png, pdf on request)
//!
//! [[figure]]
//! name = "fig2-negation"          # the figure's directory under the output
//! kind = "tsne"                   # saliency | heatmap | tsne | autoencoder-saliency | faithfulness
//! preset = "negation"
//!
//! [[figure]]
//! name = "fig3-saliency-lstm"
//! kind = "saliency"
//! text = ["I hate the movie ."]
//! method = "grad"
//! ```
//!
//! A figure's options are exactly its command's options, named as its fields (`--shared-scale`
//! is `shared_scale`), with the same defaults; paths are relative to the spec file, and `model`
//! and `data` may name a model or data set instead (`model = "lstm-fine"`, found as
//! [`crate::locate`] says) when no path of that name is beside the spec. The spec is
//! read and every figure's options checked before any figure is made: an unknown option or a
//! bad value is a [`SpecError`] naming the figure and the option. A figure that fails while
//! being made is recorded in the manifest with its error, and the others are still made.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::autoencoder::AutoencoderSaliencyOptions;
use super::faithfulness::FaithfulnessOptions;
use super::heatmap::HeatmapOptions;
use super::notebook::{joined_name, write_joined, Part};
use super::projection::ProjectionOptions;
use super::saliency::SaliencyOptions;
use super::{make_recorded, option_names, report, Figure, FigureOutput, Format, Progress, Runtime, INDEX};
use crate::checkpoint::sha256_hex;
use crate::data::Failure;
pub use crate::error::SpecError;
use crate::error::{Error, Result};
use crate::export::{run_key, Existing, OutputDir};

/// The figure kinds a spec can name.
pub const KINDS: &[&str] = &[
    SaliencyOptions::KIND,
    HeatmapOptions::KIND,
    ProjectionOptions::KIND,
    AutoencoderSaliencyOptions::KIND,
    FaithfulnessOptions::KIND,
];

/// One figure's options, of its kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FigureOptions {
    /// `saliency`.
    Saliency(SaliencyOptions),
    /// `heatmap`.
    Heatmap(HeatmapOptions),
    /// `tsne`.
    Projection(ProjectionOptions),
    /// `autoencoder-saliency`.
    AutoencoderSaliency(AutoencoderSaliencyOptions),
    /// `faithfulness`.
    Faithfulness(FaithfulnessOptions),
}

impl FigureOptions {
    /// Make the figure.
    pub fn make(
        &self,
        runtime: &Runtime,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput> {
        match self {
            FigureOptions::Saliency(o) => o.make(runtime, out, formats, progress),
            FigureOptions::Heatmap(o) => o.make(runtime, out, formats, progress),
            FigureOptions::Projection(o) => o.make(runtime, out, formats, progress),
            FigureOptions::AutoencoderSaliency(o) => o.make(runtime, out, formats, progress),
            FigureOptions::Faithfulness(o) => o.make(runtime, out, formats, progress),
        }
    }
}

/// One `[[figure]]` of a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecFigure {
    /// Its name: its directory under the output.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its formats, if the figure or `[defaults]` names any.
    pub formats: Option<Vec<Format>>,
    /// Its options, defaults filled in and paths made relative to the spec's directory.
    pub options: FigureOptions,
}

/// A parsed and checked spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The figures, in order.
    pub figures: Vec<SpecFigure>,
}

fn spec_error(source: &str, figure: Option<&str>, field: Option<&str>, message: impl Into<String>) -> Error {
    Error::Spec(SpecError {
        file: source.to_string(),
        figure: figure.map(str::to_string),
        field: field.map(str::to_string),
        message: message.into(),
    })
}

impl Spec {
    /// Parse and check a spec's TOML `text`; `source` names it in errors and `base` is the
    /// directory its relative paths start from.
    pub fn parse(text: &str, source: &str, base: &Path) -> Result<Spec> {
        let mut root: toml::Table = toml::from_str(text).map_err(|e| spec_error(source, None, None, e.to_string()))?;
        let defaults = match root.remove("defaults") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => return Err(spec_error(source, None, Some("defaults"), "must be a table ([defaults])")),
        };
        let figures = match root.remove("figure") {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a,
            Some(_) => return Err(spec_error(source, None, Some("figure"), "must be [[figure]] tables")),
        };
        if let Some(key) = root.keys().next() {
            return Err(spec_error(
                source,
                None,
                Some(key),
                "unknown table; a spec has [defaults] and [[figure]] tables",
            ));
        }
        if figures.is_empty() {
            return Err(spec_error(source, None, None, "no [[figure]] tables; nothing to make"));
        }
        let all_options: HashSet<String> = all_option_names().into_iter().collect();
        for key in defaults.keys() {
            if key != "format" && !all_options.contains(key) {
                return Err(spec_error(
                    source,
                    None,
                    Some(&format!("defaults.{key}")),
                    "no figure kind has this option",
                ));
            }
        }
        let default_formats = formats_of(defaults.get("format"), source, None)?;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(figures.len());
        for (k, value) in figures.into_iter().enumerate() {
            let mut table = match value {
                toml::Value::Table(t) => t,
                _ => return Err(spec_error(source, None, Some("figure"), format!("figure {} is not a table", k + 1))),
            };
            let name = match table.remove("name") {
                Some(toml::Value::String(s)) => s,
                _ => {
                    return Err(spec_error(
                        source,
                        None,
                        Some("name"),
                        format!("figure {} needs a name (a string)", k + 1),
                    ))
                }
            };
            let ok = !name.is_empty()
                && !name.starts_with('.')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(spec_error(
                    source,
                    Some(&name),
                    Some("name"),
                    "must be letters, digits, `-`, `_` or `.` (it names a directory)",
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(spec_error(source, Some(&name), Some("name"), "two figures have this name"));
            }
            let kind = match table.remove("kind") {
                Some(toml::Value::String(s)) => s,
                _ => {
                    return Err(spec_error(
                        source,
                        Some(&name),
                        Some("kind"),
                        format!("needs a kind, one of: {}", KINDS.join(", ")),
                    ))
                }
            };
            let formats = match table.remove("format") {
                Some(v) => formats_of(Some(&v), source, Some(&name))?,
                None => default_formats.clone(),
            };
            let options = match kind.as_str() {
                SaliencyOptions::KIND => FigureOptions::Saliency(read(table, &defaults, base, source, &name)?),
                HeatmapOptions::KIND => FigureOptions::Heatmap(read(table, &defaults, base, source, &name)?),
                ProjectionOptions::KIND => FigureOptions::Projection(read(table, &defaults, base, source, &name)?),
                AutoencoderSaliencyOptions::KIND => {
                    FigureOptions::AutoencoderSaliency(read(table, &defaults, base, source, &name)?)
                }
                FaithfulnessOptions::KIND => FigureOptions::Faithfulness(read(table, &defaults, base, source, &name)?),
                other => {
                    return Err(spec_error(
                        source,
                        Some(&name),
                        Some("kind"),
                        format!("unknown kind `{other}`; known: {}", KINDS.join(", ")),
                    ))
                }
            };
            out.push(SpecFigure { name, kind, formats, options });
        }
        Ok(Spec { figures: out })
    }
}

/// Every option name of every kind.
fn all_option_names() -> Vec<String> {
    let mut names = option_names::<SaliencyOptions>();
    names.extend(option_names::<HeatmapOptions>());
    names.extend(option_names::<ProjectionOptions>());
    names.extend(option_names::<AutoencoderSaliencyOptions>());
    names.extend(option_names::<FaithfulnessOptions>());
    names
}

fn formats_of(value: Option<&toml::Value>, source: &str, figure: Option<&str>) -> Result<Option<Vec<Format>>> {
    let Some(value) = value else { return Ok(None) };
    let formats: Vec<Format> = value.clone().try_into().map_err(|e: toml::de::Error| {
        spec_error(
            source,
            figure,
            Some("format"),
            format!("{}; formats: svg, csv, json, html, ipynb, png, pdf", e.message()),
        )
    })?;
    Ok(Some(formats))
}

/// A figure's options of kind `T` from its table: unknown keys refused, `[defaults]` filled in
/// where `T` takes them, paths joined to `base`, each value checked on its own so that an error
/// names its option.
fn read<T: Figure>(mut table: toml::Table, defaults: &toml::Table, base: &Path, source: &str, name: &str) -> Result<T> {
    let known = option_names::<T>();
    if let Some(key) = table.keys().find(|k| !known.contains(k)) {
        return Err(spec_error(
            source,
            Some(name),
            Some(key),
            format!("not an option of a {} figure; its options: {}", T::KIND, known.join(", ")),
        ));
    }
    for (key, value) in defaults {
        if known.contains(key) && !table.contains_key(key) {
            table.insert(key.clone(), value.clone());
        }
    }
    for key in T::PATHS {
        if let Some(toml::Value::String(path)) = table.get(*key) {
            let joined = base.join(path);
            // `model` and `data` may also be names (`model = "lstm-fine"`): one that is not a
            // path from the spec's directory is looked up as `--model NAME` is; one found
            // nowhere stays a path from the spec's directory, for the figure to report.
            let search = match *key {
                "model" => Some(crate::locate::SearchPath::models()),
                "data" => Some(crate::locate::SearchPath::data()),
                _ => None,
            };
            let value = match search {
                Some(search) if !joined.exists() && Path::new(path).components().count() == 1 => {
                    search.resolve(Path::new(path)).unwrap_or(joined).display().to_string()
                }
                _ => joined.display().to_string(),
            };
            table.insert(key.to_string(), toml::Value::String(value));
        }
    }
    for (key, value) in &table {
        let mut one = toml::Table::new();
        one.insert(key.clone(), value.clone());
        toml::Value::Table(one)
            .try_into::<T>()
            .map_err(|e| spec_error(source, Some(name), Some(key), e.message().to_string()))?;
    }
    toml::Value::Table(table).try_into::<T>().map_err(|e| spec_error(source, Some(name), None, e.message().to_string()))
}

/// What the manifest says of one figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureRecord {
    /// The figure's name (its directory).
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// `ok` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Files written, relative to the output directory.
    pub files: Vec<String>,
    /// The model directory and the SHA-256 of its weights.
    pub model: Option<crate::checkpoint::ModelSource>,
    /// The figure's options, defaults filled in.
    pub options: serde_json::Value,
    /// The settings actually used (t-SNE's parameters; the attribution method's options,
    /// score and class; the view).
    pub settings: serde_json::Value,
    /// Remarks (unknown words, duplicates, the final KL divergence).
    pub notes: Vec<String>,
    /// Inputs that could not be used.
    pub failures: Vec<Failure>,
}

/// The manifest of a batch run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `salient export`.
    pub command: String,
    /// salient's version.
    pub salient_version: String,
    /// The spec file.
    pub spec: String,
    /// SHA-256 of the spec file's bytes.
    pub spec_sha256: String,
    /// One record per figure, in spec order.
    pub figures: Vec<FigureRecord>,
}

impl Manifest {
    /// The figures that failed.
    pub fn failures(&self) -> Vec<&FigureRecord> {
        self.figures.iter().filter(|f| f.status != "ok").collect()
    }
}

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// A batch run: a spec, where it came from, and where it goes.
pub struct Batch<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// The spec file (for the manifest).
    pub spec_path: &'a Path,
    /// The spec file's bytes (for its checksum).
    pub spec_bytes: &'a [u8],
    /// The output directory: one sub-directory per figure, and `manifest.json`.
    pub out: &'a Path,
    /// What to do with the files of an earlier run in `out`.
    pub existing: Existing,
    /// Formats for every figure, over what the spec says (`None`: the spec's, else all).
    pub formats: Option<Vec<Format>>,
    /// Device and threads.
    pub runtime: &'a Runtime,
}

impl Batch<'_> {
    /// Make every figure, telling `progress` of each one's stages; `done(k, name)` is called
    /// after figure `k`. Every figure's directory is checked before any figure is made. A
    /// figure's failure is recorded and the others still run; when resuming, a figure that is
    /// complete is not made again. Writes and returns the manifest.
    pub fn run(&self, progress: &mut dyn Progress, done: &mut dyn FnMut(usize, &str)) -> Result<Manifest> {
        let key = run_key(&("export", sha256_hex(self.spec_bytes), &self.formats));
        let out = OutputDir::open(self.out, self.existing, &key)?;
        let formats_of = |figure: &SpecFigure| {
            self.formats.clone().or_else(|| figure.formats.clone()).unwrap_or_else(|| Format::DEFAULT.to_vec())
        };
        let page = self.spec.figures.iter().any(|f| formats_of(f).contains(&Format::Html));
        let joined = self
            .spec
            .figures
            .iter()
            .any(|f| formats_of(f).contains(&Format::Ipynb))
            .then(|| joined_name(self.spec_path));
        let mut roots = vec![MANIFEST];
        roots.extend(page.then_some(INDEX));
        roots.extend(joined.as_deref());
        out.check_free(&roots)?;
        // Every figure's directory first: one that cannot be written stops the run before any work.
        let dirs = self
            .spec
            .figures
            .iter()
            .map(|figure| {
                let formats = formats_of(figure);
                let dir = out.sub(&figure.name, &run_key(&(&figure.kind, &figure.options, &formats)))?;
                Ok((dir, formats))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut records = Vec::with_capacity(self.spec.figures.len());
        let mut all_formats = Vec::with_capacity(self.spec.figures.len());
        let mut sections = Vec::new();
        for (k, (figure, (dir, formats))) in self.spec.figures.iter().zip(dirs).enumerate() {
            let result = make_recorded(&dir, || figure.options.make(self.runtime, &dir, &formats, progress));
            all_formats.push(formats);
            let options = serde_json::to_value(&figure.options).unwrap_or(serde_json::Value::Null);
            records.push(match result {
                Ok(mut made) => {
                    if let Some(mut section) = made.section.take() {
                        section.name = figure.name.clone();
                        section.title = format!("{}: {}", figure.name, section.title);
                        section.linked = section.linked.iter().map(|l| format!("{}/{l}", figure.name)).collect();
                        if report::interactive(&section.kind) {
                            // Drawn by the page itself; the SVGs are on the figure's own page.
                            section.figures.clear();
                            section.linked.clear();
                        }
                        sections.push(section);
                    }
                    FigureRecord {
                        name: figure.name.clone(),
                        kind: figure.kind.clone(),
                        status: "ok".into(),
                        error: None,
                        files: made.files.iter().map(|f| format!("{}/{f}", figure.name)).collect(),
                        model: made.model,
                        options,
                        settings: made.settings,
                        notes: made.notes,
                        failures: made.failures,
                    }
                }
                Err(e) => FigureRecord {
                    name: figure.name.clone(),
                    kind: figure.kind.clone(),
                    status: "failed".into(),
                    error: Some(e.to_string()),
                    files: Vec::new(),
                    model: None,
                    options,
                    settings: serde_json::Value::Null,
                    notes: Vec::new(),
                    failures: Vec::new(),
                },
            });
            done(k + 1, &figure.name);
        }
        let manifest = Manifest {
            command: "salient export".into(),
            salient_version: env!("CARGO_PKG_VERSION").into(),
            spec: self.spec_path.display().to_string(),
            spec_sha256: sha256_hex(self.spec_bytes),
            figures: records,
        };
        if page {
            let name = self.spec_path.file_stem().map_or_else(|| "export".into(), |s| s.to_string_lossy());
            let title = format!("{name}: {} figure(s) made by salient export", sections.len());
            out.write(INDEX, report::page(&title, &sections)?.as_bytes())?;
        }
        if let Some(name) = &joined {
            let parts: Vec<Part> = (manifest.figures.iter().zip(&all_formats))
                .map(|(r, f)| Part {
                    name: &r.name,
                    made: r.error.as_deref().map_or(Ok(()), Err),
                    has_notebook: f.contains(&Format::Ipynb),
                })
                .collect();
            write_joined(&out, name, &manifest.spec, &manifest.spec_sha256, &parts)?;
        }
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::Encode { format: "JSON", message: e.to_string() })?;
        out.write(MANIFEST, &json)?;
        Ok(manifest)
    }
}

/// The directory a spec's relative paths start from.
pub fn base_of(spec_path: &Path) -> PathBuf {
    spec_path.parent().map(Path::to_path_buf).unwrap_or_default()
}
