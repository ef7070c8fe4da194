//! Throughput of a count job with the real detector: decode + detect, and where the time goes.
//!
//! `cargo run --release -p footfall-job --features detector --example count_bench [SOURCE] [EVERY_NTH] [BATCH]`
//! (SOURCE defaults to the shared 10 s mp4; weights from FOOTFALL_SHARED or ../shared.)

use std::time::Instant;

use detector_core::{Detector, PostprocessConfig, RunOptions};
use footfall_job::count_stream;
use footfall_job::detector::DetectorCounter;
use frame_source::{JobOptions, SamplingPolicy, SourceSpec};
use stream_server::shared_dir;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shared = shared_dir()?;
    let mut args = std::env::args().skip(1);
    let source = args.next().filter(|s| !s.is_empty()).unwrap_or_else(|| {
        shared
            .join("video/people_10s_640x480.mp4")
            .display()
            .to_string()
    });
    let nth: u32 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1);
    let batch: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(8);
    let load = Instant::now();
    let detector = Detector::from_onnx_file(
        &shared.join("weights/yolox_nano.onnx"),
        RunOptions {
            max_batch: batch,
            ..RunOptions::default()
        },
        PostprocessConfig::default(),
    )?;
    let load = load.elapsed();
    let counter = DetectorCounter::new(detector);
    let options = JobOptions {
        sampling: SamplingPolicy::EveryNth(nth),
        batch_size: batch,
        ..JobOptions::default()
    };
    let started = Instant::now();
    let report = count_stream(SourceSpec::parse(&source)?, options, &counter, &mut |_| {})?;
    let wall = started.elapsed().as_secs_f64();
    let stream = &report.stream;
    println!(
        "source: {source} (every {nth}. frame, batch {batch}), detector load {:.2} s",
        load.as_secs_f64()
    );
    println!(
        "health {} | {} frames counted in {:.2} s = {:.2} frames/s | max {:?} median {:?} p90 {:?}",
        report.health,
        report.frames(),
        wall,
        report.frames() as f64 / wall,
        report.summary.max,
        report.summary.median,
        report.summary.p90
    );
    println!(
        "decode thread: demux+decode {:.2} s, RGB {:.2} s | consumer: inference {:.2} s, waiting for frames {:.2} s",
        stream.decode_time.as_secs_f64(),
        stream.convert_time.as_secs_f64(),
        report.count_time.as_secs_f64(),
        report.wait_time.as_secs_f64()
    );
    Ok(())
}
