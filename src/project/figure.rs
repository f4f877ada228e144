//! From a phrase source to files: where phrases come from ([`PhraseSource`], presets), the
//! scatter figure of a [`Projection`], and its CSV.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{PhraseSet, Projection};
use crate::data::{sst, Split, Task, Vocab};
use crate::error::{Error, Result};
use crate::render::{Labels, Scatter, ScatterPoint};

/// A shipped phrase list (`data/presets/<name>/`, compiled into the binary).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    /// Its name (`--preset negation`).
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// Highlighted phrases, one a line.
    pub phrases: &'static str,
    /// Phrases for comparison, not highlighted.
    pub others: &'static str,
    /// The perplexity that suits its size.
    pub perplexity: f64,
}

/// The presets.
pub const PRESETS: &[Preset] = &[Preset {
    name: "negation",
    description: "the paper's Figure 2: negated and intensified sentiment words among 40 random words",
    phrases: include_str!("../../data/presets/negation/phrases.txt"),
    others: include_str!("../../data/presets/negation/random-words.txt"),
    perplexity: 10.0,
}];

/// The preset called `name`.
pub fn preset(name: &str) -> Result<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        Error::invalid(
            "--preset",
            format!("no preset `{name}`; known: {}", PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")),
        )
    })
}

/// Where the phrases of a projection come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhraseSource {
    /// A file: one phrase a line, optionally a tab and a gold label.
    Phrases(PathBuf),
    /// `n` unique labelled phrases drawn with a seed from an SST split.
    Sample {
        /// How many.
        n: usize,
        /// `dev` or `test` (or `train`).
        split: Split,
        /// The directory of SST trees.
        data: PathBuf,
        /// The seed of the draw.
        seed: u64,
    },
    /// A shipped preset.
    Preset(String),
}

impl PhraseSource {
    /// Read the phrases, and the phrases to highlight (a preset's own).
    pub fn load(&self, vocab: &Vocab, task: Task, max_tokens: usize) -> Result<(PhraseSet, Vec<String>)> {
        match self {
            PhraseSource::Phrases(path) => {
                let contents = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
                Ok((PhraseSet::parse(&contents, &file_name(path), vocab, task, max_tokens), Vec::new()))
            }
            PhraseSource::Sample { n, split, data, seed } => {
                let trees = sst::load_split(data, *split)?;
                Ok((PhraseSet::sample(&trees, split.name(), vocab, task, *n, *seed)?, Vec::new()))
            }
            PhraseSource::Preset(name) => {
                let p = preset(name)?;
                let mut set = PhraseSet::parse(p.phrases, &format!("{name}/phrases.txt"), vocab, task, max_tokens);
                set.extend(PhraseSet::parse(p.others, &format!("{name}/random-words.txt"), vocab, task, max_tokens));
                let highlight = p
                    .phrases
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(|l| l.split('\t').next().unwrap_or(l).to_string())
                    .collect();
                Ok((set, highlight))
            }
        }
    }

    /// A few words for titles.
    pub fn describe(&self) -> String {
        match self {
            PhraseSource::Phrases(path) => file_name(path),
            PhraseSource::Sample { n, split, seed, .. } => format!("{n} {} phrases (seed {seed})", split.name()),
            PhraseSource::Preset(name) => format!("preset {name}"),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The scatter figure of a projection: coloured by gold label when every phrase has one,
/// otherwise by predicted class.
pub fn scatter(projection: &Projection, source: &str, labels: Labels) -> Scatter {
    let by_gold = projection.points.iter().all(|p| p.gold.is_some());
    let class_of = |name: &str| projection.classes.iter().position(|c| c == name).unwrap_or(0);
    let (method, axes) = match &projection.method {
        super::Method::Tsne(p) => (
            format!(
                "t-SNE (perplexity {}, {} iterations, theta {}, seed {})",
                p.perplexity, p.iterations, p.theta, p.seed
            ),
            ("t-SNE 1".to_string(), "t-SNE 2".to_string()),
        ),
        super::Method::Pca => {
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

/// The projection as CSV: `phrase,at,x,y,gold,predicted,highlighted,p_<class>...`.
pub fn csv(projection: &Projection) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> =
        ["phrase", "at", "x", "y", "gold", "predicted", "highlighted"].iter().map(|s| s.to_string()).collect();
    header.extend(projection.classes.iter().map(|c| format!("p_{c}")));
    let bad = |e: csv::Error| Error::invalid("results", format!("cannot write CSV: {e}"));
    w.write_record(&header).map_err(bad)?;
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
        w.write_record(&record).map_err(bad)?;
    }
    w.into_inner().map_err(|e| Error::invalid("results", format!("cannot write CSV: {e}")))
}
