//! Writes the binary seed corpora of the fuzz targets (`fuzz/seeds.sh` runs it):
//! `fuzz_seeds DIR` creates `DIR/image_letterbox/seed_*` (tiny PNG, JPEG, BMP and WebP files),
//! `DIR/onnx_weights/seed_*` (small ONNX exports, whole and truncated) and
//! `DIR/decode_nms/seed_*` (raw output tensors with NaN, infinities and huge values).

use std::io::Cursor;
use std::path::Path;

use detector_prepost::onnx::{OnnxConv, encode_convs};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed_{name}")), bytes)
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, format)
        .expect("encoding a tiny image");
    out.into_inner()
}

fn conv(name: &str, shape: [usize; 4], groups: usize) -> OnnxConv {
    let n = shape.iter().product::<usize>();
    OnnxConv {
        node: format!("Conv_{name}"),
        weight_name: format!("{name}.weight"),
        weight_shape: shape.to_vec(),
        weight: (0..n).map(|i| (i as f32 * 0.37).sin()).collect(),
        bias: Some(vec![0.5; shape[0]]),
        groups,
        strides: vec![1, 1],
        pads: vec![1, 1, 1, 1],
    }
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: fuzz_seeds CORPUS_DIR");
    let dir = Path::new(&dir);

    let rgb = DynamicImage::ImageRgb8(RgbImage::from_fn(7, 5, |x, y| {
        Rgb([(x * 36) as u8, (y * 50) as u8, 128])
    }));
    write(
        dir,
        "image_letterbox",
        "rgb.png",
        &encode(&rgb, ImageFormat::Png),
    )?;
    write(
        dir,
        "image_letterbox",
        "rgba.png",
        &encode(&DynamicImage::ImageRgba8(rgb.to_rgba8()), ImageFormat::Png),
    )?;
    write(
        dir,
        "image_letterbox",
        "gray.png",
        &encode(&DynamicImage::ImageLuma8(rgb.to_luma8()), ImageFormat::Png),
    )?;
    let jpeg = encode(&rgb, ImageFormat::Jpeg);
    write(dir, "image_letterbox", "rgb.jpg", &jpeg)?;
    write(dir, "image_letterbox", "cut.jpg", &jpeg[..jpeg.len() / 2])?;
    write(
        dir,
        "image_letterbox",
        "gray.jpg",
        &encode(&DynamicImage::ImageLuma8(rgb.to_luma8()), ImageFormat::Jpeg),
    )?;
    write(
        dir,
        "image_letterbox",
        "tall.bmp",
        &encode(
            &DynamicImage::ImageRgb8(RgbImage::new(1, 40)),
            ImageFormat::Bmp,
        ),
    )?;
    write(
        dir,
        "image_letterbox",
        "rgb.webp",
        &encode(&rgb, ImageFormat::WebP),
    )?;

    let model = encode_convs(&[conv("stem", [4, 3, 3, 3], 1), conv("dw", [4, 1, 3, 3], 4)]);
    write(dir, "onnx_weights", "two_convs", &model)?;
    write(dir, "onnx_weights", "cut", &model[..model.len() * 2 / 3])?;
    write(dir, "onnx_weights", "empty_graph", &encode_convs(&[]))?;

    // Header: classes-1, size/32-1, width (u16), height (u16), score and IoU thresholds (/255),
    // NMS and class flags, truncation flag, 2 spare bytes; then f32 values.
    let floats = |header: [u8; 12], values: &[f32]| -> Vec<u8> {
        let mut bytes = header.to_vec();
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        bytes
    };
    let plain = [0.5, 0.5, 0.0, 0.0, 0.9, 0.8, 0.1];
    write(
        dir,
        "decode_nms",
        "plain",
        &floats([1, 0, 64, 0, 48, 0, 64, 115, 0, 0, 0, 0], &plain),
    )?;
    let hostile = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        -f32::MAX,
        1e-40,
        88.8,
        0.99,
        1.0,
    ];
    write(
        dir,
        "decode_nms",
        "hostile",
        &floats([3, 2, 255, 255, 1, 0, 0, 255, 3, 0, 0, 0], &hostile),
    )?;
    write(
        dir,
        "decode_nms",
        "short",
        &floats([0, 1, 10, 0, 10, 0, 10, 10, 1, 255, 0, 0], &plain),
    )?;
    Ok(())
}
