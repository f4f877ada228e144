//! The `tsne` figure: phrase representations projected to 2-d with t-SNE or PCA (the paper's
//! Figure 2).
//!
//! A labelled scatter plot (`tsne.svg`), the coordinates, labels and probabilities
//! (`tsne.csv`), everything with provenance (`tsne.json`) and the page `index.html`. Points are
//! coloured by gold label when every phrase has one, otherwise by predicted class.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::notebook::Redraw;
use super::{
    clap_defaults, data_dir, report, Figure, FigureOutput, Format, ModelArg, Panel, Plan, Progress, Runtime, SeedArg,
    StyleArgs, Writer, DEFAULT_CLASSIFIER, DEFAULT_SST,
};
use crate::checkpoint::{load_classifier, ModelSource};
use crate::data::{Fields, Split, DEFAULT_MAX_TOKENS};
use crate::error::{Error, Result};
use crate::export::csv::Table;
use crate::export::{Document, OutputDir};
use crate::limits::Limited;
use crate::project::phrases::{preset, preset_names, PhraseSource};
use crate::project::{self, Init, Method, Projection, TsneParams};
use crate::render::{Labels, Scatter, ScatterPoint};

/// Which projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProjectionKind {
    /// Barnes-Hut t-SNE.
    #[default]
    Tsne,
    /// The first two principal components (exact and fast).
    Pca,
}

/// Options of a projection figure (`salient tsne`, `kind = "tsne"`).
///
/// Phrases come from exactly one of `phrases` (a file: one phrase a line, an optional tab and a
/// gold label, a class name or index; `#` starts a comment), `sample` (unique labelled phrases
/// of an SST split, or sentences of labelled text) or `preset` (a shipped list).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectionOptions {
    /// The model.
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// A file of phrases, one a line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sample", "preset"])]
    pub phrases: Option<PathBuf>,
    /// Draw this many unique labelled phrases from --split.
    #[arg(long, value_name = "N", conflicts_with = "preset")]
    pub sample: Option<usize>,
    /// The split to sample from.
    #[arg(long, value_enum, default_value_t = Split::Dev)]
    pub split: Split,
    /// Data directory for --sample, or a data set's name: SST trees (train/dev/test .txt.gz or
    /// .txt) or labelled text (.tsv, .csv or .jsonl, optionally .gz) of the model's kind.
    /// A path that exists wins; a name is looked up in
    /// $SALIENT_DATA, then the data/ of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/data (~/.local/share/salient/data).
    #[arg(long, value_name = "DIR|NAME", default_value = DEFAULT_SST)]
    pub data: PathBuf,
    /// The fields of labelled text.
    #[command(flatten)]
    #[serde(flatten)]
    pub fields: Fields,
    /// A shipped phrase list.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(preset_names()))]
    pub preset: Option<String>,
    /// The projection.
    #[arg(long, value_enum, default_value_t = ProjectionKind::Tsne)]
    pub method: ProjectionKind,
    /// t-SNE perplexity (needs 3 x perplexity + 1 phrases) [default: 30, or the preset's: 10
    /// for negation].
    #[arg(long)]
    pub perplexity: Option<f64>,
    /// t-SNE gradient steps, the 250 exaggerated ones included.
    #[arg(long, default_value_t = TsneParams::default().iterations)]
    pub iterations: usize,
    /// t-SNE learning rate [default: max(phrases / 48, 50)].
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// t-SNE Barnes-Hut accuracy: 0 is exact (slow beyond a few thousand phrases), 0.5 is faster
    /// and a little less accurate.
    #[arg(long, default_value_t = TsneParams::default().theta)]
    pub theta: f64,
    /// t-SNE start.
    #[arg(long, value_enum, default_value_t = TsneParams::default().init)]
    pub init: Init,
    /// The seed.
    #[command(flatten)]
    #[serde(flatten)]
    pub seed: SeedArg,
    /// A phrase to highlight (bold label, larger ringed point); repeat for several.
    #[arg(long)]
    pub highlight: Vec<String>,
    /// Which point labels to draw.
    #[arg(long, value_enum, default_value_t = Labels::Auto)]
    pub labels: Labels,
    /// How the drawings look.
    #[command(flatten)]
    #[serde(flatten)]
    pub style: StyleArgs,
    /// Longest phrase accepted, in tokens.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
}

