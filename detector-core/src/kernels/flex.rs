//! The backend extension: [`FusedConvBackend`] implemented for Burn's flex CPU backend.

use burn::backend::ops::{ActivationOps, ConvOptions, FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::tensor::{DType, TensorData};
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
}

impl FusedConvBackend for Flex {
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
