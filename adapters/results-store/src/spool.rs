//! A local buffer for results the database could not take (server down, network cut): one JSON
//! object per line in a file, appended under an exclusive lock. [`Spool::flush`] inserts them once
//! the database answers again; `insert_result` is idempotent by (run_id, user_id), so a record
//! that did reach the server before the connection broke is not stored twice.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::{ResultRecord, Store};

/// Results waiting for the database.
#[derive(Debug, Clone)]
pub struct Spool {
    path: PathBuf,
}

/// What a [`Spool::flush`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Newly inserted rows.
    pub inserted: usize,
    /// Records the database already had (their first attempt had reached it).
    pub already_stored: usize,
    /// Records still waiting (the database failed again).
    pub pending: usize,
    /// Records the database refused for good (invalid fields); dropped from the spool, logged.
    pub refused: usize,
}

impl Spool {
    /// A spool in `path` (created on the first [`Spool::push`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> io::Result<File> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)?;
        file.lock()?;
        Ok(file)
    }

    /// Keeps `record` for a later [`Spool::flush`]. `Ok(false)` when a record with the same
    /// (run_id, user_id) is already waiting. On a write error (disk full) the file is cut back
    /// to its previous length, so it never holds half a line.
    pub fn push(&self, record: &ResultRecord) -> io::Result<bool> {
        let mut file = self.open()?;
        let (pending, whole) = read_lines(&mut file)?;
        if pending
            .iter()
            .any(|r| r.run_id == record.run_id && r.user_id == record.user_id)
        {
            return Ok(false);
        }
        // After a torn last line (a crash mid-write), start on a line of our own.
        let mut line = if whole {
            String::new()
        } else {
            "\n".to_string()
        };
        line.push_str(&serde_json::to_string(record).map_err(io::Error::other)?);
        line.push('\n');
        let before = file.seek(SeekFrom::End(0))?;
        if let Err(error) = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
        {
            let _ = file.set_len(before);
            return Err(error);
        }
        Ok(true)
    }

    /// Records waiting, oldest first.
    pub fn pending(&self) -> io::Result<Vec<ResultRecord>> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        read_records(&mut self.open()?)
    }

    /// Inserts every waiting record, keeps those the database failed on, and returns the
    /// records newly inserted (for the caller's other sinks) with the counts.
    pub async fn flush(&self, store: &Store) -> io::Result<(FlushReport, Vec<ResultRecord>)> {
        let mut report = FlushReport::default();
        let mut inserted = Vec::new();
        if !self.path.exists() {
            return Ok((report, inserted));
        }
        let mut file = self.open()?;
        let pending = read_records(&mut file)?;
        if pending.is_empty() {
            return Ok((report, inserted));
        }
        let mut keep = Vec::new();
        for record in pending {
            match store.insert_result(&record).await {
                Ok(true) => {
                    report.inserted += 1;
                    inserted.push(record);
                }
                Ok(false) => report.already_stored += 1,
                Err(error) if error.is_invalid_input() => {
                    tracing::error!(run_id = %record.run_id, user_id = %record.user_id, %error,
                        "spooled result refused by the database; dropped");
                    report.refused += 1;
                }
                Err(error) => {
                    tracing::warn!(run_id = %record.run_id, user_id = %record.user_id, %error,
                        "spooled result still not stored");
                    keep.push(record);
                }
            }
        }
        report.pending = keep.len();
        // Replace the file (write a temporary one, then rename) so that a crash or a full disk
        // leaves either the old or the new list; the old one only repeats idempotent inserts.
        let mut text = String::new();
        for record in &keep {
            text.push_str(&serde_json::to_string(record).map_err(io::Error::other)?);
            text.push('\n');
        }
        let temporary = self.path.with_extension("tmp");
        let written = std::fs::write(&temporary, text.as_bytes())
            .and_then(|()| File::open(&temporary)?.sync_all())
            .and_then(|()| std::fs::rename(&temporary, &self.path));
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(error);
        }
        drop(file);
        Ok((report, inserted))
    }
}

/// Whole lines of the spool; a torn last line (a crash mid-write) is skipped with a warning.
fn read_records(file: &mut File) -> io::Result<Vec<ResultRecord>> {
    Ok(read_lines(file)?.0)
}

/// The records, and whether the file is empty or ends with a newline.
fn read_lines(file: &mut File) -> io::Result<(Vec<ResultRecord>, bool)> {
    file.seek(SeekFrom::Start(0))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let whole = text.is_empty() || text.ends_with('\n');
    let mut records = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(error) => tracing::warn!(%error, "unreadable line in the results spool skipped"),
        }
    }
    Ok((records, whole))
}
