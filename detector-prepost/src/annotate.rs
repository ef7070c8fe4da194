//! Annotation: boxes, labels and the people count drawn on a frame; JPEG and base64 output
//! (the `processed_detection_image` field of the alert payload).

use base64::Engine;
use font8x8::UnicodeFonts;
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

use crate::error::EncodeError;
use crate::postprocess::Detection;

/// The 80 COCO class names, in YOLOX's order.
pub const COCO_CLASSES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// Name of a COCO class id.
pub fn class_name(class_id: usize) -> &'static str {
    COCO_CLASSES.get(class_id).copied().unwrap_or("object")
}

const PERSON_COLOUR: Rgb<u8> = Rgb([0, 220, 60]);
const OTHER_COLOUR: Rgb<u8> = Rgb([255, 170, 0]);
const TEXT_COLOUR: Rgb<u8> = Rgb([255, 255, 255]);
const BANNER_COLOUR: Rgb<u8> = Rgb([20, 20, 20]);

/// Draws every detection (people in green, others in orange) with its label and score, and a
/// banner with the people count. Returns a new image; the input is untouched.
pub fn annotate(frame: &RgbImage, detections: &[Detection], people: usize) -> RgbImage {
    let mut out = frame.clone();
    // Scale lines and text with the frame so they stay readable on 4K and 320p alike.
    let scale = (out.width().max(out.height()) / 640).clamp(1, 4);
    let thickness = 2 * scale;
    for d in detections.iter().rev() {
        let colour = if d.is_person() {
            PERSON_COLOUR
        } else {
            OTHER_COLOUR
        };
        let (x1, y1) = (d.x1.max(0.0) as u32, d.y1.max(0.0) as u32);
        let (x2, y2) = (d.x2.max(0.0) as u32, d.y2.max(0.0) as u32);
        draw_rect(&mut out, x1, y1, x2, y2, thickness, colour);
        let label = format!("{} {:.2}", class_name(d.class_id), d.score);
        draw_box_label(&mut out, (x1, y1), &label, scale, colour);
    }
    draw_banner(&mut out, people, scale);
    out
}

/// A box's label on the box's colour, just above its top-left corner (inside the box when
/// there is no room above).
fn draw_box_label(
    img: &mut RgbImage,
    (x1, y1): (u32, u32),
    label: &str,
    scale: u32,
    colour: Rgb<u8>,
) {
    let label_y = y1.checked_sub(8 * scale + 2).unwrap_or(y1);
    draw_text(img, x1, label_y, label, scale, TEXT_COLOUR, Some(colour));
}

/// The people count, large, in the top-left corner.
fn draw_banner(img: &mut RgbImage, people: usize, scale: u32) {
    let banner = format!("people: {people}");
    draw_text(
        img,
        0,
        0,
        &banner,
        scale * 2,
        TEXT_COLOUR,
        Some(BANNER_COLOUR),
    );
}

/// A tracked person to draw: box in source pixels, track id, and whether the track is
/// confirmed (tentative tracks are drawn thinner, without an id).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackMark {
    pub id: u64,
    pub bbox: [f32; 4],
    pub confirmed: bool,
}

/// A counting line to draw, directed `from` -> `to`, with its counts so far.
#[derive(Debug, Clone, PartialEq)]
pub struct LineMark {
    pub name: String,
    pub from: [f32; 2],
    pub to: [f32; 2],
    pub ins: u64,
    pub outs: u64,
}

/// A zone to draw (polygon in source pixels) with the people inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneMark {
    pub name: String,
    pub points: Vec<[f32; 2]>,
    pub inside: u32,
}

/// What a tracking job draws on a frame (`footfall count --annotate` with lines or zones).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackingOverlay {
    pub tracks: Vec<TrackMark>,
    pub lines: Vec<LineMark>,
    pub zones: Vec<ZoneMark>,
    /// People counted in the frame (the banner).
    pub people: usize,
}

const ZONE_COLOUR: Rgb<u8> = Rgb([40, 160, 255]);
const LINE_COLOUR: Rgb<u8> = Rgb([255, 60, 200]);
const TENTATIVE_COLOUR: Rgb<u8> = Rgb([170, 170, 170]);

