//! CSV lines with hostile fields (commas, quotes, CR/LF, any UTF-8) read back to the same fields
//! with a real CSV parser (the `csv` crate): the local runner's `results/{user}.csv` formatting,
//! and the Fargate task's S3 CSV line for every result whose fields pass validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payloads::{JobResult, Source};
use footfall_domain::csv::csv_record;

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
    // The S3 sink writes unquoted lines, relying on validation of every field.
    if fields.len() >= 3 {
        let result = JobResult {
            run_id: fields[0].to_string(),
            user_id: fields[1].to_string(),
            source: if data[0] & 1 == 0 {
                Source::EventBridge
            } else {
                Source::ApiGateway
            },
            date_time: fields[2].to_string(),
            streaming_url: String::new(),
            people_count: u32::from(data[0]),
            frames_analyzed: data.len() as u32,
        };
        let valid = payloads::validate_run_id("run_id", &result.run_id).is_ok()
            && payloads::validate::user_id("user_id", &result.user_id).is_ok()
            && payloads::validate_date_time("DATE-TIME", &result.date_time).is_ok();
        if valid {
            let line = result.csv_line();
            let records = parse(&format!("{line}\n"));
            let expected = [
                result.date_time.clone(),
                result.user_id.clone(),
                result.people_count.to_string(),
                result.frames_analyzed.to_string(),
                result.source.to_string(),
                result.run_id.clone(),
            ];
            assert_eq!(records, vec![expected.to_vec()], "{line:?}");
        }
    }
});
