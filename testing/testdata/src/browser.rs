//! Headless Chromium for the web pages' tests (Debian's `chromium`, installed by
//! `scripts/setup.sh`; `CHROMIUM` names another binary).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser, if one is installed.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|p| p.is_file())
}

/// Headless `chromium` on `url` with a profile folder of its own and `args`
/// (`--dump-dom`, `--screenshot=PATH`, ...); its stdout. Panics when the browser fails.
pub fn browse(chromium: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--timeout=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The browser, or `None` where the test may skip; with `FOOTFALL_REQUIRE_BROWSER` set
/// (scripts/test.sh) a missing browser fails the test instead.
pub fn chromium_or_skip() -> Option<PathBuf> {
    let found = chromium();
    assert!(
        found.is_some() || std::env::var_os("FOOTFALL_REQUIRE_BROWSER").is_none(),
        "FOOTFALL_REQUIRE_BROWSER is set but no chromium was found"
    );
    found
}
