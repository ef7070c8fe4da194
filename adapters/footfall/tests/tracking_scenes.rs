//! Tracking on videos made here with known truth (issue 12): people cut out of the shared
//! photos (their reference boxes) walk known paths over a plain background, the video is
//! encoded to H.264 with video-rs, and `footfall count --fps 10 --line --zone --json` must
//! report exactly the crossings, visits and unique people the paths make. Each scene puts one
//! difficulty in front of the tracker: two people crossing a line at the same moment (in
//! opposite directions, then side by side), a person wobbling on a line, a person lost behind
//! a pillar and found again, a person who goes in and comes back out, a stay in a zone.

mod scene;

use scene::{Actor, Scene, Stop};

/// Runs the binary on `video`; returns the JSON report (the run must succeed).
fn count(video: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let shared = stream_server::shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_footfall"))
        .arg("count")
        .arg(video)
        .arg("--weights")
        .arg(shared.join("weights/yolox_nano.onnx"))
        .args(["--fps", "10", "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tracking-scenes");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Top lane: feet at y = 165; bottom lane: feet at y = 350 (boxes 160 px tall do not overlap).
const TOP: f32 = 165.0;
const BOTTOM: f32 = 350.0;

#[test]
fn crossings_at_once_and_a_wobble_on_the_line_count_exactly() {
    let actors = scene::actors();
    let walk = |who: usize, from: (f32, f32), to: (f32, f32), t0: f64, t1: f64| {
        Actor::new(&actors[who], vec![Stop::at(t0, from), Stop::at(t1, to)])
    };
    let video = Scene {
        duration_s: 15.0,
        occluders: vec![],
        actors: vec![
            // 0-4 s: one in (top, left to right) and one out (bottom), on the line at t = 2 s.
            walk(0, (60.0, TOP), (580.0, TOP), 0.0, 4.0),
            walk(1, (580.0, BOTTOM), (60.0, BOTTOM), 0.0, 4.0),
            // 4.5-8.5 s: two side by side, both in, on the line together.
            walk(0, (60.0, TOP), (580.0, TOP), 4.5, 8.5),
            walk(3, (60.0, BOTTOM), (580.0, BOTTOM), 4.5, 8.5),
            // 9-14.5 s: up to the line, 2 s wobbling +-3 px on it, then in.
            Actor::new(
                &actors[0],
                vec![
                    Stop::at(9.0, (140.0, TOP)),
                    Stop::at(10.5, (320.0, TOP)),
                    Stop::at(12.5, (320.0, TOP)),
                    Stop::at(14.5, (580.0, TOP)),
                ],
            )
            .wobbling(10.5, 12.5, 3.0),
        ],
    }
    .write(&scratch("crossings.mp4"));
    let pictures = scratch("crossings-annotated");
    let _ = std::fs::remove_dir_all(&pictures);
    std::fs::create_dir_all(&pictures).unwrap();
    let report = count(
        &video,
        &[
            "--line",
            "door=320,0,320,360",
            "--annotate",
            pictures.to_str().unwrap(),
        ],
    );
    let line = &report["lines"][0];
    assert_eq!(
        (
            line["name"].as_str(),
            line["in"].as_u64(),
            line["out"].as_u64()
        ),
        (Some("door"), Some(4), Some(1)),
        "{report}"
    );
    assert_eq!(report["tracking"]["unique_people"], 5, "{report}");
    assert_eq!(report["max"], 2, "{report}");
    assert_eq!(report["frames"], 150);

    // The busiest frame, drawn: the line in its colour down x = 320, and the counts so far.
    let annotated = report["annotated"].as_str().expect("an annotated picture");
    let picture = image::open(annotated).unwrap().to_rgb8();
    assert_eq!(picture.dimensions(), (640, 360));
    let magenta = (40..360)
        .filter(|&y| {
            let [r, g, b] = picture.get_pixel(320, y).0;
            r > 200 && g < 120 && b > 150
        })
        .count();
    assert!(
        magenta > 200,
        "the door line is drawn ({magenta} of 320 pixels)"
    );
}

#[test]
fn a_person_behind_a_pillar_keeps_their_track_and_a_zone_stay_is_timed() {
    let actors = scene::actors();
    // The pillar hides x 180..290 over the full height; the aisle line covers the bottom lane
    // only, the queue zone the top lane's right half.
    let video = Scene {
        duration_s: 10.0,
        occluders: vec![[180, 0, 290, 360]],
        actors: vec![
            // Bottom lane, 0-6 s at ~87 px/s: behind the pillar around t = 1.7-2.8 s, then
            // across the aisle line (in).
            Actor::new(
                &actors[1],
                vec![
                    Stop::at(0.0, (40.0, BOTTOM)),
                    Stop::at(6.0, (560.0, BOTTOM)),
                ],
            ),
            // Top lane: into the queue zone (x >= 380) at t = 0.94 s, a slow shuffle there,
            // out again at t = 5.06 s; the top lane is above the aisle line's extent.
            Actor::new(
                &actors[2],
                vec![
                    Stop::at(0.5, (300.0, TOP)),
                    Stop::at(1.5, (480.0, TOP)),
                    Stop::at(4.5, (500.0, TOP)),
                    Stop::at(5.5, (320.0, TOP)),
                ],
            ),
            // Bottom lane, 6.5-9 s: across the aisle line and back (one in, one out).
            Actor::new(
                &actors[3],
                vec![
                    Stop::at(6.5, (320.0, BOTTOM)),
                    Stop::at(7.5, (450.0, BOTTOM)),
                    Stop::at(9.0, (320.0, BOTTOM)),
                ],
            ),
        ],
    }
    .write(&scratch("pillar-and-queue.mp4"));
    let report = count(
        &video,
        &[
            "--line",
            "aisle=360,190,360,360",
            "--zone",
            "queue=380,100,630,100,630,200,380,200",
        ],
    );
    let line = &report["lines"][0];
    assert_eq!(
        (line["in"].as_u64(), line["out"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(
        report["tracking"]["unique_people"], 3,
        "the pillar must not split a track: {report}"
    );
    let zone = &report["zones"][0];
    assert_eq!(zone["name"], "queue");
    assert_eq!(zone["visits"], 1, "{zone}");
    assert_eq!(zone["max"], 1, "{zone}");
    // In from t = 0.94 s to 5.06 s: 4.12 s, seen at 10 samples a second.
    let dwell = zone["max_dwell_s"].as_f64().unwrap();
    assert!((dwell - 4.12).abs() <= 0.2, "dwell {dwell}: {zone}");
    assert_eq!(zone["mean_dwell_s"], zone["max_dwell_s"]);
    assert_eq!(report["frames"], 100);
}
