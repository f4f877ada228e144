//! Faithfulness of attributions (DeYoung et al., 2020): remove a sentence's top-`k%` tokens by
//! attribution and see how much the probability of the predicted class falls
//! (**comprehensiveness**, higher is better), or keep only them and see how much it falls
//! (**sufficiency**, lower is better). AOPC is the mean over the fractions (10, 20, 50% by
//! default). Tokens are removed, not masked; `k = ceil(fraction x length)`, at least one.
//! A seeded random attribution is the baseline every method should beat.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::erasure::logits_of_sequences;
use super::{softmax, Explainer, Method, ScoreKind, Target};
use crate::checkpoint::ModelSource;
use crate::data::Sentence;
use crate::error::{Error, Result};
use crate::model::Arch;

/// Options of a faithfulness run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaithfulnessConfig {
    /// Fractions of each sentence's tokens to remove or keep, each in `(0, 1]`.
    pub fractions: Vec<f64>,
    /// Seed of the random baseline.
    pub seed: u64,
}

impl Default for FaithfulnessConfig {
    fn default() -> Self {
        FaithfulnessConfig { fractions: vec![0.1, 0.2, 0.5], seed: 1 }
    }
}

/// One method's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodFaithfulness {
    /// The method (`random` for the baseline).
    pub method: String,
    /// Its options.
    pub options: serde_json::Value,
    /// The score its attributions explained (`None` for methods without one).
    pub score: Option<ScoreKind>,
    /// Mean `p_c(x) - p_c(x without top k%)`, one per fraction.
    pub comprehensiveness: Vec<f64>,
    /// Mean `p_c(x) - p_c(top k% only)`, one per fraction.
    pub sufficiency: Vec<f64>,
    /// Mean of `comprehensiveness` over the fractions.
    pub aopc_comprehensiveness: f64,
    /// Mean of `sufficiency` over the fractions.
    pub aopc_sufficiency: f64,
}

/// A faithfulness run: one row per method, the random baseline last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaithfulnessReport {
    /// The model.
    pub model: ModelSource,
    /// Its architecture.
    pub arch: Arch,
    /// Its task (an SST task, or labelled text's classes).
    pub task: crate::data::Classes,
    /// Number of sentences.
    pub sentences: usize,
    /// The options.
    pub options: FaithfulnessConfig,
    /// The scores.
    pub methods: Vec<MethodFaithfulness>,
}

