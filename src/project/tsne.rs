//! Barnes-Hut t-SNE (van der Maaten 2014), deterministic and parallel.
//!
//! Input: `n` points of `d` dimensions, row-major `f32`. Output: `n x 2` coordinates.
//!
//! 1. Exact k nearest neighbours, `k = min(n - 1, floor(3 perplexity + 1))` (scikit-learn's
//!    choice), ties broken by index, so the neighbour lists do not depend on a tree's random
//!    vantage points (the reason bhtsne 0.4.1, under linfa-tsne, gives different coordinates on
//!    every run: its vantage-point tree draws from `rand::thread_rng()`).
//! 2. Conditional probabilities `p_j|i ∝ exp(-beta_i d_ij^2)` over the neighbours, `beta_i` found
//!    by bisection to the perplexity; `P = (P + P^T) / sum`.
//! 3. Gradient descent on `KL(P || Q)` with Student-t `q_ij ∝ (1 + |y_i - y_j|^2)^-1`: gradient
//!    `4 (exaggeration · sum_j p_ij w_ij (y_i - y_j) - sum_j w_ij^2 (y_i - y_j) / Z)`, the
//!    repulsive sum approximated with a quadtree (cells narrower than `theta` times their
//!    distance count as one point; `theta = 0` is exact). Momentum 0.5 then 0.8, per-coordinate
//!    gains (+0.2 / x0.8, at least 0.01), early exaggeration for the first iterations; the
//!    learning rate defaults to scikit-learn's `auto`, `max(n / exaggeration / 4, 50)`.
//!
//! Every parallel step writes per-point results that are then summed in index order, so the
//! coordinates are bit-identical for a seed whatever the number of threads.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::pca;
use crate::error::{Error, Result};

/// How the coordinates start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// Gaussian noise (standard deviation 1e-4) from the seed.
    #[default]
    Random,
    /// The first two principal components, scaled to a standard deviation of 1e-4 (the seed
    /// then plays no part).
    Pca,
}

/// t-SNE settings. Defaults: perplexity 30, 1,000 iterations of which 250 exaggerated by 12,
/// automatic learning rate, theta 0.3, random start from seed 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TsneParams {
    /// Effective number of neighbours; needs at least `3 perplexity + 1` points.
    pub perplexity: f64,
    /// Gradient steps in all (early exaggeration included).
    pub iterations: usize,
    /// Step size; `None` for `max(n / early_exaggeration / 4, 50)`.
    pub learning_rate: Option<f64>,
    /// Barnes-Hut accuracy: 0 computes the repulsion exactly (O(n^2) a step). The default, 0.3,
    /// reaches openTSNE's KL divergence on SST representations; 0.5 (the usual default elsewhere)
    /// is about 1.8x faster and about 1% worse (see BENCHMARKS.md).
    pub theta: f64,
    /// Factor on P during the first `exaggeration_iterations` steps.
    pub early_exaggeration: f64,
    /// Steps with exaggeration (and momentum 0.5).
    pub exaggeration_iterations: usize,
    /// How the coordinates start.
    pub init: Init,
    /// Seed of the random start.
    pub seed: u64,
}

