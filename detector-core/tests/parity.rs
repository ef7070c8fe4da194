//! Tensor-level parity with the reference runtime (onnxruntime) on the shared parity files:
//! the preprocessed input must be identical and the raw output within 1e-3.

mod common;

use detector_core::{BackendChoice, Detector, PostprocessConfig, RunOptions};
use detector_prepost::preprocess::letterbox_batch;
use image::RgbImage;

const NAMES: [&str; 3] = ["bus", "zidane", "000000001000"];

fn detector(backend: BackendChoice) -> Detector {
    detector_with(RunOptions {
        backend,
        ..Default::default()
    })
}

fn detector_with(run: RunOptions) -> Detector {
    let shared = common::shared_dir();
    Detector::from_onnx_file(
        &shared.join("weights/yolox_nano.onnx"),
        run,
        PostprocessConfig::default(),
    )
    .expect("detector")
}

/// The reference's decoded image (BGR HxWx3) as an RGB frame.
fn decoded_frame(name: &str) -> RgbImage {
    let npy =
        common::read_npy(&common::shared_dir().join(format!("parity/{name}_decoded_bgr.npy")));
    let (h, w) = (npy.shape[0] as u32, npy.shape[1] as u32);
    RgbImage::from_fn(w, h, |x, y| {
        let i = ((y * w + x) * 3) as usize;
        image::Rgb([
            npy.data[i + 2] as u8,
            npy.data[i + 1] as u8,
            npy.data[i] as u8,
        ])
    })
}

#[test]
fn letterbox_equals_the_reference_input_exactly() {
    for name in NAMES {
        let reference =
            common::read_npy(&common::shared_dir().join(format!("parity/{name}_input.npy")));
        let batch = letterbox_batch(&[decoded_frame(name)], 416);
        assert_eq!(reference.shape, vec![1, 3, 416, 416]);
        let differing = batch
            .data
            .iter()
            .zip(&reference.data)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differing, 0,
            "{name}: {differing} input values differ from the reference"
        );
    }
}

fn assert_raw_parity(detector: &Detector, tolerance: f32) {
    for name in NAMES {
        let shared = common::shared_dir();
        let input = common::read_npy(&shared.join(format!("parity/{name}_input.npy")));
        let reference = common::read_npy(&shared.join(format!("parity/{name}_output.npy")));
        let ours = detector.raw_output(&input.data, 1).expect("forward");
        assert_eq!(ours.len(), reference.data.len());
        let max_diff = ours
            .iter()
            .zip(&reference.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!(
            "{name} on {}: max |ours - onnxruntime| = {max_diff:e}",
            detector.backend()
        );
        assert!(
            max_diff <= tolerance,
            "{name}: max diff {max_diff} > {tolerance}"
        );
    }
}

#[test]
fn raw_output_matches_onnxruntime_on_cpu() {
    assert_raw_parity(&detector(BackendChoice::Cpu), 1e-3);
}

#[test]
fn raw_output_matches_onnxruntime_on_a_pool_of_its_own() {
    for threads in [1, 3] {
        let det = detector_with(RunOptions {
            threads: Some(threads),
            ..Default::default()
        });
        assert_raw_parity(&det, 1e-3);
    }
}

#[test]
fn raw_output_matches_onnxruntime_on_ndarray() {
    assert_raw_parity(&detector(BackendChoice::Ndarray), 1e-3);
}

#[test]
fn batch_of_three_equals_three_single_runs() {
    let det = detector(BackendChoice::Cpu);
    let frames: Vec<RgbImage> = NAMES.iter().map(|n| decoded_frame(n)).collect();
    let together = det.detect(&frames).unwrap();
    for (frame, batched) in frames.iter().zip(&together) {
        let alone = det.detect(std::slice::from_ref(frame)).unwrap().remove(0);
        assert_eq!(alone.len(), batched.len());
        for (a, b) in alone.iter().zip(batched) {
            assert!((a.score - b.score).abs() < 1e-4 && (a.x1 - b.x1).abs() < 0.05);
        }
    }
}
