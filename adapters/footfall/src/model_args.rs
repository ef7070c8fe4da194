//! Options that choose the network, its weights and its backend (shared by subcommands).

use std::path::PathBuf;

use clap::Args;
use detector_core::weights::manifest::{self, WEIGHTS_DIR_ENV, WEIGHTS_ENV, WeightsLocator};
use detector_core::{
    BackendChoice, ClassFilter, Detector, DetectorError, ModelSize, NmsMode, OnnxWeights,
    PostprocessConfig, RunOptions,
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
    /// Expected size of the --weights file (checked against it); default: read from the file.
    #[arg(long, value_name = "NAME")]
    pub model_size: Option<ModelSize>,
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
    /// Also detect in an overlapping COLSxROWS grid of tiles (e.g. 2x2) and merge: finds
    /// small, distant people at 1 + COLS*ROWS forward passes per frame.
    #[arg(long, value_name = "COLSxROWS")]
    pub tiles: Option<detector_prepost::tiling::Tiling>,
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
    /// Finds the weights and loads the detector. The library reads no environment, so this is
    /// where `$FOOTFALL_WEIGHTS` (a file used whatever the model name) and the cache directory
    /// (`$FOOTFALL_WEIGHTS_DIR`, else `$XDG_CACHE_HOME` or `$HOME/.cache`, `footfall/weights`)
    /// are read.
    pub fn load_detector(&self, postprocess: PostprocessConfig) -> Result<Detector, DetectorError> {
        let (path, requested) = match &self.weights {
            Some(path) => (path.clone(), self.model_size),
            None => {
                let size = self.model.unwrap_or(ModelSize::Nano);
                let entry = manifest::entry(size.name())?;
                let explicit = std::env::var_os(WEIGHTS_ENV).map(PathBuf::from);
                let locator = WeightsLocator {
                    cache_dir: cache_dir_from_env(),
                    allow_download: self.download,
                };
                let path = locator.resolve(&entry, explicit.as_deref())?;
                // Without --model the default name only picks the cache file; a file given
                // by $FOOTFALL_WEIGHTS may then be of any size.
                (path, self.model.or(explicit.is_none().then_some(size)))
            }
        };
        let mut weights = OnnxWeights::from_file(&path)?;
        if let Some(size) = requested {
            weights = weights.expect_size(size)?;
        }
        let run = RunOptions {
            backend: self.backend,
            threads: None,
            max_batch: self.batch.max(1),
            input_size: self.input_size,
            tiling: self.tiles,
        };
        Detector::from_weights(weights, run, postprocess)
    }
}

/// `$FOOTFALL_WEIGHTS_DIR`, else the user's cache directory, else the temporary directory.
pub(crate) fn cache_dir_from_env() -> PathBuf {
    if let Some(dir) = std::env::var_os(WEIGHTS_DIR_ENV) {
        return PathBuf::from(dir);
    }
    let xdg = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    WeightsLocator::default_cache_dir(xdg.as_deref(), home.as_deref())
        .unwrap_or_else(|| std::env::temp_dir().join("footfall").join("weights"))
}
