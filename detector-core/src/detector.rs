//! The [`Detector`]: frames in, detections and people counts out.
//!
//! Data path: frames -> letterbox batch -> tensor -> YOLOX -> raw predictions -> decode + NMS
//! -> detections per frame -> people counts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use burn::tensor::{Tensor, TensorData};
use detector_prepost::postprocess::{Detection, PostprocessConfig, anchor_count, postprocess};
use detector_prepost::preprocess::letterbox_batch;
use detector_prepost::tiling::Tiling;
use image::RgbImage;

use crate::backend::{BackendChoice, SelectedBackend, select_backend};
use crate::count::PeopleCount;
use crate::error::DetectorError;
use crate::model::{ModelSize, Yolox, YoloxConfig};
use crate::weights::{OnnxWeights, apply_onnx};

/// COCO classes of the published weights.
pub const NUM_CLASSES: usize = 80;

/// How a [`Detector`] runs: backend, CPU threads, batching and input size. Where the weights
/// come from is the constructor's argument, what comes out is the [`PostprocessConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// Compute backend.
    pub backend: BackendChoice,
    /// CPU threads for the network: `Some(n)` gives the detector a pool of its own with `n`
    /// threads; `None` uses rayon's global pool (one thread per core, or `RAYON_NUM_THREADS`,
    /// which rayon itself reads). Unused on wgpu.
    pub threads: Option<usize>,
    /// Frames per forward pass; larger inputs are split to bound memory.
    pub max_batch: usize,
    /// Square input side (multiple of 32); `None` for the default of the weights' model size.
    pub input_size: Option<usize>,
    /// Also detect in an overlapping grid of tiles and merge (small, distant people; costs
    /// [`Tiling::passes`] forward passes per frame). `None`: the whole frame only.
    pub tiling: Option<Tiling>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            backend: BackendChoice::Cpu,
            threads: None,
            max_batch: 8,
            input_size: None,
            tiling: None,
        }
    }
}

/// A loaded YOLOX network on a backend.
///
/// # Threads
/// `Detector` is `Send + Sync` (asserted at compile time), and every method takes `&self`: one
/// detector can be shared (e.g. in an `Arc`) and [`Self::detect`] called from several threads
/// at once. The calls do not add throughput, though: on the CPU each forward pass already
/// spreads over the whole pool (the global one, or the detector's own with
/// [`RunOptions::threads`]), so concurrent calls share those threads; on wgpu they queue on the
/// one device. Serialising calls (as the local runner does) costs nothing on a small machine.
pub struct Detector {
    model: Yolox,
    backend: SelectedBackend,
    /// The detector's own CPU pool, when [`RunOptions::threads`] asked for one.
    pool: Option<rayon::ThreadPool>,
    model_size: ModelSize,
    input_size: usize,
    postprocess: PostprocessConfig,
    max_batch: usize,
    tiling: Option<Tiling>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("model", &self.model_size)
            .field("backend", &self.backend.description)
            .field(
                "threads",
                &self
                    .pool
                    .as_ref()
                    .map(rayon::ThreadPool::current_num_threads),
            )
            .field("input_size", &self.input_size)
            .field("postprocess", &self.postprocess)
            .finish()
    }
}

impl Detector {
    /// Builds a detector from an ONNX export in memory; the model size is read from it.
    pub fn from_onnx_bytes(
        bytes: &[u8],
        run: RunOptions,
        postprocess: PostprocessConfig,
    ) -> Result<Self, DetectorError> {
        Self::from_weights(OnnxWeights::from_bytes(bytes)?, run, postprocess)
    }

    /// Builds a detector from an ONNX export file; the model size is read from it.
    pub fn from_onnx_file(
        path: &Path,
        run: RunOptions,
        postprocess: PostprocessConfig,
    ) -> Result<Self, DetectorError> {
        Self::from_weights(OnnxWeights::from_file(path)?, run, postprocess)
    }

