//! From raw YOLOX predictions to detections in frame pixels: grid decode, `score = obj * cls`,
//! greedy NMS with the legacy `+1` area convention, clipping. The arithmetic follows the
//! reference pipeline step for step (f64 grid products stored as f32, f32 elsewhere), so that
//! boxes match it to the last bits that matter.

use serde::Serialize;

use crate::preprocess::Letterbox;

/// Strides of the three prediction levels.
pub const STRIDES: [usize; 3] = [8, 16, 32];
/// COCO class id of "person".
pub const PERSON_CLASS: usize = 0;

/// A detected object in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Detection {
    /// Left.
    pub x1: f32,
    /// Top.
    pub y1: f32,
    /// Right.
    pub x2: f32,
    /// Bottom.
    pub y2: f32,
    /// `objectness * class probability`.
    pub score: f32,
    /// COCO class id (0 = person).
    pub class_id: usize,
}

impl Detection {
    /// Whether this is a person.
    pub fn is_person(&self) -> bool {
        self.class_id == PERSON_CLASS
    }

    /// `[x1, y1, x2, y2, score, class_id]`, the golden-file layout.
    pub fn to_row(&self) -> [f64; 6] {
        [
            self.x1 as f64,
            self.y1 as f64,
            self.x2 as f64,
            self.y2 as f64,
            self.score as f64,
            self.class_id as f64,
        ]
    }
}

/// Which boxes suppress which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NmsMode {
    /// Any box suppresses any other (the reference behaviour).
    #[default]
    ClassAgnostic,
    /// Only boxes of the same class suppress each other.
    PerClass,
}

/// Which classes are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClassFilter {
    /// All classes; each box takes its best class (the reference behaviour).
    #[default]
    All,
    /// People only: the person score is used directly and the other classes are never
    /// looked at. Faster, and a box whose best class is not "person" but whose person score
    /// passes the threshold still counts, so counts can be slightly higher than with `All`.
    PersonOnly,
}

/// Postprocessing settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostprocessConfig {
    /// Keep detections with `score >= score_threshold`.
    pub score_threshold: f32,
    /// Suppress boxes whose IoU with a better one is above this.
    pub iou_threshold: f32,
    /// NMS grouping.
    pub nms: NmsMode,
    /// Classes decoded.
    pub classes: ClassFilter,
}

impl Default for PostprocessConfig {
    fn default() -> Self {
        Self {
            score_threshold: 0.25,
            iou_threshold: 0.45,
            nms: NmsMode::ClassAgnostic,
            classes: ClassFilter::All,
        }
    }
}

/// Number of anchors (grid cells over all levels) for a square input.
pub fn anchor_count(input_size: usize) -> usize {
    STRIDES.iter().map(|s| (input_size / s).pow(2)).sum()
}

/// Decodes one image's raw predictions `[anchors, 5 + classes]` into detections in frame
/// pixels, sorted by descending score. Non-finite values never produce a detection.
pub fn postprocess(
    raw: &[f32],
    num_classes: usize,
    input_size: usize,
    letterbox: &Letterbox,
    config: &PostprocessConfig,
) -> Vec<Detection> {
    let row = 5 + num_classes;
    let ratio = letterbox.ratio as f32;
    let mut candidates = Vec::new();
    let mut rows = raw.chunks_exact(row);
    for stride in STRIDES {
        let cells = input_size / stride;
        for gy in 0..cells {
            for gx in 0..cells {
                let Some(p) = rows.next() else {
                    return Vec::new();
                };
                let obj = p[4];
                let (score, class_id) = match config.classes {
                    ClassFilter::PersonOnly => (obj * p[5 + PERSON_CLASS], PERSON_CLASS),
                    ClassFilter::All => best_class(obj, &p[5..]),
                };
                // NaN compares as unordered and is skipped, like infinity.
                let passes = score
                    .partial_cmp(&config.score_threshold)
                    .is_some_and(|o| o.is_ge());
                if !passes || !score.is_finite() {
                    continue;
                }
                let s = stride as f64;
                let cx = ((p[0] as f64 + gx as f64) * s) as f32;
                let cy = ((p[1] as f64 + gy as f64) * s) as f32;
                let w = (p[2].exp() as f64 * s) as f32;
                let h = (p[3].exp() as f64 * s) as f32;
                let det = Detection {
                    x1: (cx - w / 2.0) / ratio,
                    y1: (cy - h / 2.0) / ratio,
                    x2: (cx + w / 2.0) / ratio,
                    y2: (cy + h / 2.0) / ratio,
                    score,
                    class_id,
                };
                if [det.x1, det.y1, det.x2, det.y2]
                    .iter()
                    .all(|v| v.is_finite())
                {
                    candidates.push(det);
                }
            }
        }
    }
    let mut kept = match config.nms {
        NmsMode::ClassAgnostic => nms(candidates, config.iou_threshold),
        NmsMode::PerClass => {
            let mut classes: Vec<usize> = candidates.iter().map(|d| d.class_id).collect();
            classes.sort_unstable();
            classes.dedup();
            let mut kept = Vec::new();
            for class in classes {
                let group = candidates
                    .iter()
                    .filter(|d| d.class_id == class)
                    .copied()
                    .collect();
                kept.extend(nms(group, config.iou_threshold));
            }
            sort_by_score(&mut kept);
            kept
        }
    };
    let (w, h) = (letterbox.width as f32, letterbox.height as f32);
    for d in &mut kept {
        d.x1 = d.x1.max(0.0);
        d.y1 = d.y1.max(0.0);
        d.x2 = d.x2.min(w);
        d.y2 = d.y2.min(h);
    }
    kept
}

