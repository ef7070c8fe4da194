//! The results CSV (`{user_id}.csv`, one line per stored result, the same columns locally and in
//! S3) and RFC 4180 quoting: a field is quoted when it holds a comma, a quote, CR or LF, with inner
//! quotes doubled, so any text survives a round trip through a CSV reader.

use std::borrow::Cow;

use crate::record::ResultRecord;

/// The header of every results CSV.
pub const RESULT_CSV_HEADER: &str =
    "run_id,taken_at,user_id,people_count,health,frames,source,image_ref";

/// One CSV line (with its `\n`) for a result. An unknown count is an empty field, never 0.
pub fn result_csv_line(record: &ResultRecord) -> String {
    let people = record
        .people_count
        .map(|n| n.to_string())
        .unwrap_or_default();
    let frames = record.frames.to_string();
    csv_record([
        record.run_id.as_str(),
        &record.taken_at_text(),
        record.user_id.as_str(),
        &people,
        record.health.as_str(),
        &frames,
        &record.source,
        record.image_ref.as_deref().unwrap_or(""),
    ])
}

/// The run id of a results CSV line (its first field; run ids need no quoting), so an append
/// can tell that a retried run is already in the file.
pub fn result_csv_run_id(line: &str) -> Option<&str> {
    let first = line.split(',').next()?;
    (!first.is_empty() && !first.starts_with('"')).then_some(first)
}

/// The `taken_at` of a results CSV line (its second field, UTC RFC 3339, never quoted).
pub fn result_csv_taken_at(line: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let field = line.split(',').nth(1)?;
    chrono::DateTime::parse_from_rfc3339(field)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Retention of a results CSV: `body` without the lines taken before `cutoff`, and how many
/// went. The header and any line whose time cannot be read stay (nothing is dropped that is
/// not known to be old).
pub fn prune_result_csv(body: &str, cutoff: chrono::DateTime<chrono::Utc>) -> (String, usize) {
    let mut kept = String::with_capacity(body.len());
    let mut dropped = 0;
    for line in body.split_inclusive('\n') {
        if result_csv_taken_at(line).is_some_and(|t| t < cutoff) {
            dropped += 1;
        } else {
            kept.push_str(line);
        }
    }
    (kept, dropped)
}

/// Quotes a field when it holds a comma, quote, CR or LF (RFC 4180), doubling inner quotes.
pub fn csv_field(value: &str) -> Cow<'_, str> {
    if value.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(value)
    }
}

/// One CSV line with its `\n`: every field through [`csv_field`], joined by commas.
pub fn csv_record<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&csv_field(field));
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Vec<String> {
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        record.iter().map(str::to_string).collect()
    }

    #[test]
    fn result_lines() {
        use crate::{Health, RunId, UserId};
        let record = ResultRecord {
            run_id: RunId::parse("20261130T200000Z").unwrap(),
            user_id: UserId::parse("shop-1").unwrap(),
            taken_at: chrono::DateTime::parse_from_rfc3339("2026-11-30T20:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            people_count: None,
            health: Health::Unavailable,
            frames: 0,
            source: "https://cam.example/live.m3u8?a=1,b=2".into(),
            image_ref: None,
        };
        let line = result_csv_line(&record);
        assert_eq!(
            parse(&line),
            [
                "20261130T200000Z",
                "2026-11-30T20:00:00Z",
                "shop-1",
                "",
                "unavailable",
                "0",
                "https://cam.example/live.m3u8?a=1,b=2",
                ""
            ]
        );
        assert_eq!(RESULT_CSV_HEADER.split(',').count(), parse(&line).len());
        assert_eq!(result_csv_run_id(&line), Some("20261130T200000Z"));
        assert_eq!(result_csv_run_id(RESULT_CSV_HEADER), Some("run_id"));
        assert_eq!(result_csv_run_id(""), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_record(["a", "b,c", ""]), "a,\"b,c\",\n");
    }

    #[test]
    fn hostile_fields_round_trip_through_a_csv_reader() {
        let fields = [
            "r1",
            "",
            "\"",
            "\"\"",
            ",",
            "a\r\nb",
            "\r",
            "x\"y,z\n",
            " lead and trail ",
            "üñí©ødé",
        ];
        assert_eq!(parse(&csv_record(fields)), fields);
    }

    #[test]
    fn retention_drops_only_lines_known_to_be_old() {
        let body = format!(
            "{RESULT_CSV_HEADER}\n\
             r1,2024-01-01T10:00:00Z,u,3,ok,10,s,\n\
             r2,2025-06-01T10:00:00Z,u,4,ok,10,s,\n\
             garbage line\n\
             r3,2025-06-02T10:00:00Z,u,,unavailable,0,\"a,b\",\n"
        );
        let cutoff = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let (kept, dropped) = prune_result_csv(&body, cutoff);
        assert_eq!(dropped, 1);
        assert_eq!(
            kept,
            format!(
                "{RESULT_CSV_HEADER}\n\
                 r2,2025-06-01T10:00:00Z,u,4,ok,10,s,\n\
                 garbage line\n\
                 r3,2025-06-02T10:00:00Z,u,,unavailable,0,\"a,b\",\n"
            )
        );
        // Nothing old: unchanged.
        assert_eq!(prune_result_csv(&kept, cutoff), (kept.clone(), 0));
    }
}
