//! Letterbox preprocessing, bit-exact with the reference pipeline (OpenCV's 8-bit
//! `INTER_LINEAR` resize, top-left paste on a 114 canvas, BGR planes as f32 0..255).
//!
//! A float or antialiased resize moves borderline detections (see `../shared/README.md`), so
//! the resize is a port of OpenCV's fixed-point arithmetic: 11-bit weights, a horizontal pass
//! in i32 and the vertical formula of its SIMD path (`VResizeLinearVec_32s8u`).

use std::ops::Range;

use image::RgbImage;
use rayon::prelude::*;

use crate::error::BufferTooSmall;

/// Value of the padding around the resized image.
pub const PAD_VALUE: u8 = 114;

/// OpenCV's `INTER_RESIZE_COEF_BITS`.
const COEF_SCALE: f32 = 2048.0;

/// Where a frame landed in the network input, to map boxes back to frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Scale from frame to input pixels, `min(S / h, S / w)`.
    pub ratio: f64,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Width of the resized frame inside the input.
    pub resized_width: usize,
    /// Height of the resized frame inside the input.
    pub resized_height: usize,
}

impl Letterbox {
    /// Geometry of a `width x height` frame in a square input of side `input_size`.
    /// Sizes truncate like the reference (`int(w * r)`), but never below one pixel.
    pub fn new(width: u32, height: u32, input_size: usize) -> Self {
        let (w, h) = (width.max(1) as f64, height.max(1) as f64);
        let s = input_size as f64;
        let ratio = (s / h).min(s / w);
        let resized_width = ((w * ratio) as usize).clamp(1, input_size);
        let resized_height = ((h * ratio) as usize).clamp(1, input_size);
        Self {
            ratio,
            width,
            height,
            resized_width,
            resized_height,
        }
    }
}

/// Source indices and fixed-point weights of one axis.
struct AxisTaps {
    first: Vec<usize>,
    second: Vec<usize>,
    w_first: Vec<i32>,
    w_second: Vec<i32>,
}

/// OpenCV's coefficient computation. The x axis clamps index and fraction at the borders;
/// the y axis keeps the fraction and clamps only the two source rows.
fn axis_taps(dst: usize, src: usize, clamp_fraction: bool) -> AxisTaps {
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src as i64 - 1;
    let mut taps = AxisTaps {
        first: Vec::with_capacity(dst),
        second: Vec::with_capacity(dst),
        w_first: Vec::with_capacity(dst),
        w_second: Vec::with_capacity(dst),
    };
    for d in 0..dst {
        let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
        let mut s = f.floor() as i64;
        let mut frac = f - s as f32;
        if clamp_fraction {
            if s < 0 {
                s = 0;
                frac = 0.0;
            }
            if s >= last {
                s = last;
                frac = 0.0;
            }
        }
        taps.first.push(s.clamp(0, last) as usize);
        taps.second.push((s + 1).clamp(0, last) as usize);
        taps.w_first
            .push(((1.0f32 - frac) * COEF_SCALE).round_ties_even() as i32);
        taps.w_second
            .push((frac * COEF_SCALE).round_ties_even() as i32);
    }
    taps
}

/// Horizontal pass of one source row: `H[x][c] = S[sx0][c] * a0 + S[sx1][c] * a1`.
fn horizontal_row(row: &[u8], taps: &AxisTaps, out: &mut [i32]) {
    for (x, px) in out.chunks_exact_mut(3).enumerate() {
        let (s0, s1) = (taps.first[x] * 3, taps.second[x] * 3);
        let (a0, a1) = (taps.w_first[x], taps.w_second[x]);
        for c in 0..3 {
            px[c] = row[s0 + c] as i32 * a0 + row[s1 + c] as i32 * a1;
        }
    }
}

/// The taps of both axes of a resize to `dst_w x dst_h`.
fn resize_taps(frame: &RgbImage, dst_w: usize, dst_h: usize) -> (AxisTaps, AxisTaps) {
    let (src_w, src_h) = (frame.width() as usize, frame.height() as usize);
    (
        axis_taps(dst_w, src_w, true),
        axis_taps(dst_h, src_h, false),
    )
}

