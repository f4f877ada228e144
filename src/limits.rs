//! Guards on the work one request may ask for.
//!
//! Some inputs and options make the work grow without bound: a valid SST tree of 20,000 leaves
//! (phrase-level scoring is quadratic in its size), a beam of a million, a million integrated
//! gradient steps per sentence, a million threads. None of them changes what salient computes;
//! they only decide whether it starts. [`Limits::DEFAULT`] refuses such requests with an
//! [`Error::OverLimit`] that says what grows and by how much; a caller that means it lifts one
//! limit (a larger `tree_tokens`) or all of them ([`Limits::NONE`]).

use crate::error::{Error, Result};

/// The most work a request may ask for. Each field bounds the option of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Tokens of one SST tree (its phrases are scored and trained on: quadratic in its size).
    pub tree_tokens: usize,
    /// Beam width of the autoencoder's beam search (work per step grows with width x vocabulary).
    pub beam: usize,
    /// Worker threads.
    pub threads: usize,
    /// Integrated gradients' interpolation steps (one backward pass each, per sentence).
    pub steps: usize,
    /// SmoothGrad's noisy samples (one backward pass each, per sentence).
    pub samples: usize,
    /// Points of a t-SNE projection (its neighbour search is quadratic in them).
    pub points: usize,
    /// t-SNE gradient steps.
    pub iterations: usize,
}

/// One limited option: its name, as the library's options spell it, and what grows with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Tokens of one SST tree.
    TreeTokens,
    /// Beam width.
    Beam,
    /// Worker threads.
    Threads,
    /// Integrated gradients' steps.
    Steps,
    /// SmoothGrad's samples.
    Samples,
    /// t-SNE points.
    Points,
    /// t-SNE iterations.
    Iterations,
}

impl Limited {
    /// The option's name (`beam`, `steps`).
    pub fn name(self) -> &'static str {
        match self {
            Limited::TreeTokens => "tree_tokens",
            Limited::Beam => "beam",
            Limited::Threads => "threads",
            Limited::Steps => "steps",
            Limited::Samples => "samples",
            Limited::Points => "points",
            Limited::Iterations => "iterations",
        }
    }

    /// What the work grows with.
    fn why(self) -> &'static str {
        match self {
            Limited::TreeTokens => "every phrase of a tree is scored, so the work grows with its square",
            Limited::Beam => "each decoding step scores width x vocabulary continuations",
            Limited::Threads => "more threads than this only add overhead",
            Limited::Steps | Limited::Samples => "each one is a forward and backward pass per sentence",
            Limited::Points => "t-SNE's neighbour search grows with the square of the points",
            Limited::Iterations => "each one is a gradient step over every point",
        }
    }
}

impl Limits {
    /// The limits salient applies unless told otherwise: about a hundred times what the paper's
    /// figures need (SST's longest sentence has 56 tokens; integrated gradients converge by 300
    /// steps; t-SNE figures show a few thousand phrases).
    pub const DEFAULT: Limits = Limits {
        tree_tokens: 1_000,
        beam: 256,
        threads: 256,
        steps: 10_000,
        samples: 10_000,
        points: 100_000,
        iterations: 100_000,
    };

    /// No limits at all.
    pub const NONE: Limits = Limits {
        tree_tokens: usize::MAX,
        beam: usize::MAX,
        threads: usize::MAX,
        steps: usize::MAX,
        samples: usize::MAX,
        points: usize::MAX,
        iterations: usize::MAX,
    };

    /// The limit on `what`.
    pub fn of(&self, what: Limited) -> usize {
        match what {
            Limited::TreeTokens => self.tree_tokens,
            Limited::Beam => self.beam,
            Limited::Threads => self.threads,
            Limited::Steps => self.steps,
            Limited::Samples => self.samples,
            Limited::Points => self.points,
            Limited::Iterations => self.iterations,
        }
    }

    /// An [`Error::OverLimit`] when `value` is above the limit on `what`.
    pub fn check(&self, what: Limited, value: usize) -> Result<()> {
        self.check_as(what, what.name(), value)
    }

    /// [`Limits::check`] for an option of another name that sets the limited quantity (t-SNE's
    /// `sample` sets its points).
    pub fn check_as(&self, what: Limited, option: &'static str, value: usize) -> Result<()> {
        let limit = self.of(what);
        if value > limit {
            return Err(Error::OverLimit { option, value, limit, why: what.why() });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_above_a_limit_are_refused_and_name_the_option() {
        let limits = Limits { steps: 10, ..Limits::DEFAULT };
        assert!(limits.check(Limited::Steps, 10).is_ok());
        let err = limits.check(Limited::Steps, 11).unwrap_err();
        assert!(matches!(err, Error::OverLimit { option: "steps", value: 11, limit: 10, .. }), "{err}");
        assert!(err.to_string().contains("steps = 11") && err.to_string().contains("10"), "{err}");
        assert!(Limits::NONE.check(Limited::Steps, usize::MAX).is_ok());
    }
}
