//! Convolution epilogue: add the bias, then optionally SiLU (`x * sigmoid(x)`, Elfwing et al.,
//! "Sigmoid-Weighted Linear Units", arXiv:1702.03118), in place on a row of outputs.
//!
//! Burn's CPU backends evaluate SiLU as separate sigmoid and multiply passes over freshly
//! allocated tensors, and `f32::exp` is a libm call that does not vectorise. Here `exp` is a
//! range-reduced polynomial written so that LLVM vectorises it, compiled for AVX-512, AVX2+FMA
//! and the baseline, chosen once at run time.

/// What follows the convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// Bias only (prediction layers).
    Identity,
    /// Bias, then SiLU (every other YOLOX convolution).
    Silu,
    /// Bias, then the logistic sigmoid (objectness and class predictions).
    Sigmoid,
}

/// `row[i] = act(row[i] + bias)`.
pub fn bias_activation(row: &mut [f32], bias: f32, activation: Activation) {
    match activation {
        Activation::Identity => row.iter_mut().for_each(|v| *v += bias),
        Activation::Silu => bias_silu(row, bias),
        Activation::Sigmoid => bias_sigmoid(row, bias),
    }
}

fn bias_sigmoid(row: &mut [f32], bias: f32) {
    // Prediction maps are small (a few hundred thousand values per frame): no dispatch.
    for v in row.iter_mut() {
        *v = 1.0 / (1.0 + exp(-(*v + bias)));
    }
}

fn bias_silu(row: &mut [f32], bias: f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function was compiled for.
            return unsafe { bias_silu_avx512(row, bias) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above.
            return unsafe { bias_silu_avx2(row, bias) };
        }
    }
    bias_silu_portable(row, bias);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn bias_silu_avx512(row: &mut [f32], bias: f32) {
    bias_silu_portable(row, bias);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn bias_silu_avx2(row: &mut [f32], bias: f32) {
    bias_silu_portable(row, bias);
}

#[inline(always)]
fn bias_silu_portable(row: &mut [f32], bias: f32) {
    for v in row.iter_mut() {
        let x = *v + bias;
        *v = x / (1.0 + exp(-x));
    }
}

/// `e^x` within 2e-7 relative error on the range that matters for SiLU, branch-free.
///
/// `x = n ln2 + r` with `|r| <= ln2 / 2` (Cody-Waite split of ln2), `e^r` by its degree-6
/// Taylor polynomial, `2^n` built in the exponent bits. Inputs are clamped so that `2^n` stays a
/// normal number: `e^x` saturates at about 1.6e38 and 6e-39, which SiLU cannot tell apart from
/// infinity and zero. NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a round
    // instruction (SSE2 has none).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // `shifted` holds n in its low mantissa bits; moving n + 127 into the exponent field builds
    // 2^n with no float-to-int conversion (whose saturating form does not vectorise well).
    let scale = f32::from_bits(shifted.to_bits().wrapping_add(127) << 23);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm_over_the_silu_range() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let rel = ((exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
            x += 0.001_7;
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
    }

    #[test]
    fn silu_matches_the_definition_and_saturates() {
        let inputs = [
            -1e30, -200.0, -90.0, -20.0, -3.5, -1.0, -1e-3, 0.0, 1e-3, 0.7, 4.0, 30.0, 100.0, 1e30,
        ];
        let mut row = inputs.to_vec();
        bias_activation(&mut row, 0.25, Activation::Silu);
        for (&x, &y) in inputs.iter().zip(&row) {
            let x = x + 0.25;
            let want = (x as f64) / (1.0 + (-(x as f64)).exp());
            assert!(
                ((y as f64) - want).abs() <= 1e-6 * want.abs().max(1.0),
                "silu({x}) = {y}, want {want}"
            );
        }
        let mut nan = [f32::NAN];
        bias_activation(&mut nan, 0.0, Activation::Silu);
        assert!(nan[0].is_nan());
    }

    #[test]
    fn sigmoid_matches_the_definition() {
        let mut row = [-100.0, -2.0, 0.0, 3.0, 100.0];
        bias_activation(&mut row, 0.0, Activation::Sigmoid);
        for (y, x) in row.iter().zip([-100.0f64, -2.0, 0.0, 3.0, 100.0]) {
            assert!((*y as f64 - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6);
        }
    }

    #[test]
    fn identity_adds_the_bias_only() {
        let mut row = [1.0, -2.0];
        bias_activation(&mut row, 0.5, Activation::Identity);
        assert_eq!(row, [1.5, -1.5]);
    }
}
