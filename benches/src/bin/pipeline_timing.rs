//! Times footfall's pipeline the way `../shared/tools/bench.py` times onnxruntime, so that
//! `benches/compare.sh` can put both side by side: per-frame medians of `infer` (network on a
//! ready tensor) and `e2e` (letterbox + network + decode/NMS from decoded images) at batch 1
//! and 8, images cycling over the shared photos. Threads: set `RAYON_NUM_THREADS` (one
//! process per setting, as the pool is fixed at start). Prints one JSON object per line.

use std::time::Instant;

use detector_core::{BackendChoice, Detector, PostprocessConfig, RunOptions};
use detector_prepost::preprocess::letterbox_batch;
use footfall_benches::{shared_dir, shared_photos};

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let backend: BackendChoice = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "cpu".into())
        .parse()
        .expect("backend");
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    // As the footfall binaries do (`footfall`, the ECS task); `KEEP_FREED_MEMORY=0` leaves
    // glibc's defaults, to measure what it gives.
    if std::env::var("KEEP_FREED_MEMORY").is_ok_and(|v| v == "0") {
        eprintln!("glibc allocator defaults");
    } else {
        detector_core::memory::keep_freed_memory();
    }
    let detector = Detector::from_onnx_file(
        &shared_dir().join("weights/yolox_nano.onnx"),
        RunOptions {
            backend,
            ..Default::default()
        },
        PostprocessConfig::default(),
    )
    .expect("detector");
    let photos: Vec<_> = shared_photos().into_iter().map(|(_, f)| f).collect();
    for (batch, warm, runs) in [(1usize, 5usize, 40usize), (8, 2, 10)] {
        let pick = |k: usize| -> Vec<_> {
            (0..batch)
                .map(|j| photos[(k * batch + j) % photos.len()].clone())
                .collect()
        };
        let input = letterbox_batch(&pick(0), 416);
        let mut infer = Vec::new();
        for i in 0..warm + runs {
            let t = Instant::now();
            detector.raw_output(&input.data, batch).expect("forward");
            if i >= warm {
                infer.push(t.elapsed().as_secs_f64() * 1e3 / batch as f64);
            }
        }
        let mut e2e = Vec::new();
        for k in 0..warm + runs {
            let frames = pick(k);
            let t = Instant::now();
            detector.detect(&frames).expect("detect");
            if k >= warm {
                e2e.push(t.elapsed().as_secs_f64() * 1e3 / batch as f64);
            }
        }
        println!(
            "{{\"engine\":\"footfall-{}\",\"threads\":\"{threads}\",\"batch\":{batch},\"infer_ms_per_frame\":{:.3},\"e2e_ms_per_frame\":{:.3}}}",
            detector.backend(),
            median_ms(infer),
            median_ms(e2e)
        );
    }
}
