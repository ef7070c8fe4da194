//! `footfall count SOURCE`: one job on a file or stream; per-sample counts and a summary.

use anyhow::Context;
use clap::Args;
use frame_source::{StopHandle, YtDlpResolver};

use crate::model_args::{ModelArgs, ThresholdArgs};
use footfall_job::detector::DetectorCounter;

#[derive(Debug, Args)]
pub struct CountArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    #[command(flatten)]
    pub count: footfall::cli::CountArgs,
}

/// The exit status: 0 when the stream was healthy, 3 when not (the report is printed either way).
pub fn run(args: CountArgs) -> anyhow::Result<u8> {
    // A tracking job's detector hands ByteTrack boxes down to 0.1 itself
    // (`PeopleCounter::people_boxes`); each sample still counts those above the threshold.
    let postprocess = args.thresholds.postprocess();
    let mut count = args.count;
    let detector = args
        .model
        .load_detector(postprocess)
        .context("loading the detector")?;
    let counter = DetectorCounter::new(detector);
    count.batch = args.model.batch.max(1);
    let stop = StopHandle::new();
    stop_on_ctrl_c(stop.clone());
    let stdout = std::io::stdout();
    let outcome = footfall::cli::run_count_until(
        &count,
        &counter,
        &YtDlpResolver::default(),
        stop,
        &mut stdout.lock(),
    )?;
    Ok(outcome.exit_code())
}

/// The first Ctrl-C (or SIGTERM) ends the count at the next frame, and the report of what was
/// sampled is printed; a second one exits at once.
fn stop_on_ctrl_c(stop: StopHandle) {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let (trigger, shutdown) = local_runner::shutdown::channel();
                tokio::spawn(local_runner::shutdown::request_on_signals(trigger));
                shutdown.requested().await;
                stop.stop();
                // The second signal is handled (exit 130) by the task above.
                std::future::pending::<()>().await;
            });
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "Ctrl-C handling unavailable: Ctrl-C ends the count without a report");
    }
}
