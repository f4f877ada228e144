//! Batch export for papers: one TOML spec lists many figures, one run renders them all, each
//! into its own directory (SVG + CSV), and a manifest (JSON) records what was made from what.
//!
//! ```toml
//! [defaults]                      # optional; every figure may override
//! model = "../data/models/bilstm-fine"   # paths are relative to the spec file
//! seed = 1
//!
//! [[figure]]
//! name = "fig2-negation"          # the figure's directory under --out
//! kind = "tsne"                   # tsne | saliency | heatmap | autoencoder-saliency
//! preset = "negation"             # or phrases = "file.txt", or sample = 500 + split = "dev"
//!
//! [[figure]]
//! name = "fig3-saliency-lstm"
//! kind = "saliency"
//! model = "../data/models/lstm-fine"
//! texts = ["I hate the movie ."]
//! method = "grad"
//! ```
//!
//! Figure kinds are one serde-tagged enum ([`Figure`]): a new kind is a new variant with its own
//! options struct and a `render` arm. A figure that fails (a missing model, a bad option, too
//! few phrases) is recorded in the manifest with its error and the others go on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{csv as csv_export, OutputDir};
use crate::checkpoint::{load_autoencoder, load_classifier, sha256_hex, LoadedAutoencoder, LoadedClassifier};
use crate::data::Split;
use crate::data::Vocab;
use crate::error::{Error, Result};
use crate::explain::autoencoder::{self, DecoderScore, OutputChoice};
use crate::explain::views::{self, MatrixView, View};
use crate::explain::{
    build_method, gather, Baseline, ClassChoice, Explainer, MethodParams, ModelSource, ScoreKind, Sentence, Target,
    DEFAULT_MAX_TOKENS,
};
use crate::export::reconstruction::{self, ReconstructionFiles};
use crate::export::Format;
use crate::project::figure::{self, PhraseSource};
use crate::project::{self, Init, Method, TsneParams};
use crate::render::{heatmap_svg, scatter_svg, Heatmap, Labels, RenderOptions, ScaleOptions};

/// A batch of figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Values every figure gets unless it sets its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// The figures, in order (`[[figure]]` tables).
    #[serde(rename = "figure", default)]
    pub figures: Vec<Figure>,
}

/// Defaults for all figures of a spec.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Model directory.
    pub model: Option<PathBuf>,
    /// Directory of SST trees (for sampled phrases).
    pub data: Option<PathBuf>,
    /// Seed of all random numbers.
    pub seed: Option<u64>,
}

/// One figure of a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Figure {
    /// A t-SNE or PCA projection of phrase representations (the paper's Figure 2).
    Tsne(TsneFigure),
    /// Saliency heatmaps of sentences (the paper's Figure 3 and the variance saliency).
    Saliency(SaliencyFigure),
    /// Representation, state or gate heatmaps (the paper's Figure 1).
    Heatmap(HeatmapFigure),
    /// The autoencoder's saliency of each input token for each output token (the paper's
    /// autoencoder figure).
    #[serde(rename = "autoencoder-saliency")]
    AutoencoderSaliency(AutoencoderSaliencyFigure),
}

/// Options of an `autoencoder-saliency` figure (see `salient autoencoder saliency --help`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoencoderSaliencyFigure {
    /// The figure's name.
    pub name: String,
    /// Autoencoder directory [default: the spec's].
    pub model: Option<PathBuf>,
    /// Sentences.
    #[serde(default)]
    pub texts: Vec<String>,
    /// A file of sentences, one a line (instead of `texts`).
    pub input: Option<PathBuf>,
    /// The decoder score differentiated [default: logit].
    #[serde(default)]
    pub score: DecoderScore,
    /// The output tokens explained: `greedy` (default) or `reference`.
    #[serde(default)]
    pub outputs: OutputChoice,
    /// Also draw one tokens x dimensions map per output step [default: true].
    pub steps: Option<bool>,
    /// Colour scale.
    pub vmin: Option<f32>,
    /// Colour scale.
    pub vmax: Option<f32>,
    /// One colour scale for the figure's sentences.
    #[serde(default)]
    pub shared_scale: bool,
}

