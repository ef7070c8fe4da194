//! CSV lines with hostile fields (commas, quotes, CR/LF, any UTF-8) read back to the same fields
//! with a real CSV parser (the `csv` crate): RFC 4180 quoting, and the results-CSV line (local
//! file and S3 alike) of every result whose ids pass validation, whose run id is found again.
#![no_main]

use footfall_domain::csv::{csv_record, result_csv_line, result_csv_run_id};
use footfall_domain::{Health, ResultRecord, RunId, UserId};
use libfuzzer_sys::fuzz_target;

fn parse(line: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    reader
        .records()
        .map(|r| {
            r.expect("a formatted line must parse")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Fields separated by 0x1F (unit separator); at least two, as every results file has.
    let fields: Vec<&str> = text.split('\u{1f}').collect();
    if fields.len() >= 2 {
        let line = csv_record(fields.iter().copied());
        assert!(line.ends_with('\n'));
        let records = parse(&line);
        assert_eq!(records.len(), 1, "{line:?} -> {records:?}");
        assert_eq!(records[0], fields, "{line:?}");
    }
    // A result line: ids validated by type, the stream URL (`source`) any text.
    if fields.len() >= 3 {
        let (Ok(run_id), Ok(user_id)) = (RunId::parse(fields[0]), UserId::parse(fields[1])) else {
            return;
        };
        let record = ResultRecord {
            run_id,
            user_id,
            taken_at: chrono::DateTime::from_timestamp(i64::from(data[0]) * 3600, 0)
                .unwrap_or_default(),
            people_count: (data[0] & 1 == 0).then_some(u32::from(data[0])),
            health: Health::Ok,
            frames: data.len() as u32,
            source: fields[2].to_string(),
            image_ref: fields.get(3).map(|s| s.to_string()),
        };
        let line = result_csv_line(&record);
        let records = parse(&line);
        assert_eq!(records.len(), 1, "{line:?}");
        assert_eq!(records[0][0], fields[0]);
        assert_eq!(records[0][6], fields[2], "{line:?}");
        assert_eq!(result_csv_run_id(&line), Some(fields[0]));
    }
});