/// Draws zones (outline and `name: inside`), counting lines (with a tick on their `in` side and
/// `name in N out M`), tracked people (`#id` on confirmed tracks) and the people banner.
/// Returns a new image; the input is untouched.
pub fn annotate_tracking(frame: &RgbImage, overlay: &TrackingOverlay) -> RgbImage {
    let mut out = frame.clone();
    let (width, height) = out.dimensions();
    // Pixel position of a point, inside the image (tracks predicted past the border, NaN).
    let at = |p: [f32; 2]| -> (u32, u32) {
        let clamp = |v: f32, max: u32| v.clamp(0.0, max.saturating_sub(1) as f32) as u32;
        (clamp(p[0], width), clamp(p[1], height))
    };
    let scale = (width.max(height) / 640).clamp(1, 4);
    let thickness = 2 * scale;
    for zone in &overlay.zones {
        let n = zone.points.len();
        for i in 0..n {
            draw_segment(
                &mut out,
                zone.points[i],
                zone.points[(i + 1) % n],
                thickness,
                ZONE_COLOUR,
            );
        }
        if let Some(anchor) = zone.points.first() {
            let label = format!("{}: {}", zone.name, zone.inside);
            let (x, y) = at(*anchor);
            draw_text(
                &mut out,
                x,
                y,
                &label,
                scale,
                TEXT_COLOUR,
                Some(ZONE_COLOUR),
            );
        }
    }
    for line in &overlay.lines {
        draw_segment(&mut out, line.from, line.to, thickness + scale, LINE_COLOUR);
        // A tick from the middle towards the side a crossing leaves for an `in` (side < 0 of
        // the directed segment, i.e. its right-hand side on screen): shows the direction.
        let (dx, dy) = (line.to[0] - line.from[0], line.to[1] - line.from[1]);
        let length = (dx * dx + dy * dy).sqrt();
        if length > 0.0 {
            let mid = [
                (line.from[0] + line.to[0]) / 2.0,
                (line.from[1] + line.to[1]) / 2.0,
            ];
            let tick = 12.0 * scale as f32;
            let normal = [dy / length, -dx / length];
            let end = [mid[0] + normal[0] * tick, mid[1] + normal[1] * tick];
            draw_segment(&mut out, mid, end, thickness + scale, LINE_COLOUR);
        }
        let label = format!("{} in {} out {}", line.name, line.ins, line.outs);
        let (x, y) = at(line.from);
        draw_text(
            &mut out,
            x,
            y,
            &label,
            scale,
            TEXT_COLOUR,
            Some(LINE_COLOUR),
        );
    }
    for track in &overlay.tracks {
        let [x1, y1, x2, y2] = track.bbox;
        let ((x1, y1), (x2, y2)) = (at([x1, y1]), at([x2, y2]));
        if track.confirmed {
            draw_rect(&mut out, x1, y1, x2, y2, thickness, PERSON_COLOUR);
            let label = format!("#{}", track.id);
            draw_box_label(&mut out, (x1, y1), &label, scale, PERSON_COLOUR);
        } else {
            draw_rect(&mut out, x1, y1, x2, y2, scale, TENTATIVE_COLOUR);
        }
    }
    draw_banner(&mut out, overlay.people, scale);
    out
}

/// A straight segment `t` pixels thick (squares stamped along it; clipped to the image).
fn draw_segment(img: &mut RgbImage, from: [f32; 2], to: [f32; 2], t: u32, colour: Rgb<u8>) {
    let (dx, dy) = (to[0] - from[0], to[1] - from[1]);
    // Non-finite or absurd coordinates draw nothing rather than loop for ever.
    let steps = dx.abs().max(dy.abs()).ceil();
    if !steps.is_finite() || steps > 100_000.0 {
        return;
    }
    let steps = steps as u32;
    let half = (t / 2) as f32;
    for i in 0..=steps {
        let f = if steps == 0 {
            0.0
        } else {
            i as f32 / steps as f32
        };
        let (x, y) = (from[0] + dx * f - half, from[1] + dy * f - half);
        if x + t as f32 <= 0.0 || y + t as f32 <= 0.0 {
            continue;
        }
        let (x, y) = (x.max(0.0) as u32, y.max(0.0) as u32);
        fill(img, x, y, x.saturating_add(t), y.saturating_add(t), colour);
    }
}

fn fill(img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, colour: Rgb<u8>) {
    let (w, h) = img.dimensions();
    for y in y0.min(h)..y1.min(h) {
        for x in x0.min(w)..x1.min(w) {
            img.put_pixel(x, y, colour);
        }
    }
}

fn draw_rect(img: &mut RgbImage, x1: u32, y1: u32, x2: u32, y2: u32, t: u32, colour: Rgb<u8>) {
    fill(img, x1, y1, x2 + 1, y1 + t, colour);
    fill(img, x1, y2.saturating_sub(t) + 1, x2 + 1, y2 + 1, colour);
    fill(img, x1, y1, x1 + t, y2 + 1, colour);
    fill(img, x2.saturating_sub(t) + 1, y1, x2 + 1, y2 + 1, colour);
}

/// Draws text with the 8x8 public-domain font, each font pixel `scale` pixels wide.
fn draw_text(
    img: &mut RgbImage,
    x: u32,
    y: u32,
    text: &str,
    scale: u32,
    colour: Rgb<u8>,
    background: Option<Rgb<u8>>,
) {
    let glyph = 8 * scale;
    if let Some(bg) = background {
        let width = glyph * text.chars().count() as u32 + 2;
        fill(img, x, y, x + width, y + glyph + 2, bg);
    }
    for (i, ch) in text.chars().enumerate() {
        let Some(rows) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        let gx = x + 1 + i as u32 * glyph;
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..8u32 {
                if bits & (1 << col) != 0 {
                    let px = gx + col * scale;
                    let py = y + 1 + row as u32 * scale;
                    fill(img, px, py, px + scale, py + scale, colour);
                }
            }
        }
    }
}

