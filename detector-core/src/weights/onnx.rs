//! Reads the convolutions of a YOLOX ONNX export.
//!
//! Only what the network needs is decoded: the Conv nodes in graph order with their
//! attributes, and their weight and bias initializers. The protobuf messages are declared with
//! `prost` (field numbers from onnx.proto); unknown fields are skipped, so newer exports load.

use std::collections::HashMap;

use prost::Message;

use crate::error::WeightsError;

/// ONNX `TensorProto.DataType.FLOAT`.
const ONNX_FLOAT: i32 = 1;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, optional, tag = "3")]
    name: Option<String>,
    #[prost(string, optional, tag = "4")]
    op_type: Option<String>,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(int64, optional, tag = "3")]
    i: Option<i64>,
    #[prost(int64, repeated, packed = "false", tag = "8")]
    ints: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, packed = "false", tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, optional, tag = "2")]
    data_type: Option<i32>,
    #[prost(float, repeated, packed = "true", tag = "4")]
    float_data: Vec<f32>,
    #[prost(string, optional, tag = "8")]
    name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "9")]
    raw_data: Option<Vec<u8>>,
    #[prost(int32, optional, tag = "14")]
    data_location: Option<i32>,
}

/// One convolution of the export, in graph order.
#[derive(Debug, Clone)]
pub struct OnnxConv {
    /// Node name (may be empty).
    pub node: String,
    /// Name of the weight initializer.
    pub weight_name: String,
    /// Weight `[out, in / groups, kh, kw]`.
    pub weight_shape: Vec<usize>,
    /// Weight values, row-major.
    pub weight: Vec<f32>,
    /// Bias values (`[out]`), if the node has one.
    pub bias: Option<Vec<f32>>,
    /// `group` attribute.
    pub groups: usize,
    /// `strides` attribute.
    pub strides: Vec<usize>,
    /// `pads` attribute (`[top, left, bottom, right]`).
    pub pads: Vec<usize>,
}

/// Parses an ONNX model and returns its Conv nodes in graph order with their tensors.
pub fn read_convs(bytes: &[u8]) -> Result<Vec<OnnxConv>, WeightsError> {
    let model = ModelProto::decode(bytes).map_err(|e| WeightsError::Format {
        reason: format!("not a readable ONNX protobuf ({e}); is the file truncated?"),
    })?;
    let graph = model.graph.ok_or_else(|| WeightsError::Format {
        reason: "the ONNX model has no graph".into(),
    })?;
    let initializers: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_deref().unwrap_or(""), t))
        .collect();

    let mut convs = Vec::new();
    for node in graph
        .node
        .iter()
        .filter(|n| n.op_type.as_deref() == Some("Conv"))
    {
        let node_name = node.name.clone().unwrap_or_default();
        let weight_name = node.input.get(1).ok_or_else(|| WeightsError::Format {
            reason: format!("Conv node '{node_name}' has no weight input"),
        })?;
        let weight =
            initializers
                .get(weight_name.as_str())
                .ok_or_else(|| WeightsError::Format {
                    reason: format!(
                        "Conv node '{node_name}': weight '{weight_name}' is not an initializer"
                    ),
                })?;
        let (weight_shape, weight_values) = float_tensor(weight, weight_name)?;
        let bias = match node.input.get(2).filter(|name| !name.is_empty()) {
            Some(bias_name) => {
                let tensor =
                    initializers
                        .get(bias_name.as_str())
                        .ok_or_else(|| WeightsError::Format {
                            reason: format!(
                                "Conv node '{node_name}': bias '{bias_name}' is not an initializer"
                            ),
                        })?;
                Some(float_tensor(tensor, bias_name)?.1)
            }
            None => None,
        };
        let attr_ints = |name: &str| -> Vec<usize> {
            node.attribute
                .iter()
                .find(|a| a.name.as_deref() == Some(name))
                .map(|a| a.ints.iter().map(|&v| v.max(0) as usize).collect())
                .unwrap_or_default()
        };
        let groups = node
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some("group"))
            .and_then(|a| a.i)
            .unwrap_or(1)
            .max(1) as usize;
        convs.push(OnnxConv {
            node: node_name,
            weight_name: weight_name.clone(),
            weight_shape,
            weight: weight_values,
            bias,
            groups,
            strides: attr_ints("strides"),
            pads: attr_ints("pads"),
        });
    }
    Ok(convs)
}

/// Shape and values of a float32 initializer stored inline.
fn float_tensor(tensor: &TensorProto, name: &str) -> Result<(Vec<usize>, Vec<f32>), WeightsError> {
    let bad = |reason: String| WeightsError::Tensor {
        name: name.to_string(),
        reason,
    };
    if tensor.data_location.unwrap_or(0) != 0 {
        return Err(bad("stored as external data, which is not supported".into()));
    }
    let data_type = tensor.data_type.unwrap_or(0);
    if data_type != ONNX_FLOAT {
        return Err(bad(format!("data type {data_type}, expected float32 (1)")));
    }
    let mut shape = Vec::with_capacity(tensor.dims.len());
    let mut count: usize = 1;
    for &d in &tensor.dims {
        let d = usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}")))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| bad("dimensions overflow".into()))?;
        shape.push(d);
    }
    let values = match &tensor.raw_data {
        Some(raw) => {
            if raw.len() != count * 4 {
                return Err(bad(format!(
                    "{} bytes of data for {count} float32 values",
                    raw.len()
                )));
            }
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        }
        None => {
            if tensor.float_data.len() != count {
                return Err(bad(format!(
                    "{} values for shape {shape:?}",
                    tensor.float_data.len()
                )));
            }
            tensor.float_data.clone()
        }
    };
    if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("non-finite value at index {pos}")));
    }
    Ok((shape, values))
}
