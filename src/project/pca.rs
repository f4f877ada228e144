//! Principal component analysis: exact, deterministic, for the few dimensions of a
//! representation (the covariance is `d x d`, diagonalised by cyclic Jacobi rotations).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A fitted projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// `n x k` coordinates, row-major.
    pub coords: Vec<f64>,
    /// The `k` components, each `d` long; the sign makes each one's largest entry positive.
    pub components: Vec<Vec<f64>>,
    /// The share of the total variance each component explains.
    pub explained_variance_ratio: Vec<f64>,
}

/// Project `n` points of `d` dimensions (row-major) on their first `k` principal components.
///
/// ```
/// // Points on the line y = 2x: one component explains everything and keeps the order.
/// let data = [0.0f32, 0.0, 1.0, 2.0, 2.0, 4.0, 3.0, 6.0];
/// let fit = salient::project::pca::pca(&data, 4, 2, 2).unwrap();
/// assert!((fit.explained_variance_ratio[0] - 1.0).abs() < 1e-9);
/// let first: Vec<f64> = fit.coords.iter().step_by(2).copied().collect();
/// assert!(first.windows(2).all(|w| w[0] < w[1]));
/// ```
pub fn pca(data: &[f32], n: usize, d: usize, k: usize) -> Result<Pca> {
    if n < 2 || d == 0 || data.len() != n * d {
        return Err(Error::invalid("points", format!("PCA needs at least 2 points; got {n} of {d} dimensions")));
    }
    if k == 0 || k > d {
        return Err(Error::invalid("components", format!("{k} components of {d}-dimensional points")));
    }
    let mut mean = vec![0.0f64; d];
    for row in data.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0f64; d * d];
    let mut centred = vec![0.0f64; d];
    for row in data.chunks_exact(d) {
        for ((c, &v), m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = v as f64 - m;
        }
        for a in 0..d {
            for b in a..d {
                cov[a * d + b] += centred[a] * centred[b];
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            cov[a * d + b] /= (n - 1) as f64;
            cov[b * d + a] = cov[a * d + b];
        }
    }
    let (values, vectors) = jacobi_eigen(cov, d);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
    let components: Vec<Vec<f64>> = order[..k]
        .iter()
        .map(|&c| {
            let mut v: Vec<f64> = (0..d).map(|r| vectors[r * d + c]).collect();
            let big = v.iter().copied().fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if big < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            v
        })
        .collect();
    let explained_variance_ratio =
        order[..k].iter().map(|&c| if total > 0.0 { values[c].max(0.0) / total } else { 0.0 }).collect();
    let mut coords = Vec::with_capacity(n * k);
    for row in data.chunks_exact(d) {
        for comp in &components {
            coords.push(row.iter().zip(&mean).zip(comp).map(|((&v, m), c)| (v as f64 - m) * c).sum());
        }
    }
    Ok(Pca { coords, components, explained_variance_ratio })
}

/// Eigenvalues and eigenvectors (columns of the `d x d` result) of a symmetric matrix.
fn jacobi_eigen(mut a: Vec<f64>, d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|p| (0..d).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p * d + q].powi(2))
            .sum();
        if off.sqrt() <= 1e-15 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_axes_and_variance_ratios() {
        // Variance 4 along x, 1 along y (points (+-2, 0), (0, +-1)): ratios 0.8 and 0.2.
        let data = [2.0f32, 0.0, -2.0, 0.0, 0.0, 1.0, 0.0, -1.0];
        let fit = pca(&data, 4, 2, 2).unwrap();
        assert!((fit.explained_variance_ratio[0] - 0.8).abs() < 1e-12, "{:?}", fit.explained_variance_ratio);
        assert!((fit.explained_variance_ratio[1] - 0.2).abs() < 1e-12);
        assert!((fit.components[0][0] - 1.0).abs() < 1e-12 && fit.components[0][1].abs() < 1e-12);
        assert_eq!(fit.coords[0], 2.0);
        assert!(pca(&data, 4, 2, 3).is_err());
    }
}
