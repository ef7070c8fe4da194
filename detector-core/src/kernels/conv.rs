//! Convolution + bias + activation on NCHW `f32` slices, the three shapes YOLOX is made of.
//!
//! - **Pointwise** (1x1, stride 1): in NCHW a 1x1 convolution already is a matrix product,
//!   `out[co, p] = W[co, ci] X[ci, p]`, so it goes to the `gemm` crate without any copy.
//! - **Dense k x k** (the Focus stem; every 3x3 of the larger models): im2col of one tile of
//!   output pixels into a per-thread buffer, then the same product with `K = ci * k * k`.
//! - **Depthwise k x k** (YOLOX-Nano's DWConv): a direct per-channel kernel whose inner loop runs
//!   over contiguous input rows, so it vectorises without padding checks.
//!
//! Every path applies the bias and SiLU to a tile while it is still in cache, and the work is
//! split over output tiles (pixels for the GEMM paths, channel planes for depthwise) on rayon's
//! pool, whose size `RAYON_NUM_THREADS` sets.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use super::activation::{Activation, bias_activation};
#[cfg(target_arch = "x86_64")]
use super::lanes::{Avx2, Avx512};
use super::lanes::{Lanes, Portable};

/// Hyper-parameters of one convolution (square kernel, symmetric padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    /// Stride in both directions.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// Channel groups: 1 (dense) or the channel count (depthwise).
    pub groups: usize,
    /// What follows the bias.
    pub activation: Activation,
}

/// A convolution's output: NCHW values and their dimensions.
#[derive(Debug)]
pub struct ConvOutput {
    /// `[batch, out_channels, out_height, out_width]`, row-major.
    pub values: Vec<f32>,
    /// The four dimensions.
    pub dims: [usize; 4],
}

/// Runs `act(conv(input, weight) + bias)`.
///
/// `input` is `[batch, channels, height, width]` and `weight` `[out, channels / groups, k, k]`,
/// both contiguous. Returns `None` for what these kernels do not cover (dilation is never asked
/// for; other group counts, non-square kernels, mismatched lengths): callers then fall back to
/// the backend's own convolution.
pub fn conv2d_bias_act(
    input: &[f32],
    input_dims: [usize; 4],
    weight: &[f32],
    weight_dims: [usize; 4],
    bias: &[f32],
    spec: ConvSpec,
) -> Option<ConvOutput> {
    let [batch, channels, height, width] = input_dims;
    let [out_channels, group_channels, kernel, kernel_w] = weight_dims;
    let ConvSpec {
        stride, padding, ..
    } = spec;
    let sane = kernel == kernel_w
        && kernel > 0
        && stride > 0
        && channels > 0
        && input.len() == batch * channels * height * width
        && weight.len() == out_channels * group_channels * kernel * kernel
        && bias.len() == out_channels
        && height + 2 * padding >= kernel
        && width + 2 * padding >= kernel;
    if !sane {
        return None;
    }
    let geometry = Geometry {
        batch,
        channels,
        height,
        width,
        out_channels,
        kernel,
        stride,
        padding,
        out_height: (height + 2 * padding - kernel) / stride + 1,
        out_width: (width + 2 * padding - kernel) / stride + 1,
    };
    let dense = spec.groups == 1 && group_channels == channels;
    if dense && geometry.is_pointwise() {
        // A 1x1 convolution is the one-part case of the concatenation kernel.
        return conv1x1_cat_bias_act(
            &[(input, channels)],
            [batch, height, width],
            weight,
            weight_dims,
            bias,
            spec.activation,
        );
    }
    let len = batch * out_channels * geometry.out_pixels();
    let values = if dense {
        // SAFETY: `conv_gemm` writes every output element (all tiles of all images, every
        // output channel) before anything reads them.
        unsafe {
            written_by(len, |out| {
                conv_gemm(input, weight, bias, spec.activation, &geometry, out)
            })
        }
    } else if spec.groups == channels && group_channels == 1 && out_channels == channels {
        let mut values = Vec::with_capacity(len);
        conv_depthwise(
            input,
            weight,
            bias,
            spec.activation,
            &geometry,
            &mut values.spare_capacity_mut()[..len],
        );
        // SAFETY: `conv_depthwise` initialised every element of the first `len`.
        unsafe { values.set_len(len) };
        values
    } else {
        return None;
    };
    Some(ConvOutput {
        values,
        dims: [batch, out_channels, geometry.out_height, geometry.out_width],
    })
}

