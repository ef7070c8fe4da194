//! The real job of the task: the user's stream through the frame source, people counted by
//! detector-core (the local runner's count job), the busiest frame annotated for the alert.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use detector_core::weights::manifest::{self, WEIGHTS_DIR_ENV, WEIGHTS_ENV, WeightsLocator};
use detector_core::{BackendChoice, Detector, ModelSize, PostprocessConfig, RunOptions};
use frame_source::{JobOptions, SamplingPolicy, SourceSpec, YtDlpResolver};
use local_runner::detector::DetectorCounter;
use local_runner::job::{PeopleCounter, run_count_job};
use payloads::TaskPayload;

use fargate_task::{JobError, JobOutput, JobRunner};

/// Counts people on the stream of a payload.
pub struct DetectorJob {
    counter: Arc<DetectorCounter>,
    sampling: SamplingPolicy,
}

impl DetectorJob {
    /// Loads the detector. `FOOTFALL_DEVICE` = `cpu` (default), `gpu` (wgpu) or `auto`; weights
    /// from `FOOTFALL_WEIGHTS` or the cache (`FOOTFALL_WEIGHTS_DIR`); one sample every
    /// `FOOTFALL_SAMPLE_EVERY_SECS` seconds (default 1).
    pub fn from_env() -> Result<Self, String> {
        let backend = match std::env::var("FOOTFALL_DEVICE")
            .unwrap_or_default()
            .as_str()
        {
            "" | "cpu" => BackendChoice::Cpu,
            "gpu" | "wgpu" => BackendChoice::Wgpu,
            "auto" => BackendChoice::Auto,
            other => {
                return Err(format!(
                    "FOOTFALL_DEVICE={other}: expected cpu, gpu or auto"
                ));
            }
        };
        let every = std::env::var("FOOTFALL_SAMPLE_EVERY_SECS")
            .ok()
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|e| format!("FOOTFALL_SAMPLE_EVERY_SECS={v}: {e}"))
            })
            .transpose()?
            .unwrap_or(1.0);
        if !(every > 0.0 && every.is_finite()) {
            return Err("FOOTFALL_SAMPLE_EVERY_SECS must be a positive number".into());
        }
        let detector =
            load_detector(backend).map_err(|e| format!("cannot load the detector: {e}"))?;
        Ok(Self {
            counter: Arc::new(DetectorCounter::new(detector)),
            sampling: SamplingPolicy::Every(Duration::from_secs_f64(every)),
        })
    }
}

/// YOLOX-Nano from `$FOOTFALL_WEIGHTS` (any size, read from the file) or the cache directory
/// (`$FOOTFALL_WEIGHTS_DIR`, else `$XDG_CACHE_HOME` or `$HOME/.cache`, `footfall/weights`); never
/// downloaded. detector-core reads no environment, so the task does it here.
fn load_detector(backend: BackendChoice) -> Result<Detector, detector_core::DetectorError> {
    let cache_dir = std::env::var_os(WEIGHTS_DIR_ENV)
        .map(PathBuf::from)
        .or_else(|| {
            let xdg = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from);
            let home = std::env::var_os("HOME").map(PathBuf::from);
            WeightsLocator::default_cache_dir(xdg.as_deref(), home.as_deref())
        })
        .unwrap_or_else(|| std::env::temp_dir().join("footfall").join("weights"));
    let explicit = std::env::var_os(WEIGHTS_ENV).map(PathBuf::from);
    let entry = manifest::entry(ModelSize::Nano.name())?;
    let path = WeightsLocator::new(cache_dir).resolve(&entry, explicit.as_deref())?;
    let run = RunOptions {
        backend,
        ..RunOptions::default()
    };
    Detector::from_onnx_file(&path, run, PostprocessConfig::default())
}

impl JobRunner for DetectorJob {
    async fn run(&self, payload: &TaskPayload) -> Result<JobOutput, JobError> {
        let counter = Arc::clone(&self.counter);
        let sampling = self.sampling;
        let url = payload.streaming_url.clone();
        // Decoding and inference are blocking, CPU-bound work.
        let joined =
            tokio::task::spawn_blocking(move || -> Result<JobOutput, JobError> {
                let spec = SourceSpec::parse(&url)
                    .and_then(|s| s.resolve(&YtDlpResolver::default()))
                    .map_err(|e| JobError {
                        message: e.to_string(),
                        retryable: false,
                    })?;
                let options = JobOptions {
                    sampling,
                    ..JobOptions::default()
                };
                let report =
                    run_count_job(spec, options, counter.as_ref(), &mut |_| {}).map_err(|e| {
                        JobError {
                            message: e.to_string(),
                            retryable: true,
                        }
                    })?;
                // "No frame counted" is a failure of the stream, never a count of zero.
                let Some(max) = report.max else {
                    return Err(JobError {
                        message: format!(
                            "no frame could be analysed (stream health {})",
                            report.health.as_str()
                        ),
                        retryable: true,
                    });
                };
                let detection_jpeg =
                    match &report.busiest {
                        Some(busiest) => Some(counter.annotated_jpeg(&busiest.image).map_err(
                            |e| JobError {
                                message: format!("cannot annotate the busiest frame: {e}"),
                                retryable: false,
                            },
                        )?),
                        None => None,
                    };
                Ok(JobOutput {
                    people_count: u32::try_from(max).unwrap_or(u32::MAX),
                    frames_analyzed: u32::try_from(report.frames()).unwrap_or(u32::MAX),
                    detection_jpeg,
                })
            })
            .await;
        joined.unwrap_or_else(|e| {
            Err(JobError {
                message: format!("job thread failed: {e}"),
                retryable: false,
            })
        })
    }
}
