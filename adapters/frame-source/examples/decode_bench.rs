//! Measures decode throughput of the frame source under several sampling policies.
//!
//! `cargo run --release -p frame-source --example decode_bench [SOURCE] [RUNS]`
//! SOURCE defaults to the shared 10 s mp4; `hls` serves the shared HLS copy over loopback.

use std::time::{Duration, Instant};

use frame_source::{JobOptions, SamplingPolicy, SourceSpec, collect};
use stream_server::{Fault, LoopbackServer, shared_dir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let source = args.next();
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let shared = shared_dir()?;
    let _server;
    let locator = match source.as_deref().filter(|s| !s.is_empty()) {
        None => shared
            .join("video/people_10s_640x480.mp4")
            .display()
            .to_string(),
        Some("hls") => {
            let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None)?;
            let url = server.url("people.m3u8");
            _server = server;
            url
        }
        Some(other) => other.to_string(),
    };
    let policies: Vec<(&str, SamplingPolicy, bool)> = vec![
        (
            "every frame (RGB for all)",
            SamplingPolicy::EveryNth(1),
            false,
        ),
        ("every 25th frame", SamplingPolicy::EveryNth(25), false),
        (
            "every 1 s, decode all",
            SamplingPolicy::Every(Duration::from_secs(1)),
            false,
        ),
        (
            "every 1 s, seek or skip",
            SamplingPolicy::Every(Duration::from_secs(1)),
            true,
        ),
        (
            "every 2 s, decode all",
            SamplingPolicy::Every(Duration::from_secs(2)),
            false,
        ),
        (
            "every 2 s, seek or skip",
            SamplingPolicy::Every(Duration::from_secs(2)),
            true,
        ),
    ];
    println!("source: {locator}");
    println!(
        "| policy | sampled | decoded | left undecoded | seeks | wall ms (median of {runs}) | decoded frames/s | demux+decode ms | RGB ms |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, sampling, seek) in policies {
        let mut walls = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let spec = SourceSpec::parse(&locator)?;
            let started = Instant::now();
            let (frames, report) = collect(
                spec,
                JobOptions {
                    sampling,
                    seek,
                    ..JobOptions::default()
                },
            )?;
            walls.push(started.elapsed());
            drop(frames);
            last = Some(report);
        }
        walls.sort();
        let wall = walls[walls.len() / 2];
        let report = last.ok_or("no runs")?;
        println!(
            "| {name} | {} | {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} |",
            report.frames_sampled,
            report.frames_decoded,
            report.frames_skipped,
            report.seeks,
            wall.as_secs_f64() * 1e3,
            report.frames_decoded as f64 / wall.as_secs_f64(),
            report.decode_time.as_secs_f64() * 1e3,
            report.convert_time.as_secs_f64() * 1e3,
        );
        if report.health != frame_source::StreamHealth::Ok {
            println!("  health {} error {:?}", report.health, report.error);
        }
    }
    Ok(())
}