/// Options of a `tsne` figure (see `salient tsne --help`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsneFigure {
    /// The figure's name: its directory under the output.
    pub name: String,
    /// Model directory [default: the spec's].
    pub model: Option<PathBuf>,
    /// A phrase file.
    pub phrases: Option<PathBuf>,
    /// Sample this many phrases of `split`.
    pub sample: Option<usize>,
    /// The split to sample.
    pub split: Option<Split>,
    /// A shipped phrase list.
    pub preset: Option<String>,
    /// `tsne` (default) or `pca`.
    #[serde(default)]
    pub method: ProjectionKind,
    /// t-SNE perplexity [default: 30, or the preset's].
    pub perplexity: Option<f64>,
    /// t-SNE steps.
    pub iterations: Option<usize>,
    /// t-SNE learning rate.
    pub learning_rate: Option<f64>,
    /// t-SNE theta.
    pub theta: Option<f64>,
    /// t-SNE start.
    pub init: Option<Init>,
    /// Seed.
    pub seed: Option<u64>,
    /// Phrases to highlight.
    #[serde(default)]
    pub highlight: Vec<String>,
    /// Which labels to draw.
    #[serde(default)]
    pub labels: Labels,
}

/// Which projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectionKind {
    /// t-SNE.
    #[default]
    Tsne,
    /// PCA.
    Pca,
}

/// Options of a `saliency` figure (see `salient saliency --help`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaliencyFigure {
    /// The figure's name.
    pub name: String,
    /// Model directory [default: the spec's].
    pub model: Option<PathBuf>,
    /// Sentences.
    #[serde(default)]
    pub texts: Vec<String>,
    /// A file of sentences, one a line (instead of `texts`).
    pub input: Option<PathBuf>,
    /// Attribution method [default: grad].
    pub method: Option<String>,
    /// The score explained [default: the method's].
    pub score: Option<ScoreKind>,
    /// `predicted`, a class index or name [default: predicted].
    pub class: Option<String>,
    /// Integrated gradients' steps.
    pub steps: Option<usize>,
    /// Integrated gradients' baseline.
    pub baseline: Option<Baseline>,
    /// SmoothGrad's samples.
    pub samples: Option<usize>,
    /// SmoothGrad's noise.
    pub noise: Option<f32>,
    /// Seed.
    pub seed: Option<u64>,
    /// Colour scale.
    pub vmin: Option<f32>,
    /// Colour scale.
    pub vmax: Option<f32>,
    /// One colour scale for the figure's sentences.
    #[serde(default)]
    pub shared_scale: bool,
}

/// Options of a `heatmap` figure (see `salient heatmap --help`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeatmapFigure {
    /// The figure's name.
    pub name: String,
    /// Model directory [default: the spec's].
    pub model: Option<PathBuf>,
    /// Sentences or phrases.
    #[serde(default)]
    pub texts: Vec<String>,
    /// A file of sentences (instead of `texts`).
    pub input: Option<PathBuf>,
    /// representation (default), states or gates.
    #[serde(default)]
    pub view: View,
    /// Colour scale.
    pub vmin: Option<f32>,
    /// Colour scale.
    pub vmax: Option<f32>,
    /// One colour scale for all the figure's heatmaps.
    #[serde(default)]
    pub shared_scale: bool,
}

impl Figure {
    /// The figure's name.
    pub fn name(&self) -> &str {
        match self {
            Figure::Tsne(f) => &f.name,
            Figure::Saliency(f) => &f.name,
            Figure::Heatmap(f) => &f.name,
            Figure::AutoencoderSaliency(f) => &f.name,
        }
    }

