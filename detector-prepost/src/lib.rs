//! # detector-prepost
//!
//! The half of footfall's detector that works on plain data and needs no tensor library:
//! [`frame`] (decode images, bounded memory), [`preprocess`] (OpenCV-exact letterbox),
//! [`postprocess`] (YOLOX grid decode, NMS), [`annotate`] (boxes, JPEG, base64) and [`onnx`]
//! (the convolutions of an ONNX export as plain structs), [`tiling`] (slicing for small people).
//!
//! `detector-core` adds the network (Burn) and uses these stages; callers import them from here.
//! Keeping them apart lets the fuzz targets and other light users build without Burn. Nothing
//! here panics on bad input: every failure is one of the [`error`] types.

pub mod annotate;
pub mod error;
pub mod frame;
pub mod onnx;
pub mod postprocess;
pub mod preprocess;
pub mod tiling;

pub use error::{BufferTooSmall, EncodeError, ImageError, OnnxError};