/// `argmax_c obj * cls[c]` (first maximum wins, as numpy's argmax).
fn best_class(obj: f32, classes: &[f32]) -> (f32, usize) {
    let mut best = (f32::NEG_INFINITY, 0);
    for (c, &p) in classes.iter().enumerate() {
        let score = obj * p;
        if score > best.0 {
            best = (score, c);
        }
    }
    best
}

fn sort_by_score(dets: &mut [Detection]) {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
}

/// IoU with the legacy `+1` pixel convention of the reference (and of py-faster-rcnn).
pub fn iou_plus_one(a: &Detection, b: &Detection) -> f32 {
    let area = |d: &Detection| (d.x2 - d.x1 + 1.0) * (d.y2 - d.y1 + 1.0);
    let iw = (a.x2.min(b.x2) - a.x1.max(b.x1) + 1.0).max(0.0);
    let ih = (a.y2.min(b.y2) - a.y1.max(b.y1) + 1.0).max(0.0);
    let inter = iw * ih;
    inter / (area(a) + area(b) - inter)
}

/// Greedy NMS: take the best remaining box, drop every box with IoU above `iou_threshold`.
pub fn nms(mut dets: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    sort_by_score(&mut dets);
    let mut suppressed = vec![false; dets.len()];
    let mut kept = Vec::new();
    for i in 0..dets.len() {
        if suppressed[i] {
            continue;
        }
        kept.push(dets[i]);
        for j in i + 1..dets.len() {
            // `> threshold` suppresses; `<=` keeps, NaN keeps (numpy's `ovr <= thr` drops NaN,
            // but NaN IoU needs a degenerate box, which the decode never emits).
            if !suppressed[j] && iou_plus_one(&dets[i], &dets[j]) > iou_threshold {
                suppressed[j] = true;
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, score: f32, class_id: usize) -> Detection {
        Detection {
            x1,
            y1,
            x2,
            y2,
            score,
            class_id,
        }
    }

    fn identity_box(size: usize) -> Letterbox {
        Letterbox::new(size as u32, size as u32, size)
    }

    /// Raw output with every cell empty except the given `(anchor, row)` entries.
    fn raw_with(input: usize, classes: usize, cells: &[(usize, Vec<f32>)]) -> Vec<f32> {
        let row = 5 + classes;
        let mut raw = vec![0.0; anchor_count(input) * row];
        for (anchor, values) in cells {
            raw[anchor * row..anchor * row + values.len()].copy_from_slice(values);
        }
        raw
    }

    #[test]
    fn anchors_of_416_and_640() {
        assert_eq!(anchor_count(416), 3549);
        assert_eq!(anchor_count(640), 8400);
    }

    #[test]
    fn decode_places_a_box_on_its_grid_cell() {
        // Cell (gx=2, gy=1) of stride 8 is anchor 1 * 52 + 2; offsets 0.5, w = h = e^0 * 8.
        let mut p = vec![0.5, 0.5, 0.0, 0.0, 0.9, 0.8, 0.1];
        p.resize(7, 0.0);
        let raw = raw_with(416, 2, &[(52 + 2, p)]);
        let dets = postprocess(
            &raw,
            2,
            416,
            &identity_box(416),
            &PostprocessConfig::default(),
        );
        assert_eq!(dets.len(), 1);
        let d = dets[0];
        assert_eq!((d.x1, d.y1, d.x2, d.y2), (16.0, 8.0, 24.0, 16.0));
        assert!((d.score - 0.72).abs() < 1e-6);
        assert_eq!(d.class_id, 0);
    }

    #[test]
    fn decode_uses_stride_32_cells_last_and_maps_back_through_the_ratio() {
        // Last anchor: stride 32, cell (12, 12); frame twice the input size -> ratio 0.5.
        let raw = raw_with(416, 1, &[(3548, vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0])]);
        let lb = Letterbox::new(832, 832, 416);
        let dets = postprocess(&raw, 1, 416, &lb, &PostprocessConfig::default());
        assert_eq!(dets.len(), 1);
        assert_eq!(
            (dets[0].x1, dets[0].x2),
            ((384.0 - 16.0) * 2.0, (384.0 + 16.0) * 2.0)
        );
    }

    #[test]
    fn threshold_is_inclusive_and_nan_inf_never_detect() {
        let raw = raw_with(
            416,
            1,
            &[
                (0, vec![0.0, 0.0, 0.0, 0.0, 0.5, 0.5]), // exactly 0.25
                (100, vec![f32::NAN, 0.0, 0.0, 0.0, 1.0, 1.0]), // NaN box
                (200, vec![0.0, 0.0, f32::INFINITY, 0.0, 1.0, 1.0]), // infinite width
                (300, vec![0.0, 0.0, 0.0, 0.0, f32::NAN, 1.0]), // NaN score
                (400, vec![0.0, 0.0, 0.0, 0.0, f32::INFINITY, 1.0]), // infinite score
            ],
        );
        let dets = postprocess(
            &raw,
            1,
            416,
            &identity_box(416),
            &PostprocessConfig::default(),
        );
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].score, 0.25);
    }

    #[test]
    fn short_or_empty_input_gives_no_detections() {
        let cfg = PostprocessConfig::default();
        assert!(postprocess(&[], 80, 416, &identity_box(416), &cfg).is_empty());
        assert!(postprocess(&[1.0; 85], 80, 416, &identity_box(416), &cfg).is_empty());
    }

    #[test]
    fn argmax_picks_the_first_best_class_and_person_only_ignores_others() {
        let raw = raw_with(416, 3, &[(0, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.3, 0.6, 0.6])]);
        let all = postprocess(
            &raw,
            3,
            416,
            &identity_box(416),
            &PostprocessConfig::default(),
        );
        assert_eq!(all[0].class_id, 1);
        let cfg = PostprocessConfig {
            classes: ClassFilter::PersonOnly,
            ..Default::default()
        };
        let people = postprocess(&raw, 3, 416, &identity_box(416), &cfg);
        assert_eq!((people[0].class_id, people[0].score), (0, 0.3));
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_and_separate_ones() {
        let dets = vec![
            det(0.0, 0.0, 10.0, 10.0, 0.8, 0),
            det(1.0, 1.0, 11.0, 11.0, 0.9, 0),
            det(50.0, 50.0, 60.0, 60.0, 0.7, 0),
        ];
        let kept = nms(dets, 0.45);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.7);
    }

    #[test]
    fn nms_uses_the_plus_one_convention_and_strict_threshold() {
        // Two 10x10 boxes (11x11 with +1) shifted by 1: inter 10*11 = 110, union 132 => 0.833.
        let a = det(0.0, 0.0, 10.0, 10.0, 0.9, 0);
        let b = det(1.0, 0.0, 11.0, 10.0, 0.8, 0);
        assert!((iou_plus_one(&a, &b) - 110.0 / 132.0).abs() < 1e-6);
        // Touching boxes overlap by one pixel column under the +1 convention.
        let c = det(10.0, 0.0, 20.0, 10.0, 0.8, 0);
        assert!(iou_plus_one(&a, &c) > 0.0);
        // IoU exactly at the threshold is kept.
        let iou = iou_plus_one(&a, &b);
        assert_eq!(nms(vec![a, b], iou).len(), 2);
    }

    #[test]
    fn class_agnostic_suppresses_across_classes_per_class_does_not() {
        let raw = raw_with(
            416,
            2,
            &[
                (0, vec![0.0, 0.0, 2.0, 2.0, 1.0, 0.9, 0.0]),
                (1, vec![-1.0, 0.0, 2.0, 2.0, 1.0, 0.0, 0.8]),
            ],
        );
        let agnostic = postprocess(
            &raw,
            2,
            416,
            &identity_box(416),
            &PostprocessConfig::default(),
        );
        assert_eq!(agnostic.len(), 1);
        let cfg = PostprocessConfig {
            nms: NmsMode::PerClass,
            ..Default::default()
        };
        let per_class = postprocess(&raw, 2, 416, &identity_box(416), &cfg);
        assert_eq!(per_class.len(), 2);
        assert!(per_class[0].score >= per_class[1].score);
    }

    #[test]
    fn boxes_are_clipped_to_the_frame_after_nms() {
        let raw = raw_with(416, 1, &[(0, vec![0.0, 0.0, 3.0, 3.0, 1.0, 1.0])]);
        let lb = Letterbox::new(100, 50, 416);
        let dets = postprocess(&raw, 1, 416, &lb, &PostprocessConfig::default());
        let d = dets[0];
        assert_eq!((d.x1, d.y1), (0.0, 0.0));
        assert!(d.x2 <= 100.0 && d.y2 <= 50.0);
    }
}