/// Encodes a frame as JPEG (`quality` 1..=100).
pub fn encode_jpeg(frame: &RgbImage, quality: u8) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .encode_image(frame)
        .map_err(|e| EncodeError(e.to_string()))?;
    Ok(out)
}

/// Standard base64 (with padding), as carried in JSON payloads.
pub fn to_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_and_banner_change_the_right_pixels() {
        let frame = RgbImage::from_pixel(320, 240, Rgb([0, 0, 0]));
        let det = Detection {
            x1: 100.0,
            y1: 100.0,
            x2: 200.0,
            y2: 200.0,
            score: 0.9,
            class_id: 0,
        };
        let out = annotate(&frame, &[det], 1);
        assert_eq!(*out.get_pixel(150, 100), PERSON_COLOUR);
        assert_eq!(*out.get_pixel(200, 150), PERSON_COLOUR);
        assert_eq!(
            *out.get_pixel(150, 150),
            Rgb([0, 0, 0]),
            "inside stays untouched"
        );
        assert_eq!(*out.get_pixel(0, 0), BANNER_COLOUR);
        assert_eq!(
            *frame.get_pixel(150, 100),
            Rgb([0, 0, 0]),
            "input untouched"
        );
    }

    #[test]
    fn tracking_overlay_draws_zones_lines_ids_and_banner() {
        let frame = RgbImage::from_pixel(320, 240, Rgb([0, 0, 0]));
        let overlay = TrackingOverlay {
            tracks: vec![
                TrackMark {
                    id: 7,
                    bbox: [100.0, 100.0, 150.0, 200.0],
                    confirmed: true,
                },
                TrackMark {
                    id: 8,
                    bbox: [200.0, 100.0, 250.0, 200.0],
                    confirmed: false,
                },
            ],
            lines: vec![LineMark {
                name: "door".into(),
                from: [160.0, 20.0],
                to: [160.0, 230.0],
                ins: 3,
                outs: 1,
            }],
            zones: vec![ZoneMark {
                name: "q".into(),
                points: vec![[20.0, 150.0], [90.0, 150.0], [90.0, 230.0], [20.0, 230.0]],
                inside: 2,
            }],
            people: 1,
        };
        let out = annotate_tracking(&frame, &overlay);
        assert_eq!(*out.get_pixel(125, 200), PERSON_COLOUR, "confirmed box");
        assert_eq!(*out.get_pixel(225, 200), TENTATIVE_COLOUR, "tentative box");
        assert_eq!(*out.get_pixel(160, 180), LINE_COLOUR, "the line");
        // Top to bottom: `in` is left to right, so the tick points right (x grows).
        assert_eq!(*out.get_pixel(170, 125), LINE_COLOUR, "tick on the in side");
        assert_eq!(
            *out.get_pixel(155, 125),
            Rgb([0, 0, 0]),
            "no tick on the out side"
        );
        assert_eq!(*out.get_pixel(55, 230), ZONE_COLOUR, "zone outline");
        assert_eq!(
            *out.get_pixel(55, 190),
            Rgb([0, 0, 0]),
            "zone inside untouched"
        );
        assert_eq!(*out.get_pixel(0, 0), BANNER_COLOUR);
        // The id label sits above the confirmed box, on the box colour.
        assert!((90..100).any(|y| *out.get_pixel(101, y) == PERSON_COLOUR));
    }

    #[test]
    fn tracking_overlay_survives_wild_geometry() {
        let frame = RgbImage::new(16, 16);
        let overlay = TrackingOverlay {
            tracks: vec![TrackMark {
                id: 1,
                bbox: [-1e9, f32::NAN, 1e9, 1e9],
                confirmed: true,
            }],
            lines: vec![LineMark {
                name: "x".into(),
                from: [f32::INFINITY, 0.0],
                to: [-1e12, 5.0],
                ins: 0,
                outs: 0,
            }],
            zones: vec![ZoneMark {
                name: String::new(),
                points: vec![],
                inside: 0,
            }],
            people: 0,
        };
        let out = annotate_tracking(&frame, &overlay);
        assert_eq!(out.dimensions(), (16, 16));
    }

    #[test]
    fn boxes_outside_or_degenerate_do_not_panic() {
        let frame = RgbImage::new(10, 10);
        let dets = [
            Detection {
                x1: -50.0,
                y1: -5.0,
                x2: 500.0,
                y2: 900.0,
                score: 0.5,
                class_id: 3,
            },
            Detection {
                x1: 8.0,
                y1: 8.0,
                x2: 2.0,
                y2: 2.0,
                score: 0.5,
                class_id: 999,
            },
        ];
        let out = annotate(&frame, &dets, 2);
        assert_eq!(out.dimensions(), (10, 10));
        let _ = annotate(&RgbImage::new(0, 0), &dets, 0);
    }

    #[test]
    fn jpeg_round_trip_and_base64() {
        let frame = RgbImage::from_pixel(16, 8, Rgb([200, 10, 10]));
        let jpeg = encode_jpeg(&frame, 90).unwrap();
        assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (16, 8));
        assert_eq!(to_base64(b"hi"), "aGk=");
    }
}
