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
    /// The checksum (hex) of the file at `url`; `None` when unknown (then it is never
    /// downloaded).
    pub sha256: Option<String>,
    /// Size in bytes of the file at `url`, when known.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Where `sha256` comes from, or why there is none.
    #[serde(default)]
    pub sha256_provenance: Option<String>,
    /// Other exports of the same network, accepted by their own checksums (in the cache and by
    /// [`import`]).
    #[serde(default)]
    pub accepted_exports: Vec<KnownExport>,
    /// Input size the weights were trained at.
    pub input_size: usize,
    /// Licence of the weights.
    pub licence: String,
}

/// An export of a model other than the published file, accepted by its checksum.
#[derive(Debug, Clone, Deserialize)]
pub struct KnownExport {
    /// Checksum (hex).
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// What it is.
    pub description: String,
}

impl ManifestEntry {
    /// Every checksum accepted for this model: the published file's, then the known exports'.
    pub fn accepted_sha256(&self) -> Vec<&str> {
        self.sha256
            .iter()
            .map(String::as_str)
            .chain(self.accepted_exports.iter().map(|e| e.sha256.as_str()))
            .collect()
    }

    /// Whether any checksum is known (otherwise a cached file is taken unchecked).
    pub fn verified(&self) -> bool {
        !self.accepted_sha256().is_empty()
    }

    /// Whether a file with this checksum is this model.
    pub fn accepts(&self, sha256: &str) -> bool {
        self.accepted_sha256()
            .iter()
            .any(|known| known.eq_ignore_ascii_case(sha256))
    }
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
            if entry.verified() {
                verify_accepted(&cached, entry)?;
            }
            return Ok(cached);
        }
        if !self.allow_download {
            let download = if entry.sha256.is_some() {
                format!("or add --download to fetch {} (sha256-checked)", entry.url)
            } else {
                format!(
                    "(no --download: the manifest has no checksum for {}; get the file yourself)",
                    entry.url
                )
            };
            return Err(WeightsError::NotFound {
                model: entry.name.clone(),
                searched: cached.display().to_string(),
                hint: format!(
                    "Ways out: pass the file with --weights PATH (or ${WEIGHTS_ENV}=PATH); copy it into the cache with `footfall weights import PATH` (the cache folder is {}, set by ${WEIGHTS_DIR_ENV}); {download}",
                    self.cache_dir.display()
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

/// Checks that the file at `path` is one `entry` accepts (its published file or a known
/// export).
pub fn verify_accepted(path: &Path, entry: &ManifestEntry) -> Result<(), WeightsError> {
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let actual = sha256_hex(&bytes);
    if entry.accepts(&actual) {
        Ok(())
    } else {
        Err(WeightsError::Checksum {
            path: path.to_path_buf(),
            expected: entry.accepted_sha256().join(" or "),
            actual,
        })
    }
}

/// Copies `source` into `cache_dir` under the manifest's file name, after checking that its
/// sha256 is one the manifest accepts for `entry`, so an offline machine gets a verified cache
/// without a download. Written through a temporary file and a rename. Returns the cached path.
pub fn import(
    entry: &ManifestEntry,
    source: &Path,
    cache_dir: &Path,
) -> Result<PathBuf, WeightsError> {
    let io = |path: &Path, error: std::io::Error| WeightsError::Io {
        path: path.to_path_buf(),
        source: error,
    };
    let bytes = std::fs::read(source).map_err(|e| io(source, e))?;
    if !entry.verified() {
        return Err(WeightsError::Unverified {
            model: entry.name.clone(),
        });
    }
    let actual = sha256_hex(&bytes);
    if !entry.accepts(&actual) {
        return Err(WeightsError::Checksum {
            path: source.to_path_buf(),
            expected: entry.accepted_sha256().join(" or "),
            actual,
        });
    }
    let dest = cache_dir.join(&entry.file);
    std::fs::create_dir_all(cache_dir).map_err(|e| io(cache_dir, e))?;
    let partial = dest.with_extension("part");
    std::fs::write(&partial, &bytes).map_err(|e| io(&partial, e))?;
    std::fs::rename(&partial, &dest).map_err(|e| io(&dest, e))?;
    Ok(dest)
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
        // nano: the published file's checksum and the two known exports, each once.
        let nano = entry("nano").unwrap();
        assert_eq!(
            nano.sha256.as_deref(),
            Some("c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d")
        );
        assert_eq!(nano.bytes, Some(3_659_407));
        assert!(nano.accepts("695E750A5D5754BB5A8D5325643B59282191A7E7A564E435A415FD3C578EAB14"));
        let accepted = nano.accepted_sha256();
        let unique: std::collections::HashSet<_> = accepted.iter().collect();
        assert_eq!((accepted.len(), unique.len()), (3, 3));
        // The others are marked unverified: no checksum, and they say so.
        for size in &ModelSize::ALL[1..] {
            let e = entry(size.name()).unwrap();
            assert!(!e.verified(), "{}", e.name);
            assert!(e.sha256_provenance.unwrap().starts_with("unverified"));
        }
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
    fn import_takes_an_accepted_export_only() {
        let dir = std::env::temp_dir().join(format!("footfall-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut nano = entry("nano").unwrap();
        let good = dir.join("mine.onnx");
        std::fs::write(&good, b"pretend weights").unwrap();
        nano.accepted_exports.push(KnownExport {
            sha256: sha256_hex(b"pretend weights"),
            bytes: 15,
            description: "test".into(),
        });
        let cache = dir.join("cache");
        let cached = import(&nano, &good, &cache).unwrap();
        assert_eq!(cached, cache.join("yolox_nano.onnx"));
        assert_eq!(std::fs::read(&cached).unwrap(), b"pretend weights");
        // The cache now resolves, verified.
        assert_eq!(
            WeightsLocator::new(&cache).resolve(&nano, None).unwrap(),
            cached
        );

        let other = dir.join("other.onnx");
        std::fs::write(&other, b"something else").unwrap();
        let err = import(&nano, &other, &dir.join("cache2")).unwrap_err();
        assert!(matches!(err, WeightsError::Checksum { .. }), "{err}");
        assert!(!dir.join("cache2").join("yolox_nano.onnx").exists());
        let err = import(&entry("tiny").unwrap(), &good, &cache).unwrap_err();
        assert!(matches!(err, WeightsError::Unverified { .. }), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_no_weights_error_names_every_way_out() {
        let dir = std::env::temp_dir().join(format!("footfall-ways-{}", std::process::id()));
        let err = WeightsLocator::new(&dir)
            .resolve(&entry("nano").unwrap(), None)
            .unwrap_err()
            .to_string();
        for way in [
            "--weights PATH",
            "FOOTFALL_WEIGHTS",
            "footfall weights import",
            "--download",
        ] {
            assert!(err.contains(way), "{way}: {err}");
        }
        assert!(err.contains(&dir.display().to_string()), "{err}");
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