/// Resizes an interleaved RGB (or BGR) 8-bit image exactly as OpenCV's `INTER_LINEAR`,
/// calling `emit(y, row)` with each output row of `rows`, interleaved like the input.
fn resize_linear(
    frame: &RgbImage,
    (xs, ys): (&AxisTaps, &AxisTaps),
    rows: Range<usize>,
    mut emit: impl FnMut(usize, &[u8]),
) {
    let src_w = frame.width() as usize;
    let dst_w = xs.first.len();
    let raw = frame.as_raw();
    let row_len = src_w * 3;
    // Two cached horizontal rows; consecutive output rows mostly reuse them.
    let mut cache: [(usize, Vec<i32>); 2] = [
        (usize::MAX, vec![0; dst_w * 3]),
        (usize::MAX, vec![0; dst_w * 3]),
    ];
    let mut out = vec![0u8; dst_w * 3];
    for y in rows {
        let (r0, r1) = (ys.first[y], ys.second[y]);
        let mut ensure = |wanted: usize, keep: usize| -> usize {
            if let Some(slot) = cache.iter().position(|(row, _)| *row == wanted) {
                return slot;
            }
            let slot = usize::from(cache[0].0 == keep);
            let src_row = &raw[wanted * row_len..(wanted + 1) * row_len];
            horizontal_row(src_row, xs, &mut cache[slot].1);
            cache[slot].0 = wanted;
            slot
        };
        let s0 = ensure(r0, r1);
        let s1 = ensure(r1, r0);
        let (b0, b1) = (ys.w_first[y], ys.w_second[y]);
        let (h0, h1) = (&cache[s0].1, &cache[s1].1);
        // The vertical pass over the whole row at once, so that it vectorises (it ran per pixel
        // and channel through a closure: ~9 ns an output pixel with the horizontal pass).
        for ((v, &a), &b) in out.iter_mut().zip(h0).zip(h1) {
            let sum = ((((a >> 4) * b0) >> 16) + (((b >> 4) * b1) >> 16) + 2) >> 2;
            *v = sum.clamp(0, 255) as u8;
        }
        emit(y, &out);
    }
}

/// Resizes like OpenCV's `INTER_LINEAR` into a new image (used by tests and tools).
pub fn resize_exact(frame: &RgbImage, dst_w: u32, dst_h: u32) -> RgbImage {
    let mut out = RgbImage::new(dst_w, dst_h);
    if dst_w == 0 || dst_h == 0 || frame.width() == 0 || frame.height() == 0 {
        return out;
    }
    let (xs, ys) = resize_taps(frame, dst_w as usize, dst_h as usize);
    let row_len = dst_w as usize * 3;
    let pixels: &mut [u8] = &mut out;
    resize_linear(frame, (&xs, &ys), 0..dst_h as usize, |y, row| {
        pixels[y * row_len..(y + 1) * row_len].copy_from_slice(row);
    });
    out
}

/// Writes one frame, letterboxed, into the first `3 * S * S` floats of `planes` (B, G, R
/// planes), for callers that own the input buffer (a pooled or pinned tensor).
pub fn letterbox_into(
    frame: &RgbImage,
    input_size: usize,
    planes: &mut [f32],
) -> Result<Letterbox, BufferTooSmall> {
    let needed = input_size
        .checked_mul(input_size)
        .and_then(|p| p.checked_mul(3))
        .ok_or(BufferTooSmall {
            needed: usize::MAX,
            got: planes.len(),
        })?;
    match planes.get_mut(..needed) {
        Some(planes) => Ok(letterbox_planes(frame, input_size, planes)),
        None => Err(BufferTooSmall {
            needed,
            got: planes.len(),
        }),
    }
}

/// [`letterbox_into`] for a buffer of exactly `3 * S * S` floats.
///
/// The rows are split into bands resized side by side on rayon's pool (a frame is the only
/// serial step before the network otherwise), and each band writes its padding itself, so no
/// value is written twice.
fn letterbox_planes(frame: &RgbImage, input_size: usize, planes: &mut [f32]) -> Letterbox {
    let geometry = Letterbox::new(frame.width(), frame.height(), input_size);
    let pad = f32::from(PAD_VALUE);
    if frame.width() == 0 || frame.height() == 0 || input_size == 0 {
        planes.fill(pad);
        return geometry;
    }
    let (resized_w, resized_h) = (geometry.resized_width, geometry.resized_height);
    let taps = resize_taps(frame, resized_w, resized_h);
    let plane = input_size * input_size;
    let (b, rest) = planes.split_at_mut(plane);
    let (g, r) = rest.split_at_mut(plane);
    let band_rows = input_size.div_ceil(rayon::current_num_threads().clamp(1, 8));
    let band_len = band_rows * input_size;
    b.par_chunks_mut(band_len)
        .zip(g.par_chunks_mut(band_len))
        .zip(r.par_chunks_mut(band_len))
        .enumerate()
        .for_each(|(band, ((b, g), r))| {
            let first = band * band_rows;
            let rows = first..(first + b.len() / input_size);
            let resized = rows.start.min(resized_h)..rows.end.min(resized_h);
            resize_linear(frame, (&taps.0, &taps.1), resized.clone(), |y, row| {
                let start = (y - first) * input_size;
                let (b, g, r) = (
                    &mut b[start..start + resized_w],
                    &mut g[start..start + resized_w],
                    &mut r[start..start + resized_w],
                );
                for (x, px) in row.chunks_exact(3).enumerate() {
                    b[x] = f32::from(px[2]);
                    g[x] = f32::from(px[1]);
                    r[x] = f32::from(px[0]);
                }
            });
            for plane in [b, g, r] {
                for (y, row) in plane.chunks_exact_mut(input_size).enumerate() {
                    let from = if resized.contains(&(first + y)) {
                        resized_w
                    } else {
                        0
                    };
                    row[from..].fill(pad);
                }
            }
        });
    geometry
}

