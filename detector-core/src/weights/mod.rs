//! Weights: finding a model's file ([`manifest`]), reading an ONNX export ([`OnnxWeights`],
//! over `detector_prepost::onnx`) and applying it to a [`Yolox`] network, checking every
//! tensor against the layer it fills.

pub mod manifest;

use std::path::Path;

use burn::module::Param;
use burn::tensor::{Device, TensorData};
use detector_prepost::onnx::{OnnxConv, read_convs};

use crate::error::WeightsError;
use crate::model::{ModelSize, Yolox, YoloxConfig};

/// The convolutions of a YOLOX ONNX export and the network size they belong to.
///
/// The size is read from the file itself: the Focus stem (the first convolution, 12 input
/// channels after space-to-depth) has `64 x width` outputs, which differs for every published
/// size (nano 16, tiny 24, s 32, m 48, l 64, x 80). Every other layer is checked when the
/// weights are applied, so a file that only looks right at the stem is still refused.
#[derive(Clone)]
pub struct OnnxWeights {
    convs: Vec<OnnxConv>,
    size: ModelSize,
}

impl std::fmt::Debug for OnnxWeights {
    // The tensors themselves would print megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxWeights")
            .field("size", &self.size)
            .field("convolutions", &self.convs.len())
            .finish()
    }
}

impl OnnxWeights {
    /// Parses the bytes of an ONNX export and identifies its size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeightsError> {
        let convs = read_convs(bytes)?;
        let size = size_of_export(&convs)?;
        Ok(Self { convs, size })
    }

    /// Reads an ONNX export from a file.
    pub fn from_file(path: &Path) -> Result<Self, WeightsError> {
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// The network size these weights are for.
    pub fn model_size(&self) -> ModelSize {
        self.size
    }

    /// These weights if they are of size `requested`, otherwise
    /// [`WeightsError::SizeMismatch`] (for callers that were asked for one size explicitly).
    pub fn expect_size(self, requested: ModelSize) -> Result<Self, WeightsError> {
        if self.size == requested {
            Ok(self)
        } else {
            Err(WeightsError::SizeMismatch {
                requested,
                found: self.size,
            })
        }
    }

    /// The convolutions, in graph order.
    pub(crate) fn into_convs(self) -> Vec<OnnxConv> {
        self.convs
    }
}

/// The published size whose Focus stem matches the export's first convolution.
fn size_of_export(convs: &[OnnxConv]) -> Result<ModelSize, WeightsError> {
    let not_yolox = |reason: String| WeightsError::NotYolox { reason };
    let stem = convs
        .first()
        .ok_or_else(|| not_yolox("the file has no convolution".into()))?;
    let (out, inputs) = match stem.weight_shape.as_slice() {
        [out, inputs, ..] => (*out, *inputs),
        _ => {
            return Err(not_yolox(format!(
                "first convolution '{}' has weight shape {:?}",
                stem.weight_name, stem.weight_shape
            )));
        }
    };
    // Space-to-depth turns the 3 colour channels into 12.
    if inputs != 12 {
        return Err(not_yolox(format!(
            "first convolution '{}' takes {inputs} channels; a YOLOX Focus stem takes 12",
            stem.weight_name
        )));
    }
    ModelSize::ALL
        .into_iter()
        .find(|&size| YoloxConfig::for_size(size).stem_channels() == out)
        .ok_or_else(|| {
            let known: Vec<String> = ModelSize::ALL
                .iter()
                .map(|&s| format!("{s} {}", YoloxConfig::for_size(s).stem_channels()))
                .collect();
            not_yolox(format!(
                "the stem has {out} output channels, none of the published sizes ({})",
                known.join(", ")
            ))
        })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_published_size_has_its_own_stem_width() {
        let widths: Vec<(ModelSize, usize)> = ModelSize::ALL
            .iter()
            .map(|&s| (s, YoloxConfig::for_size(s).stem_channels()))
            .collect();
        assert_eq!(
            widths,
            [
                (ModelSize::Nano, 16),
                (ModelSize::Tiny, 24),
                (ModelSize::S, 32),
                (ModelSize::M, 48),
                (ModelSize::L, 64),
                (ModelSize::X, 80),
            ]
        );
    }

    #[test]
    fn an_export_without_a_focus_stem_is_not_yolox() {
        let conv = |shape: Vec<usize>| OnnxConv {
            node: String::new(),
            weight_name: "w".into(),
            weight: vec![0.0; shape.iter().product()],
            weight_shape: shape,
            bias: None,
            groups: 1,
            strides: vec![],
            pads: vec![],
        };
        for convs in [vec![], vec![conv(vec![16, 3, 3, 3])], vec![conv(vec![16])]] {
            let err = size_of_export(&convs).unwrap_err();
            assert!(matches!(err, WeightsError::NotYolox { .. }), "{err}");
        }
        assert_eq!(
            size_of_export(&[conv(vec![48, 12, 3, 3])]).unwrap(),
            ModelSize::M
        );
    }
}
