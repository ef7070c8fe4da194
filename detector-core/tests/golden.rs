//! Detection-level agreement with the reference pipeline on all shared photos, with the rules
//! of `../shared/tools/compare_golden.py` (IoU >= 0.99, |score diff| <= 0.002, exact person
//! counts, tolerance only for detections within 0.002 of a threshold).

mod common;

use detector_core::{BackendChoice, Detection, Detector, PostprocessConfig, RunOptions};
use detector_prepost::frame::load_image;
use serde_json::Value;

const THRESHOLDS: [f64; 3] = [0.25, 0.35, 0.50];
const SCORE_TOL: f64 = 0.002;

fn iou(a: &[f64], b: &[f64]) -> f64 {
    let (x1, y1) = (a[0].max(b[0]), a[1].max(b[1]));
    let (x2, y2) = (a[2].min(b[2]), a[3].min(b[3]));
    let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

fn near_threshold(score: f64) -> bool {
    THRESHOLDS.iter().any(|t| (score - t).abs() <= SCORE_TOL)
}

/// Problems of one image, as compare_golden.py reports them.
fn compare(golden: &[Vec<f64>], ours: &[Detection]) -> Vec<String> {
    let ours: Vec<[f64; 6]> = ours.iter().map(Detection::to_row).collect();
    let mut used = vec![false; ours.len()];
    let mut problems = Vec::new();
    for g in golden {
        let best = ours
            .iter()
            .enumerate()
            .filter(|(j, d)| !used[*j] && d[5] == g[5])
            .map(|(j, d)| (j, iou(g, d)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((j, v)) if v >= 0.99 && (ours[j][4] - g[4]).abs() <= SCORE_TOL => used[j] = true,
            _ if near_threshold(g[4]) => {}
            best => problems.push(format!("golden {g:?} unmatched (best {best:?})")),
        }
    }
    for (j, d) in ours.iter().enumerate() {
        if !used[j] && d[4] >= 0.25 - SCORE_TOL && !near_threshold(d[4]) {
            problems.push(format!("extra {d:?}"));
        }
    }
    problems
}

fn run_golden(backend: BackendChoice) {
    let shared = common::shared_dir();
    let golden: Value =
        serde_json::from_slice(&std::fs::read(shared.join("golden/yolox_nano.json")).unwrap())
            .unwrap();
    let detector = Detector::from_onnx_file(
        &shared.join("weights/yolox_nano.onnx"),
        RunOptions {
            backend,
            ..Default::default()
        },
        PostprocessConfig::default(),
    )
    .unwrap();
    let entries = golden["images"].as_array().unwrap();
    let mut failures = Vec::new();
    for chunk in entries.chunks(8) {
        let frames: Vec<_> = chunk
            .iter()
            .map(|e| load_image(&shared.join("images").join(e["image"].as_str().unwrap())).unwrap())
            .collect();
        let detections = detector.detect(&frames).unwrap();
        for (entry, dets) in chunk.iter().zip(detections) {
            let name = entry["image"].as_str().unwrap();
            let golden_dets: Vec<Vec<f64>> = entry["detections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    d.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap())
                        .collect()
                })
                .collect();
            let mut problems = compare(&golden_dets, &dets);
            for (key, t) in [("0.25", 0.25), ("0.35", 0.35), ("0.50", 0.50)] {
                let want = entry["person_count"][key].as_u64().unwrap() as usize;
                let got = dets
                    .iter()
                    .filter(|d| d.is_person() && d.score as f64 >= t)
                    .count();
                let edge = golden_dets
                    .iter()
                    .filter(|d| d[5] == 0.0 && (d[4] - t).abs() <= SCORE_TOL)
                    .count()
                    + dets
                        .iter()
                        .filter(|d| d.is_person() && (d.score as f64 - t).abs() <= SCORE_TOL)
                        .count();
                if got.abs_diff(want) > edge {
                    problems.push(format!("person_count@{key} {got} != golden {want}"));
                }
            }
            if !problems.is_empty() {
                failures.push(format!("{name}: {}", problems.join("; ")));
            }
        }
    }
    println!(
        "{}/{} images match the golden outputs on {}",
        entries.len() - failures.len(),
        entries.len(),
        detector.backend()
    );
    assert!(
        failures.is_empty(),
        "{} images differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn all_shared_photos_match_the_reference_on_cpu() {
    run_golden(BackendChoice::Cpu);
}