/// A batch of letterboxed frames, `[N, 3, S, S]` row-major, and their geometry.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Input values.
    pub data: Vec<f32>,
    /// One entry per frame.
    pub letterboxes: Vec<Letterbox>,
    /// `S`.
    pub input_size: usize,
}

/// Letterboxes frames of any sizes into one batch.
pub fn letterbox_batch(frames: &[RgbImage], input_size: usize) -> Batch {
    let per_frame = 3 * input_size * input_size;
    // Every value is written by `letterbox_planes` (image or padding), so the zeros only stand
    // for uninitialised memory; calloc'd pages cost nothing until written.
    let mut data = vec![0.0f32; per_frame * frames.len()];
    let letterboxes = frames
        .iter()
        .zip(data.chunks_exact_mut(per_frame))
        .map(|(frame, planes)| letterbox_planes(frame, input_size, planes))
        .collect();
    Batch {
        data,
        letterboxes,
        input_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_sizes_follow_the_reference_truncation() {
        // landscape 640x480 -> r = 0.65, 416 x 312
        let g = Letterbox::new(640, 480, 416);
        assert_eq!((g.resized_width, g.resized_height), (416, 312));
        assert!((g.ratio - 0.65).abs() < 1e-12);
        // portrait bus.jpg 810x1080 -> r = 416/1080, 312 x 416
        let g = Letterbox::new(810, 1080, 416);
        assert_eq!((g.resized_width, g.resized_height), (312, 416));
        // tiny: upscaled
        let g = Letterbox::new(10, 5, 416);
        assert_eq!((g.resized_width, g.resized_height), (416, 208));
        // 1x1
        let g = Letterbox::new(1, 1, 416);
        assert_eq!((g.resized_width, g.resized_height), (416, 416));
        assert_eq!(g.ratio, 416.0);
        // huge
        let g = Letterbox::new(20000, 15000, 416);
        assert_eq!((g.resized_width, g.resized_height), (416, 312));
        // extreme aspect ratio: never a zero-sized resize
        let g = Letterbox::new(1, 20000, 416);
        assert_eq!((g.resized_width, g.resized_height), (1, 416));
    }

    #[test]
    fn same_size_resize_is_identity_and_pad_is_114() {
        let frame = RgbImage::from_fn(416, 200, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut planes = vec![0.0; 3 * 416 * 416];
        let g = letterbox_into(&frame, 416, &mut planes).unwrap();
        assert_eq!((g.resized_width, g.resized_height), (416, 200));
        let plane = 416 * 416;
        // BGR order: plane 0 holds blue.
        assert_eq!(planes[0], 7.0);
        assert_eq!(planes[2 * plane + 5], 5.0);
        assert_eq!(planes[plane + 416 * 3], 3.0);
        assert_eq!(planes[416 * 200], 114.0);
        assert_eq!(planes[3 * plane - 1], 114.0);
    }

    #[test]
    fn constant_image_stays_constant_at_any_scale() {
        for (w, h) in [(1, 1), (3, 2), (640, 480), (1000, 17)] {
            let frame = RgbImage::from_pixel(w, h, image::Rgb([200, 100, 50]));
            let mut planes = vec![0.0; 3 * 64 * 64];
            let g = letterbox_into(&frame, 64, &mut planes).unwrap();
            let plane = 64 * 64;
            for y in 0..g.resized_height {
                for x in 0..g.resized_width {
                    let i = y * 64 + x;
                    assert_eq!(
                        (planes[i], planes[plane + i], planes[2 * plane + i]),
                        (50.0, 100.0, 200.0)
                    );
                }
            }
        }
    }

    #[test]
    fn a_short_buffer_is_an_error_and_a_longer_one_keeps_its_tail() {
        let frame = RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
        let mut short = vec![0.0; 3 * 16 * 16 - 1];
        assert_eq!(
            letterbox_into(&frame, 16, &mut short),
            Err(BufferTooSmall {
                needed: 3 * 16 * 16,
                got: 3 * 16 * 16 - 1
            })
        );
        assert!(short.iter().all(|&v| v == 0.0), "nothing written on error");
        let mut long = vec![-1.0; 3 * 16 * 16 + 5];
        letterbox_into(&frame, 16, &mut long).unwrap();
        assert_eq!(&long[3 * 16 * 16..], &[-1.0; 5]);
        assert!(letterbox_into(&frame, usize::MAX, &mut long).is_err());
    }

    #[test]
    fn batch_holds_frames_of_different_sizes() {
        let frames = vec![
            RgbImage::from_pixel(640, 480, image::Rgb([1, 2, 3])),
            RgbImage::from_pixel(100, 300, image::Rgb([4, 5, 6])),
        ];
        let batch = letterbox_batch(&frames, 32);
        assert_eq!(batch.data.len(), 2 * 3 * 32 * 32);
        assert_eq!(batch.letterboxes[1].resized_width, 10);
        assert_eq!(batch.data[3 * 32 * 32], 6.0);
    }
}
