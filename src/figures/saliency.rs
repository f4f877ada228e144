//! The `saliency` figure: why a classifier gave each sentence its class.
//!
//! Per sentence, a heatmap of tokens x embedding dimensions (`sentence-NNNN.svg`; the paper's
//! first-derivative saliency by default) with the per-token scores on the right; the numbers in
//! long format (`saliency.csv`: one line per token and dimension; `tokens.csv`: one per token);
//! everything with provenance in `saliency.json`; and the page `index.html`.

use serde::{Deserialize, Serialize};

use super::notebook::Redraw;
use super::{
    clap_defaults, report, unknown_note, unsharded_key, Figure, FigureOutput, Format, InputArgs, MethodArgs, ModelArg,
    NoProgress, Panel, Plan, Progress, Runtime, ScaleArgs, SeedArg, StyleArgs, Writer, DEFAULT_CLASSIFIER,
};
use crate::checkpoint::{load_classifier, ModelSource};
use crate::data::vocab::UNK_ID;
use crate::data::{Failure, DEFAULT_MAX_TOKENS};
use crate::error::{Result, ShardError};
use crate::explain::{build_method, method_names, Attribution, ClassChoice, Explainer, Method, ScoreKind, Target};
use crate::export::csv::Table;
use crate::export::{Document, DocumentStream, OutputDir, Shard, ShardRecord};
use crate::limits::Limits;
use crate::render::{format_column, format_number, Heatmap, ScaleOptions};

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
    /// Explain only shard I of N of the --input file (I from 0 to N-1, as SLURM's
    /// SLURM_ARRAY_TASK_ID and Kubernetes' JOB_COMPLETION_INDEX count), to split a long input
    /// over machines; `salient merge` joins the shards' directories into what one run writes.
    /// The input's sentences are cut into parts of 16 batches, the parts this command computes
    /// one at a time, and shard I takes a contiguous run of them, so its numbers are those of an
    /// unsharded run to the last bit (an input of fewer parts than N leaves shards empty). A
    /// shard writes saliency.json in any case (merge reads it back), and the bad lines of the
    /// input only in shard 0.
    #[arg(long, value_name = "I/N", requires = "input")]
    #[serde(skip)]
    pub shard: Option<Shard>,
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

    fn shard(&self) -> Option<Shard> {
        self.shard
    }

    fn make(
        &self,
        runtime: &Runtime,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput> {
        if self.shard.is_some() && self.input.input.is_none() {
            return Err(crate::Error::invalid(
                "shard",
                "only an input file is split into shards, not texts given one by one",
            ));
        }
        let params = self.method_args.params(self.seed.seed, &runtime.limits)?;
        let loaded = load_classifier(&self.model.resolve(DEFAULT_CLASSIFIER)?, &runtime.device)?;
        let method = build_method(&self.method, &params)?;
        let class = ClassChoice::parse(&self.class, &loaded.card.model.task.names())?;
        let target = Target { class, score: self.score.unwrap_or(method.default_score()) };
        let scale = self.scale.options()?;
        let input = self.input.sentences(&loaded.vocab, self.max_tokens)?;
        let part = self.part();
        // A shard explains its parts of the input; the input's bad lines are shard 0's.
        let (sentences, notes, failures) = match self.shard {
            None => (&input.sentences[..], input.notes.clone(), input.failures.clone()),
            Some(shard) => {
                let mine = &input.sentences[shard.range(input.sentences.len(), part)];
                let failures = if shard.index == 0 { input.failures.clone() } else { Vec::new() };
                (mine, mine.iter().filter_map(unknown_note).collect(), failures)
            }
        };
        notes.iter().for_each(|n| progress.note(n));
        let plan = self.plan(sentences.iter().map(|s| s.id));
        // A shard's results are read back from its JSON document.
        let with_json: Vec<Format>;
        let written = match self.shard {
            Some(_) if !formats.contains(&Format::Json) => {
                with_json = [formats, &[Format::Json]].concat();
                &with_json[..]
            }
            _ => formats,
        };
        let source = ModelSource::of(&loaded);
        let explainer =
            Explainer::new(&loaded.model, source.clone()).batch_size(self.batch_size).threads(runtime.threads);
        let classes = loaded.card.model.task.names().into_iter().map(String::from).collect();
        let mut parts = PartWriter::new(
            Writer::new(out, written, plan)?.with_style(&self.style)?,
            title(&source, method.as_ref(), target.score),
            scale,
            classes,
            failures.clone(),
            sentences.len() > part,
        )?;
        progress.stage(method.name(), sentences.len());
        let mut done = 0;
        for sentences in sentences.chunks(part) {
            let attributions = explainer.attribute(method.as_ref(), sentences, &target, &mut |n| {
                progress.advance(done + n);
            })?;
            parts.part(attributions, progress)?;
            done += sentences.len();
        }
        let settings = serde_json::to_value(explainer.provenance(method.as_ref(), &target)).unwrap_or_default();
        let (files, section) = parts.finish(self, &source, &settings, progress)?;
        let shard = self.shard.map(|shard| ShardRecord {
            shard,
            kind: Self::KIND.to_string(),
            run: unsharded_key(self, formats),
            input_sha256: input.sha256.clone(),
            model_sha256: Some(source.weights_sha256.clone()),
            options: serde_json::to_value(self).unwrap_or_default(),
            formats: formats.to_vec(),
        });
        Ok(FigureOutput {
            model: Some(source),
            files,
            settings,
            notes,
            failures,
            summary: summary(done, method.as_ref(), self.shard),
            section,
            shard,
        })
    }
}

