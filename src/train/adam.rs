//! Adam (Kingma and Ba, 2015) with gradient clipping by global norm: dense for the recurrent and
//! output weights, lazy (touched rows only) for the embedding table.
//!
//! With `g` the gradient scaled by `min(1, clip / ‖g‖)` (the norm over every parameter and the
//! batch's embedding rows) and step `t`: `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`,
//! `w ← w − η √(1 − β₂ᵗ) / (1 − β₁ᵗ) · m / (√v + ε)`. Embedding rows a batch did not touch keep
//! their moments (lazy Adam).

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::{host, Optimizer, RowGrads};
use crate::error::Result;
use crate::model::embedding::Embedding;

/// Hyperparameters of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate η.
    pub lr: f64,
    /// Decay of the first moment β₁.
    pub beta1: f64,
    /// Decay of the second moment β₂.
    pub beta2: f64,
    /// Added to `√v`.
    pub eps: f64,
    /// Largest global gradient norm; larger gradients are scaled down to it.
    pub clip_norm: Option<f64>,
}

impl AdamConfig {
    /// The usual settings (β₁ 0.9, β₂ 0.999, ε 1e-8) with learning rate `lr`, clipping at `clip_norm`.
    pub fn new(lr: f64, clip_norm: Option<f64>) -> Self {
        AdamConfig { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, clip_norm }
    }
}

#[derive(Debug)]
struct Slot {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
}

/// The Adam optimizer.
#[derive(Debug)]
pub struct Adam {
    config: AdamConfig,
    dense: Vec<Slot>,
    step: u64,
    embedding_m: Vec<f32>,
    embedding_v: Vec<f32>,
    rows: RowGrads,
}

