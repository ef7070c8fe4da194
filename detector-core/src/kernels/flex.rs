//! The backend extension: [`FusedConvBackend`] implemented for Burn's flex CPU backend.

use burn::backend::ops::{
    ActivationOps, ConvOptions, FloatTensorOps, InterpolateMode, InterpolateOptions, ModuleOps,
};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::tensor::{DType, Shape, TensorData};
use burn_flex::FlexTensor;

use super::activation::Activation;
use super::conv::{ConvSpec, conv2d_bias_act};

/// Backends that run a convolution, its bias and its activation as one operation.
#[backend_extension(Flex)]
pub trait FusedConvBackend: Backend {
    /// `activation(conv(x, weight) + bias)`; `x` is `[B, C, H, W]`, `weight`
    /// `[out, C / groups, k, k]`, `bias` `[out]`.
    fn conv2d_bias_act(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self>;

    /// `activation(conv1x1(cat([a, b], 1), weight) + bias)` without the concatenation
    /// (`weight` `[out, Ca + Cb, 1, 1]`).
    fn conv1x1_cat2_bias_act(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self>;

    /// The same over four parts (the SPP's input and its three pools). Extension operations
    /// take tensors one by one, not as a list, hence one operation per arity.
    #[allow(clippy::too_many_arguments)]
    fn conv1x1_cat4_bias_act(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        activation: Activation,
    ) -> FloatTensor<Self>;
}

impl FusedConvBackend for Flex {
    fn conv1x1_cat2_bias_act(
        a: FlexTensor,
        b: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        activation: Activation,
    ) -> FlexTensor {
        conv1x1_cat(vec![a, b], weight, bias, activation)
    }

    fn conv1x1_cat4_bias_act(
        a: FlexTensor,
        b: FlexTensor,
        c: FlexTensor,
        d: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        activation: Activation,
    ) -> FlexTensor {
        conv1x1_cat(vec![a, b, c, d], weight, bias, activation)
    }

    fn conv2d_bias_act(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        spec: ConvSpec,
    ) -> FlexTensor {
        if let Some(out) = run_kernel(&x, &weight, &bias, spec) {
            return out;
        }
        // Shapes or dtypes the kernels decline: Burn's own operations, same result.
        let options = ConvOptions::new([spec.stride; 2], [spec.padding; 2], [1, 1], spec.groups);
        let y = <Flex as ModuleOps<Flex>>::conv2d(x, weight, Some(bias), options);
        match spec.activation {
            Activation::Identity => y,
            Activation::Silu => {
                let gate = <Flex as ActivationOps<Flex>>::sigmoid(y.clone());
                <Flex as FloatTensorOps<Flex>>::float_mul(y, gate)
            }
            Activation::Sigmoid => <Flex as ActivationOps<Flex>>::sigmoid(y),
        }
    }
}

fn conv1x1_cat(
    parts: Vec<FlexTensor>,
    weight: FlexTensor,
    bias: FlexTensor,
    activation: Activation,
) -> FlexTensor {
    if let Some(out) = run_cat_kernel(&parts, &weight, &bias, activation) {
        return out;
    }
    // Shapes or dtypes the kernel declines: the concatenation, then the fused convolution.
    let x = <Flex as FloatTensorOps<Flex>>::float_cat(parts, 1);
    let spec = ConvSpec {
        stride: 1,
        padding: 0,
        groups: 1,
        activation,
    };
    <Flex as FusedConvBackend>::conv2d_bias_act(x, weight, bias, spec)
}

fn run_cat_kernel(
    parts: &[FlexTensor],
    weight: &FlexTensor,
    bias: &FlexTensor,
    activation: Activation,
) -> Option<FlexTensor> {
    if weight.dtype() != DType::F32 || bias.dtype() != DType::F32 {
        return None;
    }
    let (views, size) = same_size_parts(parts)?;
    let weight_shape = weight.layout().shape();
    if weight_shape.num_dims() != 4 {
        return None;
    }
    let (weight, bias) = (contiguous(weight), contiguous(bias));
    let slices = views
        .iter()
        .map(|(x, c)| Some((x.as_slice::<f32>()?, *c)))
        .collect::<Option<Vec<_>>>()?;
    let out = super::conv::conv1x1_cat_bias_act(
        &slices,
        size,
        weight.as_slice::<f32>()?,
        weight_shape.dims::<4>(),
        bias.as_slice::<f32>()?,
        activation,
    )?;
    Some(FlexTensor::from_data(TensorData::new(
        out.values,
        out.dims.to_vec(),
    )))
}

fn run_kernel(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    spec: ConvSpec,
) -> Option<FlexTensor> {
    if [x.dtype(), weight.dtype(), bias.dtype()]
        .iter()
        .any(|d| *d != DType::F32)
    {
        return None;
    }
    let dims4 = |t: &FlexTensor| -> Option<[usize; 4]> {
        let shape = t.layout().shape();
        (shape.num_dims() == 4).then(|| shape.dims::<4>())
    };
    let (input_dims, weight_dims) = (dims4(x)?, dims4(weight)?);
    // Weights and biases are contiguous as loaded; activations are unless a view came before.
    let x = contiguous(x);
    let weight = contiguous(weight);
    let bias = contiguous(bias);
    let out = conv2d_bias_act(
        x.as_slice::<f32>()?,
        input_dims,
        weight.as_slice::<f32>()?,
        weight_dims,
        bias.as_slice::<f32>()?,
        spec,
    )?;
    Some(FlexTensor::from_data(TensorData::new(
        out.values,
        out.dims.to_vec(),
    )))
}

fn contiguous(t: &FlexTensor) -> std::borrow::Cow<'_, FlexTensor> {
    match t.as_slice::<f32>() {
        Some(_) => std::borrow::Cow::Borrowed(t),
        None => std::borrow::Cow::Owned(t.to_contiguous()),
    }
}

/// Backends that run YOLOX's resampling (SPP max-pools, PAFPN upsampling) with their own kernels.
#[backend_extension(Flex)]
pub trait ResampleBackend: Backend {
    /// Stride-1 max-pool, `kernel x kernel` (odd), padding `kernel / 2` that never wins.
    fn max_pool_same(x: FloatTensor<Self>, kernel: usize) -> FloatTensor<Self>;
    /// Nearest-neighbour upsampling by `factor` in both directions.
    fn upsample_nearest(x: FloatTensor<Self>, factor: usize) -> FloatTensor<Self>;
    /// YOLOX's Focus space-to-depth (see [`super::resample::space_to_depth`]); `H`, `W` even.
    fn space_to_depth(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// One head level's `[B, 4, H, W]`, `[B, 1, H, W]`, `[B, C, H, W]` predictions as rows
    /// `[B, H * W, 5 + C]` (see [`super::resample::cells_as_rows`]).
    fn head_rows(
        boxes: FloatTensor<Self>,
        objectness: FloatTensor<Self>,
        classes: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl ResampleBackend for Flex {
    fn max_pool_same(x: FlexTensor, kernel: usize) -> FlexTensor {
        let pooled = f32_nchw(&x).and_then(|(x, dims)| {
            let out = super::resample::max_pool_same(x.as_slice::<f32>()?, dims, kernel)?;
            Some(FlexTensor::from_data(TensorData::new(out, dims.to_vec())))
        });
        pooled.unwrap_or_else(|| {
            let p = kernel / 2;
            <Flex as ModuleOps<Flex>>::max_pool2d(x, [kernel; 2], [1, 1], [p, p], [1, 1], false)
        })
    }

    fn upsample_nearest(x: FlexTensor, factor: usize) -> FlexTensor {
        let upsampled = f32_nchw(&x).and_then(|(x, [b, c, h, w])| {
            let values = x.as_slice::<f32>()?;
            let out = super::resample::upsample_nearest(values, [b, c, h, w], factor)?;
            Some(FlexTensor::from_data(TensorData::new(
                out,
                vec![b, c, h * factor, w * factor],
            )))
        });
        upsampled.unwrap_or_else(|| {
            let [_, _, h, w] = x.layout().shape().dims::<4>();
            let options = InterpolateOptions::new(InterpolateMode::Nearest);
            <Flex as ModuleOps<Flex>>::interpolate(x, [h * factor, w * factor], options)
        })
    }

    fn head_rows(boxes: FlexTensor, objectness: FlexTensor, classes: FlexTensor) -> FlexTensor {
        head_rows_kernel([&boxes, &objectness, &classes]).unwrap_or_else(|| {
            let [b, _, h, w] = boxes.layout().shape().dims::<4>();
            let out =
                <Flex as FloatTensorOps<Flex>>::float_cat(vec![boxes, objectness, classes], 1);
            let c = out.layout().shape().dims::<4>()[1];
            out.reshape(Shape::new([b, c, h * w]))
                .permute(&[0, 2, 1])
                .to_contiguous()
        })
    }

    fn space_to_depth(x: FlexTensor) -> FlexTensor {
        space_to_depth_kernel(&x).unwrap_or_else(|| {
            // Other dtypes: flex's own reshape and permute, as the generic model code does.
            let [b, c, h, w] = x.layout().shape().dims::<4>();
            x.reshape(Shape::new([b, c, h / 2, 2, w / 2, 2]))
                .permute(&[0, 5, 3, 1, 2, 4])
                .to_contiguous()
                .reshape(Shape::new([b, 4 * c, h / 2, w / 2]))
        })
    }
}

/// Contiguous views of parts, each with its channel count.
type PartViews<'a> = Vec<(std::borrow::Cow<'a, FlexTensor>, usize)>;

/// Contiguous f32 views of NCHW parts with one batch and size, each with its channel count, and
/// that `[batch, height, width]`; `None` when they differ or there are none.
fn same_size_parts<'a>(
    parts: impl IntoIterator<Item = &'a FlexTensor>,
) -> Option<(PartViews<'a>, [usize; 3])> {
    let mut views = Vec::new();
    let mut size = None;
    for part in parts {
        let (x, [b, c, h, w]) = f32_nchw(part)?;
        if *size.get_or_insert([b, h, w]) != [b, h, w] {
            return None;
        }
        views.push((x, c));
    }
    Some((views, size?))
}

fn head_rows_kernel(parts: [&FlexTensor; 3]) -> Option<FlexTensor> {
    let (views, [b, h, w]) = same_size_parts(parts)?;
    let slices = views
        .iter()
        .map(|(x, c)| Some((x.as_slice::<f32>()?, *c)))
        .collect::<Option<Vec<_>>>()?;
    let width: usize = slices.iter().map(|s| s.1).sum();
    let out = super::resample::cells_as_rows(&slices, b, h * w)?;
    Some(FlexTensor::from_data(TensorData::new(
        out,
        vec![b, h * w, width],
    )))
}

fn space_to_depth_kernel(x: &FlexTensor) -> Option<FlexTensor> {
    let (x, [b, c, h, w]) = f32_nchw(x)?;
    let out = super::resample::space_to_depth(x.as_slice::<f32>()?, [b, c, h, w])?;
    Some(FlexTensor::from_data(TensorData::new(
        out,
        vec![b, 4 * c, h / 2, w / 2],
    )))
}

/// A 4-D f32 tensor, contiguous (borrowed when it already is), and its dimensions.
fn f32_nchw(x: &FlexTensor) -> Option<(std::borrow::Cow<'_, FlexTensor>, [usize; 4])> {
    let shape = x.layout().shape();
    if x.dtype() != DType::F32 || shape.num_dims() != 4 {
        return None;
    }
    Some((contiguous(x), shape.dims::<4>()))
}
