//! # detector-core
//!
//! People detection and counting with YOLOX (Megvii, Apache-2.0 weights) in pure Rust on
//! [Burn](https://burn.dev), on the CPU or through wgpu.
//!
//! ```no_run
//! use detector_core::{Detector, DetectorConfig, load_image};
//! let detector = Detector::new(DetectorConfig::default())?;
//! let frame = load_image(std::path::Path::new("street.jpg"))?;
//! let count = detector.count_people(&[frame])?;
//! println!("{} people", count.max);
//! # Ok::<(), detector_core::DetectorError>(())
//! ```
//!
//! The modules follow the data path: [`frame`] (decode) -> [`preprocess`] (letterbox) ->
//! [`model`] (network) -> [`postprocess`] (decode boxes, NMS) -> [`count`] -> [`annotate`](mod@annotate).
//! On Burn's flex CPU backend the network's convolutions, max-pools and upsampling run through
//! [`kernels`], plugged in as Burn backend extensions.

pub mod backend;
pub mod count;
pub mod detector;
pub mod error;
pub mod kernels;
pub mod model;
pub mod weights;
/// The stages on plain data live in `detector-prepost` (no Burn), re-exported under their paths.
pub use detector_prepost::{annotate, frame, postprocess, preprocess};

pub use annotate::{annotate, class_name, encode_jpeg, to_base64};
pub use backend::BackendChoice;
pub use count::PeopleCount;
pub use detector::{Detector, DetectorConfig, NUM_CLASSES, count_people_in};
pub use error::{DetectorError, WeightsError};
pub use frame::{decode_image, load_image};
pub use model::ModelSize;
pub use postprocess::{ClassFilter, Detection, NmsMode, PostprocessConfig};
pub use preprocess::Letterbox;