/// Runs `act(conv1x1(cat(parts, channels), weight) + bias)` without building the
/// concatenation: a 1x1 convolution over stacked inputs is the sum of one product per part with
/// that part's columns of the weight, accumulated in the output tile while it is in cache.
///
/// Each part is `(values, channels)`, `[batch, channels, height, width]` with the same batch and
/// size for all; `weight` is `[out, sum of channels, 1, 1]`. Returns `None` when the shapes do
/// not agree.
pub fn conv1x1_cat_bias_act(
    parts: &[(&[f32], usize)],
    [batch, height, width]: [usize; 3],
    weight: &[f32],
    weight_dims: [usize; 4],
    bias: &[f32],
    activation: Activation,
) -> Option<ConvOutput> {
    let [out_channels, depth, kh, kw] = weight_dims;
    let pixels = height * width;
    let sane = !parts.is_empty()
        && (kh, kw) == (1, 1)
        && parts.iter().map(|p| p.1).sum::<usize>() == depth
        && parts
            .iter()
            .all(|(v, c)| *c > 0 && v.len() == batch * c * pixels)
        && weight.len() == out_channels * depth
        && bias.len() == out_channels
        && pixels > 0;
    if !sane {
        return None;
    }
    let g = Geometry {
        batch,
        channels: depth,
        height,
        width,
        out_channels,
        kernel: 1,
        stride: 1,
        padding: 0,
        out_height: height,
        out_width: width,
    };
    let tile = tile_width(&g);
    let tiles = pixels.div_ceil(tile);
    let write_tiles = |out: *mut f32| {
        let out_ptr = SharedOut(out);
        (0..batch * tiles).into_par_iter().for_each(|task| {
            let (image, t) = (task / tiles, task % tiles);
            let start = t * tile;
            let len = tile.min(pixels - start);
            // SAFETY: as in `conv_gemm`; lhs is the part's columns `offset..offset + channels` of the
            // `[out_channels, depth]` weight (row stride `depth`), rhs the part's `[channels, len]`
            // tile with row stride `pixels`. The first part overwrites the tile, the others add.
            unsafe {
                let dst = out_ptr.get().add(image * out_channels * pixels + start);
                let mut offset = 0;
                for (i, &(values, channels)) in parts.iter().enumerate() {
                    let rhs = values[image * channels * pixels + start..].as_ptr();
                    gemm(
                        out_channels,
                        len,
                        channels,
                        dst,
                        1,
                        pixels as isize,
                        i > 0,
                        weight.as_ptr().add(offset),
                        1,
                        depth as isize,
                        rhs,
                        1,
                        pixels as isize,
                        if i > 0 { 1.0 } else { 0.0 },
                        1.0,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                    offset += channels;
                }
                for (co, &b) in bias.iter().enumerate() {
                    let row = std::slice::from_raw_parts_mut(dst.add(co * pixels), len);
                    bias_activation(row, b, activation);
                }
            }
        });
    };
    // SAFETY: every tile of every image is written (the first part's product overwrites it)
    // before the epilogue reads it.
    let out = unsafe { written_by(batch * out_channels * pixels, write_tiles) };
    Some(ConvOutput {
        values: out,
        dims: [batch, out_channels, height, width],
    })
}

#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    out_height: usize,
    out_width: usize,
}

impl Geometry {
    fn in_pixels(&self) -> usize {
        self.height * self.width
    }
    fn out_pixels(&self) -> usize {
        self.out_height * self.out_width
    }
    fn is_pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }
    /// Rows of the GEMM's right-hand side: input channels times kernel taps.
    fn depth(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }
}

/// A raw pointer that tiles write through; each tile owns a disjoint set of elements.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: tiles write disjoint elements and the buffer outlives the parallel loop.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    // A method, not the field: closures would capture the bare pointer field otherwise.
    fn get(self) -> *mut f32 {
        self.0
    }
}

