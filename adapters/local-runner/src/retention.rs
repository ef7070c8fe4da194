//! Keeps the annotated-image folder to a number of days, like the S3 lifecycle rule of the AWS
//! deployment: files older than the limit (by modification time) are deleted, then empty folders.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PruneReport {
    pub files_removed: usize,
    pub dirs_removed: usize,
}

/// Deletes regular files under `root` last modified more than `max_age` before `now`, and the
/// subfolders this leaves empty (never `root` itself). Symbolic links are left alone. A missing
/// `root` is not an error.
pub fn prune_older_than(
    root: &Path,
    max_age: Duration,
    now: SystemTime,
) -> io::Result<PruneReport> {
    let mut report = PruneReport::default();
    if !root.exists() {
        return Ok(report);
    }
    let cutoff = now.checked_sub(max_age).unwrap_or(SystemTime::UNIX_EPOCH);
    prune_dir(root, cutoff, &mut report)?;
    Ok(report)
}

/// Returns whether `dir` is empty afterwards.
fn prune_dir(dir: &Path, cutoff: SystemTime, report: &mut PruneReport) -> io::Result<bool> {
    let mut empty = true;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if prune_dir(&path, cutoff, report)? {
                std::fs::remove_dir(&path)?;
                report.dirs_removed += 1;
            } else {
                empty = false;
            }
        } else if kind.is_file() && entry.metadata()?.modified()? < cutoff {
            std::fs::remove_file(&path)?;
            report.files_removed += 1;
        } else {
            empty = false;
        }
    }
    Ok(empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_files_and_empty_folders_go() {
        let root = std::env::temp_dir().join(format!("retention-{}", std::process::id()));
        std::fs::remove_dir_all(&root).ok();
        let day = Duration::from_secs(86_400);
        let now = SystemTime::now();
        let write = |relative: &str, age: Duration| {
            let path = root.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"jpeg").unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(now - age).unwrap();
        };
        write("alice/old.jpg", 10 * day);
        write("alice/new.jpg", day / 2);
        write("bob/old.jpg", 8 * day);
        let report = prune_older_than(&root, 7 * day, now).unwrap();
        assert_eq!(
            report,
            PruneReport {
                files_removed: 2,
                dirs_removed: 1
            }
        );
        assert!(root.join("alice/new.jpg").exists());
        assert!(!root.join("bob").exists());
        assert!(root.exists());
        std::fs::remove_dir_all(&root).ok();
        assert_eq!(
            prune_older_than(&root, day, now).unwrap(),
            PruneReport::default()
        );
    }
}
