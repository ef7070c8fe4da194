//! A handful of operations on a vector of `f32` lanes, implemented for AVX-512, AVX2 + FMA and
//! plain arrays, so that one kernel body is compiled once per instruction set and chosen at run
//! time (the depthwise convolution in [`super::conv`]).
//!
//! Every method is `unsafe`: the AVX implementations may only run on a CPU that has those
//! features, and loads and stores go through raw pointers.

/// A vector of [`Lanes::LANES`] floats.
pub(crate) trait Lanes: Copy {
    /// Floats per vector (at most 16).
    const LANES: usize;

    /// Every lane `v`.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn splat(v: f32) -> Self;

    /// `LANES` floats from `p`, unaligned.
    ///
    /// # Safety
    /// The CPU has the implementation's features; `p` is valid for `LANES` reads.
    unsafe fn load(p: *const f32) -> Self;

    /// Writes the lanes to `p`, unaligned.
    ///
    /// # Safety
    /// The CPU has the implementation's features; `p` is valid for `LANES` writes.
    unsafe fn store(self, p: *mut f32);

    /// `self + a * b`, fused where the instruction set has it.
    ///
    /// # Safety
    /// The CPU has the implementation's features.
    unsafe fn mul_add(self, a: Self, b: Self) -> Self;
}

/// Eight lanes in a plain array: any CPU; LLVM vectorises the loops for the baseline.
#[derive(Clone, Copy)]
pub(crate) struct Portable([f32; 8]);

impl Lanes for Portable {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Self([v; 8])
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller's contract.
        Self(unsafe { p.cast::<[f32; 8]>().read_unaligned() })
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller's contract.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(self.0) }
    }

    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Lanes;

    /// Sixteen lanes in a `zmm` register.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(__m512);

    impl Lanes for Avx512 {
        const LANES: usize = 16;

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn splat(v: f32) -> Self {
            Self(_mm512_set1_ps(v))
        }

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller's contract.
            Self(unsafe { _mm512_loadu_ps(p) })
        }

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: the caller's contract.
            unsafe { _mm512_storeu_ps(p, self.0) }
        }

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn mul_add(self, a: Self, b: Self) -> Self {
            Self(_mm512_fmadd_ps(a.0, b.0, self.0))
        }
    }

    /// Eight lanes in a `ymm` register, with FMA.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256);

    impl Lanes for Avx2 {
        const LANES: usize = 8;

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn splat(v: f32) -> Self {
            Self(_mm256_set1_ps(v))
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller's contract.
            Self(unsafe { _mm256_loadu_ps(p) })
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: the caller's contract.
            unsafe { _mm256_storeu_ps(p, self.0) }
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn mul_add(self, a: Self, b: Self) -> Self {
            Self(_mm256_fmadd_ps(a.0, b.0, self.0))
        }
    }
}
