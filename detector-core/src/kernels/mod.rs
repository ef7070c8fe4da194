//! Hand-written CPU kernels for the operations that dominate YOLOX, plugged into Burn as a
//! backend extension so that the model code stays backend-generic.
//!
//! [`conv2d_bias_act`] is what the model calls for every convolution. On Burn's flex CPU
//! backend it runs [`conv::conv2d_bias_act`] (one pass: GEMM or direct depthwise, bias and
//! activation on each tile while it is in cache); on every other backend, and for any shape
//! these kernels do not cover, it runs Burn's own `conv2d` followed by the activation, which
//! wgpu's fusion compiles into its kernels anyway. [`conv1x1_cat_bias_act`] does the same for a
//! 1x1 convolution over a concatenation without building it, the resampling functions cover
//! SPP's pools, the PAFPN's upsampling and Focus, and [`join`] runs independent branches side by
//! side on the CPU pool. What each step gave is in `benches/README.md`.

pub mod activation;
pub mod conv;
mod flex;
mod lanes;
pub mod resample;

use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::interpolate::{Interpolate2d, InterpolateMode};
use burn::nn::pool::MaxPool2d;
use burn::tensor::Tensor;
use burn::tensor::activation::{sigmoid, silu};

pub use activation::Activation;
pub use conv::ConvSpec;
pub use flex::{FusedConvBackend, ResampleBackend};

/// Runs `work` on a thread of rayon's pool, where the kernels' parallel loops run.
///
/// Each parallel loop started from outside the pool hands its work to the pool and puts the
/// caller to sleep until it is done: a wake-up and a sleep per layer, a hundred per frame.
/// Started from inside, the loops run on the calling worker and its peers steal from it.
pub fn on_cpu_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        work()
    } else {
        rayon::join(work, || ()).0
    }
}