impl SaliencyOptions {
    /// Sentences explained (and written) at a time: 16 batches.
    fn part(&self) -> usize {
        STREAM_BATCHES * self.batch_size.max(1)
    }

    /// The files of the sentences `ids`.
    fn plan(&self, ids: impl Iterator<Item = usize>) -> Plan {
        Plan {
            panels: ids.map(figure_stem).collect(),
            tables: vec!["saliency.csv", "tokens.csv"],
            document: "saliency.json",
        }
    }

    /// Join the directories of the shards of one run (in order, checked) into `out`: the files
    /// the unsharded run writes, from the results each shard's JSON document holds.
    pub(crate) fn merge(
        &self,
        shards: &[(std::path::PathBuf, ShardRecord, FigureOutput)],
        out: &OutputDir,
        progress: &mut dyn Progress,
    ) -> Result<FigureOutput> {
        let read = |dir: &std::path::Path| -> Result<Document<Attribution>> {
            let path = dir.join("saliency.json");
            let bytes = std::fs::read(&path).map_err(|e| crate::Error::io("cannot read", &path, e))?;
            serde_json::from_slice(&bytes).map_err(|e| ShardError::Results { path, message: e.to_string() }.into())
        };
        let Some((dir, record, first)) = shards.first() else {
            return Err(ShardError::Missing { missing: vec![0], count: 1 }.into());
        };
        let method = build_method(&self.method, &self.method_args.params(self.seed.seed, &Limits::NONE)?)?;
        let source = first.model.clone().ok_or_else(|| ShardError::NotAShard { dir: dir.clone() })?;
        // The files are named before any is written: the sentences of every shard, in order.
        let mut ids = Vec::new();
        let mut classes = None;
        for (dir, _, _) in shards {
            let document = read(dir)?;
            ids.extend(document.results.iter().map(|a| a.sentence));
            if classes.is_none() {
                classes = document
                    .results
                    .iter()
                    .find_map(|a| a.provenance.task.as_ref())
                    .map(|t| t.names().into_iter().map(String::from).collect());
            }
        }
        let failures: Vec<Failure> = shards.iter().flat_map(|(_, _, made)| made.failures.clone()).collect();
        let part = self.part();
        let mut parts = PartWriter::new(
            Writer::new(out, &record.formats, self.plan(ids.iter().copied()))?.with_style(&self.style)?,
            title(&source, method.as_ref(), self.score.unwrap_or(method.default_score())),
            self.scale.options()?,
            classes.unwrap_or_default(),
            failures.clone(),
            ids.len() > part,
        )?;
        for (dir, _, _) in shards {
            let document = read(dir)?;
            for attributions in document.results.chunks(part) {
                parts.part(attributions.to_vec(), progress)?;
            }
        }
        let (files, section) = parts.finish(self, &source, &first.settings, progress)?;
        Ok(FigureOutput {
            model: first.model.clone(),
            files,
            settings: first.settings.clone(),
            notes: shards.iter().flat_map(|(_, _, made)| made.notes.clone()).collect(),
            failures,
            summary: summary(ids.len(), method.as_ref(), None),
            section,
            shard: None,
        })
    }
}

