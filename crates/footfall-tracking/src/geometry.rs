//! Boxes and points in pixels of the source frame (x right, y down).

/// A box `[x1, y1, x2, y2]`: top-left and bottom-right corners, in source-frame pixels.
pub type BBox = [f32; 4];

/// A point `[x, y]` in source-frame pixels.
pub type Point = [f32; 2];

/// The bottom-centre of a box: where a standing person's feet touch the floor. Lines and zones
/// are judged on this point, so a person counts where they walk, not where their head is.
pub fn foot_point(b: &BBox) -> Point {
    [(b[0] + b[2]) * 0.5, b[3]]
}

/// Area of a box; zero for an empty or inverted one.
pub fn area(b: &BBox) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// Intersection over union of two boxes, in `[0, 1]`; zero when either is empty.
pub fn iou(a: &BBox, b: &BBox) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// `[x1, y1, x2, y2]` to the Kalman measurement `[cx, cy, a, h]` (`a` = width / height).
pub(crate) fn to_xyah(b: &BBox) -> [f32; 4] {
    let w = b[2] - b[0];
    let h = (b[3] - b[1]).max(1e-3);
    [b[0] + w * 0.5, b[1] + h * 0.5, w / h, h]
}

/// `[cx, cy, a, h]` back to `[x1, y1, x2, y2]`.
pub(crate) fn from_xyah(m: &[f32]) -> BBox {
    let h = m[3];
    let w = m[2] * h;
    [
        m[0] - w * 0.5,
        m[1] - h * 0.5,
        m[0] + w * 0.5,
        m[1] + h * 0.5,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        let a = [0.0, 0.0, 10.0, 10.0];
        assert_eq!(iou(&a, &a), 1.0);
        assert_eq!(iou(&a, &[20.0, 20.0, 30.0, 30.0]), 0.0);
        // 50 shared of 150 in the union.
        assert!((iou(&a, &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 0.0, 0.0]), 0.0);
    }

    #[test]
    fn xyah_round_trips_and_feet_are_bottom_centre() {
        let b = [10.0, 20.0, 50.0, 120.0];
        let m = to_xyah(&b);
        assert_eq!(m, [30.0, 70.0, 0.4, 100.0]);
        let back = from_xyah(&m);
        for i in 0..4 {
            assert!((back[i] - b[i]).abs() < 1e-4);
        }
        assert_eq!(foot_point(&b), [30.0, 120.0]);
    }
}