/// Runs two independent parts of the network side by side on the CPU pool when `on_cpu`, one
/// after the other otherwise (a GPU queues the work anyway).
///
/// Small layers (the 26x26 and 13x13 levels) split into only a few tiles each, so the pool's
/// second thread idles at the end of every layer; running independent branches together gives
/// it work in the meantime.
pub fn join<A: Send, B: Send>(
    on_cpu: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if on_cpu {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

/// Whether `x` lives on the CPU backend whose kernels run on rayon's pool (see [`join`]).
pub fn on_cpu_pool_device(x: &Tensor<4>) -> bool {
    on_flex(x)
}

/// `activation(conv(x) + bias)` for one YOLOX convolution, `[B, in, H, W] -> [B, out, H', W']`.
pub fn conv2d_bias_act(x: Tensor<4>, conv: &Conv2d, activation: Activation) -> Tensor<4> {
    match (on_flex(&x), fused_spec(conv, activation), &conv.bias) {
        (true, Some(spec), Some(bias)) => {
            let out = <Dispatch as FusedConvBackend>::conv2d_bias_act(
                x.into_dispatch(),
                conv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                spec,
            );
            Tensor::from_dispatch(out)
        }
        _ => {
            let y = conv.forward(x);
            match activation {
                Activation::Identity => y,
                Activation::Silu => silu(y),
                Activation::Sigmoid => sigmoid(y),
            }
        }
    }
}

/// `conv2d_bias_act(cat(parts, 1), conv, activation)` for a 1x1 convolution, without building
/// the concatenation on flex (see [`conv::conv1x1_cat_bias_act`]): YOLOX concatenates only to
/// feed a 1x1 convolution (CSP layers, PAFPN, SPP).
pub fn conv1x1_cat_bias_act(
    mut parts: Vec<Tensor<4>>,
    conv: &Conv2d,
    activation: Activation,
) -> Tensor<4> {
    let pointwise = fused_spec(conv, activation).is_some_and(|s| s.stride == 1 && s.padding == 0)
        && conv.groups == 1
        && conv.weight.val().dims()[2..] == [1, 1];
    let fused = pointwise && parts.len() > 1 && on_flex(&parts[0]);
    match (fused, &conv.bias, parts.len()) {
        (true, Some(bias), 2) => {
            let b = parts.pop().expect("two parts").into_dispatch();
            let a = parts.pop().expect("two parts").into_dispatch();
            Tensor::from_dispatch(<Dispatch as FusedConvBackend>::conv1x1_cat2_bias_act(
                a,
                b,
                conv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                activation,
            ))
        }
        (true, Some(bias), 4) => {
            let d = parts.pop().expect("four parts").into_dispatch();
            let c = parts.pop().expect("four parts").into_dispatch();
            let b = parts.pop().expect("four parts").into_dispatch();
            let a = parts.pop().expect("four parts").into_dispatch();
            Tensor::from_dispatch(<Dispatch as FusedConvBackend>::conv1x1_cat4_bias_act(
                a,
                b,
                c,
                d,
                conv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                activation,
            ))
        }
        _ if parts.len() == 1 => conv2d_bias_act(parts.remove(0), conv, activation),
        _ => conv2d_bias_act(Tensor::cat(parts, 1), conv, activation),
    }
}

fn on_flex(x: &Tensor<4>) -> bool {
    matches!(x.device().as_dispatch(), DispatchDevice::Flex(_))
}

/// A stride-1 "same" max-pool with an odd window (SPP), on whichever backend `x` lives.
pub fn max_pool_same(x: Tensor<4>, pool: &MaxPool2d) -> Tensor<4> {
    let [kh, kw] = pool.kernel_size;
    let same = kh == kw
        && kh % 2 == 1
        && pool.stride == [1, 1]
        && pool.dilation == [1, 1]
        && pool.padding == PaddingConfig2d::Explicit(kh / 2, kh / 2, kh / 2, kh / 2);
    if on_flex(&x) && same {
        Tensor::from_dispatch(<Dispatch as ResampleBackend>::max_pool_same(
            x.into_dispatch(),
            kh,
        ))
    } else {
        pool.forward(x)
    }
}

/// YOLOX's Focus space-to-depth, `[B, C, H, W] -> [B, 4C, H/2, W/2]` (`H`, `W` even), patches
/// in the order top-left, bottom-left, top-right, bottom-right: channel `(dx * 2 + dy) * C + c`.
pub fn space_to_depth(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    if on_flex(&x) && h % 2 == 0 && w % 2 == 0 {
        return Tensor::from_dispatch(<Dispatch as ResampleBackend>::space_to_depth(
            x.into_dispatch(),
        ));
    }
    x.reshape([b, c, h / 2, 2, w / 2, 2])
        .permute([0, 5, 3, 1, 2, 4])
        .reshape([b, 4 * c, h / 2, w / 2])
}

/// One head level's box, objectness and class maps `[B, C_i, H, W]` as `[B, H * W, sum C_i]`
/// (one row per grid cell, YOLOX's output layout): one pass on flex, cat + reshape + transpose
/// elsewhere.
pub fn head_rows(boxes: Tensor<4>, objectness: Tensor<4>, classes: Tensor<4>) -> Tensor<3> {
    let same = boxes.dims()[0] == classes.dims()[0]
        && boxes.dims()[2..] == classes.dims()[2..]
        && objectness.dims()[2..] == classes.dims()[2..];
    if on_flex(&boxes) && same {
        return Tensor::from_dispatch(<Dispatch as ResampleBackend>::head_rows(
            boxes.into_dispatch(),
            objectness.into_dispatch(),
            classes.into_dispatch(),
        ));
    }
    let out = Tensor::cat(vec![boxes, objectness, classes], 1);
    let [b, c, h, w] = out.dims();
    out.reshape([b, c, h * w]).swap_dims(1, 2)
}

/// `upsample.forward(x)`, through the flex kernel when `upsample` is a nearest 2x upsampling
/// (the PAFPN's) and `x` lives on flex.
pub fn upsample_nearest_2x(x: Tensor<4>, upsample: &Interpolate2d) -> Tensor<4> {
    let nearest_2x = matches!(upsample.mode, InterpolateMode::Nearest)
        && upsample.scale_factor == Some([2.0, 2.0])
        && upsample.output_size.is_none();
    if on_flex(&x) && nearest_2x {
        Tensor::from_dispatch(<Dispatch as ResampleBackend>::upsample_nearest(
            x.into_dispatch(),
            2,
        ))
    } else {
        upsample.forward(x)
    }
}

/// The kernels' description of `conv`, or `None` where they do not apply (dilation, uneven
/// padding or stride, grouped but not depthwise).
fn fused_spec(conv: &Conv2d, activation: Activation) -> Option<ConvSpec> {
    let [out_channels, group_channels, kh, kw] = conv.weight.val().dims();
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if top == left && left == bottom && bottom == right =>
        {
            top
        }
        PaddingConfig2d::Valid => 0,
        _ => return None,
    };
    let dense = conv.groups == 1;
    let depthwise = group_channels == 1 && conv.groups == out_channels;
    let plain = kh == kw && conv.stride[0] == conv.stride[1] && conv.dilation == [1, 1];
    (plain && (dense || depthwise)).then_some(ConvSpec {
        stride: conv.stride[0],
        padding,
        groups: conv.groups,
        activation,
    })
}
