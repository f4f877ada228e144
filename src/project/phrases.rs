//! Where the phrases of a projection come from: a file, a sample of an SST split, or a shipped
//! preset ([`PhraseSource`], [`PRESETS`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::PhraseSet;
use crate::data::{dataset, Classes, Fields, Split, Vocab};
use crate::error::{Error, Result};

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

/// The names of the presets.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

/// The preset called `name`.
pub fn preset(name: &str) -> Result<&'static Preset> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::UnknownPreset { name: name.to_string(), known: preset_names().join(", ") })
}

/// Where the phrases of a projection come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhraseSource {
    /// A file: one phrase a line, optionally a tab and a gold label.
    Phrases(PathBuf),
    /// `n` unique labelled phrases drawn with a seed from a split (SST trees' phrases, or
    /// labelled text's sentences).
    Sample {
        /// How many.
        n: usize,
        /// `dev` or `test` (or `train`).
        split: Split,
        /// The data directory (SST trees or labelled text).
        data: PathBuf,
        /// The fields of labelled text.
        #[serde(flatten)]
        fields: Fields,
        /// The seed of the draw.
        seed: u64,
    },
    /// A shipped preset.
    Preset(String),
}

impl PhraseSource {
    /// Read the phrases, and the phrases to highlight (a preset's own). Phrases have at most
    /// `max_tokens` tokens; sampled trees at most `max_tree_tokens`.
    pub fn load(
        &self,
        vocab: &Vocab,
        task: &Classes,
        max_tokens: usize,
        max_tree_tokens: usize,
    ) -> Result<(PhraseSet, Vec<String>)> {
        match self {
            PhraseSource::Phrases(path) => {
                let contents = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
                let contents = contents.strip_prefix('\u{feff}').unwrap_or(&contents);
                Ok((PhraseSet::parse(contents, &file_name(path), vocab, task, max_tokens), Vec::new()))
            }
            PhraseSource::Sample { n, split, data, fields, seed } => {
                let trees = dataset::load_split_for(data, *split, task, fields, max_tree_tokens)?;
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
