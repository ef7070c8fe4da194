//! Tiled detection for small, distant people: the frame is cut into an overlapping grid of
//! tiles, each tile goes through the network at full input size next to the whole frame, and
//! the detections are merged back into frame pixels. This is the slicing-aided inference of
//! SAHI (Akyon et al., "Slicing Aided Hyper Inference and Fine-tuning for Small Object
//! Detection", ICIP 2022): a person 20 px tall in a 1280 px frame is 6.5 px at a 416 input,
//! below what YOLOX-Nano's stride-8 level finds; in a 2x2 grid they are twice that.
//!
//! Merging: tile detections are shifted into frame pixels; a detection that touches a tile's
//! cut edge (an edge inside the frame) may be half a person, so it is considered only after
//! every uncut box; one greedy pass keeps the best-scored boxes and suppresses any box
//! whose IoU with a kept one exceeds the NMS threshold or that lies mostly inside a kept one
//! (intersection over the smaller box >= [`Tiling::MAX_CONTAINED`]): the same person seen
//! whole in the frame and in a tile.

use crate::postprocess::Detection;

/// A `COLSxROWS` grid of tiles overlapping by `overlap` of a tile's side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tiling {
    pub cols: u32,
    pub rows: u32,
    /// Fraction of a tile's width (height) shared with its neighbour, in `[0, 0.5]`.
    pub overlap: f32,
}

/// A `--tiles` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tiles {0:?}: expected COLSxROWS with 1 to 4 each, e.g. 2x2")]
pub struct TilingParseError(String);

impl std::str::FromStr for Tiling {
    type Err = TilingParseError;

    /// `COLSxROWS` (e.g. `2x2`, `3x2`), each 1..=4, with 20 % overlap.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = || TilingParseError(s.to_string());
        let (cols, rows) = s.trim().split_once(['x', 'X']).ok_or_else(refuse)?;
        let parse = |v: &str| v.trim().parse::<u32>().ok().filter(|n| (1..=4).contains(n));
        Ok(Self {
            cols: parse(cols).ok_or_else(refuse)?,
            rows: parse(rows).ok_or_else(refuse)?,
            overlap: Self::DEFAULT_OVERLAP,
        })
    }
}

impl std::fmt::Display for Tiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.cols, self.rows)
    }
}

/// One tile: its rectangle in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Tiling {
    pub const DEFAULT_OVERLAP: f32 = 0.2;
    /// A box this much inside a better one (intersection over its own area) is the same person.
    pub const MAX_CONTAINED: f32 = 0.8;
    /// How close (px) to a cut edge a box must reach to count as cut.
    const EDGE_PX: f32 = 2.0;

    /// Forward passes per frame: the whole frame and every tile (`1x1` is the frame alone).
    pub fn passes(&self) -> usize {
        if self.cols * self.rows <= 1 {
            1
        } else {
            1 + (self.cols * self.rows) as usize
        }
    }

    /// The tiles of a `width x height` frame, row by row (none for `1x1`).
    pub fn tiles(&self, width: u32, height: u32) -> Vec<Tile> {
        if self.passes() == 1 || width == 0 || height == 0 {
            return Vec::new();
        }
        let overlap = self.overlap.clamp(0.0, 0.5);
        // n tiles of side s overlapping by o*s cover n*s - (n-1)*o*s = length.
        let side = |length: u32, n: u32| {
            let s = length as f32 / (n as f32 - (n as f32 - 1.0) * overlap);
            (s.ceil() as u32).clamp(1, length)
        };
        let (tw, th) = (side(width, self.cols), side(height, self.rows));
        let start = |i: u32, n: u32, length: u32, s: u32| {
            if n == 1 {
                0
            } else {
                // Evenly from 0 to length - s.
                ((length - s) as f32 * i as f32 / (n - 1) as f32).round() as u32
            }
        };
        let mut tiles = Vec::with_capacity((self.cols * self.rows) as usize);
        for r in 0..self.rows {
            for c in 0..self.cols {
                tiles.push(Tile {
                    x: start(c, self.cols, width, tw),
                    y: start(r, self.rows, height, th),
                    width: tw,
                    height: th,
                });
            }
        }
        tiles
    }

    /// Merges the whole frame's detections with each tile's (in tile pixels, `per_tile[i]`
    /// for `tiles[i]`) into frame pixels, sorted by score.
    pub fn merge(
        &self,
        frame: (u32, u32),
        whole: Vec<Detection>,
        tiles: &[Tile],
        per_tile: Vec<Vec<Detection>>,
        iou_threshold: f32,
    ) -> Vec<Detection> {
        let (width, height) = (frame.0 as f32, frame.1 as f32);
        let mut candidates: Vec<(Detection, bool)> =
            whole.into_iter().map(|d| (d, false)).collect();
        for (tile, detections) in tiles.iter().zip(per_tile) {
            let (x0, y0) = (tile.x as f32, tile.y as f32);
            let (x1, y1) = (x0 + tile.width as f32, y0 + tile.height as f32);
            for d in detections {
                let d = Detection {
                    x1: d.x1 + x0,
                    y1: d.y1 + y0,
                    x2: d.x2 + x0,
                    y2: d.y2 + y0,
                    ..d
                };
                let e = Self::EDGE_PX;
                let cut = (x0 > 0.0 && d.x1 <= x0 + e)
                    || (y0 > 0.0 && d.y1 <= y0 + e)
                    || (x1 < width && d.x2 >= x1 - e)
                    || (y1 < height && d.y2 >= y1 - e);
                candidates.push((d, cut));
            }
        }
        // Uncut boxes first, each group by score: half a person never suppresses a whole one.
        candidates.sort_by(|a, b| a.1.cmp(&b.1).then(b.0.score.total_cmp(&a.0.score)));
        let mut kept: Vec<Detection> = Vec::new();
        for (d, _) in candidates {
            let duplicate = kept.iter().any(|k| {
                let inter = intersection(k, &d);
                let union = area(k) + area(&d) - inter;
                let iou = if union > 0.0 { inter / union } else { 0.0 };
                let contained = inter / area(&d).min(area(k)).max(f32::MIN_POSITIVE);
                iou > iou_threshold || contained >= Self::MAX_CONTAINED
            });
            // A cut box that nothing covers is still a person (at least their visible part).
            if !duplicate {
                kept.push(d);
            }
        }
        kept.sort_by(|a, b| b.score.total_cmp(&a.score));
        kept
    }
}

