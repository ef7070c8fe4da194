//! # detector-core
//!
//! People detection and counting with YOLOX (Megvii, Apache-2.0 weights) in pure Rust on
//! [Burn](https://burn.dev), on the CPU or through wgpu.
//!
//! A [`Detector`] is built from three separate things: **where the weights come from** (ONNX
//! bytes or a file; the model size is read from them), **how to run** ([`RunOptions`]: backend,
//! CPU threads, batch, input size) and **what to output** ([`PostprocessConfig`]: thresholds,
//! NMS). Nothing in this crate reads environment variables; finding a model's file by name
//! (cache directory, verified download) is [`weights::manifest::WeightsLocator`], which takes
//! its settings from the caller.
//!
//! ```no_run
//! use std::path::Path;
//! use detector_core::{Detector, PostprocessConfig, RunOptions};
//! use detector_core::weights::manifest::{WeightsLocator, entry};
//!
//! let locator = WeightsLocator::new("/var/cache/footfall/weights");
//! let weights = locator.resolve(&entry("nano")?, None)?;
//! let detector = Detector::from_onnx_file(&weights, RunOptions::default(), PostprocessConfig::default())?;
//! // Decoding and letterboxing are plain-data stages of `detector-prepost`.
//! let frame = detector_prepost::frame::load_image(Path::new("street.jpg"))?;
//! let count = detector.count_people(&[frame])?;
//! println!("{} people", count.max().unwrap_or(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The data path: `detector_prepost::frame` (decode) -> `detector_prepost::preprocess`
//! (letterbox) -> [`model`] (network) -> `detector_prepost::postprocess` (decode boxes, NMS) ->
//! [`count`]. On Burn's flex CPU backend the network's convolutions, max-pools and upsampling
//! run through [`kernels`], plugged in as Burn backend extensions.

pub mod backend;
pub mod count;
pub mod detector;
pub mod error;
pub mod kernels;
pub mod memory;
pub mod model;
pub mod weights;

pub use backend::BackendChoice;
pub use count::PeopleCount;
pub use detector::{Detector, NUM_CLASSES, RunOptions, count_people_in};
pub use error::{DetectorError, WeightsError};
pub use model::ModelSize;
pub use weights::OnnxWeights;
// The output types of `Detector`'s signatures (and the parts of `PostprocessConfig`), so that a
// caller that only detects needs no second import.
pub use detector_prepost::postprocess::{ClassFilter, Detection, NmsMode, PostprocessConfig};
