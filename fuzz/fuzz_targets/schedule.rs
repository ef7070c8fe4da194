//! Any text as a schedule expression (`cron(...)`, bare cron fields, `rate(...)`): parsing gives a
//! schedule or an error naming the expression; a parsed schedule's next tick after any instant
//! (before 1970, far future, the ends of chrono's range) is strictly later, or none.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use footfall_domain::schedule::Schedule;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (seconds, text) = data.split_at(8);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let schedule = match Schedule::parse(text) {
        Ok(schedule) => schedule,
        Err(error) => {
            assert!(!error.reason.is_empty());
            return;
        }
    };
    let seconds = i64::from_le_bytes(seconds.try_into().unwrap());
    // Any second chrono can represent, plus the two ends of its range.
    let span = DateTime::<Utc>::MAX_UTC.timestamp() - DateTime::<Utc>::MIN_UTC.timestamp();
    let at = DateTime::<Utc>::MIN_UTC.timestamp() + seconds.rem_euclid(span);
    let starts = [
        DateTime::from_timestamp(at, 0),
        Some(DateTime::<Utc>::MIN_UTC),
        Some(DateTime::<Utc>::MAX_UTC),
        DateTime::from_timestamp(seconds.rem_euclid(8_000_000_000), 0),
    ];
    for after in starts.into_iter().flatten() {
        if let Some(next) = schedule.next_after(after) {
            assert!(next > after, "{text}: {next} is not after {after}");
        }
    }
});
