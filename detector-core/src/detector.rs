//! The [`Detector`]: frames in, detections and people counts out.
//!
//! Data path: frames -> letterbox batch -> tensor -> YOLOX -> raw predictions -> decode + NMS
//! -> detections per frame -> people counts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use burn::tensor::{Tensor, TensorData};
use image::RgbImage;

use crate::backend::{BackendChoice, SelectedBackend, select_backend};
use crate::count::PeopleCount;
use crate::error::{DetectorError, WeightsError};
use crate::model::{ModelSize, Yolox, YoloxConfig};
use crate::postprocess::{PostprocessConfig, anchor_count, postprocess};
use crate::preprocess::letterbox_batch;
use crate::weights::{apply_onnx, manifest, onnx};

/// COCO classes of the published weights.
pub const NUM_CLASSES: usize = 80;

/// Everything a [`Detector`] is built from.
#[derive(Debug, Clone)]
pub struct DetectorConfig {
    /// Network size.
    pub model: ModelSize,
    /// Weights file; when `None`, resolved from the manifest (`FOOTFALL_WEIGHTS`, cache).
    pub weights: Option<PathBuf>,
    /// Allow downloading missing weights from the official URL.
    pub allow_download: bool,
    /// Compute backend.
    pub backend: BackendChoice,
    /// Square input side (multiple of 32); `None` for the model's default.
    pub input_size: Option<usize>,
    /// Thresholds and NMS settings.
    pub postprocess: PostprocessConfig,
    /// Frames per forward pass; larger inputs are split to bound memory.
    pub max_batch: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            model: ModelSize::Nano,
            weights: None,
            allow_download: false,
            backend: BackendChoice::Cpu,
            input_size: None,
            postprocess: PostprocessConfig::default(),
            max_batch: 8,
        }
    }
}

/// A loaded YOLOX network on a backend.
pub struct Detector {
    model: Yolox,
    backend: SelectedBackend,
    model_size: ModelSize,
    input_size: usize,
    postprocess: PostprocessConfig,
    max_batch: usize,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("model", &self.model_size)
            .field("backend", &self.backend.description)
            .field("input_size", &self.input_size)
            .field("postprocess", &self.postprocess)
            .finish()
    }
}

impl Detector {
    /// Resolves and loads the weights, starts the backend.
    pub fn new(config: DetectorConfig) -> Result<Self, DetectorError> {
        let path = match &config.weights {
            Some(path) => path.clone(),
            None => {
                let entry = manifest::entry(config.model.name())?;
                manifest::resolve(&entry, None, config.allow_download)?
            }
        };
        let bytes = std::fs::read(&path).map_err(|source| WeightsError::Io {
            path: path.clone(),
            source,
        })?;
        Self::from_onnx_bytes(config, &bytes)
    }

    /// Builds a detector from the bytes of an ONNX export.
    pub fn from_onnx_bytes(config: DetectorConfig, bytes: &[u8]) -> Result<Self, DetectorError> {
        let input_size = config
            .input_size
            .unwrap_or_else(|| config.model.default_input_size());
        if input_size < 32 || !input_size.is_multiple_of(32) || input_size > 4096 {
            return Err(DetectorError::Config(format!(
                "input size {input_size} must be a multiple of 32 between 32 and 4096"
            )));
        }
        let post = config.postprocess;
        if !(0.0..=1.0).contains(&post.score_threshold)
            || !(0.0..=1.0).contains(&post.iou_threshold)
        {
            return Err(DetectorError::Config(format!(
                "thresholds must lie in 0..=1 (score {}, IoU {})",
                post.score_threshold, post.iou_threshold
            )));
        }
        let convs = onnx::read_convs(bytes)?;
        let backend = select_backend(config.backend)?;
        let mut model = YoloxConfig::for_size(config.model).init(&backend.device);
        apply_onnx(&mut model, config.model.name(), convs, &backend.device)?;
        tracing::debug!(model = %config.model, backend = %backend.description, input_size, "detector ready");
        Ok(Self {
            model,
            backend,
            model_size: config.model,
            input_size,
            postprocess: post,
            max_batch: config.max_batch.max(1),
        })
    }

