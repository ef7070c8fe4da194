//! Per-layer-type microbenchmarks at YOLOX-Nano's shapes, so the slow operation is visible:
//! 3x3 conv, 1x1 conv, depthwise 3x3, SiLU, nearest upsample, concat; then each convolution
//! with its SiLU, as Burn's flex runs it (two operations) against detector-core's fused CPU
//! kernel (one pass), in the same run.

use burn::tensor::activation::silu;
use burn::tensor::module::{conv2d, interpolate};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use detector_core::kernels::Activation;
use detector_core::kernels::conv::{ConvSpec, conv2d_bias_act};

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

/// Convolution + SiLU at Nano's shapes: flex's `conv2d` then `silu` against the fused kernel.
fn bench_fused(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_silu");
    group.sample_size(20);
    // (name, in, out, size, kernel, stride, groups)
    let cases = [
        ("stem3x3_12to16_208", 12, 16, 208, 3, 1, 1),
        ("conv3x3_64to64_52", 64, 64, 52, 3, 1, 1),
        ("conv1x1_64to64_52", 64, 64, 52, 1, 1, 1),
        ("conv1x1_128to64_26", 128, 64, 26, 1, 1, 1),
        ("dw3x3_64_52", 64, 64, 52, 3, 1, 64),
        ("dw3x3_s2_32_104", 32, 32, 104, 3, 2, 32),
        // The small levels, where rows are one or two vectors wide.
        ("dw3x3_128_26", 128, 128, 26, 3, 1, 128),
        ("dw3x3_64_13", 64, 64, 13, 3, 1, 64),
        ("dw3x3_s2_128_26", 128, 128, 26, 3, 2, 128),
    ];
    let device = Device::flex();
    for (name, cin, cout, hw, k, stride, groups) in cases {
        let pad = (k - 1) / 2;
        let x = Tensor::<4>::random([1, cin, hw, hw], Distribution::Default, &device);
        let w = Tensor::<4>::random([cout, cin / groups, k, k], Distribution::Default, &device);
        let b = Tensor::<1>::random([cout], Distribution::Default, &device);
        let options = ConvOptions::new([stride; 2], [pad; 2], [1, 1], groups);
        group.bench_function(format!("flex/{name}"), |bench| {
            bench.iter(|| {
                let y = conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
                sync(silu(y))
            })
        });
        let (xv, wv, bv) = (values(&x), values(&w), values(&b));
        let spec = ConvSpec {
            stride,
            padding: pad,
            groups,
            activation: Activation::Silu,
        };
        group.bench_function(format!("fused/{name}"), |bench| {
            bench.iter(|| {
                conv2d_bias_act(
                    &xv,
                    [1, cin, hw, hw],
                    &wv,
                    [cout, cin / groups, k, k],
                    &bv,
                    spec,
                )
                .expect("supported")
            })
        });
    }
    group.finish();
}

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.clone()
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32 tensor")
}

criterion_group!(benches, bench_layers, bench_fused);
criterion_main!(benches);
