//! `results/{user_id}.csv`: one line per stored result (the domain's one schema), appended under
//! an exclusive file lock in a single write, so concurrent jobs and processes never interleave or
//! tear lines. An append whose run id is already in the file is not repeated.

use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use footfall_domain::csv::{RESULT_CSV_HEADER, result_csv_line, result_csv_run_id};
use footfall_domain::sinks::{Appended, BoxFuture, CsvLog, SinkError};
use footfall_domain::{ResultRecord, UserId};

/// Path of a user's CSV file under `results_dir` (user ids are file-name safe by type).
pub fn csv_path(results_dir: &Path, user_id: &UserId) -> PathBuf {
    results_dir.join(format!("{user_id}.csv"))
}

/// Appends `record` to `results_dir/{user_id}.csv`, writing the header first into a new file.
pub fn append_result(results_dir: &Path, record: &ResultRecord) -> io::Result<(PathBuf, Appended)> {
    std::fs::create_dir_all(results_dir)?;
    let path = csv_path(results_dir, &record.user_id);
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)?;
    // The lock covers the "is it there / is it empty" decisions as well as the append.
    file.lock()?;
    let mut existing = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut existing)?;
    let run_id = record.run_id.as_str();
    if existing
        .lines()
        .skip(1)
        .any(|line| result_csv_run_id(line) == Some(run_id))
    {
        file.unlock()?;
        return Ok((path, Appended::AlreadyPresent));
    }
    let before = existing.len() as u64;
    let mut text = String::new();
    if before == 0 {
        text.push_str(RESULT_CSV_HEADER);
        text.push('\n');
    }
    text.push_str(&result_csv_line(record));
    let mut written = file.write_all(text.as_bytes()).and_then(|()| file.flush());
    if written.is_err() {
        // A full disk can take part of the line: cut the file back so it never ends in half a
        // line (readers would see a corrupt row, and the next append would glue onto it).
        if let Err(error) = file.set_len(before) {
            written = written.map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("{e}; and the partial line could not be removed: {error}"),
                )
            });
        }
    }
    // Closing releases the lock too; unlock explicitly in case the handle lives on.
    let unlocked = file.unlock();
    written?;
    unlocked?;
    Ok((path, Appended::Written))
}

/// The CSV files of a data folder as the job's [`CsvLog`].
#[derive(Debug, Clone)]
pub struct CsvFiles {
    pub results_dir: PathBuf,
}

impl CsvLog for CsvFiles {
    fn append<'a>(
        &'a self,
        record: &'a ResultRecord,
    ) -> BoxFuture<'a, Result<Appended, SinkError>> {
        Box::pin(async move {
            let dir = self.results_dir.clone();
            let record = record.clone();
            tokio::task::spawn_blocking(move || append_result(&dir, &record))
                .await
                .map_err(|e| SinkError::permanent("csv", e.to_string()))?
                .map(|(_, appended)| appended)
                // Disk full or an unwritable folder will not fix itself within a job.
                .map_err(|e| {
                    SinkError::permanent("csv", format!("{}: {e}", self.results_dir.display()))
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use footfall_domain::{Health, RunId};

    fn record(run_id: &str, source: &str, people: Option<u32>) -> ResultRecord {
        ResultRecord {
            run_id: RunId::parse(run_id).unwrap(),
            user_id: UserId::parse("alice").unwrap(),
            taken_at: Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
            people_count: people,
            health: Health::Ok,
            frames: 10,
            source: source.to_string(),
            image_ref: None,
        }
    }

    #[test]
    fn concurrent_appends_keep_whole_lines_and_runs_are_appended_once() {
        let dir = std::env::temp_dir().join(format!("csv-log-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let source = format!("http://cam/{thread},{i}?q=\"{}\"", "x".repeat(200));
                        let r = record(&format!("run-{thread}-{i}"), &source, Some(i));
                        assert_eq!(append_result(&dir, &r).unwrap().1, Appended::Written);
                        // A retried run appends nothing.
                        assert_eq!(append_result(&dir, &r).unwrap().1, Appended::AlreadyPresent);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let alice = UserId::parse("alice").unwrap();
        let text = std::fs::read_to_string(csv_path(&dir, &alice)).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], RESULT_CSV_HEADER);
        assert_eq!(lines.len(), 1 + 8 * 50);
        assert_eq!(text.matches(RESULT_CSV_HEADER).count(), 1);
        for line in &lines[1..] {
            assert!(
                line.starts_with("run-") && line.ends_with("\"\","),
                "torn line: {line}"
            );
        }
    }
}
