//! Detector stages on the shared photos: letterbox, forward pass per backend at batch 1 and 8,
//! decode + NMS, and end-to-end `count_people` (one photo, all 73 photos, the 10 s video).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use detector_core::{BackendChoice, Detector, NUM_CLASSES, RunOptions};
use detector_prepost::postprocess::{PostprocessConfig, postprocess};
use detector_prepost::preprocess::letterbox_batch;
use footfall_benches::{shared_dir, shared_photos};
use frame_source::{FrameStream, JobOptions, SamplingPolicy, SourceSpec};
use std::hint::black_box;
use std::time::Duration;

fn detector(backend: BackendChoice) -> Detector {
    Detector::from_onnx_file(
        &shared_dir().join("weights/yolox_nano.onnx"),
        RunOptions {
            backend,
            ..Default::default()
        },
        PostprocessConfig::default(),
    )
    .expect("detector")
}

fn backends() -> Vec<BackendChoice> {
    // FOOTFALL_BENCH_BACKENDS=flex,ndarray,wgpu selects; default: the two CPU backends.
    std::env::var("FOOTFALL_BENCH_BACKENDS")
        .unwrap_or_else(|_| "flex,ndarray".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn bench_preprocess(c: &mut Criterion) {
    let photos = shared_photos();
    let bus = photos
        .iter()
        .find(|(n, _)| n == "bus.jpg")
        .unwrap()
        .1
        .clone();
    let coco = photos
        .iter()
        .find(|(n, _)| n == "000000001000.jpg")
        .unwrap()
        .1
        .clone();
    let mut group = c.benchmark_group("preprocess");
    group.bench_function("letterbox_bus_810x1080", |b| {
        b.iter(|| letterbox_batch(black_box(std::slice::from_ref(&bus)), 416))
    });
    group.bench_function("letterbox_coco_640x480", |b| {
        b.iter(|| letterbox_batch(black_box(std::slice::from_ref(&coco)), 416))
    });
    group.finish();
}

fn bench_forward(c: &mut Criterion) {
    let photos = shared_photos();
    let mut group = c.benchmark_group("forward");
    group.sample_size(10);
    for backend in backends() {
        let det = detector(backend);
        for batch in [1usize, 8] {
            let frames: Vec<_> = photos.iter().take(batch).map(|(_, f)| f.clone()).collect();
            let input = letterbox_batch(&frames, 416);
            det.raw_output(&input.data, batch).unwrap(); // warm-up (kernels, autotune)
            group.bench_with_input(
                BenchmarkId::new(det.backend().to_string(), batch),
                &batch,
                |b, &n| b.iter(|| det.raw_output(black_box(&input.data), n).unwrap()),
            );
        }
    }
    group.finish();
}

fn bench_postprocess(c: &mut Criterion) {
    let det = detector(BackendChoice::Cpu);
    let photos = shared_photos();
    let frame = &photos.iter().find(|(n, _)| n == "bus.jpg").unwrap().1;
    let input = letterbox_batch(std::slice::from_ref(frame), 416);
    let raw = det.raw_output(&input.data, 1).unwrap();
    let letterbox = input.letterboxes[0];
    let mut group = c.benchmark_group("postprocess");
    for (name, threshold) in [("decode_nms_0.25", 0.25f32), ("decode_nms_0.01", 0.01)] {
        let config = PostprocessConfig {
            score_threshold: threshold,
            ..Default::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| postprocess(black_box(&raw), NUM_CLASSES, 416, &letterbox, &config))
        });
    }
    group.finish();
}

fn bench_end_to_end(c: &mut Criterion) {
    let photos: Vec<_> = shared_photos().into_iter().map(|(_, f)| f).collect();
    let mut group = c.benchmark_group("count_people");
    group.sample_size(10);
    let det = detector(BackendChoice::Cpu);
    group.bench_function("one_photo_batch1", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % photos.len();
            det.count_people(std::slice::from_ref(&photos[i])).unwrap()
        })
    });
    group.bench_function("photos73_batch8", |b| {
        b.iter(|| det.count_people(&photos).unwrap())
    });
    // The shared 10 s video, one frame per second: FFmpeg decode (overlapped with inference by
    // frame-source's decoder thread) + detection, as `footfall count` runs it.
    let video = shared_dir().join("video/people_10s_640x480.mp4");
    group.bench_function("video10s_every1s_decode_detect", |b| {
        b.iter(|| {
            let spec = SourceSpec::parse(&video.to_string_lossy()).unwrap();
            let options = JobOptions {
                sampling: SamplingPolicy::Every(Duration::from_secs(1)),
                ..Default::default()
            };
            let mut stream = FrameStream::open(spec, options).unwrap();
            let mut busiest = 0;
            for batch in stream.by_ref() {
                let frames: Vec<_> = batch.into_iter().map(|f| f.image).collect();
                busiest = busiest.max(det.count_people(&frames).unwrap().max().unwrap_or(0));
            }
            stream.finish();
            busiest
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_preprocess,
    bench_postprocess,
    bench_forward,
    bench_end_to_end
);
criterion_main!(benches);
