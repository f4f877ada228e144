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

/// Values per sentence, one per fraction.
pub type PerSentence = Vec<Vec<f64>>;

/// Comprehensiveness and sufficiency of each sentence, one value per fraction, for per-token
/// `scores` of each sentence and the class `classes[i]` of each (its probability is what is
/// measured): `p_c(x) - p_c(x without the top k%)` and `p_c(x) - p_c(the top k% only)`.
pub fn comprehensiveness_sufficiency(
    explainer: &Explainer,
    sentences: &[Sentence],
    scores: &[Vec<f32>],
    classes: &[usize],
    fractions: &[f64],
) -> Result<(PerSentence, PerSentence)> {
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
    let per = 1 + 2 * fractions.len();
    let (mut comp, mut suff) = (Vec::with_capacity(classes.len()), Vec::with_capacity(classes.len()));
    for (n, &c) in classes.iter().enumerate() {
        let p = |i: usize| softmax(&logits[n * per + i])[c] as f64;
        let full = p(0);
        comp.push((0..fractions.len()).map(|k| full - p(1 + 2 * k)).collect());
        suff.push((0..fractions.len()).map(|k| full - p(2 + 2 * k)).collect());
    }
    Ok((comp, suff))
}

/// A method as a report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodInfo {
    /// The method (`random` for the baseline).
    pub method: String,
    /// Its options.
    pub options: serde_json::Value,
    /// The score its attributions explained (`None` for methods without one).
    pub score: Option<ScoreKind>,
}

/// One sentence's drops in probability, per method (in the order of
/// [`FaithfulnessScores::methods`]) and fraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentenceFaithfulness {
    /// The sentence's id.
    pub sentence: usize,
    /// `p_c(x) - p_c(x without the top k%)`, per method and fraction.
    pub comprehensiveness: Vec<Vec<f64>>,
    /// `p_c(x) - p_c(the top k% only)`, per method and fraction.
    pub sufficiency: Vec<Vec<f64>>,
}

/// The numbers of a faithfulness run per sentence, before they are averaged into a
/// [`FaithfulnessReport`] ([`FaithfulnessScores::report`]): what a shard of a run keeps, so that
/// the shards' sentences, joined in order, give the report of the whole run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaithfulnessScores {
    /// The model.
    pub model: ModelSource,
    /// Its architecture.
    pub arch: Arch,
    /// Its task.
    pub task: crate::data::Classes,
    /// The options.
    pub options: FaithfulnessConfig,
    /// The methods, the random baseline last.
    pub methods: Vec<MethodInfo>,
    /// Each sentence's numbers, in input order.
    pub sentences: Vec<SentenceFaithfulness>,
}

impl FaithfulnessScores {
    /// The means over the sentences, summed in their order.
    pub fn report(&self) -> FaithfulnessReport {
        let fractions = self.options.fractions.len();
        let n = self.sentences.len().max(1) as f64;
        let methods = self
            .methods
            .iter()
            .enumerate()
            .map(|(m, info)| {
                let (mut comp, mut suff) = (vec![0f64; fractions], vec![0f64; fractions]);
                for s in &self.sentences {
                    for k in 0..fractions {
                        comp[k] += s.comprehensiveness[m][k];
                        suff[k] += s.sufficiency[m][k];
                    }
                }
                let mean = |v: Vec<f64>| v.into_iter().map(|x| x / n).collect::<Vec<f64>>();
                row(info, (mean(comp), mean(suff)))
            })
            .collect();
        FaithfulnessReport {
            model: self.model.clone(),
            arch: self.arch,
            task: self.task.clone(),
            sentences: self.sentences.len(),
            options: self.options.clone(),
            methods,
        }
    }

    /// Whether `other`'s numbers come from the same model, options and methods (so that the two
    /// can be joined).
    pub fn same_run(&self, other: &FaithfulnessScores) -> bool {
        (&self.model, self.arch, &self.task, &self.options, &self.methods)
            == (&other.model, other.arch, &other.task, &other.options, &other.methods)
    }
}

fn row(info: &MethodInfo, (comp, suff): (Vec<f64>, Vec<f64>)) -> MethodFaithfulness {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    MethodFaithfulness {
        method: info.method.clone(),
        options: info.options.clone(),
        score: info.score,
        aopc_comprehensiveness: mean(&comp),
        aopc_sufficiency: mean(&suff),
        comprehensiveness: comp,
        sufficiency: suff,
    }
}

/// Score each method on `sentences` (explaining the predicted class, by each method's default
/// score unless `score` is given), then the random baseline, `part` sentences at a time (the
/// batches of a part do not depend on the others, so any run of whole parts gives the same
/// numbers). `progress` hears the method's name and how many sentences it has done.
pub fn scores(
    explainer: &Explainer,
    methods: &[&dyn Method],
    sentences: &[Sentence],
    score: Option<ScoreKind>,
    options: &FaithfulnessConfig,
    part: usize,
    progress: &mut dyn FnMut(&str, usize),
) -> Result<FaithfulnessScores> {
    if let Some(f) = options.fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
        return Err(Error::invalid("fractions", format!("each fraction must be in (0, 1], got {f}")));
    }
    let target_of = |method: &dyn Method| Target {
        class: super::ClassChoice::Predicted,
        score: score.unwrap_or(method.default_score()),
    };
    let mut infos: Vec<MethodInfo> = methods
        .iter()
        .map(|m| MethodInfo {
            method: m.name().to_string(),
            options: m.options(),
            score: m.uses_score().then_some(target_of(*m).score),
        })
        .collect();
    infos.push(MethodInfo {
        method: "random".into(),
        options: serde_json::json!({ "seed": options.seed }),
        score: None,
    });
    let mut rows: Vec<SentenceFaithfulness> = sentences
        .iter()
        .map(|s| SentenceFaithfulness { sentence: s.id, comprehensiveness: Vec::new(), sufficiency: Vec::new() })
        .collect();
    let part = part.max(1);
    for (p, sentences) in sentences.chunks(part).enumerate() {
        let start = p * part;
        let rows = &mut rows[start..start + sentences.len()];
        let mut add = |(comp, suff): (PerSentence, PerSentence)| {
            for ((row, c), s) in rows.iter_mut().zip(comp).zip(suff) {
                row.comprehensiveness.push(c);
                row.sufficiency.push(s);
            }
        };
        let mut classes: Option<Vec<usize>> = None;
        for method in methods {
            let attributions = explainer.attribute(*method, sentences, &target_of(*method), &mut |done| {
                progress(method.name(), start + done)
            })?;
            let scores: Vec<Vec<f32>> = attributions.iter().map(|a| a.token_scores.clone()).collect();
            let predicted: Vec<usize> = attributions.iter().map(|a| a.predicted).collect();
            add(comprehensiveness_sufficiency(explainer, sentences, &scores, &predicted, &options.fractions)?);
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
        add(comprehensiveness_sufficiency(explainer, sentences, &random, &classes, &options.fractions)?);
        progress("random", start + sentences.len());
    }
    let config = explainer.model().config();
    Ok(FaithfulnessScores {
        model: explainer.source().clone(),
        arch: config.arch,
        task: config.task.clone(),
        options: options.clone(),
        methods: infos,
        sentences: rows,
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
