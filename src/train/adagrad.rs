//! AdaGrad with an L2 penalty: dense for the recurrent and output weights, sparse (touched rows
//! only) for the embedding table.
//!
//! For each parameter `w` with gradient `g`: `g' = g + λ w` (λ on weight matrices and embedding
//! rows, not on biases), `a ← a + g'²`, `w ← w − η g' / (√a + ε)`. A frozen embedding table
//! ([`AdaGradConfig::freeze_embedding`]) is neither updated nor decayed.

use std::collections::HashMap;

use candle_core::{Tensor, Var};

use super::{host, Optimizer, RowGrads};
use crate::error::Result;
use crate::model::embedding::Embedding;

/// Hyperparameters of [`AdaGrad`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaGradConfig {
    /// Learning rate η.
    pub lr: f64,
    /// L2 penalty λ.
    pub l2: f64,
    /// Added to the root of the accumulator.
    pub eps: f64,
    /// Starting value of the accumulators.
    pub initial_accumulator: f64,
    /// Leave the embedding table alone: no update, no L2 decay (its gradients are ignored).
    pub freeze_embedding: bool,
}

/// A dense parameter and its squared-gradient accumulator.
#[derive(Debug)]
struct DenseSlot {
    name: String,
    var: Var,
    accumulator: Tensor,
    decay: bool,
}

/// The AdaGrad optimizer.
#[derive(Debug)]
pub struct AdaGrad {
    config: AdaGradConfig,
    dense: Vec<DenseSlot>,
    embedding_accumulator: Vec<f32>,
    rows: RowGrads,
}

impl AdaGrad {
    /// An optimizer over named dense `Var`s and an embedding table of `embedding_len` values.
    pub fn new(config: AdaGradConfig, vars: Vec<(String, Var)>, embedding_len: usize) -> Result<Self> {
        let dense = vars
            .into_iter()
            .map(|(name, var)| {
                let accumulator = (var.as_tensor().zeros_like()? + config.initial_accumulator)?;
                let decay = name.contains("weight");
                Ok(DenseSlot { name, var, accumulator, decay })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdaGrad {
            config,
            dense,
            embedding_accumulator: vec![config.initial_accumulator as f32; embedding_len],
            rows: RowGrads::default(),
        })
    }

    fn sparse_step(&mut self, embedding: &mut Embedding, ids: &[u32], grad: &[f32]) {
        let dim = embedding.dim();
        let AdaGradConfig { lr, l2, eps, .. } = self.config;
        let (lr, l2, eps) = (lr as f32, l2 as f32, eps as f32);
        self.rows.sum(ids, grad, dim);
        let table = embedding.table_mut();
        for (id, g) in self.rows.by_id(dim) {
            let rows = id as usize * dim..(id as usize + 1) * dim;
            update_values(&mut table[rows.clone()], &mut self.embedding_accumulator[rows], g, l2, lr, eps);
        }
    }
}

/// One AdaGrad update of the values `w`, with accumulators `a`, gradient `g` and L2 penalty
/// `decay` (the module's formula), for dense weights and embedding rows alike.
fn update_values(w: &mut [f32], a: &mut [f32], g: &[f32], decay: f32, lr: f32, eps: f32) {
    for ((w, a), &g) in w.iter_mut().zip(a).zip(g) {
        let g = g + decay * *w;
        *a += g * g;
        *w -= lr * g / (a.sqrt() + eps);
    }
}

impl Optimizer for AdaGrad {
    fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// Update dense parameters from `grads` and the embedding rows named by `ids` from
    /// `embedding_grad` (row-major, one `dim`-row per id).
    fn step(
        &mut self,
        grads: &candle_core::backprop::GradStore,
        embedding: &mut Embedding,
        ids: &[u32],
        embedding_grad: &[f32],
    ) -> Result<()> {
        let AdaGradConfig { lr, l2, eps, .. } = self.config;
        for slot in &mut self.dense {
            let Some(g) = grads.get(slot.var.as_tensor()) else { continue };
            if host::on_host(&[slot.var.as_tensor(), g, &slot.accumulator]) {
                let decay = if slot.decay { l2 as f32 } else { 0.0 };
                let (lr, eps) = (lr as f32, eps as f32);
                host::read(g, |g| -> Result<()> {
                    host::update(&slot.accumulator, |a| -> Result<()> {
                        host::update(slot.var.as_tensor(), |w| -> Result<()> {
                            host::check_lengths(&slot.name, [w.len(), a.len(), g.len()])?;
                            update_values(w, a, g, decay, lr, eps);
                            Ok(())
                        })?
                    })?
                })??;
                continue;
            }
            // Detached: the update must not keep this step's autograd graph alive (through the
            // accumulator, every step's graph would be kept).
            let (g, w) = (g.detach(), slot.var.as_tensor().detach());
            let g = if slot.decay && l2 > 0.0 { (g + (&w * l2)?)? } else { g };
            slot.accumulator = (&slot.accumulator + g.sqr()?)?;
            let update = (g / (slot.accumulator.sqrt()? + eps)?)?;
            slot.var.set(&(&w - (update * lr)?)?)?;
        }
        if !self.config.freeze_embedding {
            self.sparse_step(embedding, ids, embedding_grad);
        }
        Ok(())
    }

