//! The [`Detector`]: frames in, detections and people counts out.
//!
//! Data path: frames -> letterbox batch -> tensor -> YOLOX -> raw predictions -> decode + NMS
//! -> detections per frame -> people counts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use burn::tensor::{Int, Tensor, TensorData};
use detector_prepost::postprocess::{
    ClassFilter, Detection, PostprocessConfig, anchor_count, postprocess,
};
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
        let values = self.run_network(input, batch, |out| {
            out.try_into_data()
                .map_err(|e| format!("{e:?}"))?
                .try_into_vec::<f32>()
                .map_err(|e| format!("unexpected output data: {e:?}"))
        })?;
        let expected = batch * anchor_count(self.input_size) * (5 + NUM_CLASSES);
        if values.len() != expected {
            return Err(self.failed(format!(
                "output has {} values, expected {expected}",
                values.len()
            )));
        }
        Ok(values)
    }

    /// [`Self::forward`] on a GPU, reading back only what can become a detection: the score of
    /// every anchor (objectness x best class, or x person for a person-only filter; 4 bytes an
    /// anchor instead of 340), then the whole rows of those at or above `min_score` (a few dozen
    /// in a frame). Returns the output with every other row zero (score 0), so that the usual
    /// postprocessing gives exactly what it gives on the full output.
    fn forward_candidates(
        &self,
        input: Vec<f32>,
        batch: usize,
        min_score: f32,
        person_only: bool,
    ) -> Result<Vec<f32>, DetectorError> {
        let width = 5 + NUM_CLASSES;
        let anchors = batch * anchor_count(self.input_size);
        let (keep, rows) = self.run_network(input, batch, |out| {
            let [b, a, w] = out.dims();
            if b * a != anchors || w != width {
                return Err(format!("output is {b} x {a} x {w}"));
            }
            let objectness = out.clone().slice_dim(2, 4..5);
            let class = if person_only {
                out.clone().slice_dim(2, 5..6)
            } else {
                out.clone().slice_dim(2, 5..w).max_dim(2)
            };
            let scores = objectness
                .mul(class)
                .reshape([b * a])
                .try_into_data()
                .map_err(|e| format!("{e:?}"))?
                .try_into_vec::<f32>()
                .map_err(|e| format!("unexpected score data: {e:?}"))?;
            // NaN is kept too: the postprocessing decides about it, as on the full output.
            let keep: Vec<usize> = (0..scores.len())
                .filter(|&i| scores[i] >= min_score || scores[i].is_nan())
                .collect();
            if keep.is_empty() {
                return Ok((keep, Vec::new()));
            }
            let device = out.device();
            let indices: Vec<i64> = keep.iter().map(|&i| i as i64).collect();
            let indices =
                Tensor::<1, Int>::from_data(TensorData::new(indices, [keep.len()]), &device);
            let rows = out
                .reshape([b * a, w])
                .select(0, indices)
                .try_into_data()
                .map_err(|e| format!("{e:?}"))?
                .try_into_vec::<f32>()
                .map_err(|e| format!("unexpected row data: {e:?}"))?;
            Ok((keep, rows))
        })?;
        if rows.len() != keep.len() * width {
            return Err(self.failed(format!(
                "{} candidate rows came back as {} values",
                keep.len(),
                rows.len()
            )));
        }
        let mut values = vec![0.0f32; anchors * width];
        for (row, &anchor) in rows.chunks_exact(width).zip(&keep) {
            values[anchor * width..(anchor + 1) * width].copy_from_slice(row);
        }
        Ok(values)
    }

    /// Runs the network on `[batch, 3, S, S]` and hands its output to `read` (the read-back),
    /// turning a backend failure or panic into [`DetectorError::Execution`].
    fn run_network<R: Send>(
        &self,
        input: Vec<f32>,
        batch: usize,
        read: impl FnOnce(Tensor<3>) -> Result<R, String> + Send,
    ) -> Result<R, DetectorError> {
        let s = self.input_size;
        if batch == 0 || input.len() != batch * 3 * s * s {
            return Err(DetectorError::Config(format!(
                "input of {} values is not {batch} x 3 x {s} x {s}",
                input.len()
            )));
        }
        // Burn reports some backend failures (device lost, out of memory) by panicking; keep
        // them inside this call as errors.
        let result = catch_unwind(AssertUnwindSafe(move || {
            let run = move || {
                let data = TensorData::new(input, [batch, 3, s, s]);
                let x = Tensor::<4>::from_data(data, &self.backend.device);
                read(self.model.forward(x))
            };
            self.on_pool(run)
        }));
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(reason)) => Err(self.failed(reason)),
            Err(panic) => Err(self.failed(panic_message(&panic))),
        }
    }

    fn failed(&self, reason: String) -> DetectorError {
        DetectorError::Execution {
            backend: self.backend.description.clone(),
            reason,
        }
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
            // A GPU sends back only the candidates' rows (see `forward_candidates`); a
            // threshold of 0 keeps every row anyway.
            let raw = if self.backend.is_wgpu && config.score_threshold > 0.0 {
                // Below the threshold by a hair, so no rounding can drop a row the
                // postprocessing would keep; it applies the exact threshold itself.
                let min_score = config.score_threshold * (1.0 - 1e-4);
                let person_only = matches!(config.classes, ClassFilter::PersonOnly);
                self.forward_candidates(batch.data, chunk.len(), min_score, person_only)?
            } else {
                self.forward(batch.data, chunk.len())?
            };
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