impl Default for ProjectionOptions {
    fn default() -> Self {
        clap_defaults()
    }
}

impl ProjectionOptions {
    /// Where the phrases come from.
    pub fn source(&self) -> Result<PhraseSource> {
        match (&self.phrases, self.sample, &self.preset) {
            (Some(path), None, None) => Ok(PhraseSource::Phrases(path.clone())),
            (None, Some(n), None) => Ok(PhraseSource::Sample {
                n,
                split: self.split,
                data: data_dir(&self.data)?,
                fields: self.fields.clone(),
                seed: self.seed.seed,
            }),
            (None, None, Some(name)) => Ok(PhraseSource::Preset(name.clone())),
            _ => Err(Error::PhraseSource),
        }
    }

    /// The projection method with every setting filled in.
    pub fn method(&self) -> Result<Method> {
        let preset_perplexity = self.preset.as_deref().map(preset).transpose()?.map(|p| p.perplexity);
        let defaults = TsneParams::default();
        let method = match self.method {
            ProjectionKind::Pca => Method::Pca,
            ProjectionKind::Tsne => Method::Tsne(TsneParams {
                perplexity: self.perplexity.or(preset_perplexity).unwrap_or(defaults.perplexity),
                iterations: self.iterations,
                learning_rate: self.learning_rate,
                theta: self.theta,
                init: self.init,
                seed: self.seed.seed,
                ..defaults
            }),
        };
        if let Method::Tsne(p) = &method {
            p.check(usize::MAX)?;
        }
        Ok(method)
    }
}

impl Figure for ProjectionOptions {
    const KIND: &'static str = "tsne";
    const PATHS: &'static [&'static str] = &["model", "phrases", "data"];

    fn make(
        &self,
        runtime: &Runtime,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput> {
        let source = self.source()?;
        let method = self.method()?;
        if let Method::Tsne(p) = &method {
            runtime.limits.check(Limited::Iterations, p.iterations)?;
            if let PhraseSource::Sample { n, .. } = &source {
                runtime.limits.check_as(Limited::Points, "sample", *n)?;
            }
        }
        let plan = Plan { panels: vec!["tsne".into()], tables: vec!["tsne.csv"], document: "tsne.json" };
        let mut writer = Writer::new(out, formats, plan)?.with_style(&self.style)?;
        let loaded = load_classifier(&self.model.resolve(DEFAULT_CLASSIFIER)?, &runtime.device)?;
        let (set, mut highlight) =
            source.load(&loaded.vocab, &loaded.card.model.task, self.max_tokens, runtime.limits.tree_tokens)?;
        highlight.extend(self.highlight.iter().cloned());
        let mut notes = set.notes.clone();
        notes.iter().for_each(|n| progress.note(n));
        if set.phrases.is_empty() {
            return Err(Error::NothingUsable {
                input: source.describe(),
                reasons: set.failures.iter().map(|f| f.message.clone()).collect(),
            });
        }
        for h in &self.highlight {
            if !set.phrases.iter().any(|p| p.sentence.text.trim().eq_ignore_ascii_case(h.trim())) {
                let note = format!("highlight \"{h}\" is not among the phrases");
                progress.note(&note);
                notes.push(note);
            }
        }
        let within_limits = match &method {
            Method::Tsne(_) => runtime.limits.check(Limited::Points, set.phrases.len()),
            Method::Pca => Ok(()),
        };
        if let Err(e) = within_limits.and_then(|()| method.check(set.phrases.len())) {
            return Err(if set.failures.is_empty() {
                e
            } else {
                Error::WithFailures {
                    error: Box::new(e),
                    failures: set.failures.iter().map(|f| f.message.clone()).collect(),
                }
            });
        }
        let steps = match &method {
            Method::Tsne(p) => p.iterations,
            Method::Pca => 1,
        };
        progress.stage(method.name(), steps);
        let model = ModelSource::of(&loaded);
        let projection = project::project_with_progress(
            &loaded.model,
            &model,
            &set.phrases,
            &method,
            &highlight,
            runtime.threads,
            &mut |done| progress.advance(done),
        )?;
        if let Some(kl) = projection.kl_divergence {
            let note = format!("KL divergence {kl:.6}");
            progress.note(&note);
            notes.push(note);
        }
        let panels = [Panel {
            stem: "tsne".into(),
            drawing: super::Drawing::Scatter(scatter(&projection, &source.describe(), self.labels)),
            scale_group: 0,
        }];
        let title = format!("{} · {}", projection.model.name(), method.name());
        writer.figures(&title, &panels, &Default::default(), progress)?;
        writer.tables(|| Ok(vec![table(&projection)?]))?;
        writer.page(Self::KIND, || report::data(&projection), &set.failures)?;
        let settings =
            serde_json::json!({"method": projection.method, "phrases": source.describe(), "points": set.phrases.len()});
        let n = set.phrases.len();
        writer.document(|| Document::new("salient tsne", vec![projection], set.failures.clone()).to_json())?;
        writer.notebook("salient tsne", self, Some(&model), &settings, Redraw::Projection)?;
        let (files, section) = writer.finish()?;
        Ok(FigureOutput {
            model: Some(model),
            files,
            settings,
            notes,
            failures: set.failures,
            summary: format!("projected {n} phrase(s) with {}", method.name()),
            section,
            shard: None,
        })
    }
}