thread_local! {
    /// im2col scratch, kept per worker thread so that frames after the first allocate nothing.
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// The 3x3 depthwise kernel's padded copy of one plane, per worker thread.
    static DEPTHWISE_ROWS: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Output pixels per GEMM tile: the tile's columns (im2col) or outputs should stay in L2, and
/// there should be a few tiles per thread to balance the load.
fn tile_width(g: &Geometry) -> usize {
    let rows = if g.is_pointwise() {
        g.out_channels
    } else {
        g.depth()
    };
    let mut width = ((64 * 1024) / rows.max(1)).clamp(64, 2048) / 16 * 16;
    let threads = rayon::current_num_threads().max(1);
    while width > 32 && g.batch * g.out_pixels().div_ceil(width) < 3 * threads {
        width /= 2;
    }
    width.min(g.out_pixels()).max(1)
}

/// A vector of `len` floats that `write` fills through the pointer, without the zeroing pass of
/// `vec![0.0; len]` (a separate sweep over every output, ~5% of a frame in `perf`).
///
/// # Safety
/// `write` must initialise all `len` elements.
unsafe fn written_by(len: usize, write: impl FnOnce(*mut f32)) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    write(values.as_mut_ptr());
    // SAFETY: the caller's contract.
    unsafe { values.set_len(len) };
    values
}

/// k x k (or strided 1x1): im2col of each tile, then a GEMM. Writes all of
/// `[batch, out_channels, out_pixels]` behind `out` (uninitialised is fine: the GEMM does not
/// read its destination).
fn conv_gemm(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    activation: Activation,
    g: &Geometry,
    out: *mut f32,
) {
    let pixels = g.out_pixels();
    let width = tile_width(g);
    let tiles = pixels.div_ceil(width);
    let depth = g.depth();
    let out_ptr = SharedOut(out);
    (0..g.batch * tiles).into_par_iter().for_each(|task| {
        let (image, tile) = (task / tiles, task % tiles);
        let start = tile * width;
        let len = width.min(pixels - start);
        let image_in = &input[image * g.channels * g.in_pixels()..][..g.channels * g.in_pixels()];
        let out_base = image * g.out_channels * pixels;
        COLUMNS.with_borrow_mut(|columns| {
            // im2col writes every element (zeros included), so the buffer is only grown, never
            // cleared: clearing cost a memset of the whole unfolded input per frame.
            if columns.len() < depth * len {
                columns.resize(depth * len, 0.0);
            }
            let columns = &mut columns[..depth * len];
            im2col(image_in, g, start, len, columns);
            // SAFETY: lhs is `[out_channels, depth]` row-major, rhs the `[depth, len]` columns,
            // dst the tile's columns `start..start + len` of `[out_channels, pixels]`; all
            // inside their slices, and no other task writes these columns.
            unsafe {
                let dst = out_ptr.get().add(out_base + start);
                gemm(
                    g.out_channels,
                    len,
                    depth,
                    dst,
                    1,
                    pixels as isize,
                    false,
                    weight.as_ptr(),
                    1,
                    depth as isize,
                    columns.as_ptr(),
                    1,
                    len as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
                for (co, &b) in bias.iter().enumerate() {
                    let row = std::slice::from_raw_parts_mut(dst.add(co * pixels), len);
                    bias_activation(row, b, activation);
                }
            }
        });
    });
}

/// Writes rows `(channel, ky, kx)` of the unfolded input for output pixels `start..start + len`
/// into `columns` (`[depth, len]`), zero where the kernel overhangs the padding.
fn im2col(image: &[f32], g: &Geometry, start: usize, len: usize, columns: &mut [f32]) {
    let k = g.kernel;
    for c in 0..g.channels {
        let plane = &image[c * g.in_pixels()..][..g.in_pixels()];
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut columns[((c * k + ky) * k + kx) * len..][..len];
                let mut done = 0;
                while done < len {
                    let pixel = start + done;
                    let (oy, ox0) = (pixel / g.out_width, pixel % g.out_width);
                    let run = (g.out_width - ox0).min(len - done);
                    let segment = &mut row[done..done + run];
                    let iy = (oy * g.stride + ky) as isize - g.padding as isize;
                    if iy < 0 || iy >= g.height as isize {
                        segment.fill(0.0);
                    } else {
                        let src = &plane[iy as usize * g.width..][..g.width];
                        gather_row(src, segment, ox0, kx, g);
                    }
                    done += run;
                }
            }
        }
    }
}