/// The top-`k` positions of `scores` (highest first; ties to the earlier position).
fn top_positions(scores: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// Comprehensiveness and sufficiency, one value per fraction, for per-token `scores` of each
/// sentence and the class `classes[i]` of each (its probability is what is measured).
pub fn comprehensiveness_sufficiency(
    explainer: &Explainer,
    sentences: &[Sentence],
    scores: &[Vec<f32>],
    classes: &[usize],
    fractions: &[f64],
) -> Result<(Vec<f64>, Vec<f64>)> {
    let model = explainer.model();
    let mut seqs: Vec<Vec<u32>> = Vec::with_capacity(sentences.len() * (1 + 2 * fractions.len()));
    for (s, sc) in sentences.iter().zip(scores) {
        seqs.push(s.ids.clone());
        for &f in fractions {
            let k = ((f * s.len() as f64).ceil() as usize).clamp(1, s.len());
            let top = top_positions(sc, k);
            let keep = |inside: bool| -> Vec<u32> {
                s.ids.iter().enumerate().filter(|(i, _)| top.contains(i) == inside).map(|(_, &id)| id).collect()
            };
            seqs.push(keep(false));
            seqs.push(keep(true));
        }
    }
    // Sort by length so that batches hold little padding.
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_by_key(|&i| seqs[i].len());
    let sorted: Vec<Vec<u32>> = order.iter().map(|&i| seqs[i].clone()).collect();
    let sorted_logits = logits_of_sequences(model, &sorted)?;
    let mut logits = vec![Vec::new(); seqs.len()];
    for (i, l) in order.into_iter().zip(sorted_logits) {
        logits[i] = l;
    }
    let (mut comp, mut suff) = (vec![0f64; fractions.len()], vec![0f64; fractions.len()]);
    let per = 1 + 2 * fractions.len();
    for (n, &c) in classes.iter().enumerate() {
        let p = |i: usize| softmax(&logits[n * per + i])[c] as f64;
        let full = p(0);
        for k in 0..fractions.len() {
            comp[k] += full - p(1 + 2 * k);
            suff[k] += full - p(2 + 2 * k);
        }
    }
    let n = classes.len().max(1) as f64;
    Ok((comp.iter().map(|v| v / n).collect(), suff.iter().map(|v| v / n).collect()))
}

fn row(
    method: &str,
    options: serde_json::Value,
    score: Option<ScoreKind>,
    (comp, suff): (Vec<f64>, Vec<f64>),
) -> MethodFaithfulness {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    MethodFaithfulness {
        method: method.to_string(),
        options,
        score,
        aopc_comprehensiveness: mean(&comp),
        aopc_sufficiency: mean(&suff),
        comprehensiveness: comp,
        sufficiency: suff,
    }
}

/// Score each method on `sentences` (explaining the predicted class, by each method's default
/// score unless `score` is given), then the random baseline. `progress` hears the method's name
/// and how many sentences it has done.
pub fn evaluate(
    explainer: &Explainer,
    methods: &[&dyn Method],
    sentences: &[Sentence],
    score: Option<ScoreKind>,
    options: &FaithfulnessConfig,
    progress: &mut dyn FnMut(&str, usize),
) -> Result<FaithfulnessReport> {
    if let Some(f) = options.fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
        return Err(Error::invalid("fractions", format!("each fraction must be in (0, 1], got {f}")));
    }
    if sentences.is_empty() {
        return Err(Error::invalid("sentences", "faithfulness needs at least one sentence"));
    }
    let mut rows = Vec::new();
    let mut classes: Option<Vec<usize>> = None;
    for method in methods {
        let target = Target { class: super::ClassChoice::Predicted, score: score.unwrap_or(method.default_score()) };
        let attributions =
            explainer.attribute(*method, sentences, &target, &mut |done| progress(method.name(), done))?;
        let scores: Vec<Vec<f32>> = attributions.iter().map(|a| a.token_scores.clone()).collect();
        let predicted: Vec<usize> = attributions.iter().map(|a| a.predicted).collect();
        let cs = comprehensiveness_sufficiency(explainer, sentences, &scores, &predicted, &options.fractions)?;
        let used = method.uses_score().then_some(target.score);
        rows.push(row(method.name(), method.options(), used, cs));
        classes = Some(predicted);
    }
    let classes = match classes {
        Some(c) => c,
        None => {
            let target = Target { class: super::ClassChoice::Predicted, score: ScoreKind::Logit };
            let v = super::variance::Variance;
            explainer.attribute(&v, sentences, &target, &mut |_| {})?.iter().map(|a| a.predicted).collect()
        }
    };
    let random: Vec<Vec<f32>> = sentences
        .iter()
        .map(|s| {
            let mut rng = StdRng::seed_from_u64(options.seed.wrapping_mul(1_000_003).wrapping_add(s.id as u64));
            (0..s.len()).map(|_| rng.random::<f32>()).collect()
        })
        .collect();
    let cs = comprehensiveness_sufficiency(explainer, sentences, &random, &classes, &options.fractions)?;
    progress("random", sentences.len());
    rows.push(row("random", serde_json::json!({ "seed": options.seed }), None, cs));
    let config = explainer.model().config();
    Ok(FaithfulnessReport {
        model: explainer.source().clone(),
        arch: config.arch,
        task: config.task.clone(),
        sentences: sentences.len(),
        options: options.clone(),
        methods: rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_positions_break_ties_by_position() {
        assert_eq!(top_positions(&[0.1, 0.9, 0.5, 0.9], 3), vec![1, 3, 2]);
        assert_eq!(top_positions(&[1.0], 5), vec![0]);
    }
}
