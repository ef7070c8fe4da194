//! The wgpu path (lavapipe on a GPU-less CI machine) agrees with the CPU backend and with the
//! reference runtime.

mod common;

use detector_core::{BackendChoice, Detector, PostprocessConfig, RunOptions};
use detector_prepost::frame::load_image;

#[test]
fn wgpu_matches_the_reference_and_the_cpu_backend() {
    let shared = common::shared_dir();
    let load = |backend| {
        Detector::from_onnx_file(
            &shared.join("weights/yolox_nano.onnx"),
            RunOptions {
                backend,
                ..Default::default()
            },
            PostprocessConfig::default(),
        )
    };
    let gpu = load(BackendChoice::Wgpu).expect(
        "wgpu backend: no adapter (install mesa-vulkan-drivers for a software Vulkan device)",
    );
    let cpu = load(BackendChoice::Cpu).unwrap();
    for name in ["bus", "zidane", "000000001000"] {
        let input = common::read_npy(&shared.join(format!("parity/{name}_input.npy")));
        let reference = common::read_npy(&shared.join(format!("parity/{name}_output.npy")));
        let ours = gpu.raw_output(&input.data, 1).unwrap();
        let max_diff = ours
            .iter()
            .zip(&reference.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!(
            "{name} on {}: max |wgpu - onnxruntime| = {max_diff:e}",
            gpu.backend()
        );
        assert!(max_diff <= 1e-3, "{name}: {max_diff}");
    }
    let frames = vec![
        load_image(&shared.join("images/bus.jpg")).unwrap(),
        load_image(&shared.join("images/zidane.jpg")).unwrap(),
    ];
    let on_gpu = gpu.detect(&frames).unwrap();
    let on_cpu = cpu.detect(&frames).unwrap();
    for (g, c) in on_gpu.iter().zip(&on_cpu) {
        assert_eq!(g.len(), c.len());
        for (a, b) in g.iter().zip(c) {
            assert_eq!(a.class_id, b.class_id);
            assert!((a.score - b.score).abs() <= 2e-3);
            assert!((a.x1 - b.x1).abs() < 0.5 && (a.y2 - b.y2).abs() < 0.5);
        }
    }
    candidate_read_back_finds_what_the_whole_output_gives(&gpu);
    more_detectors_share_the_device(&gpu);
}

/// Burn starts one wgpu runtime per process: detectors made later, also two at the same moment,
/// share the first one's device instead of failing ("Service already initialized").
fn more_detectors_share_the_device(first: &Detector) {
    let shared = common::shared_dir();
    let frame = load_image(&shared.join("images/bus.jpg")).unwrap();
    let expected = first.detect(std::slice::from_ref(&frame)).unwrap();
    let makers: Vec<_> = (0..2)
        .map(|_| {
            let weights = shared.join("weights/yolox_nano.onnx");
            std::thread::spawn(move || {
                Detector::from_onnx_file(
                    &weights,
                    RunOptions {
                        backend: BackendChoice::Wgpu,
                        ..Default::default()
                    },
                    PostprocessConfig::default(),
                )
            })
        })
        .collect();
    for maker in makers {
        let detector = maker.join().unwrap().expect("a second wgpu detector");
        let found = detector.detect(std::slice::from_ref(&frame)).unwrap();
        // Autotune may pick other kernels for another detector: sums differ by ~1e-4.
        assert_eq!(found[0].len(), expected[0].len());
        for (a, b) in found[0].iter().zip(&expected[0]) {
            assert_eq!(a.class_id, b.class_id);
            assert!((a.score - b.score).abs() <= 2e-3);
            assert!((a.x1 - b.x1).abs() < 0.5 && (a.y2 - b.y2).abs() < 0.5);
        }
    }
}

/// On a GPU `detect` reads back only the candidates' rows; what it finds must be exactly what the
/// postprocessing finds on the whole output of the same GPU, for any threshold and class filter.
/// (Called from the test above, so that lavapipe compiles and tunes the kernels once.)
fn candidate_read_back_finds_what_the_whole_output_gives(gpu: &Detector) {
    use detector_core::{ClassFilter, NUM_CLASSES};
    use detector_prepost::postprocess::postprocess;
    use detector_prepost::preprocess::letterbox_batch;

    let shared = common::shared_dir();
    let frames: Vec<_> = ["bus.jpg", "zidane.jpg", "000000001000.jpg"]
        .iter()
        .map(|name| load_image(&shared.join("images").join(name)).unwrap())
        .collect();
    let batch = letterbox_batch(&frames, 416);
    let whole = gpu.raw_output(&batch.data, frames.len()).unwrap();
    let row = whole.len() / frames.len();
    for config in [
        PostprocessConfig::default(),
        PostprocessConfig {
            score_threshold: 0.1,
            classes: ClassFilter::PersonOnly,
            ..PostprocessConfig::default()
        },
        PostprocessConfig {
            score_threshold: 0.6,
            ..PostprocessConfig::default()
        },
    ] {
        let found = gpu.detect_with(&frames, &config).unwrap();
        for (i, (letterbox, raw)) in batch
            .letterboxes
            .iter()
            .zip(whole.chunks_exact(row))
            .enumerate()
        {
            let expected = postprocess(raw, NUM_CLASSES, 416, letterbox, &config);
            assert!(!expected.is_empty() || config.score_threshold > 0.5);
            assert_eq!(found[i], expected, "frame {i} with {config:?}");
        }
    }
}