    /// The accumulators by parameter name (for checkpoints).
    fn state(&self, embedding_shape: (usize, usize)) -> Result<HashMap<String, Tensor>> {
        let mut out: HashMap<String, Tensor> =
            self.dense.iter().map(|s| (s.name.clone(), s.accumulator.clone())).collect();
        let device = self.dense.first().map(|s| s.var.device().clone()).unwrap_or(candle_core::Device::Cpu);
        out.insert(
            "embedding.weight".to_string(),
            Tensor::from_slice(&self.embedding_accumulator, embedding_shape, &device)?,
        );
        Ok(out)
    }

    /// Restore accumulators saved by [`AdaGrad::state`]; a missing or misshaped one is an error.
    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> std::result::Result<(), String> {
        for slot in &mut self.dense {
            let t = state.get(&slot.name).ok_or_else(|| format!("optimizer state lacks `{}`", slot.name))?;
            if t.shape() != slot.accumulator.shape() {
                return Err(format!(
                    "optimizer state `{}` has shape {:?}, expected {:?}",
                    slot.name,
                    t.dims(),
                    slot.accumulator.dims()
                ));
            }
            slot.accumulator = t.to_device(slot.var.device()).map_err(|e| e.to_string())?;
        }
        let t = state.get("embedding.weight").ok_or("optimizer state lacks `embedding.weight`")?;
        let v = t.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| e.to_string())?;
        if v.len() != self.embedding_accumulator.len() {
            return Err(format!(
                "optimizer state `embedding.weight` has {} values, expected {}",
                v.len(),
                self.embedding_accumulator.len()
            ));
        }
        self.embedding_accumulator = v;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn dense_and_sparse_updates_follow_the_formula() {
        let dev = Device::Cpu;
        let w = Var::from_slice(&[1.0f32, -2.0], 2, &dev).unwrap();
        let cfg = AdaGradConfig { lr: 0.5, l2: 0.1, eps: 1e-8, initial_accumulator: 0.0, freeze_embedding: false };
        let mut emb = Embedding::from_tensor(&Tensor::new(&[[1.0f32, 1.0], [2.0, -1.0]], &dev).unwrap()).unwrap();
        let mut opt = AdaGrad::new(cfg, vec![("w.weight".into(), w.clone())], 4).unwrap();
        // loss = sum(w * [3, 4]) -> grad [3, 4].
        let loss = (w.as_tensor() * Tensor::new(&[3.0f32, 4.0], &dev).unwrap()).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        // Row 1 appears twice: its gradients add up.
        opt.step(&grads, &mut emb, &[1, 1], &[1.0, 0.0, 1.0, 2.0]).unwrap();
        let got = w.as_tensor().to_vec1::<f32>().unwrap();
        for (i, (w0, g0)) in [(1.0f32, 3.0f32), (-2.0, 4.0)].into_iter().enumerate() {
            let g = g0 + 0.1 * w0;
            let expect = w0 - 0.5 * g / (g * g).sqrt();
            assert!((got[i] - expect).abs() < 1e-6, "{i}: {} vs {expect}", got[i]);
        }
        // Embedding row 1: w = [2, -1], g = [2, 2] + 0.1 w.
        let row = emb.row(1);
        for (j, (w0, g0)) in [(2.0f32, 2.0f32), (-1.0, 2.0)].into_iter().enumerate() {
            let g = g0 + 0.1 * w0;
            assert!((row[j] - (w0 - 0.5 * g / g.abs())).abs() < 1e-6);
        }
        assert_eq!(emb.row(0), &[1.0, 1.0], "untouched rows stay");
    }
}
