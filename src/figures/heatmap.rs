//! The `heatmap` figure: a classifier's insides, through its trace hooks.
//!
//! Views: `representation` (the final representation of each phrase as a row, the paper's
//! Figure 1: compare "good", "not good", "bad", "not bad"; `representation.svg`), `states` (the
//! hidden state after each token; `states-NNNN.svg` per sentence), `gates` (the gate activations
//! after each token; `gates-NNNN-<gate>-<direction>.svg`). The numbers go to `heatmap.csv`,
//! everything with provenance to `heatmap.json`, the figures to `index.html`.

use serde::{Deserialize, Serialize};

use super::notebook::Redraw;
use super::{
    clap_defaults, Figure, FigureOutput, Format, InputArgs, ModelArg, Panel, Plan, Progress, Runtime, ScaleArgs,
    StyleArgs, Writer, DEFAULT_CLASSIFIER,
};
use crate::checkpoint::{load_classifier, ModelSource};
use crate::data::DEFAULT_MAX_TOKENS;
use crate::error::Result;
use crate::explain::views::{self, direction_name, MatrixView, View};
use crate::export::csv::Table;
use crate::export::{Document, OutputDir};
use crate::render::{format_column, ColumnGroup, Heatmap};

/// Options of a heatmap figure (`salient heatmap`, `kind = "heatmap"`).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct HeatmapOptions {
    /// The model.
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// The sentences.
    #[command(flatten)]
    #[serde(flatten)]
    pub input: InputArgs,
    /// What to draw.
    #[arg(long, value_enum, default_value_t = View::Representation)]
    pub view: View,
    /// Colour scales.
    #[command(flatten)]
    #[serde(flatten)]
    pub scale: ScaleArgs,
    /// Longest sentence accepted, in tokens.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
    /// How the drawings look.
    #[command(flatten)]
    #[serde(flatten)]
    pub style: StyleArgs,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        clap_defaults()
    }
}

/// The file of a view, without `.svg`.
pub fn figure_stem(view: &MatrixView) -> String {
    let id = view.rows.first().map_or(0, |r| r.sentence);
    match (view.view, view.gate, view.direction) {
        (View::Representation, ..) => "representation".into(),
        (View::Gates, Some(g), Some(d)) => format!("gates-{id:04}-{}-{}", g.name(), direction_name(d)),
        _ => format!("states-{id:04}"),
    }
}

/// What a view shows, for titles.
pub fn describe(view: &MatrixView) -> String {
    match (view.view, view.gate, view.direction) {
        (View::Gates, Some(g), Some(d)) => format!("{} gate ({})", g.name(), direction_name(d)),
        (View::Representation, ..) => "final representation".into(),
        _ => "hidden states".into(),
    }
}

impl Figure for HeatmapOptions {
    const KIND: &'static str = "heatmap";
    const PATHS: &'static [&'static str] = &["model", "input"];

    fn make(
        &self,
        runtime: &Runtime,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput> {
        let loaded = load_classifier(&self.model.resolve(DEFAULT_CLASSIFIER)?, &runtime.device)?;
        let source = ModelSource::of(&loaded);
        let scale = self.scale.options()?;
        let input = self.input.sentences(&loaded.vocab, self.max_tokens)?;
        input.notes.iter().for_each(|n| progress.note(n));
        let sentences = &input.sentences;
        progress.stage(&format!("{:?}", self.view).to_lowercase(), sentences.len());
        // One group of views per sentence (one group in all for the representation view).
        let groups: Vec<Vec<MatrixView>> = match self.view {
            View::Representation => vec![vec![views::representations(&loaded.model, &source, sentences)?]],
            View::States => {
                sentences.iter().map(|s| Ok(vec![views::states(&loaded.model, &source, s)?])).collect::<Result<_>>()?
            }
            View::Gates => sentences.iter().map(|s| views::gates(&loaded.model, &source, s)).collect::<Result<_>>()?,
        };
        progress.advance(sentences.len());
        let plan = Plan {
            panels: groups.iter().flatten().map(figure_stem).collect(),
            tables: vec!["heatmap.csv"],
            document: "heatmap.json",
        };
        let mut writer = Writer::new(out, formats, plan)?.with_style(&self.style)?;

        let all: Vec<MatrixView> = groups.into_iter().flatten().collect();
        let panels: Vec<Panel> = all.iter().map(|v| Panel::heatmap(figure_stem(v), heatmap(v), 0)).collect();
        let title = format!("{} · {}", source.name(), all.first().map(describe).unwrap_or_default());
        writer.figures(&title, &panels, &scale, progress)?;
        writer.tables(|| Ok(vec![table(&all)?]))?;
        writer.page(Self::KIND, || Ok(serde_json::Value::Null), &input.failures)?;
        let n = all.len();
        writer.document(|| Document::new("salient heatmap", all, input.failures.clone()).to_json())?;
        let settings = serde_json::json!({"view": self.view, "sentences": sentences.len()});
        writer.notebook("salient heatmap", self, Some(&source), &settings, Redraw::Heatmap)?;
        let (files, section) = writer.finish()?;
        Ok(FigureOutput {
            model: Some(source),
            files,
            settings,
            notes: input.notes,
            failures: input.failures,
            summary: format!("drew {n} heatmap(s)"),
            section,
            shard: None,
        })
    }
}

