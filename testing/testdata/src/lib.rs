//! Where the shared test data lives (weights, photos, golden outputs, the test video): the
//! folder named by `FOOTFALL_SHARED`, else `shared/` beside the repository (or inside it). The
//! data is never committed; every test, example and benchmark finds it through here, and a
//! missing folder is one clear message naming the variable.

pub mod browser;
pub mod smtp;

use std::path::{Path, PathBuf};

/// The environment variable that names the shared data folder.
pub const ENV: &str = "FOOTFALL_SHARED";

/// What a shared data folder holds (any one is enough: a partial copy is still usable).
const MARKERS: [&str; 2] = ["weights/yolox_nano.onnx", "video/manifest.json"];

fn looks_shared(dir: &Path) -> bool {
    MARKERS.iter().any(|m| dir.join(m).is_file())
}

/// The shared data folder, or a message saying where it was looked for.
pub fn find() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(ENV) {
        let dir = PathBuf::from(dir);
        return if looks_shared(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "{ENV}={} holds neither {}",
                dir.display(),
                MARKERS.join(" nor ")
            ))
        };
    }
    // This crate sits at `<repo>/testdata`: look in `<repo>/shared`, then `<repo>/../shared`.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for candidate in [repo.join("shared"), repo.join("../shared")] {
        if looks_shared(&candidate) {
            return Ok(candidate);
        }
    }
    Err(format!(
        "shared test data not found: set {ENV} to the folder holding weights/, images/, golden/ \
         and video/ (e.g. /work/shared), or place it at ../shared next to the repository"
    ))
}

/// The shared data folder; panics with [`find`]'s message (for tests and benchmarks).
pub fn shared_dir() -> PathBuf {
    find().unwrap_or_else(|message| panic!("{message}"))
}

/// The bytes of a shared file (panics naming it when it cannot be read).
pub fn read(relative: impl AsRef<Path>) -> Vec<u8> {
    let path = shared_dir().join(relative);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read shared test data {}: {e}", path.display()))
}

/// A test-only tool (`python3`, `moto_server`, ...) from the virtualenv that `scripts/setup.sh`
/// fills (`$FOOTFALL_VENV/bin`, else `${XDG_CACHE_HOME:-~/.cache}/footfall-venv/bin`), else the
/// bare name for a `PATH` lookup. So a plain `cargo test` finds the tools without the venv on
/// `PATH` (Debian's own Python has none of them and refuses to install them system-wide).
pub fn venv_tool(name: &str) -> PathBuf {
    let env_dir = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    [
        env_dir("FOOTFALL_VENV"),
        env_dir("XDG_CACHE_HOME").map(|c| c.join("footfall-venv")),
        env_dir("HOME").map(|h| h.join(".cache/footfall-venv")),
    ]
    .into_iter()
    .flatten()
    .map(|venv| venv.join("bin").join(name))
    .find(|p| p.is_file())
    .unwrap_or_else(|| PathBuf::from(name))
}
