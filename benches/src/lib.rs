//! Shared helpers of the benchmarks: where the test data is, and loading it.

use std::path::{Path, PathBuf};

use image::RgbImage;

pub use testdata::shared_dir;

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
            (
                name,
                detector_prepost::frame::load_image(&p).expect("photo"),
            )
        })
        .collect()
}