/// `segment[j] = src[(ox0 + j) * stride + kx - padding]`, zero outside `src`.
fn gather_row(src: &[f32], segment: &mut [f32], ox0: usize, kx: usize, g: &Geometry) {
    let (lo, hi) = valid_outputs(g.width, g.stride, g.padding, kx);
    let (lo, hi) = (lo.max(ox0), hi.min(ox0 + segment.len()));
    if lo >= hi {
        segment.fill(0.0);
        return;
    }
    segment[..lo - ox0].fill(0.0);
    segment[hi - ox0..].fill(0.0);
    let first = lo * g.stride + kx - g.padding;
    let dst = &mut segment[lo - ox0..hi - ox0];
    if g.stride == 1 {
        dst.copy_from_slice(&src[first..first + dst.len()]);
    } else {
        for (j, v) in dst.iter_mut().enumerate() {
            *v = src[first + j * g.stride];
        }
    }
}

/// Output columns `lo..hi` whose input column `o * stride + k - padding` lies in `0..size`.
fn valid_outputs(size: usize, stride: usize, padding: usize, k: usize) -> (usize, usize) {
    let lo = padding.saturating_sub(k).div_ceil(stride);
    // Largest o with o * stride + k - padding <= size - 1.
    let hi = if size + padding > k {
        (size + padding - k - 1) / stride + 1
    } else {
        0
    };
    (lo, hi)
}

fn conv_depthwise(
    input: &[f32],
    weight: &[f32],
    bias: &[f32],
    activation: Activation,
    g: &Geometry,
    out: &mut [MaybeUninit<f32>],
) {
    let k = g.kernel;
    let (in_pixels, out_pixels) = (g.in_pixels(), g.out_pixels());
    let columns: Vec<(usize, usize)> = (0..k)
        .map(|kx| valid_outputs(g.width, g.stride, g.padding, kx))
        .map(|(lo, hi)| (lo, hi.min(g.out_width)))
        .collect();
    out.par_chunks_mut(out_pixels)
        .enumerate()
        .for_each(|(plane_index, out_plane)| {
            // Zeroed here, in cache just before the kernel writes it, rather than in a separate
            // pass over the whole output (the 3x3 kernel then overwrites it without reading).
            out_plane.fill(MaybeUninit::new(0.0));
            // SAFETY: every element was just initialised; `MaybeUninit<f32>` has `f32`'s layout.
            let out_plane = unsafe { &mut *(out_plane as *mut [MaybeUninit<f32>] as *mut [f32]) };
            let c = plane_index % g.channels;
            let plane = DepthwisePlane {
                input: &input[plane_index * in_pixels..][..in_pixels],
                taps: &weight[c * k * k..][..k * k],
                columns: &columns,
                geometry: g,
            };
            plane.run(out_plane);
            // The whole plane at once: long runs keep the epilogue in its vector loop.
            bias_activation(out_plane, bias[c], activation);
        });
}

/// One channel of a depthwise convolution.
struct DepthwisePlane<'a> {
    input: &'a [f32],
    taps: &'a [f32],
    /// Per kernel column `kx`, the output columns whose input column is inside the image.
    columns: &'a [(usize, usize)],
    geometry: &'a Geometry,
}