impl Default for TsneParams {
    fn default() -> Self {
        TsneParams {
            perplexity: 30.0,
            iterations: 1000,
            learning_rate: None,
            theta: 0.3,
            early_exaggeration: 12.0,
            exaggeration_iterations: 250,
            init: Init::Random,
            seed: 1,
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneOutput {
    /// `n x 2`, row-major.
    pub coords: Vec<f64>,
    /// The exact `KL(P || Q)` of the final coordinates (`None` above [`KL_MAX_POINTS`] points).
    pub kl_divergence: Option<f64>,
    /// The learning rate used.
    pub learning_rate: f64,
}

/// Largest number of points for which the exact final KL divergence (O(n^2)) is computed.
pub const KL_MAX_POINTS: usize = 30_000;

impl TsneParams {
    /// Check the settings against `n` points: every rule names its option and the fix.
    pub fn check(&self, n: usize) -> Result<()> {
        if !(self.perplexity.is_finite() && self.perplexity > 0.0) {
            return Err(Error::invalid("perplexity", format!("{} is not a positive number", self.perplexity)));
        }
        // In floating point: a huge perplexity must not wrap around to a small count.
        let needed = (3.0 * self.perplexity).ceil() + 1.0;
        if (n as f64) < needed {
            let most = ((n.max(1) - 1) as f64 / 3.0).floor();
            let fix = if most >= 1.0 {
                format!("use a perplexity of {most} or less, or give more phrases")
            } else {
                "give at least 4 phrases".to_string()
            };
            return Err(Error::invalid(
                "perplexity",
                format!(
                    "perplexity {} needs at least {needed} points (3 x perplexity + 1), and there are {n}; {fix}",
                    self.perplexity
                ),
            ));
        }
        if self.iterations == 0 {
            return Err(Error::invalid("iterations", "needs at least 1 step"));
        }
        if let Some(lr) = self.learning_rate {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(Error::invalid("learning_rate", format!("{lr} is not a positive number")));
            }
        }
        if !(self.theta.is_finite() && self.theta >= 0.0) {
            return Err(Error::invalid(
                "theta",
                format!("{} must be 0 (exact) or positive (0.5 is usual)", self.theta),
            ));
        }
        if !(self.early_exaggeration.is_finite() && self.early_exaggeration >= 1.0) {
            return Err(Error::invalid(
                "early_exaggeration",
                format!("{} must be at least 1", self.early_exaggeration),
            ));
        }
        Ok(())
    }

    /// The learning rate for `n` points.
    pub(crate) fn learning_rate_for(&self, n: usize) -> f64 {
        self.learning_rate.unwrap_or_else(|| (n as f64 / self.early_exaggeration / 4.0).max(50.0))
    }
}

/// Run t-SNE on `n` points of `d` dimensions (`data.len() == n * d`) on `threads` threads.
pub fn tsne(data: &[f32], n: usize, d: usize, params: &TsneParams, threads: usize) -> Result<TsneOutput> {
    tsne_with_progress(data, n, d, params, threads, &mut |_| {})
}

/// [`tsne`], calling `progress(done)` with the number of finished gradient steps.
pub fn tsne_with_progress(
    data: &[f32],
    n: usize,
    d: usize,
    params: &TsneParams,
    threads: usize,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<TsneOutput> {
    if data.len() != n * d || d == 0 {
        return Err(Error::invalid("points", format!("{} values are not {n} points of {d} dimensions", data.len())));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("points", "a representation holds a NaN or infinite value"));
    }
    params.check(n)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::invalid("threads", format!("cannot start {threads} threads: {e}")))?;
    pool.install(|| {
        let p = joint_probabilities(data, n, d, params.perplexity);
        let init = match params.init {
            Init::Random => random_init(n, params.seed),
            Init::Pca => pca_init(data, n, d)?,
        };
        let lr = params.learning_rate_for(n);
        let coords = optimise(&p, init, n, params, lr, progress);
        let kl_divergence = (n <= KL_MAX_POINTS).then(|| kl_divergence(&p, &coords));
        Ok(TsneOutput { coords, kl_divergence, learning_rate: lr })
    })
}

/// A sparse symmetric joint probability matrix in compressed rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseP {
    /// Row `i` is `cols[rows[i]..rows[i + 1]]`.
    pub rows: Vec<usize>,
    /// Column indices.
    pub cols: Vec<u32>,
    /// `p_ij`, summing to 1 over the matrix.
    pub vals: Vec<f64>,
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += (x - y) * (x - y);
    }
    s
}

/// The `k` nearest neighbours of every point (exact; ties by index) with squared distances.
fn neighbours(data: &[f32], n: usize, d: usize, k: usize) -> Vec<Vec<(f32, u32)>> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let xi = &data[i * d..(i + 1) * d];
            let mut all: Vec<(f32, u32)> =
                (0..n).filter(|&j| j != i).map(|j| (sq_dist(xi, &data[j * d..(j + 1) * d]), j as u32)).collect();
            let order = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if k < all.len() {
                all.select_nth_unstable_by(k, order);
                all.truncate(k);
            }
            all.sort_unstable_by(order);
            all
        })
        .collect()
}