    /// `tsne`, `saliency`, `heatmap` or `autoencoder-saliency`.
    pub fn kind(&self) -> &'static str {
        match self {
            Figure::Tsne(_) => "tsne",
            Figure::Saliency(_) => "saliency",
            Figure::Heatmap(_) => "heatmap",
            Figure::AutoencoderSaliency(_) => "autoencoder-saliency",
        }
    }

    /// The figure's own model directory, if it names one.
    pub fn model(&self) -> Option<&Path> {
        match self {
            Figure::Tsne(f) => f.model.as_deref(),
            Figure::Saliency(f) => f.model.as_deref(),
            Figure::Heatmap(f) => f.model.as_deref(),
            Figure::AutoencoderSaliency(f) => f.model.as_deref(),
        }
    }

    fn seed(&self) -> Option<u64> {
        match self {
            Figure::Tsne(f) => f.seed,
            Figure::Saliency(f) => f.seed,
            Figure::Heatmap(_) | Figure::AutoencoderSaliency(_) => None,
        }
    }
}

impl Spec {
    /// Parse a spec's TOML text; `source` names it in errors. Figure names must be unique and
    /// usable as directory names.
    pub fn parse(text: &str, source: &str) -> Result<Spec> {
        let spec: Spec = toml::from_str(text).map_err(|e| Error::invalid("--spec", format!("{source}: {e}")))?;
        if spec.figures.is_empty() {
            return Err(Error::invalid("--spec", format!("{source}: no [[figure]] tables; nothing to make")));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &spec.figures {
            let name = f.name();
            let ok = !name.is_empty()
                && !name.starts_with('.')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(Error::invalid(
                    "--spec",
                    format!("{source}: figure name `{name}` must be letters, digits, `-`, `_` or `.` (it names a directory)"),
                ));
            }
            if !seen.insert(name) {
                return Err(Error::invalid("--spec", format!("{source}: two figures are called `{name}`")));
            }
        }
        Ok(spec)
    }

    /// The model directory of `figure` (its own, else the spec's default), relative to `base`.
    pub fn model_of(&self, figure: &Figure, base: &Path) -> Option<PathBuf> {
        figure.model().or(self.defaults.model.as_deref()).map(|m| base.join(m))
    }
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
    pub model: Option<ModelSource>,
    /// The seed used.
    pub seed: Option<u64>,
    /// The figure's options as the spec gave them.
    pub options: serde_json::Value,
    /// The settings actually used, defaults filled in (t-SNE's parameters; the attribution
    /// method's options, score and class; the view).
    pub settings: serde_json::Value,
    /// Remarks (unknown words, duplicates, the final KL divergence).
    pub notes: Vec<String>,
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

/// Where a batch runs: the spec's directory (for relative paths), the output, the device.
pub struct Batch<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// The spec file (for the manifest).
    pub spec_path: &'a Path,
    /// The spec file's bytes (for its checksum).
    pub spec_bytes: &'a [u8],
    /// The output directory: one sub-directory per figure, and `manifest.json`.
    pub out: &'a Path,
    /// Replace existing files.
    pub overwrite: bool,
    /// Threads for t-SNE and attribution.
    pub threads: usize,
    /// Where tensors live.
    pub device: &'a candle_core::Device,
}

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

