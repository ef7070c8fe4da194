//! Wrong, truncated or foreign weight files give an error that names the problem.

mod common;

use detector_core::weights::manifest::{WeightsLocator, entry};
use detector_core::{
    Detector, DetectorError, ModelSize, OnnxWeights, PostprocessConfig, RunOptions, WeightsError,
};
use detector_prepost::onnx::{encode_convs, read_convs};

fn nano_bytes() -> Vec<u8> {
    std::fs::read(common::shared_dir().join("weights/yolox_nano.onnx")).unwrap()
}

fn build(bytes: &[u8]) -> Result<Detector, DetectorError> {
    Detector::from_onnx_bytes(bytes, RunOptions::default(), PostprocessConfig::default())
}

#[test]
fn truncated_file_is_a_format_error() {
    let bytes = nano_bytes();
    for cut in [0, 1, 100, bytes.len() / 3, bytes.len() - 1] {
        let err = build(&bytes[..cut]).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                DetectorError::Weights(
                    WeightsError::Onnx(_)
                        | WeightsError::NotYolox { .. }
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
    assert!(build(&junk).is_err());
}

#[test]
fn the_model_size_is_read_from_the_weights() {
    let weights = OnnxWeights::from_bytes(&nano_bytes()).unwrap();
    assert_eq!(weights.model_size(), ModelSize::Nano);
    let det = Detector::from_weights(weights, RunOptions::default(), PostprocessConfig::default())
        .unwrap();
    assert_eq!(det.model_size(), ModelSize::Nano);
    assert_eq!(det.input_size(), 416);
}

#[test]
fn a_requested_size_that_disagrees_with_the_file_is_refused() {
    for size in [ModelSize::Tiny, ModelSize::S, ModelSize::L] {
        let err = OnnxWeights::from_bytes(&nano_bytes())
            .unwrap()
            .expect_size(size)
            .unwrap_err();
        assert!(
            matches!(
                err,
                WeightsError::SizeMismatch { requested, found: ModelSize::Nano } if requested == size
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(size.name()) && text.contains("yolox_nano"),
            "{text}"
        );
    }
    assert!(
        OnnxWeights::from_bytes(&nano_bytes())
            .unwrap()
            .expect_size(ModelSize::Nano)
            .is_ok()
    );
}

/// A stem of another size's width over nano's other layers: the size is taken from the stem,
/// and the layer-by-layer check still names the first layer that does not fit.
#[test]
fn weights_that_only_look_right_at_the_stem_name_the_first_misfit_layer() {
    let mut convs = read_convs(&nano_bytes()).unwrap();
    let stem = &mut convs[0];
    let per_output = stem.weight.len() / stem.weight_shape[0];
    stem.weight_shape[0] = 24; // YOLOX-Tiny's stem
    stem.weight = vec![0.0; 24 * per_output];
    stem.bias = Some(vec![0.0; 24]);
    let err = build(&encode_convs(&convs)).unwrap_err().to_string();
    assert!(err.contains("yolox_tiny"), "{err}");
    assert!(
        err.contains("convolutions") || err.contains("layer backbone"),
        "{err}"
    );

    // A stem width of no published size.
    convs[0].weight_shape[0] = 20;
    convs[0].weight = vec![0.0; 20 * per_output];
    convs[0].bias = Some(vec![0.0; 20]);
    let err = build(&encode_convs(&convs)).unwrap_err();
    assert!(
        matches!(err, DetectorError::Weights(WeightsError::NotYolox { .. })),
        "{err}"
    );
}

#[test]
fn missing_file_and_unknown_model_are_clear() {
    let err = Detector::from_onnx_file(
        "/nonexistent/yolox.onnx".as_ref(),
        RunOptions::default(),
        PostprocessConfig::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent/yolox.onnx"), "{err}");
    assert!("yolov99".parse::<ModelSize>().is_err());
    let locator = WeightsLocator::new("/nonexistent/cache");
    let err = locator
        .resolve(&entry("nano").unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/cache/yolox_nano.onnx"), "{err}");
}

#[test]
fn bad_configuration_is_refused() {
    let bytes = nano_bytes();
    for run in [
        RunOptions {
            input_size: Some(400),
            ..Default::default()
        },
        RunOptions {
            threads: Some(0),
            ..Default::default()
        },
    ] {
        let err = Detector::from_onnx_bytes(&bytes, run, PostprocessConfig::default()).unwrap_err();
        assert!(matches!(err, DetectorError::Config(_)), "{err}");
    }
}

#[test]
fn tiny_and_odd_frames_run_without_panicking() {
    let det = build(&nano_bytes()).unwrap();
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

#[test]
fn detect_runs_from_several_threads_at_once() {
    let det = build(&nano_bytes()).unwrap();
    let frame = image::RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 200]));
    let alone = det.detect(std::slice::from_ref(&frame)).unwrap();
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| det.detect(std::slice::from_ref(&frame)).unwrap()))
            .collect();
        for run in runs {
            assert_eq!(run.join().unwrap(), alone);
        }
    });
}
