//! Max-pooling and nearest upsampling on NCHW `f32` slices: SPP's stride-1 "same" max-pools and
//! the PAFPN's 2x upsampling. Burn's flex runs both with a per-element strided iterator; here the
//! max-pool is separable (rows, then columns: the max over a square is the max of row maxima)
//! and the upsampling copies whole rows.

use rayon::prelude::*;

/// Stride-1 max-pool with a `kernel x kernel` window and `kernel / 2` padding that never wins
/// (PyTorch's semantics). `kernel` must be odd; returns `None` otherwise or on a length mismatch.
pub fn max_pool_same(input: &[f32], dims: [usize; 4], kernel: usize) -> Option<Vec<f32>> {
    let [b, c, h, w] = dims;
    let plane = h * w;
    if kernel.is_multiple_of(2) || input.len() != b * c * plane || plane == 0 {
        return None;
    }
    let r = kernel / 2;
    let mut out = vec![0.0f32; input.len()];
    out.par_chunks_mut(plane)
        .zip(input.par_chunks(plane))
        .for_each(|(dst, src)| {
            let mut rows = vec![0.0f32; plane];
            for y in 0..h {
                let (s, d) = (&src[y * w..][..w], &mut rows[y * w..][..w]);
                for x in 0..w {
                    let window = &s[x.saturating_sub(r)..(x + r + 1).min(w)];
                    d[x] = window.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                }
            }
            for y in 0..h {
                let d = &mut dst[y * w..][..w];
                d.copy_from_slice(&rows[y.saturating_sub(r) * w..][..w]);
                for yy in y.saturating_sub(r) + 1..(y + r + 1).min(h) {
                    for (o, &v) in d.iter_mut().zip(&rows[yy * w..][..w]) {
                        *o = o.max(v);
                    }
                }
            }
        });
    Some(out)
}

/// Nearest-neighbour upsampling by an integer `factor` in both directions.
pub fn upsample_nearest(input: &[f32], dims: [usize; 4], factor: usize) -> Option<Vec<f32>> {
    let [b, c, h, w] = dims;
    let (oh, ow) = (h * factor, w * factor);
    if factor == 0 || input.len() != b * c * h * w || h * w == 0 {
        return None;
    }
    let mut out = vec![0.0f32; b * c * oh * ow];
    out.par_chunks_mut(oh * ow)
        .zip(input.par_chunks(h * w))
        .for_each(|(dst, src)| {
            for y in 0..h {
                let (first, rest) = dst[y * factor * ow..][..factor * ow].split_at_mut(ow);
                for (x, &v) in src[y * w..][..w].iter().enumerate() {
                    first[x * factor..][..factor].fill(v);
                }
                for copy in rest.chunks_exact_mut(ow) {
                    copy.copy_from_slice(first);
                }
            }
        });
    Some(out)
}

/// YOLOX's Focus space-to-depth: `[B, C, H, W] -> [B, 4C, H/2, W/2]` with output channel
/// `(dx * 2 + dy) * C + c` holding `x[c, 2Y + dy, 2X + dx]` (patches in the order top-left,
/// bottom-left, top-right, bottom-right). `None` for odd sizes or a length mismatch.
pub fn space_to_depth(input: &[f32], dims: [usize; 4]) -> Option<Vec<f32>> {
    let [b, c, h, w] = dims;
    if h % 2 != 0 || w % 2 != 0 || input.len() != b * c * h * w || h * w == 0 || c == 0 {
        return None;
    }
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0.0f32; input.len()];
    out.par_chunks_mut(oh * ow)
        .enumerate()
        .for_each(|(plane, dst)| {
            let (image, channel) = (plane / (4 * c), plane % (4 * c));
            let (patch, ci) = (channel / c, channel % c);
            let (dx, dy) = (patch / 2, patch % 2);
            let src = &input[(image * c + ci) * h * w..][..h * w];
            for (y, row) in dst.chunks_exact_mut(ow).enumerate() {
                let line = &src[(2 * y + dy) * w..][..w];
                for (x, v) in row.iter_mut().enumerate() {
                    *v = line[2 * x + dx];
                }
            }
        });
    Some(out)
}

