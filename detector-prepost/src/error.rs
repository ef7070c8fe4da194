//! Errors of the plain-data stages. `detector-core` wraps them in its own error types.

/// An image could not be read or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read image {source_name}: {reason}")]
pub struct ImageError {
    /// File name or other description of the input.
    pub source_name: String,
    /// Cause.
    pub reason: String,
}

impl ImageError {
    /// An error about the input called `source_name`.
    pub fn new(source_name: &str, reason: impl Into<String>) -> Self {
        Self {
            source_name: source_name.to_string(),
            reason: reason.into(),
        }
    }
}

/// A caller's input buffer cannot hold the letterboxed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the letterbox buffer holds {got} floats, {needed} are needed")]
pub struct BufferTooSmall {
    /// `3 * S * S`.
    pub needed: usize,
    /// The buffer's length.
    pub got: usize,
}

/// Encoding an output image failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode image: {0}")]
pub struct EncodeError(pub String);

/// The bytes are not a usable ONNX export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnnxError {
    /// The file is not a usable ONNX model.
    #[error("invalid ONNX weights: {reason}")]
    Format {
        /// What is wrong.
        reason: String,
    },
    /// One tensor of the file is unusable.
    #[error("invalid ONNX tensor '{name}': {reason}")]
    Tensor {
        /// Initializer name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}
