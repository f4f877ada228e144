//! The `autoencoder-saliency` figure: for each output token and each input token, the gradient
//! of the decoder's score for the output token with respect to the input token's embedding.
//!
//! Per sentence: `sentence-NNNN.svg`, the output x input matrix of ‖∂S_t/∂e_i‖₂, and (unless
//! `no_steps`) `sentence-NNNN-step-TT.svg`, input tokens x embedding dimensions of |∂S_t/∂e_ij|
//! for output step TT. The numbers go to `matrix.csv` and `gradients.csv`, everything with
//! provenance to `saliency.json`, the figures to `index.html`.

use serde::{Deserialize, Serialize};

use super::notebook::Redraw;
use super::{
    clap_defaults, report, Drawing, Figure, FigureOutput, Format, InputArgs, ModelArg, Panel, Plan, Progress, Runtime,
    ScaleArgs, StyleArgs, Writer, DEFAULT_AUTOENCODER,
};
use crate::checkpoint::{load_autoencoder, ModelSource};
use crate::data::vocab::UNK_ID;
use crate::error::Result;
use crate::explain::autoencoder::{explain, OutputChoice, ReconstructionSaliency};
use crate::explain::ScoreKind;
use crate::export::csv::Table;
use crate::export::{Document, OutputDir};
use crate::render::{fitting_column_width, format_column, ColumnGroup, Heatmap, Values};

/// Options of an autoencoder saliency figure (`salient autoencoder saliency`,
/// `kind = "autoencoder-saliency"`).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoencoderSaliencyOptions {
    /// The model.
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// The sentences.
    #[command(flatten)]
    #[serde(flatten)]
    pub input: InputArgs,
    /// The decoder score differentiated, of the output token y_t: its logit, log-probability,
    /// probability, or exp(logit) (paper).
    #[arg(long, value_enum, default_value_t = ScoreKind::Logit)]
    pub score: ScoreKind,
    /// Which output tokens to explain: the model's greedy reconstruction, or the input itself.
    #[arg(long, value_enum, default_value_t = OutputChoice::Greedy)]
    pub outputs: OutputChoice,
    /// Longest sentence accepted, in tokens [default: the model's training limit].
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Draw only the output x input matrix, not one map per output step.
    #[arg(long)]
    pub no_steps: bool,
    /// Colour scales.
    #[command(flatten)]
    #[serde(flatten)]
    pub scale: ScaleArgs,
    /// How the drawings look.
    #[command(flatten)]
    #[serde(flatten)]
    pub style: StyleArgs,
}

impl Default for AutoencoderSaliencyOptions {
    fn default() -> Self {
        clap_defaults()
    }
}

fn matrix_stem(sentence: usize) -> String {
    format!("sentence-{sentence:04}")
}

fn step_stem(sentence: usize, t: usize) -> String {
    format!("sentence-{sentence:04}-step-{:02}", t + 1)
}

/// The decoder score as figure titles write it.
fn formula(score: ScoreKind) -> &'static str {
    match score {
        ScoreKind::Logit => "S_t = logit of y_t",
        ScoreKind::Logprob => "S_t = log p(y_t)",
        ScoreKind::Prob => "S_t = p(y_t)",
        ScoreKind::Paper => "S_t = exp(logit of y_t)",
    }
}

impl Figure for AutoencoderSaliencyOptions {
    const KIND: &'static str = "autoencoder-saliency";
    const PATHS: &'static [&'static str] = &["model", "input"];

    fn make(
        &self,
        runtime: &Runtime,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput> {
        let style = self.style.style()?;
        let dir = self.model.resolve(DEFAULT_AUTOENCODER)?;
        let loaded = load_autoencoder(&dir, &runtime.device, candle_core::DType::F32)?;
        let scale = self.scale.options()?;
        let limit = loaded.model.config().max_len;
        let max_tokens = self.max_tokens.unwrap_or(limit);
        let input = self.input.sentences(&loaded.vocab, max_tokens)?;
        input.notes.iter().for_each(|n| progress.note(n));
        progress.stage("saliency", input.sentences.len());
        let mut results: Vec<ReconstructionSaliency> = Vec::with_capacity(input.sentences.len());
        for (k, s) in input.sentences.iter().enumerate() {
            results.push(explain(&loaded, s, self.score, self.outputs, max_tokens.max(limit))?);
            progress.advance(k + 1);
        }
        let mut stems = Vec::new();
        for r in &results {
            stems.push(matrix_stem(r.sentence));
            if !self.no_steps {
                stems.extend((0..r.output_tokens.len()).map(|t| step_stem(r.sentence, t)));
            }
        }
        let plan = Plan { panels: stems, tables: vec!["matrix.csv", "gradients.csv"], document: "saliency.json" };
        let mut writer = Writer::new(out, formats, plan)?.with_style(&self.style)?;

        let model = ModelSource::of_autoencoder(&loaded);
        let name = model.name();
        let mut panels = Vec::new();
        for r in &results {
            let map = matrix_heatmap(r, &name);
            let column_width = Some(fitting_column_width(&map.column_labels, &style));
            panels.push(Panel {
                stem: matrix_stem(r.sentence),
                drawing: Drawing::Heatmap { map, column_width },
                scale_group: 0,
            });
            if !self.no_steps {
                for t in 0..r.output_tokens.len() {
                    panels.push(Panel::heatmap(step_stem(r.sentence, t), step_heatmap(r, t, &name), 1));
                }
            }
        }
        let title = format!("{} · autoencoder saliency · {}", dir.display(), formula(self.score));
        writer.figures(&title, &panels, &scale, progress)?;
        writer.tables(|| Ok(vec![matrix_table(&results)?, gradient_table(&results)?]))?;
        writer.page(Self::KIND, || report::data(&results), &input.failures)?;
        let mut notes = input.notes;
        for r in results.iter().filter(|r| !r.exact) {
            let note = format!("sentence {}: reconstructed as `{}`", r.sentence, r.output_tokens.join(" "));
            progress.note(&note);
            notes.push(note);
        }
        let n = results.len();
        writer.document(|| Document::new("salient autoencoder saliency", results, input.failures.clone()).to_json())?;
        let settings = serde_json::json!({
            "score": self.score, "outputs": self.outputs, "max_tokens": max_tokens, "steps": !self.no_steps
        });
        writer.notebook("salient autoencoder saliency", self, Some(&model), &settings, Redraw::Autoencoder)?;
        let (files, section) = writer.finish()?;
        Ok(FigureOutput {
            model: Some(model),
            files,
            settings,
            notes,
            failures: input.failures,
            summary: format!("explained {n} sentence(s)"),
            section,
            shard: None,
        })
    }
}