/// The heatmap of a view.
pub fn heatmap(view: &MatrixView) -> Heatmap {
    let mut subtitle = Vec::new();
    if let (Some(text), Some(first)) = (&view.text, view.rows.first()) {
        subtitle.push(format!("#{}: {text}", first.sentence));
    }
    let x_label = match view.view {
        View::Representation => "representation dimension",
        _ => "hidden unit",
    };
    let probabilities = format_column(&view.predictions.iter().map(|p| p.probability).collect::<Vec<_>>());
    let row_notes: Vec<String> =
        view.predictions.iter().zip(probabilities).map(|(p, text)| format!("{} {text}", p.class)).collect();
    Heatmap {
        title: format!("{} · {}", view.provenance.model.name(), describe(view)),
        subtitle,
        row_labels: view.rows.iter().map(|r| r.token.clone()).collect(),
        muted_rows: Vec::new(),
        notes_title: if row_notes.is_empty() { String::new() } else { "predicted".into() },
        row_notes,
        column_labels: view.column_labels.clone(),
        x_label: x_label.into(),
        value_label: match view.view {
            View::Gates => "activation".into(),
            View::States => "h".into(),
            View::Representation => "value".into(),
        },
        values: view.matrix.iter().flatten().copied().collect(),
        columns: view.column_labels.len(),
        kind: super::values(view.values),
        column_groups: halves(&view.column_labels)
            .map(|n| {
                vec![
                    ColumnGroup { name: "forward →".into(), columns: n },
                    ColumnGroup { name: "← backward".into(), columns: n },
                ]
            })
            .unwrap_or_default(),
    }
}

/// The size of each half when `labels` are a bidirectional model's units (`f0 f1 … b0 b1 …`).
fn halves(labels: &[String]) -> Option<usize> {
    let n = labels.len() / 2;
    let unit = |label: &str, prefix: char| {
        label.strip_prefix(prefix).is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let split = n > 0
        && labels.len() == 2 * n
        && labels[..n].iter().all(|l| unit(l, 'f'))
        && labels[n..].iter().all(|l| unit(l, 'b'));
    split.then_some(n)
}

/// `view,sentence,position,token,dimension,value`: one line per row and column (`position` is
/// empty for a whole phrase; `dimension` is the column label, e.g. `f3` for a BiLSTM's forward
/// unit 3).
pub fn table(views: &[MatrixView]) -> Result<Vec<u8>> {
    let mut t = Table::new(["view", "sentence", "position", "token", "dimension", "value"])?;
    for v in views {
        let slug = v.slug();
        for (key, row) in v.rows.iter().zip(&v.matrix) {
            let sentence = key.sentence.to_string();
            let position = key.position.map(|p| p.to_string()).unwrap_or_default();
            for (label, value) in v.column_labels.iter().zip(row) {
                t.row([&slug, &sentence, &position, &key.token, label, &value.to_string()])?;
            }
        }
    }
    t.finish()
}
