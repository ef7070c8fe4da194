//! GPU figures of the wgpu backend (issue 4): frames/s at batch 1, 8, 32 and 64 for YOLOX-Nano
//! (the real weights) and YOLOX-S (weights left at their initial values: the work per frame
//! does not depend on them, so this times the network, not its accuracy), the first call at
//! each batch (shader compilation and autotuning) apart from the warm median; then CPU/GPU
//! agreement on the photos: raw-output difference and people count per photo.
//!
//! `gpu_timing <yolox_nano.onnx> <photos folder> [batch,batch,...]` prints one JSON object per
//! line and flushes it at once, so a run cut short still reports what it measured. Timings
//! include the upload of the batch and the read-back of the raw output, as a job pays them.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use detector_core::model::{Yolox, YoloxConfig};
use detector_core::{
    BackendChoice, Detector, ModelSize, PostprocessConfig, RunOptions, count_people_in,
};
use detector_prepost::preprocess::letterbox_batch;
use footfall_benches::photos_in;
use image::RgbImage;

fn emit(line: String) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The network alone on a batch already on the device, synchronised, without the upload of
/// the input and the read-back of the output: median milliseconds per batch.
fn compute_only(model: &Yolox, device: &Device, input: Vec<f32>, batch: usize, side: usize) -> f64 {
    let x = Tensor::<4>::from_data(TensorData::new(input, [batch, 3, side, side]), device);
    let mut samples = Vec::new();
    for _ in 0..8 {
        let t = Instant::now();
        let y = model.forward(x.clone());
        device.sync().expect("device sync");
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        drop(y);
    }
    median(samples[2..].to_vec())
}

