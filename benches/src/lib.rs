//! Shared helpers of the benchmarks: where the test data is, and loading it.

use std::path::{Path, PathBuf};

use image::RgbImage;

/// The shared data folder: `$FOOTFALL_SHARED`, else `../shared` next to the repository.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("FOOTFALL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("weights/yolox_nano.onnx").is_file(),
        "benchmark data missing: expected the shared data folder at {} (set FOOTFALL_SHARED)",
        dir.display()
    );
    dir
}

/// The shared photos, decoded, in file-name order.
pub fn shared_photos() -> Vec<(String, RgbImage)> {
    photos_in(&shared_dir().join("images"))
}

/// The `.jpg` photos of `dir`, decoded, with their file names, in file-name order.
pub fn photos_in(dir: &Path) -> Vec<(String, RgbImage)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("photos folder {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, detector_core::load_image(&p).expect("photo"))
        })
        .collect()
}
