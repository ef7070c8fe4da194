//! Errors of the detector library. Nothing in this crate panics on bad input: every failure
//! is one of these, naming what was wrong.

use std::path::PathBuf;

use detector_prepost::OnnxError;

use crate::model::ModelSize;

/// Failures while finding, reading or applying weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be read.
    #[error("cannot read weights file {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a readable ONNX model (the reader's error, unchanged).
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// The file is ONNX but not a YOLOX export this crate knows.
    #[error("not a YOLOX export: {reason}")]
    NotYolox {
        /// What is wrong.
        reason: String,
    },
    /// The file holds another network size than the one requested.
    #[error("the weights are {found}, but {requested} was requested")]
    SizeMismatch {
        /// Size the caller asked for.
        requested: ModelSize,
        /// Size read from the file.
        found: ModelSize,
    },
    /// The file holds a different network than the one configured.
    #[error(
        "weights do not fit {model}: {found} convolutions in the file, {expected} in the model (wrong model size or not a YOLOX export?)"
    )]
    ConvCount {
        /// Model being loaded.
        model: String,
        /// Convolutions the model has.
        expected: usize,
        /// Convolutions the file has.
        found: usize,
    },
    /// A tensor's shape or attributes do not fit the layer it maps to.
    #[error("weights do not fit {model}: layer {layer} <- ONNX '{tensor}': {reason}")]
    Mismatch {
        /// Model being loaded.
        model: String,
        /// PyTorch-style name of the layer.
        layer: String,
        /// ONNX initializer name.
        tensor: String,
        /// What differs.
        reason: String,
    },
    /// The file's checksum is not the published one.
    #[error("checksum mismatch for {path}: expected sha256 {expected}, got {actual}")]
    Checksum {
        /// File.
        path: PathBuf,
        /// Manifest value.
        expected: String,
        /// Computed value.
        actual: String,
    },
    /// No file found for a model name.
    #[error("no weights for model '{model}'; looked in: {searched}. {hint}")]
    NotFound {
        /// Model name.
        model: String,
        /// Places searched.
        searched: String,
        /// What to do.
        hint: String,
    },
    /// The model name is not in the manifest.
    #[error("unknown model '{0}' (see weights/manifest.json)")]
    UnknownModel(String),
    /// The manifest knows no checksum for the model, so no file can be checked against it.
    #[error(
        "the manifest has no verified checksum for '{model}', so no file can be imported as it; pass the file with --weights PATH instead"
    )]
    Unverified {
        /// Model name.
        model: String,
    },
    /// Download failed.
    #[error("download of {url} failed: {reason}")]
    Download {
        /// URL.
        url: String,
        /// Cause.
        reason: String,
    },
}

/// Failures of the detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// Weights problem.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The compute backend could not be started.
    #[error("backend {backend} unavailable: {reason}")]
    Backend {
        /// Requested backend.
        backend: String,
        /// Cause.
        reason: String,
    },
    /// The backend failed while running the network.
    #[error("inference failed on {backend}: {reason}")]
    Execution {
        /// Backend.
        backend: String,
        /// Cause.
        reason: String,
    },
}