fn title(source: &ModelSource, method: &dyn Method, score: ScoreKind) -> String {
    format!("{} · {} · S_c = {}", source.name(), method.name(), score.formula())
}

fn summary(done: usize, method: &dyn Method, shard: Option<Shard>) -> String {
    let of = shard.map_or_else(String::new, |s| format!(" (shard {s})"));
    format!("explained {done} sentence(s) with {}{of}", method.name())
}

/// Writes attributions into every format a part at a time: they are drawn and written as each
/// part comes, unless one colour scale is shared by every figure (then all are kept until the
/// end, when the scale is known). `make` and `merge` write through it alike, so that a merged run
/// writes the bytes of an unsharded one.
struct PartWriter<'a> {
    writer: Writer<'a>,
    title: String,
    scale: ScaleOptions,
    classes: Vec<String>,
    failures: Vec<Failure>,
    document: DocumentStream,
    /// Attributions kept until the end, for a shared scale.
    kept: Option<Vec<Attribution>>,
    /// Whether there is more than one part (drawing a part is then not a stage of its own).
    streaming: bool,
}

impl<'a> PartWriter<'a> {
    fn new(
        writer: Writer<'a>,
        title: String,
        scale: ScaleOptions,
        classes: Vec<String>,
        failures: Vec<Failure>,
        streaming: bool,
    ) -> Result<Self> {
        let fixed_scale = !scale.shared || (scale.vmin.is_some() && scale.vmax.is_some());
        Ok(PartWriter {
            writer,
            title,
            scale,
            classes,
            document: DocumentStream::new("salient saliency", failures.clone())?,
            failures,
            kept: (!fixed_scale).then(Vec::new),
            streaming: streaming && fixed_scale,
        })
    }

    fn part(&mut self, attributions: Vec<Attribution>, progress: &mut dyn Progress) -> Result<()> {
        match &mut self.kept {
            Some(kept) => {
                kept.extend(attributions);
                Ok(())
            }
            None => self.write(&attributions, progress),
        }
    }

    fn write(&mut self, attributions: &[Attribution], progress: &mut dyn Progress) -> Result<()> {
        let panels: Vec<Panel> =
            attributions.iter().map(|a| Panel::heatmap(figure_stem(a.sentence), heatmap(a), 0)).collect();
        let drawing: &mut dyn Progress = if self.streaming { &mut NoProgress } else { progress };
        self.writer.figures(&self.title, &panels, &self.scale, drawing)?;
        self.writer.tables(|| Ok(vec![matrix_table(attributions)?, token_table(attributions)?]))?;
        let classes = &self.classes;
        self.writer.page(
            SaliencyOptions::KIND,
            || report::data(&serde_json::json!({ "classes": classes, "results": attributions })),
            &[],
        )?;
        let document = &mut self.document;
        self.writer.document(|| document.results(attributions))
    }

    fn finish(
        mut self,
        options: &SaliencyOptions,
        source: &ModelSource,
        settings: &serde_json::Value,
        progress: &mut dyn Progress,
    ) -> Result<(Vec<String>, Option<report::Section>)> {
        if let Some(kept) = self.kept.take() {
            self.write(&kept, progress)?;
        }
        let classes = &self.classes;
        self.writer.page(
            SaliencyOptions::KIND,
            || report::data(&serde_json::json!({ "classes": classes, "results": [] })),
            &self.failures,
        )?;
        let document = self.document;
        self.writer.document(|| Ok(document.end()))?;
        self.writer.notebook("salient saliency", options, Some(source), settings, Redraw::Saliency)?;
        self.writer.finish()
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
    let names = p.task.as_ref().map(|t| t.names()).unwrap_or_default();
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
