//! An exponential that the compiler vectorises, for the hand-written passes' gate
//! non-linearities and the fused loss's softmax: libm's `expf` is one call per value, which
//! keeps every loop around it scalar.

/// `e^x` the fast way for the type: [`exp_f32`] for `f32`, libm's `exp` for `f64` (the tests'
/// reference precision).
pub(crate) trait FastExp: Copy {
    /// `e^self`.
    fn exp_fast(self) -> Self;
}

impl FastExp for f32 {
    #[inline(always)]
    fn exp_fast(self) -> f32 {
        exp_f32(self)
    }
}

impl FastExp for f64 {
    #[inline(always)]
    fn exp_fast(self) -> f64 {
        self.exp()
    }
}

/// The input below which `e^x` is clamped: `e^-87.3` is about 1.2e-38, the smallest normal f32.
const LOW: f32 = -87.3;
/// The input above which `e^x` is clamped (about 2.2e38, below f32's largest, 3.4e38).
const HIGH: f32 = 88.3;

/// `e^x` in f32 within a few units in the last place, in straight-line arithmetic: write
/// `x = n ln 2 + r` with `|r| <= ln 2 / 2`, take Cephes' degree-6 polynomial for `e^r`, and write
/// `2^n` into the exponent bits. Inputs beyond `[-87.3, 88.3]` are clamped to it (a very
/// negative input gives about 1.2e-38, not 0, and a very large one about 2.2e38, not infinity);
/// NaN stays NaN.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer, which then
    // sits in the low bits of the sum.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // `clamp` keeps NaN (where `max`/`min` would replace it).
    let x = x.clamp(LOW, HIGH);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = p * (r * r) + r + 1.0;
    let n_bits = t.to_bits().wrapping_sub(ROUND.to_bits());
    e_r * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_is_within_a_few_ulp_of_the_exact_value_over_its_range() {
        let mut worst = 0f64;
        let steps = 2_000_000;
        for k in 0..=steps {
            let x = LOW + (HIGH - LOW) * k as f32 / steps as f32;
            let exact = (x as f64).exp();
            worst = worst.max(((exp_f32(x) as f64) - exact).abs() / exact);
        }
        // f32's unit in the last place is 2^-23 ≈ 1.19e-7 relative.
        assert!(worst < 3.0 * f32::EPSILON as f64, "worst relative error {worst:e}");
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn exp_f32_clamps_the_extremes_and_keeps_nan() {
        assert!(exp_f32(f32::NAN).is_nan());
        let tiny = exp_f32(-1000.0);
        assert!(tiny > 0.0 && tiny < 1.3e-38 && tiny.is_normal(), "{tiny:e}");
        assert_eq!(exp_f32(f32::NEG_INFINITY), tiny);
        let huge = exp_f32(1000.0);
        assert!(huge.is_finite() && huge > 2e38, "{huge:e}");
        assert_eq!(exp_f32(f32::INFINITY), huge);
    }
}