impl Batch<'_> {
    /// Make every figure, calling `progress(done, name)` after each; a figure's failure is
    /// recorded and the others still run. Writes and returns the manifest.
    pub fn run(&self, progress: &mut dyn FnMut(usize, &str)) -> Result<Manifest> {
        let out = OutputDir::prepare(self.out, self.overwrite)?;
        out.check_free(&[MANIFEST])?;
        let base = self.spec_path.parent().unwrap_or(Path::new(""));
        let mut models: HashMap<PathBuf, std::result::Result<LoadedClassifier, String>> = HashMap::new();
        let mut autoencoders: HashMap<PathBuf, std::result::Result<LoadedAutoencoder, String>> = HashMap::new();
        let mut records = Vec::new();
        for (k, figure) in self.spec.figures.iter().enumerate() {
            let model_dir = self.spec.model_of(figure, base);
            let mut notes = Vec::new();
            let mut model = None;
            let result = match (&model_dir, figure) {
                (None, _) => Err(Error::invalid("model", "no model: set `model` in the figure or in [defaults]")),
                (Some(dir), Figure::AutoencoderSaliency(f)) => {
                    let loaded = autoencoders.entry(dir.clone()).or_insert_with(|| {
                        load_autoencoder(dir, self.device, candle_core::DType::F32).map_err(|e| e.to_string())
                    });
                    match loaded {
                        Ok(loaded) => {
                            model = Some(ModelSource {
                                dir: loaded.dir.display().to_string(),
                                weights_sha256: loaded.card.weights_sha256.clone(),
                            });
                            OutputDir::prepare(&out.path().join(figure.name()), self.overwrite)
                                .and_then(|d| self.autoencoder_saliency(f, loaded, base, &d, &mut notes))
                        }
                        Err(e) => Err(Error::invalid("model", e.clone())),
                    }
                }
                (Some(dir), _) => {
                    let loaded = models
                        .entry(dir.clone())
                        .or_insert_with(|| load_classifier(dir, self.device).map_err(|e| e.to_string()));
                    match loaded {
                        Ok(loaded) => {
                            model = Some(ModelSource::of(loaded));
                            self.render(figure, loaded, base, &out, &mut notes)
                        }
                        Err(e) => Err(Error::invalid("model", e.clone())),
                    }
                }
            };
            let (status, error, files, settings) = match result {
                Ok((files, settings)) => {
                    ("ok", None, files.into_iter().map(|f| format!("{}/{f}", figure.name())).collect(), settings)
                }
                Err(e) => ("failed", Some(e.to_string()), Vec::new(), serde_json::Value::Null),
            };
            records.push(FigureRecord {
                name: figure.name().to_string(),
                kind: figure.kind().to_string(),
                status: status.to_string(),
                error,
                files,
                model,
                seed: figure.seed().or(self.spec.defaults.seed).or(Some(1)).filter(|_| figure.kind() != "heatmap"),
                options: serde_json::to_value(figure).unwrap_or(serde_json::Value::Null),
                settings,
                notes,
            });
            progress(k + 1, figure.name());
        }
        let manifest = Manifest {
            command: "salient export".into(),
            salient_version: env!("CARGO_PKG_VERSION").into(),
            spec: self.spec_path.display().to_string(),
            spec_sha256: sha256_hex(self.spec_bytes),
            figures: records,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::invalid("manifest", format!("cannot write JSON: {e}")))?;
        out.write(MANIFEST, &json)?;
        Ok(manifest)
    }

    fn render(
        &self,
        figure: &Figure,
        loaded: &LoadedClassifier,
        base: &Path,
        out: &OutputDir,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<String>, serde_json::Value)> {
        let dir = OutputDir::prepare(&out.path().join(figure.name()), self.overwrite)?;
        let seed = figure.seed().or(self.spec.defaults.seed).unwrap_or(1);
        match figure {
            Figure::Tsne(f) => self.tsne(f, loaded, base, seed, &dir, notes),
            Figure::Saliency(f) => self.saliency(f, loaded, base, seed, &dir, notes),
            Figure::Heatmap(f) => self.heatmap(f, loaded, base, &dir, notes),
            Figure::AutoencoderSaliency(_) => Err(Error::invalid("kind", "an autoencoder figure needs an autoencoder")),
        }
    }

    fn tsne(
        &self,
        f: &TsneFigure,
        loaded: &LoadedClassifier,
        base: &Path,
        seed: u64,
        dir: &OutputDir,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<String>, serde_json::Value)> {
        let source = match (&f.phrases, f.sample, &f.preset) {
            (Some(p), None, None) => PhraseSource::Phrases(base.join(p)),
            (None, Some(n), None) => PhraseSource::Sample {
                n,
                split: f.split.unwrap_or(Split::Dev),
                data: self.spec.defaults.data.as_ref().map_or_else(|| PathBuf::from("data/sst"), |d| base.join(d)),
                seed,
            },
            (None, None, Some(name)) => PhraseSource::Preset(name.clone()),
            _ => return Err(Error::invalid("phrases", "give exactly one of `phrases`, `sample` or `preset`")),
        };
        let preset_perplexity = f.preset.as_deref().map(figure::preset).transpose()?.map(|p| p.perplexity);
        let defaults = TsneParams::default();
        let method = match f.method {
            ProjectionKind::Pca => Method::Pca,
            ProjectionKind::Tsne => Method::Tsne(TsneParams {
                perplexity: f.perplexity.or(preset_perplexity).unwrap_or(defaults.perplexity),
                iterations: f.iterations.unwrap_or(defaults.iterations),
                learning_rate: f.learning_rate,
                theta: f.theta.unwrap_or(defaults.theta),
                init: f.init.unwrap_or_default(),
                seed,
                ..defaults
            }),
        };
        let (set, mut highlight) = source.load(&loaded.vocab, loaded.card.model.task, DEFAULT_MAX_TOKENS)?;
        highlight.extend(f.highlight.iter().cloned());
        notes.extend(set.notes.iter().cloned());
        notes.extend(set.failures.iter().map(|x| x.message.clone()));
        let projection =
            project::project(&loaded.model, &ModelSource::of(loaded), &set.phrases, &method, &highlight, self.threads)?;
        if let Some(kl) = projection.kl_divergence {
            notes.push(format!("KL divergence {kl:.6}"));
        }
        let names = ["tsne.svg", "tsne.csv"];
        dir.check_free(&names)?;
        let svg = scatter_svg(&figure::scatter(&projection, &source.describe(), f.labels))?;
        dir.write(names[0], svg.as_bytes())?;
        dir.write(names[1], &figure::csv(&projection)?)?;
        let settings =
            serde_json::json!({"method": projection.method, "phrases": source.describe(), "points": set.phrases.len()});
        Ok((names.iter().map(|s| s.to_string()).collect(), settings))
    }

    fn sentences(
        &self,
        texts: &[String],
        input: Option<&PathBuf>,
        base: &Path,
        vocab: &Vocab,
        max_tokens: usize,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Sentence>> {
        let contents = match input {
            Some(p) => {
                let path = base.join(p);
                Some(std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read", path, e))?)
            }
            None => None,
        };
        let mut good = Vec::new();
        for r in gather(texts, contents.as_deref(), vocab, max_tokens) {
            match r {
                Ok(s) => {
                    let unknown = s.unknown_words();
                    if !unknown.is_empty() {
                        notes.push(format!("sentence {}: not in the vocabulary: {}", s.id, unknown.join(" ")));
                    }
                    good.push(s);
                }
                Err(e) => notes.push(e.to_string()),
            }
        }
        if good.is_empty() {
            return Err(Error::invalid("texts", "no sentence can be used (give `texts` or `input`; see the notes)"));
        }
        Ok(good)
    }

    fn saliency(
        &self,
        f: &SaliencyFigure,
        loaded: &LoadedClassifier,
        base: &Path,
        seed: u64,
        dir: &OutputDir,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<String>, serde_json::Value)> {
        let d = MethodParams::default();
        let params = MethodParams {
            steps: f.steps.unwrap_or(d.steps),
            baseline: f.baseline.unwrap_or(d.baseline),
            samples: f.samples.unwrap_or(d.samples),
            noise: f.noise.unwrap_or(d.noise),
            seed,
        };
        let method = build_method(f.method.as_deref().unwrap_or("grad"), &params)?;
        let class =
            ClassChoice::parse(f.class.as_deref().unwrap_or("predicted"), loaded.card.model.task.class_names())?;
        let target = Target { class, score: f.score.unwrap_or(method.default_score()) };
        let scale = ScaleOptions { vmin: f.vmin, vmax: f.vmax, shared: f.shared_scale };
        scale.check()?;
        let sentences = self.sentences(&f.texts, f.input.as_ref(), base, &loaded.vocab, DEFAULT_MAX_TOKENS, notes)?;
        let mut names: Vec<String> = sentences.iter().map(|s| format!("sentence-{:04}.svg", s.id)).collect();
        let figures = names.len();
        names.extend(["saliency.csv".to_string(), "tokens.csv".to_string()]);
        dir.check_free(&names)?;
        let explainer = Explainer::new(&loaded.model, ModelSource::of(loaded)).threads(self.threads);
        let attributions = explainer.attribute(method.as_ref(), &sentences, &target, &mut |_| {})?;
        let maps: Vec<Heatmap> = attributions.iter().map(|a| a.heatmap()).collect();
        write_heatmaps(dir, &names[..figures], &maps, &scale, &mut |_| {})?;
        dir.write("saliency.csv", &csv_export::attributions(&attributions)?)?;
        dir.write("tokens.csv", &csv_export::token_scores(&attributions)?)?;
        let settings = serde_json::to_value(explainer.provenance(method.as_ref(), &target)).unwrap_or_default();
        Ok((names, settings))
    }

    fn heatmap(
        &self,
        f: &HeatmapFigure,
        loaded: &LoadedClassifier,
        base: &Path,
        dir: &OutputDir,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<String>, serde_json::Value)> {
        let scale = ScaleOptions { vmin: f.vmin, vmax: f.vmax, shared: f.shared_scale };
        scale.check()?;
        let sentences = self.sentences(&f.texts, f.input.as_ref(), base, &loaded.vocab, DEFAULT_MAX_TOKENS, notes)?;
        let source = ModelSource::of(loaded);
        let all: Vec<MatrixView> = match f.view {
            View::Representation => vec![views::representations(&loaded.model, &source, &sentences)?],
            View::States => {
                sentences.iter().map(|s| views::states(&loaded.model, &source, s)).collect::<Result<_>>()?
            }
            View::Gates => sentences
                .iter()
                .map(|s| views::gates(&loaded.model, &source, s))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect(),
        };
        let mut names: Vec<String> = all
            .iter()
            .map(|v| match v.view {
                View::Representation => "representation.svg".to_string(),
                _ => {
                    let id = v.rows.first().map_or(0, |r| r.sentence);
                    format!("{}-{id:04}.svg", v.slug())
                }
            })
            .collect();
        let figures = names.len();
        names.push("heatmap.csv".into());
        dir.check_free(&names)?;
        let maps: Vec<Heatmap> = all.iter().map(MatrixView::heatmap).collect();
        write_heatmaps(dir, &names[..figures], &maps, &scale, &mut |_| {})?;
        dir.write("heatmap.csv", &csv_export::views(&all)?)?;
        Ok((names, serde_json::json!({"view": f.view, "sentences": sentences.len()})))
    }
}

impl Batch<'_> {
    fn autoencoder_saliency(
        &self,
        f: &AutoencoderSaliencyFigure,
        loaded: &LoadedAutoencoder,
        base: &Path,
        dir: &OutputDir,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<String>, serde_json::Value)> {
        let scale = ScaleOptions { vmin: f.vmin, vmax: f.vmax, shared: f.shared_scale };
        scale.check()?;
        let max_tokens = loaded.model.config().max_len;
        let sentences = self.sentences(&f.texts, f.input.as_ref(), base, &loaded.vocab, max_tokens, notes)?;
        let results = sentences
            .iter()
            .map(|s| autoencoder::explain(loaded, s, f.score, f.outputs, max_tokens))
            .collect::<Result<Vec<_>>>()?;
        for r in results.iter().filter(|r| !r.exact) {
            notes.push(format!("sentence {}: reconstructed as `{}`", r.sentence, r.output_tokens.join(" ")));
        }
        let files = ReconstructionFiles {
            formats: vec![Format::Svg, Format::Csv],
            steps: f.steps.unwrap_or(true),
            scale,
            title: format!("{} · autoencoder saliency · {}", loaded.dir.display(), f.score.formula()),
            command: "salient export".into(),
        };
        let names = reconstruction::write(dir, &results, &[], &files, &mut || {})?;
        let settings =
            serde_json::json!({"score": f.score, "outputs": f.outputs, "max_tokens": max_tokens, "steps": files.steps});
        Ok((names, settings))
    }
}

/// Draw `maps` on their scales into `names`, calling `progress(done)` after each.
pub fn write_heatmaps(
    dir: &OutputDir,
    names: &[String],
    maps: &[Heatmap],
    scale: &ScaleOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<()> {
    for (k, ((name, map), range)) in names.iter().zip(maps).zip(scale.ranges(maps)?).enumerate() {
        let svg = heatmap_svg(map, &RenderOptions { range: Some(range), ..RenderOptions::default() })?;
        dir.write(name, svg.as_bytes())?;
        progress(k + 1);
    }
    Ok(())
}
