//! The weights manifest (`weights/manifest.json`, compiled in) and resolution of a model
//! name to a file with a [`WeightsLocator`]: an explicit path, then the cache directory, then,
//! when allowed, a download from the official URL verified against the manifest's sha256.
//!
//! Nothing here reads the environment: the locator gets its cache directory and download
//! permission from the caller. The footfall binaries read [`WEIGHTS_ENV`] and
//! [`WEIGHTS_DIR_ENV`] and pass what they find.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::WeightsError;
use crate::model::ModelSize;

const MANIFEST_JSON: &str = include_str!("../../../weights/manifest.json");

/// Environment variable the footfall binaries read for a weights file to use whatever the
/// model name (passed to [`WeightsLocator::resolve`] as the explicit path). Not read here.
pub const WEIGHTS_ENV: &str = "FOOTFALL_WEIGHTS";
/// Environment variable the footfall binaries read for the cache directory. Not read here.
pub const WEIGHTS_DIR_ENV: &str = "FOOTFALL_WEIGHTS_DIR";

/// Largest weights file accepted from a download (YOLOX-X is about 400 MB).
const MAX_DOWNLOAD_BYTES: u64 = 1 << 30;

/// One published model.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    /// Name, e.g. `yolox_nano`.
    pub name: String,
    /// Network size.
    pub size: ModelSize,
    /// File format (`onnx`).
    pub format: String,
    /// File name in the cache.
    pub file: String,
    /// Official download URL.
    pub url: String,
    /// Expected sha256 (hex), when verified by this project.
    pub sha256: Option<String>,
    /// Input size the weights were trained at.
    pub input_size: usize,
    /// Licence of the weights.
    pub licence: String,
}

#[derive(Deserialize)]
struct Manifest {
    models: Vec<ManifestEntry>,
}

/// All manifest entries.
pub fn entries() -> Vec<ManifestEntry> {
    // The manifest is compiled in and checked by a unit test, so a parse failure is a build
    // defect; an empty list still leads to a clear "unknown model" error rather than a panic.
    serde_json::from_str::<Manifest>(MANIFEST_JSON)
        .map(|m| m.models)
        .unwrap_or_default()
}

/// The entry for a model name (`yolox_nano`, `nano`, `yolox-s`, ...).
pub fn entry(name: &str) -> Result<ManifestEntry, WeightsError> {
    let size: ModelSize = name
        .parse()
        .map_err(|_| WeightsError::UnknownModel(name.to_string()))?;
    entries()
        .into_iter()
        .find(|e| e.size == size)
        .ok_or_else(|| WeightsError::UnknownModel(name.to_string()))
}

/// Where a model's weights file is looked for, and whether it may be downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsLocator {
    /// Directory holding the files named in the manifest (downloads land here too).
    pub cache_dir: PathBuf,
    /// Download a missing file from the official URL (only for entries with a sha256).
    pub allow_download: bool,
}

impl WeightsLocator {
    /// A locator over `cache_dir`, without downloads.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            allow_download: false,
        }
    }

    /// The conventional cache directory, `footfall/weights` under the user's cache directory:
    /// `xdg_cache_home` (`$XDG_CACHE_HOME`), else `home/.cache` (`$HOME`); `None` when neither
    /// is known (footfall then uses the temporary directory). The caller passes the values, so
    /// this reads no environment.
    pub fn default_cache_dir(
        xdg_cache_home: Option<&Path>,
        home: Option<&Path>,
    ) -> Option<PathBuf> {
        let base = xdg_cache_home
            .map(Path::to_path_buf)
            .or_else(|| home.map(|h| h.join(".cache")))?;
        Some(base.join("footfall").join("weights"))
    }

    /// The weights file for `entry`: `explicit` when given (it must exist; no checksum, since
    /// the caller chose it), else the cache file (checked against the manifest's sha256 when it
    /// has one), else, when downloads are allowed, the official file downloaded into the cache.
    pub fn resolve(
        &self,
        entry: &ManifestEntry,
        explicit: Option<&Path>,
    ) -> Result<PathBuf, WeightsError> {
        if let Some(path) = explicit {
            return existing(path);
        }
        let cached = self.cache_dir.join(&entry.file);
        if cached.is_file() {
            if let Some(expected) = &entry.sha256 {
                verify_sha256(&cached, expected)?;
            }
            return Ok(cached);
        }
        if !self.allow_download {
            return Err(WeightsError::NotFound {
                model: entry.name.clone(),
                searched: cached.display().to_string(),
                hint: format!(
                    "Pass a weights file (footfall: --weights PATH or ${WEIGHTS_ENV}), place the file in the cache, or allow the download from {}",
                    entry.url
                ),
            });
        }
        download(entry, &cached)?;
        Ok(cached)
    }
}

