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
        let label_h = 8 * scale + 2;
        let label_y = y1.checked_sub(label_h).unwrap_or(y1);
        draw_text(
            &mut out,
            x1,
            label_y,
            &label,
            scale,
            TEXT_COLOUR,
            Some(colour),
        );
    }
    let banner = format!("people: {people}");
    draw_text(
        &mut out,
        0,
        0,
        &banner,
        scale * 2,
        TEXT_COLOUR,
        Some(BANNER_COLOUR),
    );
    out
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
