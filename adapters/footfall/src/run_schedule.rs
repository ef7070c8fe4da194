//! `footfall run-schedule --cron EXPR`: every tick, one job per monitored user.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use frame_source::YtDlpResolver;

use crate::model_args::{ModelArgs, ThresholdArgs};
use footfall_job::detector::DetectorCounter;
use footfall_job::{BatchingCounter, PeopleCounter};

#[derive(Debug, Args)]
pub struct RunScheduleArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    #[command(flatten)]
    pub schedule: footfall::cli::RunScheduleArgs,
}

pub fn run(args: RunScheduleArgs) -> anyhow::Result<u8> {
    // Check the expression before the (slow) detector load.
    footfall_domain::schedule::Schedule::parse(&args.schedule.cron)?;
    let detector = args
        .model
        .load_detector(args.thresholds.postprocess())
        .context("loading the detector")?;
    let detector = DetectorCounter::new(detector);
    // Jobs running at once share the detector; frames that queue for it go through together.
    let (counter, batching): (Arc<dyn PeopleCounter>, _) = if args.schedule.no_cross_stream_batching
    {
        (Arc::new(detector), None)
    } else {
        let batching = Arc::new(BatchingCounter::new(detector, args.model.batch.max(1)));
        (batching.clone(), Some(batching))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stdout = std::io::stdout();
    let status = runtime.block_on(footfall::cli::run_schedule(
        &args.schedule,
        counter,
        Arc::new(YtDlpResolver::default()),
        &mut stdout.lock(),
    ));
    // A job abandoned at shutdown may still hold a decode thread: do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Some(batching) = batching {
        let (passes, frames) = batching.passes_and_frames();
        tracing::info!(
            passes,
            frames,
            mean_batch = format!("{:.2}", frames as f64 / passes.max(1) as f64),
            "detector passes over the run"
        );
    }
    Ok(status?)
}
