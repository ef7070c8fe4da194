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

/// As [`bias_silu_avx2`], 16 wide. 19% faster than the division compiled for AVX-512 (54
/// against 67 us for 173k values, 64 x 52 x 52, this Zen 4 machine).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn bias_silu_avx512(row: &mut [f32], bias: f32) {
    use std::arch::x86_64::*;
    let mut chunks = row.chunks_exact_mut(16);
    let bias_v = _mm512_set1_ps(bias);
    let (lo, hi) = (_mm512_set1_ps(-87.0), _mm512_set1_ps(88.0));
    let log2e = _mm512_set1_ps(std::f32::consts::LOG2_E);
    let round = _mm512_set1_ps(12_582_912.0);
    let (ln2_hi, ln2_lo) = (_mm512_set1_ps(0.693_359_4), _mm512_set1_ps(-2.121_944_4e-4));
    let one = _mm512_set1_ps(1.0);
    let two = _mm512_set1_ps(2.0);
    let c = [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5].map(|v: f32| _mm512_set1_ps(v));
    for chunk in &mut chunks {
        // SAFETY: `chunk` has exactly 16 floats.
        unsafe {
            let x = _mm512_add_ps(_mm512_loadu_ps(chunk.as_ptr()), bias_v);
            let t = _mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), x), lo), hi);
            let shifted = _mm512_fmadd_ps(t, log2e, round);
            let n = _mm512_sub_ps(shifted, round);
            let r = _mm512_fnmadd_ps(n, ln2_lo, _mm512_fnmadd_ps(n, ln2_hi, t));
            let mut p = _mm512_fmadd_ps(c[0], r, c[1]);
            p = _mm512_fmadd_ps(p, r, c[2]);
            p = _mm512_fmadd_ps(p, r, c[3]);
            p = _mm512_fmadd_ps(p, r, c[4]);
            p = _mm512_fmadd_ps(p, r, one);
            p = _mm512_fmadd_ps(p, r, one);
            let bits = _mm512_slli_epi32::<23>(_mm512_add_epi32(
                _mm512_castps_si512(shifted),
                _mm512_set1_epi32(127),
            ));
            let e = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
            // 14-bit estimate, one Newton step.
            let d = _mm512_add_ps(one, e);
            let est = _mm512_rcp14_ps(d);
            let inv = _mm512_mul_ps(est, _mm512_fnmadd_ps(d, est, two));
            let y = _mm512_mul_ps(x, inv);
            let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
            _mm512_storeu_ps(chunk.as_mut_ptr(), _mm512_mask_blend_ps(nan, y, x));
        }
    }
    bias_silu_portable(chunks.into_remainder(), bias);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn bias_silu_avx2(row: &mut [f32], bias: f32) {
    use std::arch::x86_64::*;
    // The same arithmetic as `bias_silu_portable` and `exp`, except the division: a
    // reciprocal estimate refined by one Newton step (relative error ~2e-7) instead of
    // `vdivps`, whose throughput bounds the epilogue: 87 against 112 us for 173k values
    // (64 x 52 x 52) on this machine, 22% less.
    let mut chunks = row.chunks_exact_mut(8);
    let bias_v = _mm256_set1_ps(bias);
    let (lo, hi) = (_mm256_set1_ps(-87.0), _mm256_set1_ps(88.0));
    let log2e = _mm256_set1_ps(std::f32::consts::LOG2_E);
    let round = _mm256_set1_ps(12_582_912.0);
    let (ln2_hi, ln2_lo) = (_mm256_set1_ps(0.693_359_4), _mm256_set1_ps(-2.121_944_4e-4));
    let one = _mm256_set1_ps(1.0);
    let two = _mm256_set1_ps(2.0);
    let c = [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5].map(|v: f32| _mm256_set1_ps(v));
    for chunk in &mut chunks {
        // SAFETY: `chunk` has exactly 8 floats.
        unsafe {
            let x = _mm256_add_ps(_mm256_loadu_ps(chunk.as_ptr()), bias_v);
            // e^(-x), as `exp`: clamp, n = round(-x log2 e), r = -x - n ln2, polynomial, 2^n.
            let t = _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), x), lo), hi);
            let shifted = _mm256_fmadd_ps(t, log2e, round);
            let n = _mm256_sub_ps(shifted, round);
            let r = _mm256_fnmadd_ps(n, ln2_lo, _mm256_fnmadd_ps(n, ln2_hi, t));
            let mut p = _mm256_fmadd_ps(c[0], r, c[1]);
            p = _mm256_fmadd_ps(p, r, c[2]);
            p = _mm256_fmadd_ps(p, r, c[3]);
            p = _mm256_fmadd_ps(p, r, c[4]);
            p = _mm256_fmadd_ps(p, r, one);
            p = _mm256_fmadd_ps(p, r, one);
            let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
                _mm256_castps_si256(shifted),
                _mm256_set1_epi32(127),
            ));
            let e = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
            // x / (1 + e) as x * rcp(1 + e), the estimate refined once: r (2 - d r).
            let d = _mm256_add_ps(one, e);
            let est = _mm256_rcp_ps(d);
            let inv = _mm256_mul_ps(est, _mm256_fnmadd_ps(d, est, two));
            let y = _mm256_mul_ps(x, inv);
            // NaN in, NaN out (the clamp above turned it into a number).
            let y = _mm256_blendv_ps(y, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
            _mm256_storeu_ps(chunk.as_mut_ptr(), y);
        }
    }
    bias_silu_portable(chunks.into_remainder(), bias);
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
    fn every_silu_path_of_this_cpu_matches_the_definition() {
        let inputs: Vec<f32> = [
            -1e30,
            -200.0,
            -90.0,
            -20.0,
            -3.5,
            -1.0,
            -1e-3,
            0.0,
            1e-3,
            0.7,
            4.0,
            30.0,
            100.0,
            1e30,
            f32::NAN,
        ]
        .iter()
        .cycle()
        .take(53)
        .copied()
        .collect();
        type Path = unsafe fn(&mut [f32], f32);
        let mut paths: Vec<(&str, Path)> =
            vec![("portable", |row, bias| bias_silu_portable(row, bias))];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                paths.push(("avx2", bias_silu_avx2));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                paths.push(("avx512", bias_silu_avx512));
            }
        }
        for (name, path) in paths {
            let mut row = inputs.clone();
            // SAFETY: the features were detected above.
            unsafe { path(&mut row, 0.25) };
            for (&x, &y) in inputs.iter().zip(&row) {
                let x = x + 0.25;
                if x.is_nan() {
                    assert!(y.is_nan(), "{name}: silu(NaN) = {y}");
                    continue;
                }
                let want = (x as f64) / (1.0 + (-(x as f64)).exp());
                assert!(
                    ((y as f64) - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{name}: silu({x}) = {y}, want {want}"
                );
            }
        }
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
