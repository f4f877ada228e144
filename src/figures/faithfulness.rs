//! The `faithfulness` figure: how faithful each attribution method is to the model, on an SST
//! split.
//!
//! Comprehensiveness: how much the predicted class's probability falls when a sentence's top 10,
//! 20, 50% tokens by attribution are removed (higher is better). Sufficiency: how much it falls
//! when only those tokens are kept (lower is better). AOPC is the mean over the fractions. A
//! seeded random attribution is the baseline. Files: `faithfulness.svg` (methods x measures),
//! `faithfulness.csv`, `faithfulness.json`, `index.html`; [`markdown`] is the table the command
//! prints.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::notebook::Redraw;
use super::report::Section;
use super::saliency::STREAM_BATCHES;
use super::{
    clap_defaults, data_dir, unsharded_key, Figure, FigureOutput, Format, MethodArgs, ModelArg, Panel, Plan, Progress,
    Runtime, SeedArg, StyleArgs, Writer, DEFAULT_CLASSIFIER, DEFAULT_SST,
};
use crate::checkpoint::{load_classifier, ModelSource};
use crate::data::{dataset, Fields, Sentence, Split};
use crate::error::{Error, Result, ShardError};
use crate::explain::faithfulness::{scores, FaithfulnessConfig, FaithfulnessReport, FaithfulnessScores};
use crate::explain::{build_method, method_names, Explainer, Method, ScoreKind};
use crate::export::csv::Table;
use crate::export::{Document, OutputDir, Shard, ShardRecord};
use crate::render::{Heatmap, Values};

/// Options of a faithfulness table (`salient faithfulness`, `kind = "faithfulness"`).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct FaithfulnessOptions {
    /// The model.
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// Methods, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "grad,grad-input,ig,smoothgrad,erasure,variance",
        value_parser = clap::builder::PossibleValuesParser::new(method_names())
    )]
    pub methods: Vec<String>,
    /// Data directory, or a data set's name: SST trees (train/dev/test .txt.gz or .txt) or
    /// labelled text (.tsv, .csv or .jsonl, optionally .gz) of the model's kind.
    /// A path that exists wins; a name is looked up in
    /// $SALIENT_DATA, then the data/ of the repository salient was built from, then
    /// $XDG_DATA_HOME/salient/data (~/.local/share/salient/data).
    #[arg(long, value_name = "DIR|NAME", default_value = DEFAULT_SST)]
    pub data: PathBuf,
    /// The fields of labelled text.
    #[command(flatten)]
    #[serde(flatten)]
    pub fields: Fields,
    /// Which split's sentences (binary models skip neutral ones).
    #[arg(long, value_enum, default_value_t = Split::Test)]
    pub split: Split,
    /// Only the first N sentences.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The score the attributions explain [default: each method's own: paper, logprob for
    /// erasure].
    #[arg(long, value_enum)]
    pub score: Option<ScoreKind>,
    /// Options of the methods that take any.
    #[command(flatten)]
    #[serde(flatten)]
    pub method_args: MethodArgs,
    /// The seed.
    #[command(flatten)]
    #[serde(flatten)]
    pub seed: SeedArg,
    /// Sentences per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// How the drawings look.
    #[command(flatten)]
    #[serde(flatten)]
    pub style: StyleArgs,
    /// Score only shard I of N of the sentences (I from 0 to N-1, as SLURM's
    /// SLURM_ARRAY_TASK_ID and Kubernetes' JOB_COMPLETION_INDEX count), to split a long run over
    /// machines; needs --out. The sentences are cut into parts of 16 batches, the parts this
    /// command computes one at a time, and shard I takes a contiguous run of them. A shard
    /// writes only each sentence's numbers (faithfulness-sentences.json); `salient merge` joins
    /// the shards' directories into what one run writes, the same to the last bit.
    #[arg(long, value_name = "I/N")]
    #[serde(skip)]
    pub shard: Option<Shard>,
}

/// The file of a faithfulness shard: each of its sentences' numbers
/// ([`FaithfulnessScores`], JSON).
pub const SHARD_FILE: &str = "faithfulness-sentences.json";

