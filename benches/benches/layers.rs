//! Per-layer-type microbenchmarks at YOLOX-Nano's shapes, so the slow operation is visible:
//! 3x3 conv, 1x1 conv, depthwise 3x3, SiLU, nearest upsample, concat.

use burn::tensor::activation::silu;
use burn::tensor::module::{conv2d, interpolate};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

fn devices() -> Vec<(&'static str, Device)> {
    #[allow(deprecated)]
    let all = vec![("flex", Device::flex()), ("ndarray", Device::ndarray())];
    all
}

fn sync(t: Tensor<4>) {
    // Reading back forces lazy/asynchronous backends to finish the work.
    let _ = t.slice([0..1, 0..1, 0..1, 0..1]).into_data();
}

fn bench_layers(c: &mut Criterion) {
    let mut group = c.benchmark_group("layers");
    group.sample_size(20);
    for (name, device) in devices() {
        let x = |c: usize, hw: usize| {
            Tensor::<4>::random([1, c, hw, hw], Distribution::Default, &device)
        };
        let w = |o: usize, i: usize, k: usize| {
            Tensor::<4>::random([o, i, k, k], Distribution::Default, &device)
        };
        let b = |o: usize| Some(Tensor::<1>::random([o], Distribution::Default, &device));

        // Stem-level 3x3 (Focus conv 12->16 at 208x208) and a dense 3x3 at 52x52.
        let (x0, w0) = (x(12, 208), w(16, 12, 3));
        group.bench_function(format!("{name}/conv3x3_12to16_208"), |bench| {
            bench.iter(|| {
                sync(conv2d(
                    x0.clone(),
                    w0.clone(),
                    b(16),
                    ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
                ))
            })
        });
        let (x1, w1) = (x(64, 52), w(64, 64, 3));
        group.bench_function(format!("{name}/conv3x3_64to64_52"), |bench| {
            bench.iter(|| {
                sync(conv2d(
                    x1.clone(),
                    w1.clone(),
                    b(64),
                    ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
                ))
            })
        });
        // Pointwise 1x1 64->64 at 52x52 (the most frequent layer of Nano).
        let w2 = w(64, 64, 1);
        group.bench_function(format!("{name}/conv1x1_64to64_52"), |bench| {
            bench.iter(|| {
                sync(conv2d(
                    x1.clone(),
                    w2.clone(),
                    b(64),
                    ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
                ))
            })
        });
        // Depthwise 3x3 on 64 channels at 52x52, and on 32 channels at 104x104.
        let w3 = w(64, 1, 3);
        group.bench_function(format!("{name}/dwconv3x3_64_52"), |bench| {
            bench.iter(|| {
                sync(conv2d(
                    x1.clone(),
                    w3.clone(),
                    b(64),
                    ConvOptions::new([1, 1], [1, 1], [1, 1], 64),
                ))
            })
        });
        let (x4, w4) = (x(32, 104), w(32, 1, 3));
        group.bench_function(format!("{name}/dwconv3x3_32_104"), |bench| {
            bench.iter(|| {
                sync(conv2d(
                    x4.clone(),
                    w4.clone(),
                    b(32),
                    ConvOptions::new([1, 1], [1, 1], [1, 1], 32),
                ))
            })
        });
        group.bench_function(format!("{name}/silu_64_52"), |bench| {
            bench.iter(|| sync(silu(x1.clone())))
        });
        let x5 = x(64, 26);
        group.bench_function(format!("{name}/upsample2x_64_26"), |bench| {
            bench.iter(|| {
                sync(interpolate(
                    x5.clone(),
                    InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([52, 52]),
                ))
            })
        });
        group.bench_function(format!("{name}/concat_2x64_52"), |bench| {
            bench.iter(|| sync(Tensor::cat(vec![x1.clone(), x1.clone()], 1)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_layers);
criterion_main!(benches);