/// The scatter figure of a projection: coloured by gold label when every phrase has one,
/// otherwise by predicted class.
pub fn scatter(projection: &Projection, source: &str, labels: Labels) -> Scatter {
    let by_gold = projection.points.iter().all(|p| p.gold.is_some());
    let class_of = |name: &str| projection.classes.iter().position(|c| c == name).unwrap_or(0);
    let (method, axes) = match &projection.method {
        Method::Tsne(p) => (
            format!(
                "t-SNE (perplexity {}, {} iterations, theta {}, seed {})",
                p.perplexity, p.iterations, p.theta, p.seed
            ),
            ("t-SNE 1".to_string(), "t-SNE 2".to_string()),
        ),
        Method::Pca => {
            let r = |k: usize| projection.explained_variance_ratio.get(k).map_or(0.0, |v| v * 100.0);
            ("PCA".to_string(), (format!("PC1 ({:.1}% of variance)", r(0)), format!("PC2 ({:.1}% of variance)", r(1))))
        }
    };
    let mut subtitle = vec![format!("{source} · {method}")];
    if let Some(kl) = projection.kl_divergence {
        subtitle.push(format!("KL divergence {kl:.4}"));
    }
    Scatter {
        title: format!("{} · final representations", projection.model.name()),
        subtitle,
        points: projection
            .points
            .iter()
            .map(|p| ScatterPoint {
                x: p.x,
                y: p.y,
                label: p.phrase.clone(),
                class: class_of(if by_gold { p.gold.as_deref().unwrap_or("") } else { &p.predicted }),
                highlighted: p.highlighted,
            })
            .collect(),
        classes: projection.classes.clone(),
        legend_title: if by_gold { "gold label".into() } else { "predicted class".into() },
        x_label: axes.0,
        y_label: axes.1,
        labels,
    }
}

/// `phrase,at,x,y,gold,predicted,highlighted,p_<class>...`: one line per point.
pub fn table(projection: &Projection) -> Result<Vec<u8>> {
    let mut header: Vec<String> =
        ["phrase", "at", "x", "y", "gold", "predicted", "highlighted"].iter().map(|s| s.to_string()).collect();
    header.extend(projection.classes.iter().map(|c| format!("p_{c}")));
    let mut t = Table::new(&header)?;
    for p in &projection.points {
        let mut record = vec![
            p.phrase.clone(),
            p.at.clone(),
            p.x.to_string(),
            p.y.to_string(),
            p.gold.clone().unwrap_or_default(),
            p.predicted.clone(),
            p.highlighted.to_string(),
        ];
        record.extend(p.probabilities.iter().map(|v| v.to_string()));
        t.row(&record)?;
    }
    t.finish()
}
