//! Time per update of the tracker, and of the whole counting step (tracker + 2 lines + 1
//! zone), on 10 000 samples of 20 synthetic people walking and bouncing around a 1920x1080
//! frame (+-2 px noise, 5 % missed detections, a few low-score boxes). Issue 12 asks for the
//! tracker's share of a tracking job's time; compare with the detector's time per frame.
//! The people turn round instantly at the frame's edges (no one does), which breaks some
//! tracks: the number of confirmed tracks printed is not a measure of quality.
//!
//! `cargo run --release -p footfall-tracking --example track_speed`

use std::time::{Duration, Instant};

use footfall_tracking::{Counting, CountingConfig, Detection, Tracker, TrackerConfig};

const PEOPLE: usize = 20;
const SAMPLES: usize = 10_000;
const FPS: f64 = 10.0;

struct Rng(u64);

impl Rng {
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        lo + (hi - lo) * ((z >> 40) as f32 / (1u64 << 24) as f32)
    }
}

/// The detections of every sample, generated up front so only tracking is timed.
fn scene() -> Vec<Vec<Detection>> {
    let mut rng = Rng(1);
    let (w, h) = (1920.0f32, 1080.0f32);
    let mut people: Vec<[f32; 5]> = (0..PEOPLE)
        .map(|_| {
            let height = rng.uniform(60.0, 180.0);
            [
                rng.uniform(50.0, w - 50.0),
                rng.uniform(height, h),
                rng.uniform(-12.0, 12.0),
                rng.uniform(-6.0, 6.0),
                height,
            ]
        })
        .collect();
    (0..SAMPLES)
        .map(|_| {
            let mut dets = Vec::with_capacity(PEOPLE);
            for p in &mut people {
                p[0] += p[2];
                p[1] += p[3];
                if p[0] < 20.0 || p[0] > w - 20.0 {
                    p[2] = -p[2];
                }
                if p[1] < p[4] || p[1] > h {
                    p[3] = -p[3];
                }
                if rng.uniform(0.0, 1.0) < 0.05 {
                    continue;
                }
                let half_w = p[4] * 0.2;
                let b = [p[0] - half_w, p[1] - p[4], p[0] + half_w, p[1]]
                    .map(|v| v + rng.uniform(-2.0, 2.0));
                let score = if rng.uniform(0.0, 1.0) < 0.1 {
                    0.3
                } else {
                    0.85
                };
                dets.push(Detection::new(b, score));
            }
            dets
        })
        .collect()
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = times.iter().map(|d| us(*d)).sum::<f64>() / times.len() as f64;
    println!(
        "{name}: mean {mean:.1} us/update, median {:.1}, p99 {:.1}, max {:.1}",
        us(times[times.len() / 2]),
        us(times[times.len() * 99 / 100]),
        us(times[times.len() - 1]),
    );
}

fn main() {
    let scene = scene();
    let config = TrackerConfig {
        frame_rate: FPS,
        ..TrackerConfig::default()
    };

    let mut tracker = Tracker::new(config).unwrap();
    let mut times = Vec::with_capacity(SAMPLES);
    let mut live = 0usize;
    for (k, dets) in scene.iter().enumerate() {
        let start = Instant::now();
        let seen = tracker.update(dets, k as f64 / FPS);
        times.push(start.elapsed());
        live += seen.len();
    }
    println!(
        "{SAMPLES} samples of {PEOPLE} people: {} tracks confirmed, {:.1} tracks seen per sample",
        tracker.unique_people(),
        live as f64 / SAMPLES as f64
    );
    report("tracker", times);

    let mut counting = Counting::new(CountingConfig {
        tracker: config,
        lines: vec![
            "a=960,0,960,1080".parse().unwrap(),
            "b=0,540,1920,540".parse().unwrap(),
        ],
        zones: vec!["z=200,300,900,300,900,900,200,900".parse().unwrap()],
        ..CountingConfig::default()
    })
    .unwrap();
    let mut times = Vec::with_capacity(SAMPLES);
    for (k, dets) in scene.iter().enumerate() {
        let start = Instant::now();
        counting.push(k as f64 / FPS, Some(dets));
        times.push(start.elapsed());
    }
    report("counting (tracker + 2 lines + 1 zone)", times);
}
