//! Options that choose the network, its weights and its backend (shared by subcommands).

use std::path::PathBuf;

use clap::Args;
use detector_core::{
    BackendChoice, ClassFilter, DetectorConfig, ModelSize, NmsMode, PostprocessConfig,
};

/// Model, weights and backend.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// ONNX weights file (a YOLOX export). Overrides --model resolution.
    #[arg(long, value_name = "PATH", conflicts_with = "model")]
    pub weights: Option<PathBuf>,
    /// Model name from weights/manifest.json (nano, tiny, s, m, l, x), resolved through
    /// $FOOTFALL_WEIGHTS or the cache directory ($FOOTFALL_WEIGHTS_DIR).
    #[arg(long, value_name = "NAME")]
    pub model: Option<ModelSize>,
    /// Size of the network when --weights is given.
    #[arg(long, value_name = "NAME", default_value = "nano")]
    pub model_size: ModelSize,
    /// Compute backend: cpu, wgpu, auto (GPU if present), flex, ndarray.
    #[arg(long, default_value = "cpu")]
    pub backend: BackendChoice,
    /// Network input side in pixels (multiple of 32); default: the model's.
    #[arg(long)]
    pub input_size: Option<usize>,
    /// Download missing weights from the official URL (sha256-verified).
    #[arg(long)]
    pub download: bool,
    /// Frames per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
}

/// Detection thresholds.
#[derive(Debug, Clone, Args)]
pub struct ThresholdArgs {
    /// Minimum score (objectness x class probability) of a detection.
    #[arg(long, default_value_t = 0.25)]
    pub score_threshold: f32,
    /// IoU above which NMS suppresses the weaker box.
    #[arg(long, default_value_t = 0.45)]
    pub iou_threshold: f32,
    /// Suppress only boxes of the same class (default: class-agnostic, as the reference).
    #[arg(long)]
    pub class_aware_nms: bool,
    /// Decode the person class only (faster; see detector-core's ClassFilter::PersonOnly).
    #[arg(long)]
    pub people_only: bool,
}

impl ThresholdArgs {
    /// Postprocessing settings.
    pub fn postprocess(&self) -> PostprocessConfig {
        PostprocessConfig {
            score_threshold: self.score_threshold,
            iou_threshold: self.iou_threshold,
            nms: if self.class_aware_nms {
                NmsMode::PerClass
            } else {
                NmsMode::ClassAgnostic
            },
            classes: if self.people_only {
                ClassFilter::PersonOnly
            } else {
                ClassFilter::All
            },
        }
    }
}

impl ModelArgs {
    /// Detector configuration.
    pub fn detector_config(&self, postprocess: PostprocessConfig) -> DetectorConfig {
        DetectorConfig {
            model: self.model.unwrap_or(self.model_size),
            weights: self.weights.clone(),
            allow_download: self.download,
            backend: self.backend,
            input_size: self.input_size,
            postprocess,
            max_batch: self.batch.max(1),
        }
    }
}
