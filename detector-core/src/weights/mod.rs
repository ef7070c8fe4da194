//! Weights: finding a model's file ([`manifest`]), reading an ONNX export ([`onnx`]) and
//! applying it to a [`Yolox`] network, checking every tensor against the layer it fills.

pub mod manifest;
/// The ONNX reader lives in `detector-prepost` (no Burn); re-exported here under its old path.
pub use detector_prepost::onnx;

use burn::module::Param;
use burn::tensor::{Device, TensorData};

use crate::error::WeightsError;
use crate::model::Yolox;
use onnx::OnnxConv;

/// Fills `model` with the convolutions of an ONNX export (BatchNorm already folded).
///
/// The export lists convolutions in execution order; the model enumerates its own in the same
/// order. Each pair must agree in weight shape, groups, stride and padding, which rejects a
/// file of another size or another network with the offending layer named.
pub fn apply_onnx(
    model: &mut Yolox,
    model_name: &str,
    convs: Vec<OnnxConv>,
    device: &Device,
) -> Result<(), WeightsError> {
    let layers = model.convs_in_execution_order();
    if layers.len() != convs.len() {
        return Err(WeightsError::ConvCount {
            model: model_name.to_string(),
            expected: layers.len(),
            found: convs.len(),
        });
    }
    for ((layer, conv), onnx) in layers.into_iter().zip(convs) {
        let mismatch = |reason: String| WeightsError::Mismatch {
            model: model_name.to_string(),
            layer: layer.clone(),
            tensor: onnx.weight_name.clone(),
            reason,
        };
        let expected_shape = conv.weight.dims().to_vec();
        if onnx.weight_shape != expected_shape {
            return Err(mismatch(format!(
                "weight shape {:?}, layer expects {:?}",
                onnx.weight_shape, expected_shape
            )));
        }
        if onnx.groups != conv.groups {
            return Err(mismatch(format!(
                "groups {}, layer expects {}",
                onnx.groups, conv.groups
            )));
        }
        let stride = onnx.strides.clone();
        if !(stride.is_empty() || stride == conv.stride) {
            return Err(mismatch(format!(
                "strides {stride:?}, layer expects {:?}",
                conv.stride
            )));
        }
        let pad = conv.kernel_size[0] / 2;
        if !(onnx.pads.is_empty() || onnx.pads.iter().all(|&p| p == pad)) {
            return Err(mismatch(format!(
                "pads {:?}, layer expects {pad} on every side",
                onnx.pads
            )));
        }
        // A prediction layer named in the export must land on the layer of that name: this is
        // what tells the (same-shaped) class and regression branches apart.
        if onnx.weight_name.starts_with("head.")
            && onnx.weight_name.trim_end_matches(".weight") != layer
        {
            return Err(mismatch(format!(
                "the export names it for layer '{}'",
                onnx.weight_name
            )));
        }
        let out_channels = expected_shape[0];
        let bias = onnx.bias.unwrap_or_else(|| vec![0.0; out_channels]);
        if bias.len() != out_channels {
            return Err(mismatch(format!(
                "bias of {} values, layer has {out_channels} outputs",
                bias.len()
            )));
        }
        conv.weight = Param::from_data(TensorData::new(onnx.weight, expected_shape), device);
        conv.bias = Some(Param::from_data(
            TensorData::new(bias, [out_channels]),
            device,
        ));
    }
    Ok(())
}
