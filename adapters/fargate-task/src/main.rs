//! `footfall-task`: the per-user ECS task. Reads its configuration and payload from the
//! environment (see [`fargate_task::TaskConfig`]), runs the job, delivers the result, and exits
//! non-zero when a failure persisted (2 when it could not start: configuration, detector).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use std::path::PathBuf;

use detector_core::weights::manifest::{self, WEIGHTS_DIR_ENV, WEIGHTS_ENV, WeightsLocator};
use detector_core::{BackendChoice, Detector, ModelSize, PostprocessConfig, RunOptions};
use fargate_task::{JsonLog, TaskConfig, TaskDeps, run_task};
use footfall_job::detector::DetectorCounter;
use footfall_job::{CounterError, Counting, PeopleCounter, PersonBox};
use footfall_runtime::Env;
use footfall_runtime::logging::{self, LogFormat, LogTarget};
use frame_source::YtDlpResolver;
use image::RgbImage;

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    logging::init(LogFormat::Json, LogTarget::CloudWatchStdout, false);
    // The detector's activations are freed and allocated again every pass: keep them mapped.
    detector_core::memory::keep_freed_memory();
    let config = match TaskConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"level": "error", "event": "config_error", "error": e.to_string()})
            );
            return ExitCode::from(2);
        }
    };
    let log = JsonLog::stdout(&config.payload.run_id, &config.payload.user_id);
    let counting = match detector_counting(&Env::process(), started, &log) {
        Ok(counting) => counting,
        Err(e) => {
            log.event("error", "config_error", serde_json::json!({"error": e}));
            return ExitCode::from(2);
        }
    };
    let sdk = aws_config::load_from_env().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let deps = match TaskDeps::new(&sdk, config, counting, log.clone()) {
        Ok(d) => d.load_callback_key(&secrets).await,
        Err(e) => Err(e),
    };
    let deps = match deps {
        Ok(d) => d,
        Err(e) => {
            log.event(
                "error",
                "config_error",
                serde_json::json!({"error": e.to_string()}),
            );
            return ExitCode::from(2);
        }
    };
    ExitCode::from(run_task(&deps).await.exit_code())
}

/// The detector as the job's counter. `FOOTFALL_DEVICE` = `cpu` (default), `gpu` (wgpu) or
/// `auto`; weights from `FOOTFALL_WEIGHTS` or the cache (`FOOTFALL_WEIGHTS_DIR`).
fn detector_counting(env: &Env<'_>, started: Instant, log: &JsonLog) -> Result<Counting, String> {
    let backend = match env.opt("FOOTFALL_DEVICE").as_deref() {
        None | Some("cpu") => BackendChoice::Cpu,
        Some("gpu" | "wgpu") => BackendChoice::Wgpu,
        Some("auto") => BackendChoice::Auto,
        Some(other) => {
            return Err(format!(
                "FOOTFALL_DEVICE={other}: expected cpu, gpu or auto"
            ));
        }
    };
    let detector =
        load_detector(env, backend).map_err(|e| format!("cannot load the detector: {e}"))?;
    log.event(
        "info",
        "detector_ready",
        serde_json::json!({ "since_start_ms": ms(started.elapsed()), "backend": detector.backend() }),
    );
    Ok(Counting {
        counter: Arc::new(ColdStart {
            inner: DetectorCounter::new(detector),
            started,
            log: log.clone(),
            reported: AtomicBool::new(false),
        }),
        resolver: Arc::new(YtDlpResolver::default()),
    })
}

/// YOLOX from `$FOOTFALL_WEIGHTS` (any size, read from the file) or the cache directory
/// (`$FOOTFALL_WEIGHTS_DIR`, else `$XDG_CACHE_HOME` or `$HOME/.cache`, `footfall/weights`); never
/// downloaded. detector-core reads no environment, so the task does it here.
fn load_detector(
    env: &Env<'_>,
    backend: BackendChoice,
) -> Result<Detector, detector_core::DetectorError> {
    let cache_dir = env
        .opt(WEIGHTS_DIR_ENV)
        .map(PathBuf::from)
        .or_else(|| {
            let xdg = env.opt("XDG_CACHE_HOME").map(PathBuf::from);
            let home = env.opt("HOME").map(PathBuf::from);
            WeightsLocator::default_cache_dir(xdg.as_deref(), home.as_deref())
        })
        .unwrap_or_else(|| std::env::temp_dir().join("footfall").join("weights"));
    let explicit = env.opt(WEIGHTS_ENV).map(PathBuf::from);
    let entry = manifest::entry(ModelSize::Nano.name())?;
    let path = WeightsLocator::new(cache_dir).resolve(&entry, explicit.as_deref())?;
    let run = RunOptions {
        backend,
        ..RunOptions::default()
    };
    Detector::from_onnx_file(&path, run, PostprocessConfig::default())
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// The task's cold start (issue 14): logs `first_detection` with the time from the process's
/// start to the end of its first forward pass (weights, backend, stream opened, first frames
/// decoded and detected), once; otherwise the detector itself.
struct ColdStart {
    inner: DetectorCounter,
    started: Instant,
    log: JsonLog,
    reported: AtomicBool,
}

impl ColdStart {
    fn first<T>(&self, result: Result<T, CounterError>, frames: usize) -> Result<T, CounterError> {
        if result.is_ok() && !self.reported.swap(true, Ordering::Relaxed) {
            self.log.event(
                "info",
                "first_detection",
                serde_json::json!({ "since_start_ms": ms(self.started.elapsed()), "frames": frames }),
            );
        }
        result
    }
}

impl PeopleCounter for ColdStart {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        self.first(self.inner.count(frames), frames.len())
    }
    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        self.inner.annotated_jpeg(frame)
    }
    fn people_boxes(&self, frames: &[RgbImage]) -> Result<Vec<Vec<PersonBox>>, CounterError> {
        self.first(self.inner.people_boxes(frames), frames.len())
    }
    fn count_min_score(&self) -> f32 {
        self.inner.count_min_score()
    }
}