/// The output × input matrix: one row per output token, one column per input token, the score
/// of each output token noted on the right.
pub fn matrix_heatmap(r: &ReconstructionSaliency, model: &str) -> Heatmap {
    let score = r.provenance.score.unwrap_or(ScoreKind::Logit);
    let words = r.steps.first().map(|a| a.words.clone()).unwrap_or_default();
    Heatmap {
        title: format!("{model} · saliency of input tokens for each output token · {}", formula(score)),
        subtitle: vec![
            format!("in : {}", r.text),
            format!("out: {}{}", r.output_tokens.join(" "), if r.exact { "  (exact)" } else { "" }),
        ],
        row_labels: r.output_tokens.clone(),
        muted_rows: vec![false; r.output_tokens.len()],
        row_notes: format_column(&r.steps.iter().map(|a| a.score.unwrap_or(f64::NAN) as f32).collect::<Vec<_>>()),
        notes_title: "S_t".into(),
        columns: words.len(),
        column_labels: words,
        x_label: "input token".into(),
        value_label: "‖∂S_t/∂e_i‖₂".into(),
        values: r.steps.iter().flat_map(|a| a.token_scores.iter().copied()).collect(),
        kind: Values::Magnitude,
        column_groups: Vec::<ColumnGroup>::new(),
    }
}

/// The map of output step `t`: input tokens × embedding dimensions, `|∂S_t/∂e_ij|`.
pub fn step_heatmap(r: &ReconstructionSaliency, t: usize, model: &str) -> Heatmap {
    let a = &r.steps[t];
    let score = r.provenance.score.unwrap_or(ScoreKind::Logit);
    let dim = a.matrix.first().map_or(0, Vec::len);
    Heatmap {
        title: format!("{model} · output {} “{}” · {}", t + 1, r.output_tokens[t], formula(score)),
        subtitle: vec![format!("in : {}", r.text)],
        row_labels: a.words.clone(),
        muted_rows: a.ids.iter().map(|&id| id == UNK_ID).collect(),
        row_notes: format_column(&a.token_scores),
        notes_title: "‖w‖₂".into(),
        column_labels: (0..dim).map(|j| j.to_string()).collect(),
        x_label: "embedding dimension".into(),
        value_label: a.value_label.clone(),
        values: a.matrix.iter().flatten().copied().collect(),
        columns: dim,
        kind: Values::Magnitude,
        column_groups: Vec::<ColumnGroup>::new(),
    }
}

/// `sentence,output_position,output_token,input_position,input_token,input_word,value`: the
/// output × input matrices.
pub fn matrix_table(results: &[ReconstructionSaliency]) -> Result<Vec<u8>> {
    let mut t = Table::new([
        "sentence",
        "output_position",
        "output_token",
        "input_position",
        "input_token",
        "input_word",
        "value",
    ])?;
    for r in results {
        let sentence = r.sentence.to_string();
        for (step, a) in r.steps.iter().enumerate() {
            for (i, v) in a.token_scores.iter().enumerate() {
                t.row([
                    &sentence,
                    &step.to_string(),
                    &r.output_tokens[step],
                    &i.to_string(),
                    &a.tokens[i],
                    &a.words[i],
                    &v.to_string(),
                ])?;
            }
        }
    }
    t.finish()
}

/// `sentence,output_position,output_token,input_position,input_token,dimension,value`: the
/// per-dimension gradients.
pub fn gradient_table(results: &[ReconstructionSaliency]) -> Result<Vec<u8>> {
    let mut t = Table::new([
        "sentence",
        "output_position",
        "output_token",
        "input_position",
        "input_token",
        "dimension",
        "value",
    ])?;
    for r in results {
        let sentence = r.sentence.to_string();
        for (step, a) in r.steps.iter().enumerate() {
            let position = step.to_string();
            for (i, row) in a.matrix.iter().enumerate() {
                let input_position = i.to_string();
                for (j, v) in row.iter().enumerate() {
                    t.row([
                        &sentence,
                        &position,
                        &r.output_tokens[step],
                        &input_position,
                        &a.tokens[i],
                        &j.to_string(),
                        &v.to_string(),
                    ])?;
                }
            }
        }
    }
    t.finish()
}
