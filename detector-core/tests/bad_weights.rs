//! Wrong, truncated or foreign weight files give an error that names the problem.

mod common;

use detector_core::{Detector, DetectorConfig, DetectorError, ModelSize, WeightsError};

fn nano_bytes() -> Vec<u8> {
    std::fs::read(common::shared_dir().join("weights/yolox_nano.onnx")).unwrap()
}

fn build(bytes: &[u8], model: ModelSize) -> Result<Detector, DetectorError> {
    Detector::from_onnx_bytes(
        DetectorConfig {
            model,
            ..Default::default()
        },
        bytes,
    )
}

#[test]
fn truncated_file_is_a_format_error() {
    let bytes = nano_bytes();
    for cut in [0, 1, 100, bytes.len() / 3, bytes.len() - 1] {
        let err = build(&bytes[..cut], ModelSize::Nano).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                DetectorError::Weights(
                    WeightsError::Format { .. }
                        | WeightsError::Tensor { .. }
                        | WeightsError::ConvCount { .. }
                )
            ),
            "cut at {cut}: {text}"
        );
    }
}

#[test]
fn random_bytes_are_rejected() {
    let junk: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(build(&junk, ModelSize::Nano).is_err());
}

#[test]
fn weights_of_another_size_name_the_first_misfit_layer() {
    let bytes = nano_bytes();
    for size in [ModelSize::Tiny, ModelSize::S, ModelSize::L] {
        let err = build(&bytes, size).unwrap_err().to_string();
        assert!(err.contains(size.name()), "{err}");
        assert!(
            err.contains("convolutions") || err.contains("layer backbone"),
            "{err}"
        );
    }
}

#[test]
fn missing_file_and_unknown_model_are_clear() {
    let err = Detector::new(DetectorConfig {
        weights: Some("/nonexistent/yolox.onnx".into()),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent/yolox.onnx"), "{err}");
    assert!("yolov99".parse::<ModelSize>().is_err());
}

#[test]
fn bad_configuration_is_refused() {
    let bytes = nano_bytes();
    let err = Detector::from_onnx_bytes(
        DetectorConfig {
            input_size: Some(400),
            ..Default::default()
        },
        &bytes,
    )
    .unwrap_err();
    assert!(matches!(err, DetectorError::Config(_)), "{err}");
}

#[test]
fn tiny_and_odd_frames_run_without_panicking() {
    let det = build(&nano_bytes(), ModelSize::Nano).unwrap();
    let frames = vec![
        image::RgbImage::new(1, 1),
        image::RgbImage::new(0, 0),
        image::RgbImage::from_pixel(3, 2000, image::Rgb([255, 255, 255])),
    ];
    let out = det.detect(&frames).unwrap();
    assert_eq!(out.len(), 3);
    assert!(
        out.iter()
            .all(|d| d.is_empty() || d.iter().all(|x| x.score >= 0.25))
    );
}