impl Default for FaithfulnessOptions {
    fn default() -> Self {
        clap_defaults()
    }
}

impl FaithfulnessOptions {
    /// Score the methods.
    pub fn report(&self, runtime: &Runtime, progress: &mut dyn Progress) -> Result<FaithfulnessReport> {
        Ok(self.scores(runtime, progress)?.0.report())
    }

    /// Score the methods on each sentence (of the shard, when sharded): the numbers, and the
    /// SHA-256 of the run's whole input (each sentence scored, sharded or not: its id and
    /// tokens, a line each).
    pub fn scores(&self, runtime: &Runtime, progress: &mut dyn Progress) -> Result<(FaithfulnessScores, String)> {
        let params = self.method_args.params(self.seed.seed, &runtime.limits)?;
        let loaded = load_classifier(&self.model.resolve(DEFAULT_CLASSIFIER)?, &runtime.device)?;
        let methods: Vec<Box<dyn Method>> = self
            .methods
            .iter()
            .filter(|m| !m.trim().is_empty())
            .map(|m| build_method(m, &params))
            .collect::<Result<_>>()?;
        let task = &loaded.card.model.task;
        let trees = dataset::load_split_for(
            &data_dir(&self.data)?,
            self.split,
            task,
            &self.fields,
            runtime.limits.tree_tokens,
        )?;
        let mut sentences: Vec<Sentence> = trees
            .iter()
            .enumerate()
            .filter(|(_, t)| task.map_label(t.root_label()).is_some())
            .map(|(i, t)| Sentence::from_tokens(&loaded.vocab, i + 1, &t.tokens))
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(n) = self.limit {
            sentences.truncate(n);
        }
        if sentences.is_empty() {
            return Err(Error::invalid("sentences", "faithfulness needs at least one sentence"));
        }
        let input: String = sentences.iter().map(|s| format!("{}\t{}\n", s.id, s.tokens.join(" "))).collect();
        let input_sha256 = crate::export::shard::input_sha256(input.as_bytes());
        let part = STREAM_BATCHES * self.batch_size.max(1);
        let sentences = match self.shard {
            Some(shard) => &sentences[shard.range(sentences.len(), part)],
            None => &sentences[..],
        };
        let explainer = Explainer::new(&loaded.model, ModelSource::of(&loaded))
            .batch_size(self.batch_size)
            .threads(runtime.threads);
        let refs: Vec<&dyn Method> = methods.iter().map(|m| m.as_ref()).collect();
        let mut current = String::new();
        let scores = scores(
            &explainer,
            &refs,
            sentences,
            self.score,
            &FaithfulnessConfig { seed: self.seed.seed, ..Default::default() },
            part,
            &mut |name, done| {
                if name != current {
                    current = name.to_string();
                    progress.stage(name, sentences.len());
                }
                progress.advance(done);
            },
        )?;
        Ok((scores, input_sha256))
    }

    /// Write a shard's numbers into `out` (the one file [`SHARD_FILE`]), recording what run it
    /// is a shard of (`formats`: those the merged run writes).
    pub fn write_shard(
        &self,
        shard: Shard,
        scores: &FaithfulnessScores,
        input_sha256: &str,
        out: &OutputDir,
        formats: &[Format],
    ) -> Result<FigureOutput> {
        let bytes =
            serde_json::to_vec_pretty(scores).map_err(|e| Error::Encode { format: "JSON", message: e.to_string() })?;
        out.write(SHARD_FILE, &bytes)?;
        Ok(FigureOutput {
            model: Some(scores.model.clone()),
            files: vec![SHARD_FILE.to_string()],
            settings: serde_json::to_value(&scores.options).unwrap_or_default(),
            notes: Vec::new(),
            failures: Vec::new(),
            summary: format!("scored {} sentence(s) (shard {shard})", scores.sentences.len()),
            section: None,
            shard: Some(ShardRecord {
                shard,
                kind: Self::KIND.to_string(),
                run: unsharded_key(self, formats),
                input_sha256: input_sha256.to_string(),
                model_sha256: Some(scores.model.weights_sha256.clone()),
                options: serde_json::to_value(self).unwrap_or_default(),
                formats: formats.to_vec(),
            }),
        })
    }

