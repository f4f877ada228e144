//! The `saliency` figure: why a classifier gave each sentence its class.
//!
//! Per sentence, a heatmap of tokens x embedding dimensions (`sentence-NNNN.svg`; the paper's
//! first-derivative saliency by default) with the per-token scores on the right; the numbers in
//! long format (`saliency.csv`: one line per token and dimension; `tokens.csv`: one per token);
//! everything with provenance in `saliency.json`; and the page `index.html`.

use serde::{Deserialize, Serialize};

use super::notebook::Redraw;
use super::{
    clap_defaults, report, Figure, FigureOutput, Format, InputArgs, MethodArgs, ModelArg, NoProgress, Panel, Plan,
    Progress, Runtime, ScaleArgs, SeedArg, StyleArgs, Writer, DEFAULT_CLASSIFIER,
};
use crate::checkpoint::{load_classifier, ModelSource};
use crate::data::vocab::UNK_ID;
use crate::data::DEFAULT_MAX_TOKENS;
use crate::error::Result;
use crate::explain::{build_method, method_names, Attribution, ClassChoice, Explainer, ScoreKind, Target};
use crate::export::csv::Table;
use crate::export::{DocumentStream, OutputDir};
use crate::render::{format_column, format_number, Heatmap};

/// Options of a saliency figure (`salient saliency`, `kind = "saliency"`).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct SaliencyOptions {
    /// The model.
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// The sentences.
    #[command(flatten)]
    #[serde(flatten)]
    pub input: InputArgs,
    /// Attribution method.
    #[arg(long, default_value = "grad", value_parser = clap::builder::PossibleValuesParser::new(method_names()))]
    pub method: String,
    /// The class score explained [default: the method's own: paper (exp(logit)), logprob for
    /// erasure].
    #[arg(long, value_enum)]
    pub score: Option<ScoreKind>,
    /// The class explained: `predicted`, a class index, or a class name (`positive`).
    #[arg(long, default_value = "predicted")]
    pub class: String,
    /// Options of the methods that take any.
    #[command(flatten)]
    #[serde(flatten)]
    pub method_args: MethodArgs,
    /// The seed.
    #[command(flatten)]
    #[serde(flatten)]
    pub seed: SeedArg,
    /// Colour scales.
    #[command(flatten)]
    #[serde(flatten)]
    pub scale: ScaleArgs,
    /// How the drawings look.
    #[command(flatten)]
    #[serde(flatten)]
    pub style: StyleArgs,
    /// Longest sentence accepted, in tokens.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
    /// Sentences per batch (one forward and backward pass each). Sentences are explained and their
    /// files written 16 batches at a time, so memory stays flat however long the input (with
    /// --shared-scale but not both --vmin and --vmax, every result is kept until the end).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
}

impl Default for SaliencyOptions {
    fn default() -> Self {
        clap_defaults()
    }
}

/// Batches of sentences explained and written at a time (see [`Writer`]).
pub const STREAM_BATCHES: usize = 16;

/// The file of sentence `id`'s figure, without `.svg`.
pub fn figure_stem(id: usize) -> String {
    format!("sentence-{id:04}")
}

impl Figure for SaliencyOptions {
    const KIND: &'static str = "saliency";
    const PATHS: &'static [&'static str] = &["model", "input"];

    fn make(
        &self,
        runtime: &Runtime,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput> {
        let params = self.method_args.params(self.seed.seed, &runtime.limits)?;
        let loaded = load_classifier(&self.model.resolve(DEFAULT_CLASSIFIER)?, &runtime.device)?;
        let method = build_method(&self.method, &params)?;
        let class = ClassChoice::parse(&self.class, loaded.card.model.task.class_names())?;
        let target = Target { class, score: self.score.unwrap_or(method.default_score()) };
        let scale = self.scale.options()?;
        let input = self.input.sentences(&loaded.vocab, self.max_tokens)?;
        input.notes.iter().for_each(|n| progress.note(n));
        let plan = Plan {
            panels: input.sentences.iter().map(|s| figure_stem(s.id)).collect(),
            tables: vec!["saliency.csv", "tokens.csv"],
            document: "saliency.json",
        };
        let mut writer = Writer::new(out, formats, plan)?.with_style(&self.style)?;

        let source = ModelSource::of(&loaded);
        let explainer =
            Explainer::new(&loaded.model, source.clone()).batch_size(self.batch_size).threads(runtime.threads);
        let title = format!("{} · {} · S_c = {}", source.name(), method.name(), target.score.formula());
        // Sentences are explained and written a part at a time, so that memory does not grow with
        // the input; one colour scale shared by every figure needs every result first.
        let fixed_scale = !scale.shared || (scale.vmin.is_some() && scale.vmax.is_some());
        let part = if fixed_scale { STREAM_BATCHES * self.batch_size.max(1) } else { usize::MAX };
        let streaming = input.sentences.len() > part;
        let mut document = DocumentStream::new("salient saliency", input.failures.clone())?;
        progress.stage(method.name(), input.sentences.len());
        let classes = loaded.card.model.task.class_names();
        let mut done = 0;
        for sentences in input.sentences.chunks(part) {
            let attributions = explainer.attribute(method.as_ref(), sentences, &target, &mut |n| {
                progress.advance(done + n);
            })?;
            let panels: Vec<Panel> =
                attributions.iter().map(|a| Panel::heatmap(figure_stem(a.sentence), heatmap(a), 0)).collect();
            // Drawing a part is not a stage of its own when there are many parts.
            let drawing: &mut dyn Progress = if streaming { &mut NoProgress } else { &mut *progress };
            writer.figures(&title, &panels, &scale, drawing)?;
            writer.tables(|| Ok(vec![matrix_table(&attributions)?, token_table(&attributions)?]))?;
            writer.page(
                Self::KIND,
                || report::data(&serde_json::json!({ "classes": classes, "results": &attributions })),
                &[],
            )?;
            writer.document(|| document.results(&attributions))?;
            done += sentences.len();
        }
        writer.page(
            Self::KIND,
            || report::data(&serde_json::json!({ "classes": classes, "results": [] })),
            &input.failures,
        )?;
        writer.document(|| Ok(document.end()))?;
        let settings = serde_json::to_value(explainer.provenance(method.as_ref(), &target)).unwrap_or_default();
        writer.notebook("salient saliency", self, Some(&source), &settings, Redraw::Saliency)?;
        let (files, section) = writer.finish()?;
        Ok(FigureOutput {
            model: Some(source),
            files,
            settings,
            notes: input.notes,
            failures: input.failures,
            summary: format!("explained {done} sentence(s) with {}", method.name()),
            section,
        })
    }
}