/// Conditional probabilities of one point's neighbours at `perplexity` (bisection on beta).
fn conditional(dist: &[(f32, u32)], perplexity: f64) -> Vec<f64> {
    let target = perplexity.ln();
    let d0 = dist.first().map_or(0.0, |x| x.0 as f64);
    let (mut beta, mut lo, mut hi) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    let mut p = vec![0.0; dist.len()];
    for _ in 0..200 {
        let mut sum = 0.0;
        for (pj, &(dj, _)) in p.iter_mut().zip(dist) {
            *pj = (-beta * (dj as f64 - d0)).exp();
            sum += *pj;
        }
        let mut h = 0.0;
        for (pj, &(dj, _)) in p.iter_mut().zip(dist) {
            *pj /= sum;
            h += beta * (dj as f64 - d0) * *pj;
        }
        h += sum.ln();
        let diff = h - target;
        if diff.abs() < 1e-5 {
            break;
        }
        if diff > 0.0 {
            lo = beta;
            beta = if hi.is_finite() { (beta + hi) / 2.0 } else { beta * 2.0 };
        } else {
            hi = beta;
            beta = if lo.is_finite() { (beta + lo) / 2.0 } else { beta / 2.0 };
        }
    }
    p
}

/// The symmetric joint probabilities `P` of t-SNE over exact nearest neighbours.
pub(crate) fn joint_probabilities(data: &[f32], n: usize, d: usize, perplexity: f64) -> SparseP {
    let k = (n - 1).min((3.0 * perplexity + 1.0).floor() as usize);
    let nn = neighbours(data, n, d, k);
    let cond: Vec<Vec<f64>> = nn.par_iter().map(|row| conditional(row, perplexity)).collect();
    let mut triplets: Vec<(u32, u32, f64)> = Vec::with_capacity(2 * n * k);
    for (i, (row, ps)) in nn.iter().zip(&cond).enumerate() {
        for (&(_, j), &p) in row.iter().zip(ps) {
            triplets.push((i as u32, j, p));
            triplets.push((j, i as u32, p));
        }
    }
    triplets.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.total_cmp(&b.2)));
    let mut rows = vec![0usize; n + 1];
    let mut cols = Vec::with_capacity(triplets.len());
    let mut vals: Vec<f64> = Vec::with_capacity(triplets.len());
    let mut last: Option<(u32, u32)> = None;
    for (i, j, p) in triplets {
        if last == Some((i, j)) {
            *vals.last_mut().expect("a previous entry") += p;
        } else {
            cols.push(j);
            vals.push(p);
            rows[i as usize + 1] += 1;
            last = Some((i, j));
        }
    }
    for i in 0..n {
        rows[i + 1] += rows[i];
    }
    let total: f64 = vals.iter().sum();
    vals.iter_mut().for_each(|v| *v /= total);
    SparseP { rows, cols, vals }
}