fn existing(path: &Path) -> Result<PathBuf, WeightsError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(WeightsError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        })
    }
}

/// Hex sha256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a file against an expected sha256.
pub fn verify_sha256(path: &Path, expected: &str) -> Result<(), WeightsError> {
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let actual = sha256_hex(&bytes);
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(WeightsError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// Downloads to a temporary file next to `dest`, verifies, then renames: a failed or
/// interrupted download never leaves a file that looks valid.
fn download(entry: &ManifestEntry, dest: &Path) -> Result<(), WeightsError> {
    let failed = |reason: String| WeightsError::Download {
        url: entry.url.clone(),
        reason,
    };
    let Some(expected) = &entry.sha256 else {
        return Err(failed(
            "the manifest has no verified sha256 for this model; download it yourself and pass --weights".into(),
        ));
    };
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    let response = ureq::get(&entry.url)
        .call()
        .map_err(|e| failed(e.to_string()))?;
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_DOWNLOAD_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(e.to_string()))?;
    let actual = sha256_hex(&bytes);
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(WeightsError::Checksum {
            path: dest.to_path_buf(),
            expected: expected.clone(),
            actual,
        });
    }
    let partial = dest.with_extension("part");
    std::fs::write(&partial, &bytes)
        .map_err(|e| failed(format!("cannot write {}: {e}", partial.display())))?;
    std::fs::rename(&partial, dest)
        .map_err(|e| failed(format!("cannot move into {}: {e}", dest.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lists_every_size_once_with_licence_and_url() {
        let entries = entries();
        assert_eq!(entries.len(), ModelSize::ALL.len());
        for size in ModelSize::ALL {
            let e = entry(size.name()).expect("entry");
            assert_eq!(e.size, size);
            assert_eq!(e.input_size, size.default_input_size());
            assert_eq!(e.licence, "Apache-2.0");
            assert!(
                e.url
                    .starts_with("https://github.com/Megvii-BaseDetection/YOLOX/")
            );
        }
        assert!(entry("nano").unwrap().sha256.is_some());
        assert!(matches!(
            entry("yolov8"),
            Err(WeightsError::UnknownModel(_))
        ));
    }

    #[test]
    fn locator_uses_only_what_it_is_given() {
        let dir = std::env::temp_dir().join(format!("footfall-locator-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let entry = entry("tiny").unwrap();
        let locator = WeightsLocator::new(&dir);
        let err = locator.resolve(&entry, None).unwrap_err();
        assert!(matches!(err, WeightsError::NotFound { .. }), "{err}");
        assert!(
            err.to_string().contains(&dir.display().to_string()),
            "{err}"
        );
        // Tiny has no verified checksum, so a cached file is taken as it is.
        std::fs::write(dir.join(&entry.file), b"x").unwrap();
        assert_eq!(
            locator.resolve(&entry, None).unwrap(),
            dir.join(&entry.file)
        );
        let missing = dir.join("missing.onnx");
        let err = locator.resolve(&entry, Some(&missing)).unwrap_err();
        assert!(matches!(err, WeightsError::Io { .. }), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn default_cache_dir_prefers_xdg_then_home() {
        let xdg = Path::new("/x");
        let home = Path::new("/h");
        assert_eq!(
            WeightsLocator::default_cache_dir(Some(xdg), Some(home)).unwrap(),
            Path::new("/x/footfall/weights")
        );
        assert_eq!(
            WeightsLocator::default_cache_dir(None, Some(home)).unwrap(),
            Path::new("/h/.cache/footfall/weights")
        );
        assert_eq!(WeightsLocator::default_cache_dir(None, None), None);
    }

    #[test]
    fn checksum_mismatch_is_reported_with_both_values() {
        let dir = std::env::temp_dir().join(format!("footfall-sha-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("w.onnx");
        std::fs::write(&file, b"not weights").unwrap();
        let err = verify_sha256(&file, "00").unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