fn area(d: &Detection) -> f32 {
    (d.x2 - d.x1).max(0.0) * (d.y2 - d.y1).max(0.0)
}

fn intersection(a: &Detection, b: &Detection) -> f32 {
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    w * h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Detection {
        Detection {
            x1,
            y1,
            x2,
            y2,
            score,
            class_id: 0,
        }
    }

    #[test]
    fn parses_and_prints() {
        let t: Tiling = "2x3".parse().unwrap();
        assert_eq!((t.cols, t.rows), (2, 3));
        assert_eq!(t.to_string(), "2x3");
        for bad in ["", "2", "0x2", "5x1", "2x2x2", "axb", "-1x2"] {
            assert!(bad.parse::<Tiling>().is_err(), "{bad}");
        }
        assert_eq!("1x1".parse::<Tiling>().unwrap().passes(), 1);
        assert_eq!("2x2".parse::<Tiling>().unwrap().passes(), 5);
    }

    #[test]
    fn tiles_cover_the_frame_with_the_overlap() {
        let tiling: Tiling = "3x2".parse().unwrap();
        let tiles = tiling.tiles(1280, 720);
        assert_eq!(tiles.len(), 6);
        for tile in &tiles {
            assert!(
                tile.x + tile.width <= 1280 && tile.y + tile.height <= 720,
                "{tile:?}"
            );
        }
        assert_eq!(tiles[0].x, 0);
        assert_eq!(tiles[2].x + tiles[2].width, 1280);
        assert_eq!(tiles[5].y + tiles[5].height, 720);
        // Neighbours share about 20 % of a tile.
        let shared = tiles[0].x + tiles[0].width - tiles[1].x;
        let expected = 0.2 * tiles[0].width as f32;
        assert!(
            (shared as f32 - expected).abs() <= 2.0,
            "{shared} vs {expected}"
        );
        assert!(tiling.tiles(0, 10).is_empty());
        assert_eq!("1x1".parse::<Tiling>().unwrap().tiles(100, 100), vec![]);
        // Tiny frames still give tiles inside the frame.
        for tile in tiling.tiles(3, 2) {
            assert!(tile.width >= 1 && tile.x + tile.width <= 3, "{tile:?}");
        }
    }

    #[test]
    fn merge_keeps_small_people_and_drops_duplicates_and_cut_halves() {
        let tiling: Tiling = "2x1".parse().unwrap();
        let tiles = tiling.tiles(200, 100);
        // tiles: x 0..112 and x 88..200 (overlap 24 px).
        assert_eq!((tiles[0].x, tiles[0].width, tiles[1].x), (0, 112, 88));
        let whole = vec![person(90.0, 10.0, 110.0, 90.0, 0.9)];
        let per_tile = vec![
            vec![
                // The same person seen in the left tile (slightly different box).
                person(91.0, 11.0, 109.0, 90.0, 0.95),
                // A small person only the tile found.
                person(10.0, 10.0, 16.0, 30.0, 0.6),
            ],
            vec![
                // The right tile cuts the same person at its left edge (x = 88 in the
                // frame): their right half.
                person(1.0, 12.0, 18.0, 89.0, 0.7),
            ],
        ];
        let merged = tiling.merge((200, 100), whole, &tiles, per_tile, 0.45);
        assert_eq!(merged.len(), 2, "{merged:?}");
        assert_eq!(
            merged[0].score, 0.95,
            "the best-scored view of a person wins"
        );
        assert_eq!((merged[1].x1, merged[1].y2), (10.0, 30.0));
    }
}
