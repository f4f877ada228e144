//! Learning-rate schedules: constant, or Smith's triangular cyclical policy ("Cyclical Learning
//! Rates for Training Neural Networks", 2015), whose bounds the learning-rate range test
//! ([`super::lr_range_test`]) helps to find.

use serde::{Deserialize, Serialize};

/// How the learning rate moves over a run. The upper rate is the run's `lr`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "lowercase")]
pub enum LrSchedule {
    /// `lr` throughout.
    #[default]
    Constant,
    /// Smith's triangular policy: from `min_lr` up to `lr` and back down, linearly, once every
    /// `cycle_epochs` epochs (counted in batches, so a cycle may end within an epoch). A run
    /// starts at `min_lr`.
    Triangular {
        /// The lower bound.
        min_lr: f64,
        /// Epochs per full cycle (up and down).
        cycle_epochs: f64,
    },
}

impl LrSchedule {
    /// Whether this is the constant schedule (for serde: left out of JSON).
    pub fn is_constant(&self) -> bool {
        matches!(self, LrSchedule::Constant)
    }

    /// The rate of batch `batch` (0-based) of epoch `epoch` (1-based) of `batches` batches, for a
    /// run whose upper rate is `lr`; `None` for the constant schedule (the optimizer keeps `lr`).
    ///
    /// ```
    /// use salient::train::LrSchedule;
    /// let s = LrSchedule::Triangular { min_lr: 0.01, cycle_epochs: 2.0 };
    /// assert_eq!(s.lr_at(0.1, 1, 0, 10), Some(0.01)); // starts at the lower bound
    /// assert!((s.lr_at(0.1, 1, 5, 10).unwrap() - 0.055).abs() < 1e-12); // half way up
    /// assert!((s.lr_at(0.1, 2, 0, 10).unwrap() - 0.1).abs() < 1e-12); // the top, after a half cycle
    /// assert!((s.lr_at(0.1, 3, 0, 10).unwrap() - 0.01).abs() < 1e-12); // back down after a cycle
    /// ```
    pub fn lr_at(&self, lr: f64, epoch: usize, batch: usize, batches: usize) -> Option<f64> {
        match *self {
            LrSchedule::Constant => None,
            LrSchedule::Triangular { min_lr, cycle_epochs } => {
                let step = (epoch.saturating_sub(1) * batches + batch) as f64;
                let half = cycle_epochs * batches.max(1) as f64 / 2.0;
                let phase = (step / half) % 2.0; // 0 -> 1 going up, 1 -> 2 going down
                let height = 1.0 - (phase - 1.0).abs();
                Some(min_lr + (lr - min_lr) * height)
            }
        }
    }

    /// Checks the schedule against the run's upper rate `lr`.
    pub(crate) fn check(&self, lr: f64) -> std::result::Result<(), String> {
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Triangular { min_lr, cycle_epochs } => {
                if !(min_lr > 0.0 && min_lr < lr) {
                    return Err(format!("the lower rate must be positive and below --lr {lr}, got {min_lr}"));
                }
                if !(cycle_epochs > 0.0 && cycle_epochs.is_finite()) {
                    return Err(format!("the cycle must be a positive number of epochs, got {cycle_epochs}"));
                }
                Ok(())
            }
        }
    }
}

/// The rate of step `k` of `steps` in a range test from `min_lr` to `max_lr`: geometric, so that
/// every decade gets the same number of steps.
///
/// ```
/// use salient::train::range_test_lr;
/// assert!((range_test_lr(1e-3, 1.0, 0, 4) - 1e-3).abs() < 1e-15);
/// assert!((range_test_lr(1e-3, 1.0, 3, 4) - 1.0).abs() < 1e-12);
/// assert!((range_test_lr(1e-3, 1.0, 1, 4) - 1e-2).abs() < 1e-12);
/// ```
pub fn range_test_lr(min_lr: f64, max_lr: f64, k: usize, steps: usize) -> f64 {
    if steps <= 1 {
        return min_lr;
    }
    min_lr * (max_lr / min_lr).powf(k as f64 / (steps - 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangular_rises_and_falls_linearly_between_its_bounds() {
        let s = LrSchedule::Triangular { min_lr: 0.02, cycle_epochs: 1.0 };
        // 8 batches an epoch: up over 4, down over 4, the same in every epoch.
        let expected = [0.02, 0.04, 0.06, 0.08, 0.10, 0.08, 0.06, 0.04];
        for epoch in 1..=3 {
            for (k, want) in expected.iter().enumerate() {
                let got = s.lr_at(0.1, epoch, k, 8).unwrap();
                assert!((got - want).abs() < 1e-12, "epoch {epoch} batch {k}: {got} != {want}");
            }
        }
        assert_eq!(LrSchedule::Constant.lr_at(0.1, 3, 2, 8), None);
    }

    #[test]
    fn a_cycle_may_span_epochs_of_any_length() {
        let s = LrSchedule::Triangular { min_lr: 0.0 + 1e-3, cycle_epochs: 3.0 };
        // 3 epochs of 5 batches: the top is batch 2 of epoch 2 (step 7.5 of 15 is between 7 and 8).
        let rates: Vec<f64> = (1..=3).flat_map(|e| (0..5).map(move |k| s.lr_at(1.0, e, k, 5).unwrap())).collect();
        let top = rates.iter().cloned().fold(0.0, f64::max);
        assert!(rates[7] == top || rates[8] == top);
        assert!(rates.windows(2).take(7).all(|w| w[1] > w[0]));
        assert!(rates.windows(2).skip(8).all(|w| w[1] < w[0]));
    }

    #[test]
    fn bad_bounds_are_refused() {
        let bad = |min_lr, cycle_epochs| LrSchedule::Triangular { min_lr, cycle_epochs }.check(0.1).is_err();
        assert!(bad(0.2, 2.0));
        assert!(bad(0.0, 2.0));
        assert!(bad(0.01, 0.0));
        assert!(bad(f64::NAN, 2.0));
        assert!(!bad(0.01, 2.0));
    }
}
