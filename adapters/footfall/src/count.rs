//! `footfall count SOURCE`: one job on a file or stream; per-sample counts and a summary.

use anyhow::Context;
use clap::Args;
use frame_source::{StreamHealth, YtDlpResolver};

use crate::model_args::{ModelArgs, ThresholdArgs};
use local_runner::detector::DetectorCounter;

#[derive(Debug, Args)]
pub struct CountArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    #[command(flatten)]
    pub count: local_runner::cli::CountArgs,
}

/// True when the stream was healthy (exit status 0); the report is printed either way.
pub fn run(args: CountArgs) -> anyhow::Result<bool> {
    let detector = args
        .model
        .load_detector(args.thresholds.postprocess())
        .context("loading the detector")?;
    let counter = DetectorCounter::new(detector);
    let mut count = args.count;
    count.batch = args.model.batch.max(1);
    let stdout = std::io::stdout();
    let outcome = local_runner::cli::run_count(
        &count,
        &counter,
        &YtDlpResolver::default(),
        &mut stdout.lock(),
    )?;
    Ok(outcome.report.health == StreamHealth::Ok)
}
