//! Views of a model's insides, through its trace hooks, as labelled matrices:
//!
//! - [`representations`]: the final representation of each of several phrases, one row each
//!   over the representation's dimensions (the paper's Figure 1: "good" / "not good" / "bad" /
//!   "not bad").
//! - [`states`]: the hidden state after each token of one sentence (for a bidirectional model,
//!   the forward units then the backward ones).
//! - [`gates`]: the gate activations in `[0, 1]` after each token (the cell's
//!   [`unit_gates`](crate::model::CellKind::unit_gates), e.g. an LSTM's input, forget and output
//!   gates), one `tokens x hidden` matrix per gate and direction.

use serde::{Deserialize, Serialize};

use super::{argmax, Input, Provenance, ValueKind};
use crate::checkpoint::ModelSource;
use crate::data::Sentence;
use crate::error::{Error, Result};
use crate::model::{Arch, Classifier, Direction, Gate, SiteKind, Trace, TraceRequest};

/// Which view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// Final representations of phrases, one row each.
    #[default]
    Representation,
    /// Per-step hidden states of a sentence.
    States,
    /// Gate activations of a sentence (gated cells).
    Gates,
}

/// A phrase's predicted class and its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The class name.
    pub class: String,
    /// Its softmax probability.
    pub probability: f32,
}

/// What a row of a [`MatrixView`] is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowKey {
    /// The sentence's id.
    pub sentence: usize,
    /// The token position, for per-step views; `None` for a whole sentence.
    pub position: Option<usize>,
    /// The token, or the whole phrase.
    pub token: String,
}

/// A labelled matrix taken from a forward pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixView {
    /// Which view.
    pub view: View,
    /// The gate, for gate views.
    pub gate: Option<Gate>,
    /// The direction, for gate views.
    pub direction: Option<Direction>,
    /// The sentence, for per-step views.
    pub text: Option<String>,
    /// One key per row.
    pub rows: Vec<RowKey>,
    /// One label per column (`0`.., or `f0`.. and `b0`.. for a bidirectional model).
    pub column_labels: Vec<String>,
    /// `rows x columns`.
    pub matrix: Vec<Vec<f32>>,
    /// The predicted class of each row's phrase (representation view); empty for per-step views.
    pub predictions: Vec<Prediction>,
    /// Signed values or gate activations in `[0, 1]`.
    pub values: ValueKind,
    /// How it was made.
    pub provenance: Provenance,
}

impl MatrixView {
    /// A short name for file names: `representation`, `states`, `gate-forget-forward`.
    pub fn slug(&self) -> String {
        match (self.view, self.gate, self.direction) {
            (View::Gates, Some(g), Some(d)) => format!("gate-{}-{}", g.name(), direction_name(d)),
            (View::Representation, ..) => "representation".into(),
            _ => "states".into(),
        }
    }
}

/// The direction's name in file names and CSV.
pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Forward => "forward",
        Direction::Backward => "backward",
    }
}

fn column_labels(arch: Arch, hidden: usize) -> Vec<String> {
    if arch.bidirectional {
        (0..hidden).map(|j| format!("f{j}")).chain((0..hidden).map(|j| format!("b{j}"))).collect()
    } else {
        (0..hidden).map(|j| j.to_string()).collect()
    }
}

/// The final representation of each sentence (rows in the order given), with each one's
/// predicted class as the row note.
pub fn representations(model: &Classifier, source: &ModelSource, sentences: &[Sentence]) -> Result<MatrixView> {
    if sentences.is_empty() || sentences.iter().any(Sentence::is_empty) {
        return Err(Error::invalid("sentences", "the representation view needs at least one non-empty sentence"));
    }
    let input = Input::new(sentences.iter().collect());
    let mut trace = Trace::new(TraceRequest { representation: true, ..Default::default() });
    let x = super::embed(model, &input.batch)?;
    let mask = model.mask(&input.batch)?;
    let logits = model.forward_embedded(&x, mask.as_ref(), None, &mut trace)?;
    let repr = trace.representation().expect("the representation was asked for");
    let names = model.config().task.names();
    let config = model.config();
    Ok(MatrixView {
        view: View::Representation,
        gate: None,
        direction: None,
        text: None,
        rows: sentences.iter().map(|s| RowKey { sentence: s.id, position: None, token: s.words.join(" ") }).collect(),
        column_labels: column_labels(config.arch, config.hidden_dim),
        matrix: super::host_rows(repr)?,
        predictions: super::host_rows(&logits)?
            .iter()
            .map(|l| {
                let c = argmax(l);
                Prediction { class: names[c].to_string(), probability: super::softmax(l)[c] }
            })
            .collect(),
        values: ValueKind::Signed,
        provenance: Provenance::view(model, source, "representation"),
    })
}

