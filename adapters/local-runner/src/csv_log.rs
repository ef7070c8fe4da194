//! `results/{user_id}.csv`: one line per stored result, appended under an exclusive file lock in a
//! single write, so concurrent jobs and processes never interleave or tear lines.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use results_store::ResultRecord;
pub use footfall_domain::csv::csv_field;
use footfall_domain::csv::csv_record;

pub const CSV_HEADER: &str = "run_id,taken_at,user_id,people_count,health,frames,source,image_ref";

/// One CSV line (with its `\n`) for a result. An unknown count is an empty field, never 0.
pub fn csv_line(record: &ResultRecord) -> String {
    let people = record
        .people_count
        .map(|n| n.to_string())
        .unwrap_or_default();
    let taken_at = record
        .taken_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let frames = record.frames.to_string();
    csv_record([
        record.run_id.as_str(),
        &taken_at,
        &record.user_id,
        &people,
        &record.health,
        &frames,
        &record.source,
        record.image_ref.as_deref().unwrap_or(""),
    ])
}

/// Path of a user's CSV file under `results_dir`. User ids are validated by the store to a
/// file-name-safe alphabet.
pub fn csv_path(results_dir: &Path, user_id: &str) -> PathBuf {
    results_dir.join(format!("{user_id}.csv"))
}

/// Appends `record` to `results_dir/{user_id}.csv`, writing the header first into a new file.
pub fn append_result(results_dir: &Path, record: &ResultRecord) -> io::Result<PathBuf> {
    results_store::validate_user_id(&record.user_id)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?;
    std::fs::create_dir_all(results_dir)?;
    let path = csv_path(results_dir, &record.user_id);
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    // The lock covers the "is it empty → header" decision as well as the append.
    file.lock()?;
    let mut text = String::new();
    let before = file.metadata()?.len();
    if before == 0 {
        text.push_str(CSV_HEADER);
        text.push('\n');
    }
    text.push_str(&csv_line(record));
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
    // Closing the file releases the lock as well; unlock explicitly to release it even if the
    // handle lives on in a cache later.
    let unlocked = file.unlock();
    written?;
    unlocked?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn record(run_id: &str, source: &str, people: Option<i64>) -> ResultRecord {
        ResultRecord {
            run_id: run_id.to_string(),
            user_id: "alice".to_string(),
            taken_at: Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
            people_count: people,
            health: "ok".to_string(),
            frames: 10,
            source: source.to_string(),
            image_ref: None,
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        let line = csv_line(&record("r1", "http://x/a.m3u8?a=1,b=\"2\"", None));
        assert_eq!(
            line,
            "r1,2026-11-28T12:00:00Z,alice,,ok,10,\"http://x/a.m3u8?a=1,b=\"\"2\"\"\",\n"
        );
    }

    #[test]
    fn concurrent_appends_keep_whole_lines() {
        let dir = std::env::temp_dir().join(format!("csv-log-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let source = format!("http://cam/{thread},{i}?q=\"{}\"", "x".repeat(200));
                        append_result(
                            &dir,
                            &record(&format!("run-{thread}-{i}"), &source, Some(i)),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let text = std::fs::read_to_string(csv_path(&dir, "alice")).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines.len(), 1 + 8 * 50);
        assert_eq!(text.matches(CSV_HEADER).count(), 1);
        for line in &lines[1..] {
            assert!(
                line.starts_with("run-") && line.ends_with("\"\","),
                "torn line: {line}"
            );
        }
    }

    #[test]
    fn unsafe_user_ids_are_refused() {
        let mut bad = record("r", "s", None);
        bad.user_id = "../escape".to_string();
        assert!(append_result(&std::env::temp_dir(), &bad).is_err());
    }
}