/// One head level's predictions as rows: `[B, C_i, H, W]` parts (box, objectness, classes)
/// to `[B, H * W, sum C_i]`, the layout of YOLOX's output (one row per grid cell). Written in
/// one pass over blocks of cells, so the reads of each part's channel rows and the writes of a
/// block of output rows both stay in L1. `None` on a length mismatch.
pub fn cells_as_rows(parts: &[(&[f32], usize)], batch: usize, cells: usize) -> Option<Vec<f32>> {
    const BLOCK: usize = 32;
    let width: usize = parts.iter().map(|p| p.1).sum();
    let sane = parts.iter().all(|(v, c)| v.len() == batch * c * cells) && width > 0;
    if !sane {
        return None;
    }
    let mut out = vec![0.0f32; batch * cells * width];
    out.par_chunks_mut(BLOCK * width)
        .enumerate()
        .for_each(|(block, rows)| {
            let first = block * BLOCK;
            let mut column = 0;
            for &(values, channels) in parts {
                for c in 0..channels {
                    for (i, row) in rows.chunks_exact_mut(width).enumerate() {
                        let cell = first + i;
                        let (image, p) = (cell / cells, cell % cells);
                        row[column + c] = values[(image * channels + c) * cells + p];
                    }
                }
                column += channels;
            }
        });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pool_matches_the_definition_with_ignored_padding() {
        let (h, w) = (5, 7);
        let input: Vec<f32> = (0..2 * h * w)
            .map(|i| ((i * 37 % 23) as f32) - 15.0)
            .collect();
        for kernel in [1, 3, 5, 9] {
            let out = max_pool_same(&input, [1, 2, h, w], kernel).unwrap();
            let r = kernel as isize / 2;
            for p in 0..2 {
                for y in 0..h as isize {
                    for x in 0..w as isize {
                        let mut want = f32::NEG_INFINITY;
                        for yy in (y - r).max(0)..(y + r + 1).min(h as isize) {
                            for xx in (x - r).max(0)..(x + r + 1).min(w as isize) {
                                want = want.max(input[p * h * w + yy as usize * w + xx as usize]);
                            }
                        }
                        let got = out[p * h * w + y as usize * w + x as usize];
                        assert_eq!(got, want, "kernel {kernel} at ({y}, {x})");
                    }
                }
            }
        }
        assert!(max_pool_same(&input, [1, 2, h, w], 4).is_none());
        assert!(max_pool_same(&input[1..], [1, 2, h, w], 3).is_none());
    }

    #[test]
    fn space_to_depth_follows_yolox_patch_order() {
        let (b, c, h, w) = (2, 3, 4, 6);
        let input: Vec<f32> = (0..b * c * h * w).map(|i| i as f32).collect();
        let out = space_to_depth(&input, [b, c, h, w]).unwrap();
        let (oh, ow) = (h / 2, w / 2);
        for n in 0..b {
            for (patch, (dy, dx)) in [(0, 0), (1, 0), (0, 1), (1, 1)].into_iter().enumerate() {
                for ci in 0..c {
                    for y in 0..oh {
                        for x in 0..ow {
                            let got = out[(((n * 4 * c) + patch * c + ci) * oh + y) * ow + x];
                            let want = input[((n * c + ci) * h + 2 * y + dy) * w + 2 * x + dx];
                            assert_eq!(got, want);
                        }
                    }
                }
            }
        }
        assert!(space_to_depth(&input[..b * c * 3 * w], [b, c, 3, w]).is_none());
    }

    #[test]
    fn upsample_repeats_each_value_in_a_block() {
        let input = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let out = upsample_nearest(&input, [1, 1, 2, 3], 2).unwrap();
        assert_eq!(
            out,
            [
                1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0,
                6.0, 6.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0
            ]
        );
        assert!(upsample_nearest(&input, [1, 1, 2, 2], 2).is_none());
    }

    #[test]
    fn cells_as_rows_is_cat_reshape_and_transpose() {
        let (batch, cells) = (2, 37);
        let sizes = [4usize, 1, 3];
        let parts: Vec<Vec<f32>> = sizes
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                (0..batch * c * cells)
                    .map(|i| (k * 1000 + i) as f32)
                    .collect()
            })
            .collect();
        let views: Vec<(&[f32], usize)> = parts.iter().map(|v| v.as_slice()).zip(sizes).collect();
        let out = cells_as_rows(&views, batch, cells).unwrap();
        for b in 0..batch {
            for p in 0..cells {
                let mut column = 0;
                for (k, &c) in sizes.iter().enumerate() {
                    for ch in 0..c {
                        assert_eq!(
                            out[(b * cells + p) * 8 + column + ch],
                            parts[k][(b * c + ch) * cells + p]
                        );
                    }
                    column += c;
                }
            }
        }
        assert!(cells_as_rows(&[(&[1.0], 2)], 1, 1).is_none());
    }
}
