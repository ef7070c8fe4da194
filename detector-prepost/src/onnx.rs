//! Reads the convolutions of a YOLOX ONNX export.
//!
//! Only what the network needs is decoded: the Conv nodes in graph order with their
//! attributes, and their weight and bias initializers. The protobuf messages are declared with
//! `prost` (field numbers from onnx.proto); unknown fields are skipped, so newer exports load.

use std::collections::HashMap;

use prost::Message;

use crate::error::OnnxError;

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
pub fn read_convs(bytes: &[u8]) -> Result<Vec<OnnxConv>, OnnxError> {
    let model = ModelProto::decode(bytes).map_err(|e| OnnxError::Format {
        reason: format!("not a readable ONNX protobuf ({e}); is the file truncated?"),
    })?;
    let graph = model.graph.ok_or_else(|| OnnxError::Format {
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
        let weight_name = node.input.get(1).ok_or_else(|| OnnxError::Format {
            reason: format!("Conv node '{node_name}' has no weight input"),
        })?;
        let weight = initializers
            .get(weight_name.as_str())
            .ok_or_else(|| OnnxError::Format {
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
                        .ok_or_else(|| OnnxError::Format {
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
fn float_tensor(tensor: &TensorProto, name: &str) -> Result<(Vec<usize>, Vec<f32>), OnnxError> {
    let bad = |reason: String| OnnxError::Tensor {
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
            if count.checked_mul(4) != Some(raw.len()) {
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

/// Writes a minimal ONNX model holding `convs` as Conv nodes with float32 initializers (weights
/// as `raw_data`, biases as `float_data`), the inverse of [`read_convs`]. For tests and fuzz
/// seeds: real weights come from the published exports.
pub fn encode_convs(convs: &[OnnxConv]) -> Vec<u8> {
    let mut graph = GraphProto::default();
    for (i, conv) in convs.iter().enumerate() {
        let dims = |shape: &[usize]| shape.iter().map(|&d| d as i64).collect();
        let mut input = vec![format!("x{i}"), conv.weight_name.clone()];
        graph.initializer.push(TensorProto {
            dims: dims(&conv.weight_shape),
            data_type: Some(ONNX_FLOAT),
            name: Some(conv.weight_name.clone()),
            raw_data: Some(conv.weight.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        });
        if let Some(bias) = &conv.bias {
            let name = format!("{}.bias", conv.weight_name.trim_end_matches(".weight"));
            graph.initializer.push(TensorProto {
                dims: vec![bias.len() as i64],
                data_type: Some(ONNX_FLOAT),
                float_data: bias.clone(),
                name: Some(name.clone()),
                ..Default::default()
            });
            input.push(name);
        }
        let ints = |name: &str, values: &[usize]| AttributeProto {
            name: Some(name.into()),
            i: None,
            ints: values.iter().map(|&v| v as i64).collect(),
        };
        graph.node.push(NodeProto {
            input,
            name: Some(conv.node.clone()),
            op_type: Some("Conv".into()),
            attribute: vec![
                AttributeProto {
                    name: Some("group".into()),
                    i: Some(conv.groups as i64),
                    ints: Vec::new(),
                },
                ints("strides", &conv.strides),
                ints("pads", &conv.pads),
            ],
        });
    }
    ModelProto { graph: Some(graph) }.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(name: &str, shape: [usize; 4], groups: usize, bias: bool) -> OnnxConv {
        let n = shape.iter().product::<usize>();
        OnnxConv {
            node: format!("Conv_{name}"),
            weight_name: format!("{name}.weight"),
            weight_shape: shape.to_vec(),
            weight: (0..n).map(|i| i as f32 * 0.25 - 1.0).collect(),
            bias: bias.then(|| (0..shape[0]).map(|i| i as f32).collect()),
            groups,
            strides: vec![2, 2],
            pads: vec![1, 1, 1, 1],
        }
    }

    #[test]
    fn encoded_convs_read_back_in_order() {
        let convs = vec![
            conv("a", [4, 3, 3, 3], 1, true),
            conv("b", [4, 1, 3, 3], 4, false),
        ];
        let back = read_convs(&encode_convs(&convs)).unwrap();
        assert_eq!(back.len(), 2);
        for (a, b) in convs.iter().zip(&back) {
            assert_eq!(a.weight_name, b.weight_name);
            assert_eq!(a.weight_shape, b.weight_shape);
            assert_eq!(a.weight, b.weight);
            assert_eq!(a.bias, b.bias);
            assert_eq!(
                (a.groups, &a.strides, &a.pads),
                (b.groups, &b.strides, &b.pads)
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error_or_fewer_convs_never_a_panic() {
        let bytes = encode_convs(&[
            conv("a", [2, 3, 3, 3], 1, true),
            conv("b", [2, 2, 1, 1], 1, true),
        ]);
        for cut in 0..bytes.len() {
            if let Ok(convs) = read_convs(&bytes[..cut]) {
                assert!(convs.len() <= 2, "cut at {cut}");
            }
        }
        let err = read_convs(&[]).unwrap_err().to_string();
        assert!(err.contains("no graph"), "{err}");
        let err = read_convs(&[0xff; 16]).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn hostile_dimensions_are_errors() {
        // Found while writing the `onnx_weights` fuzz target: dims whose product fits in usize
        // but whose byte size (x4) does not overflowed `count * 4` (a panic with overflow
        // checks, a wrapped comparison without).
        for dims in [
            vec![1i64 << 62],
            vec![-1],
            vec![i64::MAX, i64::MAX],
            vec![1 << 31, 1 << 31],
        ] {
            let model = ModelProto {
                graph: Some(GraphProto {
                    node: vec![NodeProto {
                        input: vec!["x".into(), "w".into()],
                        op_type: Some("Conv".into()),
                        ..Default::default()
                    }],
                    initializer: vec![TensorProto {
                        dims: dims.clone(),
                        data_type: Some(ONNX_FLOAT),
                        name: Some("w".into()),
                        raw_data: Some(vec![0; 16]),
                        ..Default::default()
                    }],
                }),
            };
            let err = read_convs(&model.encode_to_vec()).unwrap_err();
            assert!(matches!(err, OnnxError::Tensor { .. }), "{dims:?}: {err}");
        }
    }

    #[test]
    fn non_finite_and_wrong_types_are_named() {
        let mut c = conv("a", [1, 1, 1, 1], 1, false);
        c.weight = vec![f32::NAN];
        let err = read_convs(&encode_convs(&[c])).unwrap_err().to_string();
        assert!(
            err.contains("a.weight") && err.contains("non-finite"),
            "{err}"
        );
    }
}
