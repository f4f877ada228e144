//! SmoothGrad (Smilkov et al., 2017): the paper's `|∂S_c/∂e|` averaged over `n` copies of the
//! input with Gaussian noise, `N(0, s^2)` with `s = noise * (max e - min e)` over the sentence's
//! embeddings. The class is the one chosen at the clean input.
//!
//! The noise of each sentence comes from its own generator, seeded by the method's seed and the
//! sentence's id, so a result does not depend on which batch (or thread) computed it.

use candle_core::{DType, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::gradient::l2;
use super::{
    class_scores, embed, embedding_gradients, host_rows, real_positions, Input, Method, Row, Target, ValueKind,
};
use crate::error::{Error, Result};
use crate::model::{Classifier, NoTrace};

/// Most tokens (sentences x samples x positions) in one forward and backward pass, which bounds the
/// memory the backward pass holds (about 8 KiB a token for a BiLSTM).
pub const MAX_TOKENS: usize = 32_768;

/// SmoothGrad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothGrad {
    samples: usize,
    noise: f32,
    seed: u64,
}

impl SmoothGrad {
    /// `samples` noisy copies (1 to 10,000), noise level `noise` (a fraction of the embedding
    /// range, 0 to 10), seeded by `seed`.
    pub fn new(samples: usize, noise: f32, seed: u64) -> Result<Self> {
        if !(1..=10_000).contains(&samples) {
            return Err(Error::invalid("samples", format!("SmoothGrad needs 1 to 10000 samples, got {samples}")));
        }
        if !(noise.is_finite() && (0.0..=10.0).contains(&noise)) {
            return Err(Error::invalid(
                "noise",
                format!("must be between 0 and 10 (a fraction of the embedding range; 0.1-0.2 is usual), got {noise}"),
            ));
        }
        Ok(SmoothGrad { samples, noise, seed })
    }
}

/// A generator for one sentence: the seed and the sentence id, mixed (SplitMix64).
fn sentence_rng(seed: u64, id: usize) -> StdRng {
    let mut z = seed ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Method for SmoothGrad {
    fn name(&self) -> &'static str {
        "smoothgrad"
    }

    fn options(&self) -> serde_json::Value {
        serde_json::json!({ "samples": self.samples, "noise": self.noise, "seed": self.seed })
    }

    fn seed(&self) -> Option<u64> {
        Some(self.seed)
    }

    fn values(&self) -> ValueKind {
        ValueKind::Magnitude
    }

    fn value_label(&self) -> String {
        "mean |∂S_c/∂e| under noise".into()
    }

    fn token_score(&self) -> &'static str {
        "L2 norm over dimensions"
    }

    fn attribute(&self, model: &Classifier, input: &Input, target: &Target) -> Result<Vec<Row>> {
        let b = &input.batch;
        let (rows, t, d) = (b.batch, b.seq_len, model.config().embedding_dim);
        let x = embed(model, b)?;
        let mask = model.mask(b)?;
        let logits_x = model.forward_embedded(&x, mask.as_ref(), None, &mut NoTrace)?;
        let logits = host_rows(&logits_x)?;
        let classes = target.class.resolve(&logits)?;
        let s_x = class_scores(&logits_x, &classes, target.score)?.to_dtype(DType::F64)?.to_vec1::<f64>()?;

        let flat = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let mut rngs: Vec<StdRng> = input.sentences.iter().map(|s| sentence_rng(self.seed, s.id)).collect();
        let sigma: Vec<f64> = (0..rows)
            .map(|r| {
                let real = &flat[(r * t + t - b.lengths[r]) * d..(r + 1) * t * d];
                let (lo, hi) =
                    real.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                self.noise as f64 * (hi - lo).max(0.0) as f64
            })
            .collect();
        let per_pass = (MAX_TOKENS / (rows * b.seq_len)).max(1);
        let mut total: Option<Tensor> = None;
        let mut k = 0;
        while k < self.samples {
            let n = per_pass.min(self.samples - k);
            let mut noisy = Vec::with_capacity(n * flat.len());
            for _ in 0..n {
                for r in 0..rows {
                    let start = r * t * d;
                    let pad = (t - b.lengths[r]) * d;
                    noisy.extend_from_slice(&flat[start..start + pad]);
                    for &v in &flat[start + pad..start + t * d] {
                        noisy.push((v as f64 + sigma[r] * normal(&mut rngs[r])) as f32);
                    }
                }
            }
            let points = Tensor::from_vec(noisy, (n * rows, t, d), x.device())?.to_dtype(x.dtype())?;
            let mask_rep = match &mask {
                Some(m) => Some(Tensor::cat(&vec![m.clone(); n], 0)?),
                None => None,
            };
            let classes_rep: Vec<usize> = (0..n).flat_map(|_| classes.iter().copied()).collect();
            let pass = embedding_gradients(model, &points, mask_rep.as_ref(), Some(&classes_rep), target.score)?;
            let summed = pass.grad.abs()?.reshape((n, rows, t, d))?.sum(0)?;
            total = Some(match total {
                Some(acc) => (acc + summed)?,
                None => summed,
            });
            k += n;
        }
        let mean = (total.expect("at least one sample") / self.samples as f64)?;
        let maps = real_positions(&mean, &b.lengths)?;
        Ok(maps
            .into_iter()
            .enumerate()
            .map(|(r, matrix)| Row {
                token_scores: matrix.iter().map(|v| l2(v)).collect(),
                matrix,
                class: classes[r],
                logits: logits[r].clone(),
                score: s_x[r],
                completeness: None,
            })
            .collect())
    }
}