/// The heatmap of one attribution: tokens down, dimensions across, per-token scores at the right.
pub fn heatmap(a: &Attribution) -> Heatmap {
    let p = &a.provenance;
    let mut title = format!("{} · {}", p.model.name(), p.method);
    if let (Some(score), Some(_)) = (p.score, p.class) {
        title += &format!(" · S_c = {} · class {}", score.formula(), a.class_name);
    }
    let mut subtitle = vec![format!("#{}: {}", a.sentence, a.text)];
    let names = p.task.map(|t| t.class_names()).unwrap_or_default();
    let predicted = names.get(a.predicted).copied().unwrap_or("?");
    let probability = a.probabilities.get(a.predicted).copied().unwrap_or(f32::NAN);
    let mut line = format!("predicted {predicted} (p {})", format_number(probability));
    if let (Some(kind), Some(score)) = (p.score, a.score) {
        line += &format!("; S_c = {} = {}", kind.formula(), format_number(score as f32));
    }
    subtitle.push(line);
    if let Some(c) = &a.completeness {
        subtitle.push(format!(
            "completeness: sum of attributions {} vs S(x) - S(baseline) {} (error {}, {:.2}%)",
            format_number(c.sum as f32),
            format_number(c.delta as f32),
            format_number(c.error as f32),
            100.0 * c.relative
        ));
    }
    let columns = a.matrix.first().map_or(1, Vec::len);
    Heatmap {
        title,
        subtitle,
        row_labels: a.words.clone(),
        muted_rows: a.ids.iter().map(|&id| id == UNK_ID).collect(),
        row_notes: format_column(&a.token_scores),
        notes_title: "per token".into(),
        column_labels: if columns == 1 { vec![String::new()] } else { (0..columns).map(|j| j.to_string()).collect() },
        x_label: if columns == 1 { String::new() } else { "embedding dimension".into() },
        value_label: a.value_label.clone(),
        values: a.matrix.iter().flatten().copied().collect(),
        columns,
        kind: super::values(a.values),
        column_groups: Vec::new(),
    }
}

/// `sentence,position,token,word,dimension,value`: every matrix, one line per token and
/// dimension (erasure has the single dimension 0).
pub fn matrix_table(attributions: &[Attribution]) -> Result<Vec<u8>> {
    let mut t = Table::new(["sentence", "position", "token", "word", "dimension", "value"])?;
    for a in attributions {
        let sentence = a.sentence.to_string();
        for (i, row) in a.matrix.iter().enumerate() {
            let position = i.to_string();
            for (j, v) in row.iter().enumerate() {
                t.row([&sentence, &position, &a.tokens[i], &a.words[i], &j.to_string(), &v.to_string()])?;
            }
        }
    }
    t.finish()
}

/// `sentence,position,token,word,score`: the per-token scores.
pub fn token_table(attributions: &[Attribution]) -> Result<Vec<u8>> {
    let mut t = Table::new(["sentence", "position", "token", "word", "score"])?;
    for a in attributions {
        let sentence = a.sentence.to_string();
        for (i, v) in a.token_scores.iter().enumerate() {
            t.row([&sentence, &i.to_string(), &a.tokens[i], &a.words[i], &v.to_string()])?;
        }
    }
    t.finish()
}
