//! One streaming job that drops each batch after receiving it, for peak-memory measurements:
//! `/usr/bin/time -v target/release/examples/stream_job SOURCE [every-nth]`.

use frame_source::{FrameStream, JobOptions, SamplingPolicy, SourceSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let source = args.next().ok_or("usage: stream_job SOURCE [every-nth]")?;
    let nth: u32 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1);
    let options = JobOptions {
        sampling: SamplingPolicy::EveryNth(nth),
        ..JobOptions::default()
    };
    let mut stream = FrameStream::open(SourceSpec::parse(&source)?, options)?;
    let mut frames = 0usize;
    for batch in stream.by_ref() {
        frames += batch.len();
    }
    let report = stream.finish();
    println!(
        "{frames} frames, health {}, {:?}",
        report.health, report.elapsed
    );
    Ok(())
}