impl Adam {
    /// An optimizer over named dense `Var`s and an embedding table of `embedding_len` values.
    pub fn new(config: AdamConfig, vars: Vec<(String, Var)>, embedding_len: usize) -> Result<Self> {
        let dense = vars
            .into_iter()
            .map(|(name, var)| {
                // Two tensors, not one shared: the step updates each in place.
                let (m, v) = (var.as_tensor().zeros_like()?, var.as_tensor().zeros_like()?);
                Ok(Slot { name, var, m, v })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Adam {
            config,
            dense,
            step: 0,
            embedding_m: vec![0.0; embedding_len],
            embedding_v: vec![0.0; embedding_len],
            rows: RowGrads::default(),
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

/// One Adam step's constants in f32, for the updates on host values (dense weights on the CPU
/// and embedding rows alike).
#[derive(Clone, Copy)]
struct ValueStep {
    b1: f32,
    b2: f32,
    eps: f32,
    step_size: f32,
    scale: f32,
}

impl ValueStep {
    /// Update the values `w` and their moments `m`, `v` from the gradient `g` (before clipping's
    /// `scale`).
    fn apply(&self, w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        let ValueStep { b1, b2, eps, step_size, scale } = *self;
        for (((w, m), v), &g) in w.iter_mut().zip(m).zip(v).zip(g) {
            let g = g * scale;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *w -= step_size * *m / (v.sqrt() + eps);
        }
    }
}

impl Optimizer for Adam {
    fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn step(
        &mut self,
        grads: &GradStore,
        embedding: &mut Embedding,
        ids: &[u32],
        embedding_grad: &[f32],
    ) -> Result<()> {
        let AdamConfig { lr, beta1, beta2, eps, clip_norm } = self.config;
        let dim = embedding.dim();
        self.rows.sum(ids, embedding_grad, dim);
        // Detached: the update must not keep this step's autograd graph alive.
        let dense_grads: Vec<Option<Tensor>> =
            self.dense.iter().map(|s| grads.get(s.var.as_tensor()).map(|g| g.detach())).collect();
        let scale = match clip_norm {
            Some(clip) => {
                let mut sq: f64 = self.rows.rows().iter().map(|&g| (g as f64) * (g as f64)).sum();
                for g in dense_grads.iter().flatten() {
                    sq += if host::on_host(&[g]) {
                        host::read(g, |g| g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())?
                    } else {
                        g.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?
                    };
                }
                let norm = sq.sqrt();
                if norm > clip && norm.is_finite() {
                    clip / norm
                } else {
                    1.0
                }
            }
            None => 1.0,
        };
        self.step += 1;
        let t = self.step as i32;
        let step_size = lr * (1.0 - beta2.powi(t)).sqrt() / (1.0 - beta1.powi(t));
        let values = ValueStep {
            b1: beta1 as f32,
            b2: beta2 as f32,
            eps: eps as f32,
            step_size: step_size as f32,
            scale: scale as f32,
        };
        for (slot, g) in self.dense.iter_mut().zip(dense_grads) {
            let Some(g) = g else { continue };
            if host::on_host(&[slot.var.as_tensor(), &g, &slot.m, &slot.v]) {
                host::read(&g, |g| -> Result<()> {
                    host::update(&slot.m, |m| -> Result<()> {
                        host::update(&slot.v, |v| -> Result<()> {
                            host::update(slot.var.as_tensor(), |w| -> Result<()> {
                                host::check_lengths(&slot.name, [w.len(), m.len(), v.len(), g.len()])?;
                                values.apply(w, m, v, g);
                                Ok(())
                            })?
                        })?
                    })?
                })??;
                continue;
            }
            let g = if scale != 1.0 { g.affine(scale, 0.0)? } else { g };
            slot.m = (slot.m.affine(beta1, 0.0)? + g.affine(1.0 - beta1, 0.0)?)?;
            slot.v = (slot.v.affine(beta2, 0.0)? + g.sqr()?.affine(1.0 - beta2, 0.0)?)?;
            let update = (&slot.m / (slot.v.sqrt()? + eps)?)?;
            let w = slot.var.as_tensor().detach();
            slot.var.set(&(w - update.affine(step_size, 0.0)?)?)?;
        }
        let table = embedding.table_mut();
        for (id, g) in self.rows.by_id(dim) {
            let rows = id as usize * dim..(id as usize + 1) * dim;
            let (m, v) = (&mut self.embedding_m[rows.clone()], &mut self.embedding_v[rows.clone()]);
            values.apply(&mut table[rows], m, v, g);
        }
        Ok(())
    }

    fn state(&self, embedding_shape: (usize, usize)) -> Result<HashMap<String, Tensor>> {
        let device = self.dense.first().map(|s| s.var.device().clone()).unwrap_or(candle_core::Device::Cpu);
        let mut out = HashMap::new();
        for s in &self.dense {
            out.insert(format!("m.{}", s.name), s.m.clone());
            out.insert(format!("v.{}", s.name), s.v.clone());
        }
        out.insert("m.embedding.weight".into(), Tensor::from_slice(&self.embedding_m, embedding_shape, &device)?);
        out.insert("v.embedding.weight".into(), Tensor::from_slice(&self.embedding_v, embedding_shape, &device)?);
        // Two halves, each exact in f32, so that any step count survives the f32 checkpoint.
        let (hi, lo) = ((self.step >> 20) as f32, (self.step & 0xF_FFFF) as f32);
        out.insert("step".into(), Tensor::from_slice(&[hi, lo], 2, &device)?);
        Ok(out)
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> std::result::Result<(), String> {
        let get = |name: &str| state.get(name).ok_or_else(|| format!("optimizer state lacks `{name}`"));
        for slot in &mut self.dense {
            for (key, target) in [("m", &mut slot.m), ("v", &mut slot.v)] {
                let name = format!("{key}.{}", slot.name);
                let t = get(&name)?;
                if t.shape() != target.shape() {
                    return Err(format!(
                        "optimizer state `{name}` has shape {:?}, expected {:?}",
                        t.dims(),
                        target.dims()
                    ));
                }
                *target = t.to_device(slot.var.device()).map_err(|e| e.to_string())?;
            }
        }
        for (name, target) in
            [("m.embedding.weight", &mut self.embedding_m), ("v.embedding.weight", &mut self.embedding_v)]
        {
            let v = get(name)?.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| e.to_string())?;
            if v.len() != target.len() {
                return Err(format!("optimizer state `{name}` has {} values, expected {}", v.len(), target.len()));
            }
            *target = v;
        }
        let step = get("step")?.to_vec1::<f32>().map_err(|e| e.to_string())?;
        if step.len() != 2 {
            return Err("optimizer state `step` must hold 2 values".into());
        }
        self.step = ((step[0] as u64) << 20) | step[1] as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn first_steps_follow_the_formula_and_clipping_scales_every_gradient() {
        let dev = Device::Cpu;
        let w = Var::from_slice(&[1.0f32, -2.0], 2, &dev).unwrap();
        let mut emb = Embedding::from_tensor(&Tensor::new(&[[1.0f32, 1.0], [2.0, -1.0]], &dev).unwrap()).unwrap();
        // Global norm of [3, 4] and the embedding row [0, 0] is 5; clip to 1 scales by 0.2.
        let mut opt = Adam::new(AdamConfig::new(0.1, Some(1.0)), vec![("w.weight".into(), w.clone())], 4).unwrap();
        let loss = (w.as_tensor() * Tensor::new(&[3.0f32, 4.0], &dev).unwrap()).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        opt.step(&grads, &mut emb, &[1], &[0.0, 0.0]).unwrap();
        // After one step, m / sqrt(v) = sign(g) with bias correction: w moves by lr.
        let got = w.as_tensor().to_vec1::<f32>().unwrap();
        assert!((got[0] - 0.9).abs() < 1e-5 && (got[1] + 2.1).abs() < 1e-5, "{got:?}");
        // Second step with the same gradient: hand-computed m, v.
        let loss = (w.as_tensor() * Tensor::new(&[3.0f32, 4.0], &dev).unwrap()).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        opt.step(&grads, &mut emb, &[0, 0], &[0.5, 0.0, 0.5, 0.0]).unwrap();
        // Norm now sqrt(9 + 16 + 1) > 1: scale = 1 / sqrt(26).
        let s = 1.0 / 26f64.sqrt();
        for (i, g0) in [3.0f64, 4.0].into_iter().enumerate() {
            let g1 = g0 * 0.2;
            let g2 = g0 * s;
            let m = 0.9 * (0.1 * g1) + 0.1 * g2;
            let v = 0.999 * (0.001 * g1 * g1) + 0.001 * g2 * g2;
            let step = 0.1 * (1.0 - 0.999f64.powi(2)).sqrt() / (1.0 - 0.9f64.powi(2));
            let before = [0.9, -2.1][i];
            let expect = before - step * m / (v.sqrt() + 1e-8);
            assert!((got_after(&w)[i] as f64 - expect).abs() < 1e-5, "{i}: {} vs {expect}", got_after(&w)[i]);
        }
        // Row 0 was touched once (twice in the batch, summed): one lazy update.
        let g = 1.0 * s;
        let expect = 1.0
            - 0.1 * (1.0 - 0.999f64.powi(2)).sqrt() / (1.0 - 0.9f64.powi(2)) * (0.1 * g)
                / ((0.001 * g * g).sqrt() + 1e-8);
        assert!((emb.row(0)[0] as f64 - expect).abs() < 1e-5, "{} vs {expect}", emb.row(0)[0]);
        assert_eq!(emb.row(0)[1], 1.0, "zero gradient, zero move");
        // The state round-trips, step count included.
        let state = opt.state((2, 2)).unwrap();
        let mut again = Adam::new(AdamConfig::new(0.1, Some(1.0)), vec![("w.weight".into(), w.clone())], 4).unwrap();
        again.load_state(&state).unwrap();
        assert_eq!(again.steps(), 2);
        assert_eq!(again.embedding_m, opt.embedding_m);
    }

    fn got_after(w: &Var) -> Vec<f32> {
        w.as_tensor().to_vec1::<f32>().unwrap()
    }
}