impl DepthwisePlane<'_> {
    fn run(&self, out: &mut [f32]) {
        if self.geometry.kernel != 3 {
            return self.run_any(out);
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the features the function was compiled for.
                return unsafe { self.run_avx512(out) };
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: as above.
                return unsafe { self.run_avx2(out) };
            }
        }
        // SAFETY: the portable lanes need no CPU feature.
        unsafe { self.run_3x3::<Portable>(out) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn run_avx512(&self, out: &mut [f32]) {
        // SAFETY: this function only runs where the CPU has AVX-512F.
        unsafe { self.run_3x3::<Avx512>(out) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2(&self, out: &mut [f32]) {
        // SAFETY: this function only runs where the CPU has AVX2 and FMA.
        unsafe { self.run_3x3::<Avx2>(out) }
    }

    /// 3x3, any stride and padding (every depthwise convolution of YOLOX): each output vector
    /// is its nine products summed in a register, then stored once.
    ///
    /// The plane is first copied into rows with the padding written out as zeros, so that no
    /// tap needs a bounds check: one row per input row and stride phase, `phase[j] =
    /// input[j * stride + phase - padding]`, which makes the input of tap `kx` at output
    /// column `ox` the contiguous `phase[kx % stride][ox + kx / stride]` also at stride 2. Rows
    /// are as long as a whole number of vectors, so the last vector of a row computes a few
    /// columns past its end, which are dropped. (Before: one pass over the output row per input
    /// row, a load and a store of every output three times, and the edge columns one by one;
    /// 13- and 26-wide rows were mostly edges and remainders.)
    ///
    /// # Safety
    /// The CPU has `V`'s features.
    #[inline(always)]
    unsafe fn run_3x3<V: Lanes>(&self, out: &mut [f32]) {
        const K: usize = 3;
        // The partial last vector of a row goes through a 16-float buffer.
        const { assert!(V::LANES <= 16) };
        let g = self.geometry;
        let (stride, width, out_width) = (g.stride, g.width, g.out_width);
        let vectors = out_width.div_ceil(V::LANES);
        let row_len = vectors * V::LANES + (K - 1) / stride;
        let phases_len = stride * row_len;
        // Per-thread scratch, grown only; every element read below is written first. The
        // last `phases_len` floats are the rows of the padding above and below the plane.
        let mut rows = DEPTHWISE_ROWS.take();
        let zero_rows = g.height * phases_len;
        rows.resize(zero_rows + phases_len, 0.0);
        rows[zero_rows..].fill(0.0);
        for (src, phases) in self
            .input
            .chunks_exact(width)
            .zip(rows.chunks_exact_mut(phases_len))
        {
            for (phase, row) in phases.chunks_exact_mut(row_len).enumerate() {
                // `row[j] = src[x0 + (j - j0) * stride]` for `j0 <= j < j0 + inside`, zero
                // elsewhere. The middle is a plain copy at stride 1 and a copy over whole
                // chunks otherwise (a per-element bounds test here once cost more than the
                // products).
                let j0 = g
                    .padding
                    .saturating_sub(phase)
                    .div_ceil(stride)
                    .min(row_len);
                let x0 = (j0 * stride + phase).saturating_sub(g.padding).min(width);
                let inside = (width - x0).div_ceil(stride).min(row_len - j0);
                let (before, rest) = row.split_at_mut(j0);
                before.fill(0.0);
                let (middle, after) = rest.split_at_mut(inside);
                after.fill(0.0);
                if stride == 1 {
                    middle.copy_from_slice(&src[x0..x0 + inside]);
                } else {
                    for (v, chunk) in middle.iter_mut().zip(src[x0..].chunks(stride)) {
                        *v = chunk[0];
                    }
                }
            }
        }
        // SAFETY (every block below): `V`'s features are the caller's contract; the pointer
        // arithmetic is bounded as commented.
        let taps: [[V; K]; K] = std::array::from_fn(|ky| {
            std::array::from_fn(|kx| unsafe { V::splat(self.taps[ky * K + kx]) })
        });
        for (oy, out_row) in out.chunks_exact_mut(out_width).enumerate() {
            // Where each kernel row's input rows start: an input row's phases, or the zeros.
            let starts: [usize; K] = std::array::from_fn(|ky| {
                let iy = (oy * stride + ky).wrapping_sub(g.padding);
                if iy < g.height {
                    iy * phases_len
                } else {
                    zero_rows
                }
            });
            // Where tap (ky, kx) reads for the row's first vector, worked out once per row
            // (the stride is only known at run time: no division in the loop below).
            let sources: [[usize; K]; K] = std::array::from_fn(|ky| {
                std::array::from_fn(|kx| starts[ky] + (kx % stride) * row_len + kx / stride)
            });
            for v in 0..vectors {
                let mut acc = unsafe { V::splat(0.0) };
                for (sources, taps) in sources.iter().zip(&taps) {
                    for (source, tap) in sources.iter().zip(taps) {
                        // At most `start + phases_len - row_len + (vectors - 1) * LANES +
                        // (K - 1) / stride + LANES = start + phases_len <= rows.len()`.
                        let at = source + v * V::LANES;
                        debug_assert!(at + V::LANES <= rows.len());
                        acc = unsafe { acc.mul_add(*tap, V::load(rows.as_ptr().add(at))) };
                    }
                }
                let first = v * V::LANES;
                if first + V::LANES <= out_width {
                    // In bounds: just checked.
                    unsafe { acc.store(out_row.as_mut_ptr().add(first)) };
                } else {
                    // The last, partial vector: through a buffer, only the row's columns kept.
                    let mut lanes = [0.0f32; 16];
                    unsafe { acc.store(lanes.as_mut_ptr()) };
                    out_row[first..].copy_from_slice(&lanes[..out_width - first]);
                }
            }
        }
        DEPTHWISE_ROWS.set(rows);
    }

    /// Any kernel size and stride: accumulates `tap * input row` over contiguous stretches of
    /// each output row, so the inner loop has no bounds or padding checks and vectorises.
    fn run_any(&self, out: &mut [f32]) {
        let g = self.geometry;
        let k = g.kernel;
        for (oy, row) in out.chunks_exact_mut(g.out_width).enumerate() {
            row.fill(0.0);
            for ky in 0..k {
                let iy = (oy * g.stride + ky) as isize - g.padding as isize;
                if iy < 0 || iy >= g.height as isize {
                    continue;
                }
                let src = &self.input[iy as usize * g.width..][..g.width];
                for (kx, &(lo, hi)) in self.columns.iter().enumerate() {
                    if lo >= hi {
                        continue;
                    }
                    let w = self.taps[ky * k + kx];
                    let first = lo * g.stride + kx - g.padding;
                    let dst = &mut row[lo..hi];
                    if g.stride == 1 {
                        for (o, &i) in dst.iter_mut().zip(&src[first..first + (hi - lo)]) {
                            *o += w * i;
                        }
                    } else {
                        for (j, o) in dst.iter_mut().enumerate() {
                            *o += w * src[first + j * g.stride];
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition, in f64, for comparison.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        input: &[f32],
        [b, c, h, w]: [usize; 4],
        weight: &[f32],
        [co, cg, k, _]: [usize; 4],
        bias: &[f32],
        spec: ConvSpec,
    ) -> (Vec<f32>, [usize; 4]) {
        let (s, p) = (spec.stride, spec.padding);
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
        let per_group_out = co / spec.groups;
        let mut out = vec![0.0f32; b * co * oh * ow];
        for n in 0..b {
            for o in 0..co {
                let group = o / per_group_out;
                for y in 0..oh {
                    for x in 0..ow {
                        let mut acc = bias[o] as f64;
                        for i in 0..cg {
                            let ci = group * cg + i;
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (y * s + ky) as isize - p as isize;
                                    let ix = (x * s + kx) as isize - p as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let v =
                                        input[((n * c + ci) * h + iy as usize) * w + ix as usize];
                                    acc +=
                                        v as f64 * weight[((o * cg + i) * k + ky) * k + kx] as f64;
                                }
                            }
                        }
                        match spec.activation {
                            Activation::Identity => {}
                            Activation::Silu => acc /= 1.0 + (-acc).exp(),
                            Activation::Sigmoid => acc = 1.0 / (1.0 + (-acc).exp()),
                        }
                        out[((n * co + o) * oh + y) * ow + x] = acc as f32;
                    }
                }
            }
        }
        (out, [b, co, oh, ow])
    }

    fn pseudo_random(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    }

    fn check(input_dims: [usize; 4], out_channels: usize, kernel: usize, spec: ConvSpec) {
        let [_, c, _, _] = input_dims;
        let group_channels = c / spec.groups;
        let weight_dims = [out_channels, group_channels, kernel, kernel];
        let input = pseudo_random(input_dims.iter().product(), 1);
        let weight = pseudo_random(weight_dims.iter().product(), 2);
        let bias = pseudo_random(out_channels, 3);
        let ours = conv2d_bias_act(&input, input_dims, &weight, weight_dims, &bias, spec)
            .expect("supported shape");
        let (want, want_dims) = reference(&input, input_dims, &weight, weight_dims, &bias, spec);
        assert_eq!(ours.dims, want_dims, "{input_dims:?} {spec:?}");
        let worst = max_abs_diff(&ours.values, &want);
        assert!(
            worst < 1e-4,
            "{input_dims:?} k{kernel} {spec:?}: max diff {worst}"
        );
    }

    fn spec(stride: usize, padding: usize, groups: usize, activation: Activation) -> ConvSpec {
        ConvSpec {
            stride,
            padding,
            groups,
            activation,
        }
    }

    #[test]
    fn pointwise_matches_the_definition() {
        check([2, 7, 5, 9], 5, 1, spec(1, 0, 1, Activation::Silu));
        check([1, 16, 13, 13], 33, 1, spec(1, 0, 1, Activation::Identity));
        check([1, 16, 13, 13], 80, 1, spec(1, 0, 1, Activation::Sigmoid));
    }

    #[test]
    fn dense_matches_the_definition_for_strides_and_odd_sizes() {
        check([1, 12, 11, 14], 16, 3, spec(1, 1, 1, Activation::Silu));
        check([2, 5, 9, 8], 7, 3, spec(2, 1, 1, Activation::Silu));
        check([1, 3, 7, 7], 4, 5, spec(1, 2, 1, Activation::Identity));
        check([1, 2, 3, 3], 2, 3, spec(2, 0, 1, Activation::Silu));
        // 1x1 with stride 2 goes through im2col, not the pointwise shortcut.
        check([1, 4, 6, 6], 3, 1, spec(2, 0, 1, Activation::Silu));
    }

    #[test]
    fn depthwise_matches_the_definition_for_strides_and_odd_sizes() {
        check([2, 6, 10, 7], 6, 3, spec(1, 1, 6, Activation::Silu));
        check([1, 4, 9, 9], 4, 3, spec(2, 1, 4, Activation::Silu));
        check([1, 3, 8, 5], 3, 5, spec(2, 2, 3, Activation::Identity));
        check([1, 2, 1, 1], 2, 3, spec(1, 1, 2, Activation::Silu));
        // The 3x3 fast path: odd and even widths, no padding, padding 2, tiny planes.
        for (h, w) in [(13, 13), (12, 17), (2, 2), (3, 1), (1, 4), (26, 26)] {
            for stride in [1, 2] {
                for padding in [0, 1, 2] {
                    if h + 2 * padding < 3 || w + 2 * padding < 3 {
                        continue;
                    }
                    check(
                        [2, 3, h, w],
                        3,
                        3,
                        spec(stride, padding, 3, Activation::Silu),
                    );
                }
            }
        }
    }

    /// The 3x3 depthwise kernel compiled for each instruction set this CPU has, not only the
    /// one `conv2d_bias_act` picks.
    #[test]
    fn depthwise_3x3_matches_the_definition_on_every_instruction_set() {
        type Variant = fn(&DepthwisePlane, &mut [f32]);
        #[allow(unused_mut)]
        let mut variants: Vec<(&str, Variant)> = vec![("portable", |plane, out| {
            // SAFETY: the portable lanes need no CPU feature.
            unsafe { plane.run_3x3::<Portable>(out) }
        })];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: just detected.
                variants.push(("avx2", |plane, out| unsafe { plane.run_avx2(out) }));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: just detected.
                variants.push(("avx512", |plane, out| unsafe { plane.run_avx512(out) }));
            }
        }
        for (height, width) in [
            (13, 13),
            (12, 17),
            (2, 2),
            (3, 1),
            (1, 4),
            (9, 40),
            (33, 35),
        ] {
            for stride in [1, 2] {
                for padding in [0, 1, 2] {
                    if height + 2 * padding < 3 || width + 2 * padding < 3 {
                        continue;
                    }
                    let dims = [1, 2, height, width];
                    let input = pseudo_random(2 * height * width, 4);
                    let weight = pseudo_random(18, 5);
                    let spec = spec(stride, padding, 2, Activation::Identity);
                    let (want, [_, _, out_height, out_width]) =
                        reference(&input, dims, &weight, [2, 1, 3, 3], &[0.0; 2], spec);
                    let geometry = Geometry {
                        batch: 1,
                        channels: 2,
                        height,
                        width,
                        out_channels: 2,
                        kernel: 3,
                        stride,
                        padding,
                        out_height,
                        out_width,
                    };
                    let columns: Vec<(usize, usize)> = (0..3)
                        .map(|kx| valid_outputs(width, stride, padding, kx))
                        .collect();
                    for (name, variant) in &variants {
                        // NaN where nothing was written.
                        let mut out = vec![f32::NAN; want.len()];
                        for (c, plane_out) in out.chunks_exact_mut(want.len() / 2).enumerate() {
                            let plane = DepthwisePlane {
                                input: &input[c * height * width..][..height * width],
                                taps: &weight[c * 9..][..9],
                                columns: &columns,
                                geometry: &geometry,
                            };
                            variant(&plane, plane_out);
                        }
                        let worst = max_abs_diff(&out, &want);
                        assert!(
                            worst < 1e-5 && out.iter().all(|v| v.is_finite()),
                            "{name} {height}x{width} stride {stride} padding {padding}: {worst}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn pointwise_over_parts_equals_pointwise_over_their_concatenation() {
        let (batch, height, width, out_channels) = (2, 5, 7, 6);
        let pixels = height * width;
        let channels = [3usize, 1, 4];
        let parts: Vec<Vec<f32>> = channels
            .iter()
            .enumerate()
            .map(|(i, &c)| pseudo_random(batch * c * pixels, 10 + i as u32))
            .collect();
        let depth: usize = channels.iter().sum();
        // The concatenation along channels, image by image.
        let mut cat = Vec::new();
        for n in 0..batch {
            for (part, &c) in parts.iter().zip(&channels) {
                cat.extend_from_slice(&part[n * c * pixels..(n + 1) * c * pixels]);
            }
        }
        let weight = pseudo_random(out_channels * depth, 20);
        let bias = pseudo_random(out_channels, 21);
        let dims = [out_channels, depth, 1, 1];
        for activation in [Activation::Silu, Activation::Identity] {
            let (want, want_dims) = reference(
                &cat,
                [batch, depth, height, width],
                &weight,
                dims,
                &bias,
                spec(1, 0, 1, activation),
            );
            let inputs: Vec<(&[f32], usize)> = parts
                .iter()
                .zip(&channels)
                .map(|(p, &c)| (p.as_slice(), c))
                .collect();
            let ours = conv1x1_cat_bias_act(
                &inputs,
                [batch, height, width],
                &weight,
                dims,
                &bias,
                activation,
            )
            .expect("supported");
            assert_eq!(ours.dims, want_dims);
            let worst = max_abs_diff(&ours.values, &want);
            assert!(worst < 1e-4, "{activation:?}: max diff {worst}");
        }
        // Channels that do not add up to the weight's are declined.
        let short: Vec<(&[f32], usize)> = vec![(parts[0].as_slice(), 3)];
        assert!(
            conv1x1_cat_bias_act(
                &short,
                [batch, height, width],
                &weight,
                dims,
                &bias,
                Activation::Silu
            )
            .is_none()
        );
    }

    #[test]
    fn unsupported_or_inconsistent_shapes_are_declined() {
        let s = spec(1, 1, 2, Activation::Silu);
        // Two groups of two channels: neither dense nor depthwise.
        assert!(
            conv2d_bias_act(
                &[0.0; 16],
                [1, 4, 2, 2],
                &[0.0; 72],
                [4, 2, 3, 3],
                &[0.0; 4],
                s
            )
            .is_none()
        );
        // Input length does not match its dimensions.
        let s = spec(1, 1, 1, Activation::Silu);
        assert!(
            conv2d_bias_act(&[0.0; 3], [1, 1, 2, 2], &[0.0; 9], [1, 1, 3, 3], &[0.0], s).is_none()
        );
        // Kernel larger than the padded input.
        let s = spec(1, 0, 1, Activation::Silu);
        assert!(
            conv2d_bias_act(&[0.0; 4], [1, 1, 2, 2], &[0.0; 9], [1, 1, 3, 3], &[0.0], s).is_none()
        );
    }
}