fn step_rows(sentence: &Sentence) -> Vec<RowKey> {
    sentence
        .words
        .iter()
        .enumerate()
        .map(|(i, w)| RowKey { sentence: sentence.id, position: Some(i), token: w.clone() })
        .collect()
}

fn traced(model: &Classifier, sentence: &Sentence, request: TraceRequest) -> Result<Trace> {
    if sentence.is_empty() {
        return Err(Error::invalid("sentence", "an empty sentence has no steps to show"));
    }
    let input = Input::new(vec![sentence]);
    let mut trace = Trace::new(request);
    let x = super::embed(model, &input.batch)?;
    model.forward_embedded(&x, None, None, &mut trace)?;
    Ok(trace)
}

/// The hidden state after each token of `sentence`: `tokens x hidden` (`x 2 hidden` for a
/// BiLSTM: forward units, then backward units).
pub fn states(model: &Classifier, source: &ModelSource, sentence: &Sentence) -> Result<MatrixView> {
    let config = model.config();
    let trace = traced(model, sentence, TraceRequest { hidden: true, ..Default::default() })?;
    let mut matrix: Vec<Vec<f32>> = vec![Vec::new(); sentence.len()];
    for &d in config.arch.directions() {
        let steps = trace.steps(SiteKind::Hidden, d, None)?.expect("hidden states were asked for");
        for (row, values) in matrix.iter_mut().zip(steps.get(0)?.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()?) {
            row.extend(values);
        }
    }
    Ok(MatrixView {
        view: View::States,
        gate: None,
        direction: None,
        text: Some(sentence.text.clone()),
        rows: step_rows(sentence),
        column_labels: column_labels(config.arch, config.hidden_dim),
        matrix,
        predictions: Vec::new(),
        values: ValueKind::Signed,
        provenance: Provenance::view(model, source, "states"),
    })
}

/// The gates in `[0, 1]` after each token of `sentence` (the cell's
/// [`unit_gates`](crate::model::CellKind::unit_gates)), one `tokens x hidden` matrix per gate and
/// direction (forward first). An error for a cell without gates (the tanh RNN).
pub fn gates(model: &Classifier, source: &ModelSource, sentence: &Sentence) -> Result<Vec<MatrixView>> {
    let config = model.config();
    let unit_gates = config.arch.cell.unit_gates();
    if unit_gates.is_empty() {
        let gated: Vec<&str> = Arch::ALL.iter().filter(|a| !a.cell.unit_gates().is_empty()).map(|a| a.name()).collect();
        return Err(Error::invalid(
            "view",
            format!(
                "the {} model has no gates; the gates view needs a {} model (try the states view)",
                config.arch,
                gated.join(", ")
            ),
        ));
    }
    let trace = traced(model, sentence, TraceRequest { gates: true, ..Default::default() })?;
    let mut out = Vec::new();
    for &d in config.arch.directions() {
        for &gate in unit_gates {
            let steps = trace.steps(SiteKind::Gates, d, Some(gate))?.expect("gates were asked for");
            out.push(MatrixView {
                view: View::Gates,
                gate: Some(gate),
                direction: Some(d),
                text: Some(sentence.text.clone()),
                rows: step_rows(sentence),
                column_labels: (0..config.hidden_dim).map(|j| j.to_string()).collect(),
                matrix: steps.get(0)?.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()?,
                predictions: Vec::new(),
                values: ValueKind::Unit,
                provenance: Provenance::view(model, source, "gates"),
            });
        }
    }
    Ok(out)
}
