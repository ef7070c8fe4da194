//! Frames: decoding image files into `image::RgbImage` with bounded memory.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::ImageError;

/// Largest accepted width or height.
pub const MAX_SIDE: u32 = 16_384;
/// Largest accepted frame in pixels (8K UHD is 33.2 Mpx). Checked on the header, so a few bytes
/// claiming 16384x16384 cannot make the decoder allocate 805 MB.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Largest decoder allocation (bytes): [`MAX_PIXELS`] at 16-bit RGBA with room for one
/// conversion.
pub const MAX_ALLOC: u64 = 512 << 20;

/// Decodes an encoded image (JPEG, PNG, BMP, WebP) into RGB, honouring EXIF orientation as
/// OpenCV's `imread` does. Gray is replicated and alpha dropped. Images wider or taller than
/// [`MAX_SIDE`], or larger than [`MAX_PIXELS`], are refused before any pixel memory is
/// allocated.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<RgbImage, ImageError> {
    let fail = |reason: String| ImageError::new(name, reason);
    if bytes.is_empty() {
        return Err(fail("the file is empty".into()));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| fail(e.to_string()))?;
    if reader.format().is_none() {
        return Err(fail("unrecognised image format".into()));
    }
    #[cfg(feature = "libjpeg-turbo")]
    if reader.format() == Some(image::ImageFormat::Jpeg)
        && let Some(frame) = decode_jpeg_turbo(bytes, name)?
    {
        return Ok(frame);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| fail(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    check_size(w as usize, h as usize).map_err(fail)?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| fail(e.to_string()))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(image.to_rgb8())
}

/// Decodes a JPEG with libjpeg-turbo (accurate integer IDCT, fancy upsampling: OpenCV's
/// `imread` settings), so that pixels, and therefore detections, match the reference exactly.
/// Returns `None` for colour spaces it cannot turn into RGB (CMYK), left to the image crate.
#[cfg(feature = "libjpeg-turbo")]
fn decode_jpeg_turbo(bytes: &[u8], name: &str) -> Result<Option<RgbImage>, ImageError> {
    let fail = |reason: String| ImageError::new(name, reason);
    let header = turbojpeg::read_header(bytes).map_err(|e| fail(e.to_string()))?;
    if matches!(
        header.colorspace,
        turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK
    ) {
        return Ok(None);
    }
    check_size(header.width, header.height).map_err(fail)?;
    let decoded = turbojpeg::decompress(bytes, turbojpeg::PixelFormat::RGB)
        .map_err(|e| fail(e.to_string()))?;
    let (w, h) = (decoded.width as u32, decoded.height as u32);
    let mut pixels = decoded.pixels;
    // Rows may be padded to the pitch; compact them.
    if decoded.pitch != decoded.width * 3 {
        pixels = pixels
            .chunks_exact(decoded.pitch)
            .flat_map(|row| row[..decoded.width * 3].to_vec())
            .collect();
    }
    let frame = RgbImage::from_raw(w, h, pixels)
        .ok_or_else(|| fail("decoded buffer has the wrong size".into()))?;
    let orientation = image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes))
        .ok()
        .and_then(|mut d| d.orientation().ok());
    let mut image = DynamicImage::ImageRgb8(frame);
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(Some(image.into_rgb8()))
}

/// The frame-size limits, on the header's dimensions.
fn check_size(width: usize, height: usize) -> Result<(), String> {
    if width > MAX_SIDE as usize || height > MAX_SIDE as usize {
        return Err(format!(
            "{width}x{height} pixels exceeds the limit of {MAX_SIDE} per side"
        ));
    }
    if (width as u64) * (height as u64) > MAX_PIXELS {
        return Err(format!(
            "{width}x{height} pixels exceeds the limit of {MAX_PIXELS} pixels"
        ));
    }
    Ok(())
}

/// Reads and decodes an image file.
pub fn load_image(path: &Path) -> Result<RgbImage, ImageError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ImageError::new(&name, e.to_string()))?;
    decode_image(&bytes, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn empty_and_garbage_bytes_are_clear_errors() {
        let err = decode_image(&[], "empty.jpg").unwrap_err().to_string();
        assert!(err.contains("empty.jpg") && err.contains("empty"), "{err}");
        let err = decode_image(b"hello world, not an image", "x.jpg").unwrap_err();
        assert!(err.to_string().contains("x.jpg"));
    }

    #[test]
    fn truncated_jpeg_is_an_error_or_a_partial_image_never_a_panic() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8 * 3, y as u8 * 5, 100])
        }));
        let jpeg = encode(&img, image::ImageFormat::Jpeg);
        for cut in [2, 10, 100, jpeg.len() / 2, jpeg.len() - 2] {
            let _ = decode_image(&jpeg[..cut], "cut.jpg");
        }
        assert!(decode_image(&jpeg[..10], "cut.jpg").is_err());
    }

    #[test]
    fn png_with_alpha_and_gray_become_rgb() {
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            5,
            4,
            image::Rgba([10, 20, 30, 0]),
        ));
        let rgb = decode_image(&encode(&rgba, image::ImageFormat::Png), "a.png").unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [10, 20, 30]);
        let gray = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(3, 3, image::Luma([77])));
        let rgb = decode_image(&encode(&gray, image::ImageFormat::Png), "g.png").unwrap();
        assert_eq!(rgb.get_pixel(1, 1).0, [77, 77, 77]);
    }

    #[test]
    fn a_header_over_the_pixel_budget_is_refused_for_jpeg_and_png() {
        // A real 16x16 JPEG whose frame header (SOF0) is patched to 16000 x 16000: each side is
        // under MAX_SIDE but the frame would need 768 MB.
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(16, 16, image::Rgb([9, 9, 9])));
        let mut jpeg = encode(&img, image::ImageFormat::Jpeg);
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline JPEG has SOF0");
        jpeg[sof + 5..sof + 7].copy_from_slice(&16000u16.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&16000u16.to_be_bytes());
        let err = decode_image(&jpeg, "big.jpg").unwrap_err().to_string();
        assert!(
            err.contains("16000x16000") && err.contains("pixels"),
            "{err}"
        );

        let mut png = png_header(10000, 10000);
        // An empty IDAT and IEND, so the decoder gets past the header to the size check.
        for chunk in [&b"IDAT"[..], b"IEND"] {
            png.extend_from_slice(&0u32.to_be_bytes());
            png.extend_from_slice(chunk);
            png.extend_from_slice(&crc32(chunk).to_be_bytes());
        }
        let err = decode_image(&png, "big.png").unwrap_err().to_string();
        assert!(err.contains("limit of 40000000 pixels"), "{err}");
    }

    #[test]
    fn huge_dimensions_are_refused_before_allocation() {
        // A valid PNG header announcing 20000 x 20000 pixels, followed by nothing.
        let png = png_header(20000, 20000);
        let err = decode_image(&png, "huge.png").unwrap_err().to_string();
        assert!(err.contains("huge.png"), "{err}");
    }

    /// The PNG signature and an IHDR chunk for an 8-bit RGB image of `width x height`.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(b"IHDR");
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