    /// The backend in use, e.g. `flex`.
    pub fn backend(&self) -> &str {
        &self.backend.description
    }

    /// The Burn device the network runs on (to put other work on the same device).
    pub fn device(&self) -> &burn::tensor::Device {
        &self.backend.device
    }

    /// Network size.
    pub fn model_size(&self) -> ModelSize {
        self.model_size
    }

    /// Square input side.
    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// Postprocessing settings.
    pub fn postprocess_config(&self) -> &PostprocessConfig {
        &self.postprocess
    }

    /// Runs the network on preprocessed input `[batch, 3, S, S]` and returns the raw
    /// predictions `[batch, anchors, 85]`, row-major (the ONNX export's output).
    pub fn raw_output(&self, input: &[f32], batch: usize) -> Result<Vec<f32>, DetectorError> {
        self.forward(input.to_vec(), batch)
    }

    /// [`Self::raw_output`] taking ownership, so a batch built for the network is not copied.
    fn forward(&self, input: Vec<f32>, batch: usize) -> Result<Vec<f32>, DetectorError> {
        let s = self.input_size;
        if batch == 0 || input.len() != batch * 3 * s * s {
            return Err(DetectorError::Config(format!(
                "input of {} values is not {batch} x 3 x {s} x {s}",
                input.len()
            )));
        }
        let backend = self.backend.description.clone();
        let failed = |reason: String| DetectorError::Execution {
            backend: backend.clone(),
            reason,
        };
        // Burn reports some backend failures (device lost, out of memory) by panicking; keep
        // them inside this call as errors.
        let result = catch_unwind(AssertUnwindSafe(move || {
            let run = move || {
                let data = TensorData::new(input, [batch, 3, s, s]);
                let x = Tensor::<4>::from_data(data, &self.backend.device);
                self.model.forward(x).try_into_data()
            };
            if self.backend.is_wgpu {
                run()
            } else {
                crate::kernels::on_cpu_pool(run)
            }
        }));
        let data = match result {
            Ok(Ok(data)) => data,
            Ok(Err(e)) => return Err(failed(format!("{e:?}"))),
            Err(panic) => return Err(failed(panic_message(&panic))),
        };
        let values = data
            .try_into_vec::<f32>()
            .map_err(|e| failed(format!("unexpected output data: {e:?}")))?;
        let expected = batch * anchor_count(s) * (5 + NUM_CLASSES);
        if values.len() != expected {
            return Err(failed(format!(
                "output has {} values, expected {expected}",
                values.len()
            )));
        }
        Ok(values)
    }

    /// Detections per frame (frame pixels, sorted by score) with the configured thresholds.
    pub fn detect(&self, frames: &[RgbImage]) -> Result<Vec<Vec<crate::Detection>>, DetectorError> {
        self.detect_with(frames, &self.postprocess)
    }

    /// Detections per frame with other postprocessing settings.
    pub fn detect_with(
        &self,
        frames: &[RgbImage],
        config: &PostprocessConfig,
    ) -> Result<Vec<Vec<crate::Detection>>, DetectorError> {
        let row = anchor_count(self.input_size) * (5 + NUM_CLASSES);
        let mut all = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.max_batch) {
            let batch = letterbox_batch(chunk, self.input_size);
            let raw = self.forward(batch.data, chunk.len())?;
            for (letterbox, raw) in batch.letterboxes.iter().zip(raw.chunks_exact(row)) {
                all.push(postprocess(
                    raw,
                    NUM_CLASSES,
                    self.input_size,
                    letterbox,
                    config,
                ));
            }
        }
        Ok(all)
    }

    /// People per frame and their summary.
    pub fn count_people(&self, frames: &[RgbImage]) -> Result<PeopleCount, DetectorError> {
        let detections = self.detect(frames)?;
        Ok(PeopleCount::from_counts(
            detections.iter().map(|d| count_people_in(d)).collect(),
        ))
    }
}

/// Number of person detections in one frame's detections.
pub fn count_people_in(detections: &[crate::Detection]) -> usize {
    detections.iter().filter(|d| d.is_person()).count()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "backend panicked".into())
}
