//! `footfall detect` as users run it: JSON shape, per-file errors, exit status, annotation.

use std::path::PathBuf;
use std::process::Command;

fn shared() -> PathBuf {
    testdata::shared_dir()
}

fn footfall() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_footfall"));
    cmd.arg("detect")
        .arg("--weights")
        .arg(shared().join("weights/yolox_nano.onnx"));
    cmd
}

#[test]
fn json_report_for_good_images_and_a_clear_error_for_a_bad_one() {
    let tmp = std::env::temp_dir().join(format!("footfall-detect-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let truncated = tmp.join("truncated.jpg");
    let bus = std::fs::read(shared().join("images/bus.jpg")).unwrap();
    std::fs::write(&truncated, &bus[..bus.len() / 3]).unwrap();
    let empty = tmp.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let annotated = tmp.join("annotated");

    let out = footfall()
        .arg("--json")
        .arg("--annotate")
        .arg(&annotated)
        .arg(shared().join("images/bus.jpg"))
        .arg(&truncated)
        .arg(&empty)
        .arg(shared().join("images/zidane.jpg"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["image"], "bus.jpg");
    assert_eq!(
        (images[0]["width"].as_u64(), images[0]["height"].as_u64()),
        (Some(810), Some(1080))
    );
    assert_eq!(images[0]["person_count"]["0.25"], 4);
    assert_eq!(images[1]["person_count"]["0.50"], 2);
    let scores: Vec<f64> = images[0]["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[4].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]) && scores.iter().all(|&s| s >= 0.25));
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().any(|e| e["image"] == "empty.jpg"));
    let jpeg = std::fs::read(annotated.join("bus.annotated.jpg")).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn higher_threshold_drops_detections_but_keeps_the_count_table() {
    let out = footfall()
        .args(["--json", "--score-threshold", "0.6"])
        .arg(shared().join("images/bus.jpg"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let image = &report["images"][0];
    assert!(
        image["detections"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d[4].as_f64().unwrap() >= 0.6)
    );
    assert_eq!(image["person_count"]["0.25"], 4);
}

#[test]
fn missing_weights_is_a_startup_error_with_status_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args(["detect", "--weights", "/nonexistent.onnx"])
        .arg(shared().join("images/bus.jpg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.onnx"));
}

#[test]
fn table_output_is_readable() {
    let out = footfall()
        .arg(shared().join("images/zidane.jpg"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().next().unwrap().contains("image"));
    assert!(text.contains("zidane.jpg") && text.contains("person"));
}

#[test]
fn same_named_images_in_two_folders_stay_apart() {
    let tmp = std::env::temp_dir().join(format!("footfall-detect-twins-{}", std::process::id()));
    let (left, right) = (tmp.join("left"), tmp.join("right"));
    for (dir, source) in [(&left, "images/bus.jpg"), (&right, "images/zidane.jpg")] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(shared().join(source), dir.join("a.jpg")).unwrap();
    }
    let annotated = tmp.join("annotated");
    let out = footfall()
        .arg("--json")
        .arg("--annotate")
        .arg(&annotated)
        .arg(left.join("a.jpg"))
        .arg(right.join("a.jpg"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = report["images"].as_array().unwrap();
    let paths: Vec<&str> = images.iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            left.join("a.jpg").to_str().unwrap(),
            right.join("a.jpg").to_str().unwrap()
        ]
    );
    // Two pictures, neither overwritten, each named in its entry.
    let pictures: Vec<&str> = images
        .iter()
        .map(|i| i["annotated"].as_str().unwrap())
        .collect();
    assert_ne!(pictures[0], pictures[1]);
    for picture in pictures {
        assert!(std::fs::read(picture).unwrap().starts_with(&[0xFF, 0xD8]));
    }
    // The class id is an integer, the rest of the row are numbers.
    let row = &images[0]["detections"][0];
    assert!(row[5].is_u64() && row[4].is_f64(), "{row}");
    std::fs::remove_dir_all(&tmp).ok();
}