    /// Builds a detector from parsed weights (use [`OnnxWeights::expect_size`] first to insist
    /// on one size), starts the backend and checks every tensor against its layer.
    pub fn from_weights(
        weights: OnnxWeights,
        run: RunOptions,
        postprocess: PostprocessConfig,
    ) -> Result<Self, DetectorError> {
        let model_size = weights.model_size();
        let input_size = run
            .input_size
            .unwrap_or_else(|| model_size.default_input_size());
        if input_size < 32 || !input_size.is_multiple_of(32) || input_size > 4096 {
            return Err(DetectorError::Config(format!(
                "input size {input_size} must be a multiple of 32 between 32 and 4096"
            )));
        }
        let post = postprocess;
        if !(0.0..=1.0).contains(&post.score_threshold)
            || !(0.0..=1.0).contains(&post.iou_threshold)
        {
            return Err(DetectorError::Config(format!(
                "thresholds must lie in 0..=1 (score {}, IoU {})",
                post.score_threshold, post.iou_threshold
            )));
        }
        let pool = match run.threads {
            None => None,
            Some(0) => {
                return Err(DetectorError::Config(
                    "threads must be at least 1 (or unset for rayon's global pool)".into(),
                ));
            }
            Some(threads) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("detector-{i}"))
                    .build()
                    .map_err(|e| DetectorError::Backend {
                        backend: "cpu".into(),
                        reason: format!("cannot start {threads} threads: {e}"),
                    })?,
            ),
        };
        let backend = select_backend(run.backend)?;
        let mut model = YoloxConfig::for_size(model_size).init(&backend.device);
        apply_onnx(
            &mut model,
            model_size.name(),
            weights.into_convs(),
            &backend.device,
        )?;
        tracing::debug!(model = %model_size, backend = %backend.description, input_size, "detector ready");
        Ok(Self {
            model,
            backend,
            pool,
            model_size,
            input_size,
            postprocess: post,
            max_batch: run.max_batch.max(1),
            tiling: run.tiling.filter(|t| t.passes() > 1),
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
            self.on_pool(run)
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

    /// Runs `work` where the CPU kernels run: inside the detector's own pool (there the
    /// kernels' parallel loops, `current_num_threads` (their tiling) and `kernels::join` use it
    /// instead of the global one), or on a worker of the global pool. On wgpu, here.
    fn on_pool<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match (&self.pool, self.backend.is_wgpu) {
            (_, true) => work(),
            (Some(pool), false) => pool.install(work),
            (None, false) => crate::kernels::on_cpu_pool(work),
        }
    }

    /// Detections per frame (frame pixels, sorted by score) with the configured thresholds.
    pub fn detect(&self, frames: &[RgbImage]) -> Result<Vec<Vec<Detection>>, DetectorError> {
        self.detect_with(frames, &self.postprocess)
    }

    /// Detections per frame with other postprocessing settings.
    pub fn detect_with(
        &self,
        frames: &[RgbImage],
        config: &PostprocessConfig,
    ) -> Result<Vec<Vec<Detection>>, DetectorError> {
        let Some(tiling) = self.tiling else {
            return self.detect_whole(frames, config);
        };
        frames
            .iter()
            .map(|frame| {
                let whole = self.detect_whole(std::slice::from_ref(frame), config)?;
                let tiles = tiling.tiles(frame.width(), frame.height());
                let crops: Vec<RgbImage> = tiles
                    .iter()
                    .map(|t| {
                        image::imageops::crop_imm(frame, t.x, t.y, t.width, t.height).to_image()
                    })
                    .collect();
                let per_tile = self.detect_whole(&crops, config)?;
                Ok(tiling.merge(
                    frame.dimensions(),
                    whole.into_iter().next().unwrap_or_default(),
                    &tiles,
                    per_tile,
                    config.iou_threshold,
                ))
            })
            .collect()
    }

    /// The tiling in use, if any.
    pub fn tiling(&self) -> Option<Tiling> {
        self.tiling
    }

    /// Each frame through the network once, whole.
    fn detect_whole(
        &self,
        frames: &[RgbImage],
        config: &PostprocessConfig,
    ) -> Result<Vec<Vec<Detection>>, DetectorError> {
        let row = anchor_count(self.input_size) * (5 + NUM_CLASSES);
        let mut all = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.max_batch) {
            // The letterbox splits each frame over the pool's threads.
            let batch = self.on_pool(|| letterbox_batch(chunk, self.input_size));
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
pub fn count_people_in(detections: &[Detection]) -> usize {
    detections.iter().filter(|d| d.is_person()).count()
}

// `Detector` is documented as shareable between threads; keep that true at compile time.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Detector>();
};

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "backend panicked".into())
}
