//! `footfall count SOURCE`: one job on a file or stream; per-sample counts and a summary.

use anyhow::Context;
use clap::Args;
use frame_source::YtDlpResolver;

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
    let detector = args
        .model
        .load_detector(args.thresholds.postprocess())
        .context("loading the detector")?;
    let counter = DetectorCounter::new(detector);
    let mut count = args.count;
    count.batch = args.model.batch.max(1);
    let stdout = std::io::stdout();
    let outcome = footfall::cli::run_count(
        &count,
        &counter,
        &YtDlpResolver::default(),
        &mut stdout.lock(),
    )?;
    Ok(outcome.exit_code())
}