    /// What making the figure of `report` reported, `files` written.
    pub fn output(&self, report: &FaithfulnessReport, files: Vec<String>, section: Option<Section>) -> FigureOutput {
        FigureOutput {
            model: Some(report.model.clone()),
            files,
            settings: serde_json::to_value(&report.options).unwrap_or_default(),
            notes: Vec::new(),
            failures: Vec::new(),
            summary: format!("scored {} method(s) on {} sentence(s)", report.methods.len(), report.sentences),
            section,
            shard: None,
        }
    }

    /// Join the directories of the shards of one run (in order, checked) into `out`: the files
    /// the unsharded run writes, from each shard's numbers per sentence.
    pub(crate) fn merge(
        &self,
        shards: &[(PathBuf, ShardRecord, FigureOutput)],
        out: &OutputDir,
        progress: &mut dyn Progress,
    ) -> Result<(FaithfulnessReport, FigureOutput)> {
        let mut joined: Option<(PathBuf, FaithfulnessScores)> = None;
        for (dir, _, _) in shards {
            let path = dir.join(SHARD_FILE);
            let bytes = std::fs::read(&path).map_err(|e| Error::io("cannot read", &path, e))?;
            let scores: FaithfulnessScores = serde_json::from_slice(&bytes)
                .map_err(|e| ShardError::Results { path: path.clone(), message: e.to_string() })?;
            match &mut joined {
                None => joined = Some((dir.clone(), scores)),
                Some((first, all)) => {
                    if !all.same_run(&scores) {
                        return Err(ShardError::Mismatch {
                            dir: dir.clone(),
                            reference: first.clone(),
                            what: "their numbers come from different models, methods or options".into(),
                        }
                        .into());
                    }
                    all.sentences.extend(scores.sentences);
                }
            }
        }
        let (_, all) = joined.ok_or(ShardError::Missing { missing: vec![0], count: 1 })?;
        let report = all.report();
        let formats = shards.first().map(|(_, r, _)| r.formats.clone()).unwrap_or_default();
        let (files, section) = self.write(&report, out, &formats, progress)?;
        let made = self.output(&report, files, section);
        Ok((report, made))
    }

    /// Fail, before any work, if a file this figure writes exists in `out` (and overwriting is
    /// off).
    pub fn check_out(&self, out: &OutputDir, formats: &[Format]) -> Result<()> {
        Writer::new(out, formats, plan())?.with_style(&self.style).map(|_| ())
    }

    /// Write `report` into `out` in every one of `formats`: the files written, and the figure
    /// as a section of the interactive report when HTML is one of them.
    pub fn write(
        &self,
        report: &FaithfulnessReport,
        out: &OutputDir,
        formats: &[Format],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<String>, Option<Section>)> {
        let mut writer = Writer::new(out, formats, plan())?.with_style(&self.style)?;
        let panels = [Panel::heatmap("faithfulness".into(), heatmap(report), 0)];
        let title = format!("{} · faithfulness · {}", report.model.name(), caption(report, self.split));
        writer.figures(&title, &panels, &Default::default(), progress)?;
        writer.tables(|| Ok(vec![table(report)?]))?;
        writer.page(Self::KIND, || super::report::data(report), &[])?;
        writer.document(|| Document::new("salient faithfulness", vec![report.clone()], Vec::new()).to_json())?;
        let settings = serde_json::to_value(&report.options).unwrap_or_default();
        writer.notebook("salient faithfulness", self, Some(&report.model), &settings, Redraw::Faithfulness)?;
        writer.finish()
    }
}

fn plan() -> Plan {
    Plan { panels: vec!["faithfulness".into()], tables: vec!["faithfulness.csv"], document: "faithfulness.json" }
}

fn caption(report: &FaithfulnessReport, split: Split) -> String {
    format!(
        "{} ({} {}) on {} {} sentences; removing / keeping the top {} tokens",
        report.model.name(),
        report.arch,
        report.task,
        report.sentences,
        split,
        report.options.fractions.iter().map(|f| percent(*f)).collect::<Vec<_>>().join(", ")
    )
}

