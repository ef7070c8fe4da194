//! `footfall run-schedule --cron EXPR`: every tick, one job per monitored user.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use frame_source::YtDlpResolver;

use crate::model_args::{ModelArgs, ThresholdArgs};
use footfall_job::detector::DetectorCounter;

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
    let counter = Arc::new(DetectorCounter::new(detector));
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
    Ok(status?)
}