fn random_init(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..2 * n)
        .map(|_| {
            // Box-Muller: one standard normal from two uniforms in (0, 1].
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            1e-4 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

fn pca_init(data: &[f32], n: usize, d: usize) -> Result<Vec<f64>> {
    let fit = pca::pca(data, n, d, 2)?;
    let first: Vec<f64> = fit.coords.iter().step_by(2).copied().collect();
    let mean = first.iter().sum::<f64>() / n as f64;
    let sd = (first.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
    let scale = if sd > 0.0 { 1e-4 / sd } else { 1.0 };
    Ok(fit.coords.iter().map(|v| v * scale).collect())
}

fn optimise(
    p: &SparseP,
    mut y: Vec<f64>,
    n: usize,
    params: &TsneParams,
    lr: f64,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Vec<f64> {
    let mut update = vec![0.0f64; 2 * n];
    let mut gains = vec![1.0f64; 2 * n];
    let mut grad = vec![0.0f64; 2 * n];
    let mut tree = QuadTree::default();
    for it in 0..params.iterations {
        let early = it < params.exaggeration_iterations;
        let exaggeration = if early { params.early_exaggeration } else { 1.0 };
        let momentum = if early { 0.5 } else { 0.8 };
        gradient(p, &y, n, exaggeration, params.theta, &mut tree, &mut grad);
        for i in 0..2 * n {
            let g = grad[i];
            gains[i] = if (g > 0.0) != (update[i] > 0.0) { gains[i] + 0.2 } else { gains[i] * 0.8 };
            gains[i] = gains[i].max(0.01);
            update[i] = momentum * update[i] - lr * gains[i] * g;
            y[i] += update[i];
        }
        let (mx, my) = y.chunks_exact(2).fold((0.0, 0.0), |(a, b), c| (a + c[0], b + c[1]));
        let (mx, my) = (mx / n as f64, my / n as f64);
        y.chunks_exact_mut(2).for_each(|c| {
            c[0] -= mx;
            c[1] -= my;
        });
        if it % 10 == 9 || it + 1 == params.iterations {
            progress(it + 1);
        }
    }
    y
}

/// The t-SNE gradient at `y` into `grad` (both `n x 2`).
fn gradient(p: &SparseP, y: &[f64], n: usize, exaggeration: f64, theta: f64, tree: &mut QuadTree, grad: &mut [f64]) {
    tree.rebuild(y, n);
    let tree = &*tree;
    // Repulsion per point: (sum w^2 (y_i - y_j) over x and y, sum w).
    let rep: Vec<[f64; 3]> = (0..n)
        .into_par_iter()
        .with_min_len(64)
        .map_init(
            Vec::new,
            |stack, i| if theta == 0.0 { exact_repulsion(y, n, i) } else { tree.repulsion(i, theta, stack) },
        )
        .collect();
    let z: f64 = rep.iter().map(|r| r[2]).sum();
    grad.par_chunks_exact_mut(2).with_min_len(64).enumerate().for_each(|(i, g)| {
        let (yi0, yi1) = (y[2 * i], y[2 * i + 1]);
        let (mut a0, mut a1) = (0.0, 0.0);
        for k in p.rows[i]..p.rows[i + 1] {
            let j = p.cols[k] as usize;
            let (d0, d1) = (yi0 - y[2 * j], yi1 - y[2 * j + 1]);
            let w = p.vals[k] / (1.0 + d0 * d0 + d1 * d1);
            a0 += w * d0;
            a1 += w * d1;
        }
        g[0] = 4.0 * (exaggeration * a0 - rep[i][0] / z);
        g[1] = 4.0 * (exaggeration * a1 - rep[i][1] / z);
    });
}

fn exact_repulsion(y: &[f64], n: usize, i: usize) -> [f64; 3] {
    let mut r = [0.0; 3];
    for j in (0..n).filter(|&j| j != i) {
        let (d0, d1) = (y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]);
        let w = 1.0 / (1.0 + d0 * d0 + d1 * d1);
        r[0] += w * w * d0;
        r[1] += w * w * d1;
        r[2] += w;
    }
    r
}

/// A quadtree cell: its summary and either four children or a range of points.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// Centre of mass.
    com: [f64; 2],
    /// Points inside.
    count: u32,
    /// Index of the first of four children; 0 for a leaf.
    children: u32,
    /// Points `order[start..end]` (leaves only).
    start: u32,
    end: u32,
    /// Squared side length.
    width2: f64,
}

/// A quadtree over 2-d points, built top-down by partitioning an index array.
#[derive(Default)]
struct QuadTree {
    cells: Vec<Cell>,
    order: Vec<u32>,
    /// The points' coordinates in `order`, so that a leaf's points lie together.
    pos: Vec<[f64; 2]>,
    /// Where each point is in `order`.
    slot: Vec<u32>,
    /// Scratch space of the build.
    scratch: Vec<u32>,
    build_stack: Vec<(usize, [f64; 2], f64, usize)>,
}

/// Cells deeper than this keep all their points (coincident points).
const MAX_DEPTH: usize = 48;

impl QuadTree {
    /// Rebuild the tree over `y` (`n x 2`), reusing its buffers (no allocation once warm).
    fn rebuild(&mut self, y: &[f64], n: usize) {
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for c in y.chunks_exact(2) {
            for a in 0..2 {
                lo[a] = lo[a].min(c[a]);
                hi[a] = hi[a].max(c[a]);
            }
        }
        let half = ((hi[0] - lo[0]).max(hi[1] - lo[1]) / 2.0) * (1.0 + 1e-9) + 1e-12;
        let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
        let tree = self;
        tree.cells.clear();
        tree.order.clear();
        tree.order.extend(0..n as u32);
        tree.scratch.resize(n, 0);
        tree.cells.push(Cell { com: [0.0; 2], count: 0, children: 0, start: 0, end: n as u32, width2: 0.0 });
        // (cell, centre, half width, depth)
        let mut stack = std::mem::take(&mut tree.build_stack);
        stack.clear();
        stack.push((0usize, centre, half, 0usize));
        while let Some((c, centre, half, depth)) = stack.pop() {
            let (start, end) = (tree.cells[c].start as usize, tree.cells[c].end as usize);
            let pts = &tree.order[start..end];
            let (mut s0, mut s1) = (0.0, 0.0);
            for &k in pts.iter() {
                s0 += y[2 * k as usize];
                s1 += y[2 * k as usize + 1];
            }
            let count = (end - start) as f64;
            let cell = &mut tree.cells[c];
            cell.com = [s0 / count, s1 / count];
            cell.count = (end - start) as u32;
            cell.width2 = 4.0 * half * half;
            if end - start <= 1 || depth >= MAX_DEPTH {
                continue;
            }
            // Partition into quadrants 0..4: bit 0 = right of centre, bit 1 = above.
            let quadrant = |k: u32| -> usize {
                let k = k as usize;
                usize::from(y[2 * k] >= centre[0]) | (usize::from(y[2 * k + 1] >= centre[1]) << 1)
            };
            let mut bounds = [0usize; 5];
            for &k in pts.iter() {
                bounds[quadrant(k) + 1] += 1;
            }
            if half < 1e-12 {
                continue; // coincident points share a leaf
            }
            for q in 0..4 {
                bounds[q + 1] += bounds[q];
            }
            // Stable partition, so the order (and the sums) never depend on anything but y.
            let sorted = &mut tree.scratch[..end - start];
            let mut next = bounds;
            for &k in pts.iter() {
                let q = quadrant(k);
                sorted[next[q]] = k;
                next[q] += 1;
            }
            tree.order[start..end].copy_from_slice(sorted);
            let first = tree.cells.len();
            tree.cells[c].children = first as u32;
            let quarter = half / 2.0;
            for q in 0..4 {
                let qc = [
                    centre[0] + if q & 1 == 1 { quarter } else { -quarter },
                    centre[1] + if q & 2 == 2 { quarter } else { -quarter },
                ];
                tree.cells.push(Cell {
                    com: [0.0; 2],
                    count: 0,
                    children: 0,
                    start: (start + bounds[q]) as u32,
                    end: (start + bounds[q + 1]) as u32,
                    width2: 0.0,
                });
                if bounds[q + 1] > bounds[q] {
                    stack.push((first + q, qc, quarter, depth + 1));
                }
            }
        }
        tree.build_stack = stack;
        tree.pos.clear();
        tree.pos.extend(tree.order.iter().map(|&k| [y[2 * k as usize], y[2 * k as usize + 1]]));
        tree.slot.resize(n, 0);
        for (s, &k) in tree.order.iter().enumerate() {
            tree.slot[k as usize] = s as u32;
        }
    }

    /// Approximate repulsion on point `i`: (sum w^2 dx, sum w^2 dy, sum w) over all others;
    /// `stack` is scratch space.
    fn repulsion(&self, i: usize, theta: f64, stack: &mut Vec<u32>) -> [f64; 3] {
        let [yi0, yi1] = self.pos[self.slot[i] as usize];
        let theta2 = theta * theta;
        let mut r = [0.0; 3];
        stack.clear();
        stack.push(0);
        while let Some(c) = stack.pop() {
            let cell = &self.cells[c as usize];
            if cell.count == 0 {
                continue;
            }
            let (d0, d1) = (yi0 - cell.com[0], yi1 - cell.com[1]);
            let dist2 = d0 * d0 + d1 * d1;
            if cell.children == 0 {
                let (start, end) = (cell.start as usize, cell.end as usize);
                for (&k, p) in self.order[start..end].iter().zip(&self.pos[start..end]) {
                    if k as usize == i {
                        continue;
                    }
                    let (e0, e1) = (yi0 - p[0], yi1 - p[1]);
                    let w = 1.0 / (1.0 + e0 * e0 + e1 * e1);
                    r[0] += w * w * e0;
                    r[1] += w * w * e1;
                    r[2] += w;
                }
            } else if cell.width2 < theta2 * dist2 {
                let w = 1.0 / (1.0 + dist2);
                let m = cell.count as f64;
                r[0] += m * w * w * d0;
                r[1] += m * w * w * d1;
                r[2] += m * w;
            } else {
                for q in (0..4).rev() {
                    if self.cells[(cell.children + q) as usize].count > 0 {
                        stack.push(cell.children + q);
                    }
                }
            }
        }
        r
    }
}

/// The exact `KL(P || Q)` of coordinates `y` (`n x 2`) for the joint probabilities `p`.
pub fn kl_divergence(p: &SparseP, y: &[f64]) -> f64 {
    let n = p.rows.len() - 1;
    let z: f64 = (0..n).into_par_iter().map(|i| exact_repulsion(y, n, i)[2]).collect::<Vec<f64>>().iter().sum();
    let mut kl = 0.0;
    for i in 0..n {
        for k in p.rows[i]..p.rows[i + 1] {
            let j = p.cols[k] as usize;
            let pij = p.vals[k];
            if pij > 0.0 {
                let (d0, d1) = (y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]);
                let q = 1.0 / (1.0 + d0 * d0 + d1 * d1) / z;
                kl += pij * (pij / q).ln();
            }
        }
    }
    kl
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tight blobs of `m` points each in 5-d, far apart.
    fn blobs(m: usize) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut out = Vec::new();
        for b in 0..2 {
            for _ in 0..m {
                for a in 0..5 {
                    let centre = if b == 0 { 0.0 } else { 10.0 } + a as f32;
                    out.push(centre + rng.random::<f32>() - 0.5);
                }
            }
        }
        out
    }

    #[test]
    fn probabilities_are_symmetric_and_sum_to_one() {
        let data = blobs(20);
        let p = joint_probabilities(&data, 40, 5, 5.0);
        let total: f64 = p.vals.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        let at = |i: usize, j: usize| {
            (p.rows[i]..p.rows[i + 1]).find(|&k| p.cols[k] as usize == j).map_or(0.0, |k| p.vals[k])
        };
        for i in 0..40 {
            for k in p.rows[i]..p.rows[i + 1] {
                let j = p.cols[k] as usize;
                assert_ne!(i, j);
                assert_eq!(p.vals[k], at(j, i));
            }
        }
    }

    #[test]
    fn barnes_hut_agrees_with_the_exact_gradient() {
        let data = blobs(30);
        let p = joint_probabilities(&data, 60, 5, 8.0);
        let y = random_init(60, 3).iter().map(|v| v * 1e4).collect::<Vec<_>>();
        let (mut exact, mut approx) = (vec![0.0; 120], vec![0.0; 120]);
        gradient(&p, &y, 60, 1.0, 0.0, &mut QuadTree::default(), &mut exact);
        gradient(&p, &y, 60, 1.0, 0.2, &mut QuadTree::default(), &mut approx);
        let norm = exact.iter().map(|g| g * g).sum::<f64>().sqrt();
        let err = exact.iter().zip(&approx).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        assert!(err < 0.05 * norm, "error {err} against norm {norm}");
    }

    #[test]
    fn too_few_points_name_the_perplexity() {
        let e = TsneParams::default().check(50).unwrap_err().to_string();
        assert!(e.contains("invalid perplexity") && e.contains("91") && e.contains("50") && e.contains("16"), "{e}");
        assert!(TsneParams { perplexity: 16.0, ..Default::default() }.check(50).is_ok());
    }

    #[test]
    fn a_huge_perplexity_does_not_wrap_around() {
        // 3 x 6.2e18 + 1 is above usize::MAX: as an integer it wrapped to a small count.
        for perplexity in [6.2e18, 1e300, f64::MAX] {
            let e = TsneParams { perplexity, ..Default::default() }.check(50).unwrap_err().to_string();
            assert!(e.contains("invalid perplexity") && e.contains("there are 50"), "{perplexity}: {e}");
        }
    }
}