/// Times `forward` at each batch size: the first call alone, then the median of warm calls.
fn time_batches(
    label: &str,
    backend: &str,
    input_size: usize,
    batches: &[usize],
    photos: &[RgbImage],
    mut forward: impl FnMut(Vec<f32>, usize) -> Vec<f32>,
    mut compute: impl FnMut(Vec<f32>, usize) -> f64,
) {
    for &batch in batches {
        let frames: Vec<RgbImage> = (0..batch)
            .map(|i| photos[i % photos.len()].clone())
            .collect();
        let input = letterbox_batch(&frames, input_size).data;
        let t = Instant::now();
        let out = forward(input.clone(), batch);
        let first_ms = t.elapsed().as_secs_f64() * 1e3;
        let finite = out.iter().all(|v| v.is_finite());
        let runs = match batch {
            0..=8 => 20,
            9..=32 => 10,
            _ => 6,
        };
        let mut warm = Vec::new();
        for _ in 0..runs + 2 {
            let t = Instant::now();
            forward(input.clone(), batch);
            warm.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let warm_ms = median(warm[2..].to_vec());
        let compute_ms = compute(input, batch);
        emit(format!(
            "{{\"model\":\"{label}\",\"backend\":\"{backend}\",\"input\":{input_size},\"batch\":{batch},\"first_call_ms\":{first_ms:.1},\"warm_ms_per_batch\":{warm_ms:.2},\"warm_frames_per_s\":{:.1},\"compute_only_ms_per_batch\":{compute_ms:.2},\"compute_only_frames_per_s\":{:.1},\"finite\":{finite}}}",
            batch as f64 * 1e3 / warm_ms,
            batch as f64 * 1e3 / compute_ms
        ));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let weights = PathBuf::from(
        args.next()
            .expect("usage: gpu_timing WEIGHTS PHOTOS [BATCHES]"),
    );
    let photos_dir = PathBuf::from(args.next().expect("photos folder"));
    let batches: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "1,8,32,64".into())
        .split(',')
        .map(|b| b.parse().expect("batch"))
        .collect();
    let named = photos_in(&photos_dir);
    let photos: Vec<RgbImage> = named.iter().map(|(_, p)| p.clone()).collect();

    let t = Instant::now();
    let gpu = Detector::from_onnx_file(
        &weights,
        RunOptions {
            backend: BackendChoice::Wgpu,
            max_batch: 64,
            ..Default::default()
        },
        PostprocessConfig::default(),
    )
    .expect("wgpu detector");
    emit(format!(
        "{{\"event\":\"started\",\"backend\":\"{}\",\"startup_ms\":{:.1}}}",
        gpu.backend(),
        t.elapsed().as_secs_f64() * 1e3
    ));
    let backend = gpu.backend().to_string();

    // Nano's network for the compute-only figure: same architecture, weights irrelevant to time.
    let nano = YoloxConfig::for_size(ModelSize::Nano).init(gpu.device());
    time_batches(
        "yolox_nano",
        &backend,
        416,
        &batches,
        &photos,
        |input, b| gpu.raw_output(&input, b).expect("forward"),
        |input, b| compute_only(&nano, gpu.device(), input, b, 416),
    );

    // End to end on the detector (letterbox, network, candidate rows read back, decode + NMS),
    // beside the whole-output read-back above: what `forward_candidates` saves.
    for &batch in &batches {
        let frames: Vec<RgbImage> = (0..batch)
            .map(|i| photos[i % photos.len()].clone())
            .collect();
        let runs = if batch <= 8 { 20 } else { 6 };
        let mut times = Vec::new();
        for _ in 0..runs + 2 {
            let t = Instant::now();
            gpu.detect(&frames).expect("detect");
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let ms = median(times[2..].to_vec());
        emit(format!(
            "{{\"model\":\"yolox_nano\",\"backend\":\"{backend}\",\"batch\":{batch},\"detect_ms_per_batch\":{ms:.2},\"detect_frames_per_s\":{:.1}}}",
            batch as f64 * 1e3 / ms
        ));
    }

    // YOLOX-S through the model directly (no export of its weights here).
    // The detector's device: a second wgpu runtime cannot be started in one process.
    let device = gpu.device().clone();
    let s = YoloxConfig::for_size(ModelSize::S).init(&device);
    let side = ModelSize::S.default_input_size();
    time_batches(
        "yolox_s",
        &backend,
        side,
        &batches,
        &photos,
        |input, b| {
            let x = Tensor::<4>::from_data(TensorData::new(input, [b, 3, side, side]), &device);
            s.forward(x)
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32 output")
        },
        |input, b| compute_only(&s, &device, input, b, side),
    );

    // Agreement with the CPU backend on every photo, batch 8 on both.
    let cpu = Detector::from_onnx_file(
        &weights,
        RunOptions {
            backend: BackendChoice::Cpu,
            ..Default::default()
        },
        PostprocessConfig::default(),
    )
    .expect("cpu detector");
    let mut max_diff = 0.0f32;
    for chunk in photos.chunks(8).take(2) {
        let input = letterbox_batch(chunk, 416).data;
        let a = cpu.raw_output(&input, chunk.len()).expect("cpu");
        let b = gpu.raw_output(&input, chunk.len()).expect("gpu");
        max_diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(max_diff, f32::max);
    }
    let (on_cpu, on_gpu) = (
        cpu.detect(&photos).expect("cpu"),
        gpu.detect(&photos).expect("gpu"),
    );
    let mut same = 0;
    let mut differing = Vec::new();
    for ((name, _), (c, g)) in named.iter().zip(on_cpu.iter().zip(&on_gpu)) {
        let (c, g) = (count_people_in(c), count_people_in(g));
        if c == g {
            same += 1;
        } else {
            differing.push(format!("\"{name}: cpu {c} gpu {g}\""));
        }
    }
    emit(format!(
        "{{\"event\":\"agreement\",\"photos\":{},\"same_people_count\":{same},\"max_raw_diff_first16\":{max_diff:.2e},\"differing\":[{}]}}",
        photos.len(),
        differing.join(",")
    ));
}