impl Figure for FaithfulnessOptions {
    const KIND: &'static str = "faithfulness";
    const PATHS: &'static [&'static str] = &["model", "data"];

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
        if let Some(shard) = self.shard {
            out.check_free(&[SHARD_FILE])?;
            let (scores, input_sha256) = self.scores(runtime, progress)?;
            return self.write_shard(shard, &scores, &input_sha256, out, formats);
        }
        self.check_out(out, formats)?;
        let report = self.report(runtime, progress)?;
        let (files, section) = self.write(&report, out, formats, progress)?;
        Ok(self.output(&report, files, section))
    }
}

fn percent(f: f64) -> String {
    format!("{:.0}%", 100.0 * f)
}

/// The measures of a report, in column order: comprehensiveness per fraction, its AOPC,
/// sufficiency per fraction, its AOPC.
fn measures(report: &FaithfulnessReport) -> Vec<String> {
    let fractions = &report.options.fractions;
    let mut names: Vec<String> = fractions.iter().map(|f| format!("comp {}", percent(*f))).collect();
    names.push("AOPC comp ↑".into());
    names.extend(fractions.iter().map(|f| format!("suff {}", percent(*f))));
    names.push("AOPC suff ↓".into());
    names
}

fn values_of(m: &crate::explain::faithfulness::MethodFaithfulness) -> Vec<f64> {
    let mut v = m.comprehensiveness.clone();
    v.push(m.aopc_comprehensiveness);
    v.extend(&m.sufficiency);
    v.push(m.aopc_sufficiency);
    v
}

/// A Markdown table: one row per method, AOPC in bold.
pub fn markdown(report: &FaithfulnessReport) -> String {
    let names = measures(report);
    let aopc = |k: usize| names[k].starts_with("AOPC");
    let mut out = format!("| method | {} |\n| --- |{}\n", names.join(" | "), " ---: |".repeat(names.len()));
    for m in &report.methods {
        out += &format!("| {} |", m.method);
        for (k, v) in values_of(m).iter().enumerate() {
            out += &if aopc(k) { format!(" **{v:.4}** |") } else { format!(" {v:.4} |") };
        }
        out += "\n";
    }
    out
}

/// The table as a heatmap: methods down, measures across.
pub fn heatmap(report: &FaithfulnessReport) -> Heatmap {
    let names = measures(report);
    Heatmap {
        title: format!("{} · faithfulness of attribution methods", report.model.name()),
        subtitle: vec![format!("{} {} · {} sentences", report.arch, report.task, report.sentences)],
        row_labels: report.methods.iter().map(|m| m.method.clone()).collect(),
        muted_rows: report.methods.iter().map(|m| m.method == "random").collect(),
        row_notes: Vec::new(),
        notes_title: String::new(),
        columns: names.len(),
        column_labels: names,
        x_label: "drop in p(class)".into(),
        value_label: "probability drop".into(),
        values: report.methods.iter().flat_map(|m| values_of(m).into_iter().map(|v| v as f32)).collect(),
        kind: Values::Signed,
        column_groups: Vec::new(),
    }
}

/// `method,measure,fraction,value`: one line per method, measure and fraction (`fraction` empty
/// for AOPC).
pub fn table(report: &FaithfulnessReport) -> Result<Vec<u8>> {
    let mut t = Table::new(["method", "measure", "fraction", "value"])?;
    for m in &report.methods {
        for (measure, values, aopc) in [
            ("comprehensiveness", &m.comprehensiveness, m.aopc_comprehensiveness),
            ("sufficiency", &m.sufficiency, m.aopc_sufficiency),
        ] {
            for (f, v) in report.options.fractions.iter().zip(values) {
                t.row([m.method.as_str(), measure, &f.to_string(), &v.to_string()])?;
            }
            t.row([m.method.as_str(), &format!("aopc_{measure}"), "", &aopc.to_string()])?;
        }
    }
    t.finish()
}
