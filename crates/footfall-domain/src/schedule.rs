//! EventBridge schedule expressions: `cron(min hour day-of-month month day-of-week year)`, the same
//! six fields without `cron(...)`, and `rate(N minute(s)|hour(s)|day(s))`. Times are UTC, as in
//! EventBridge.
//!
//! Supported in cron fields: `*`, `?` (day-of-month or day-of-week, exactly one of them), numbers,
//! `a-b` ranges, `a,b` lists, `x/step` and `a-b/step` increments, month names `JAN`..`DEC` and day
//! names `SUN`..`SAT` (EventBridge numbers days 1 = Sunday .. 7 = Saturday). EventBridge's `L`, `W`
//! and `#` are refused with a clear error.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schedule `{expression}`: {reason}")]
pub struct ScheduleError {
    pub expression: String,
    pub reason: String,
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Cron(CronSchedule),
    /// Fixed interval, first tick one interval after the scheduler starts (as EventBridge).
    Rate(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    /// `None` for `?`.
    days_of_month: Option<Vec<bool>>,
    months: Vec<bool>,
    /// Index 0 = Sunday. `None` for `?`.
    days_of_week: Option<Vec<bool>>,
    /// Years 1970..=2199, index 0 = 1970.
    years: Vec<bool>,
}

const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2199;
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Schedule::parse(text)
    }
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let expression = text.trim();
        let error = |reason: &str| ScheduleError {
            expression: expression.to_string(),
            reason: reason.to_string(),
        };
        if let Some(inner) = strip_call(expression, "rate") {
            return parse_rate(inner)
                .map(Schedule::Rate)
                .map_err(|reason| error(&reason));
        }
        let fields = strip_call(expression, "cron").unwrap_or(expression);
        CronSchedule::parse(fields)
            .map(Schedule::Cron)
            .map_err(|reason| error(&reason))
    }

    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(cron) => cron.next_after(after),
            Schedule::Rate(interval) => after.checked_add_signed(*interval),
        }
    }

    /// The latest tick at or before `at`: the tick a run started by an outside scheduler (cron
    /// calling `run-schedule --once`) belongs to, so two launches within one period share one
    /// run id. A `rate(...)` has no phase of its own: its ticks are taken as whole multiples of
    /// the interval since the Unix epoch.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Rate(interval) => {
                let step = interval.num_seconds().max(1);
                let start = at.timestamp().div_euclid(step) * step;
                DateTime::from_timestamp(start, 0)
            }
            Schedule::Cron(cron) => {
                // Walk forward from ever earlier starts: dense schedules are found in the first
                // window, sparse ones (yearly) in a few doublings.
                let mut window = Duration::hours(1);
                let earliest = Utc.with_ymd_and_hms(FIRST_YEAR, 1, 1, 0, 0, 0).single()?;
                loop {
                    let from = at
                        .checked_sub_signed(window)
                        .unwrap_or(earliest)
                        .max(earliest);
                    let mut latest = None;
                    let mut tick = cron.next_after(from - Duration::seconds(1));
                    while let Some(t) = tick.filter(|t| *t <= at) {
                        latest = Some(t);
                        tick = cron.next_after(t);
                    }
                    if latest.is_some() || from == earliest {
                        return latest;
                    }
                    window = window.checked_mul(4)?;
                }
            }
        }
    }
}

fn strip_call<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with(&format!("{name}(")) && text.ends_with(')') {
        Some(text[name.len() + 1..text.len() - 1].trim())
    } else {
        None
    }
}

fn parse_rate(inner: &str) -> Result<Duration, String> {
    let mut parts = inner.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("rate needs a value and a unit, e.g. rate(5 minutes)".to_string());
    };
    let value: i64 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("rate value `{value}` must be a positive whole number"))?;
    // EventBridge wants the singular for 1 and the plural otherwise; accept both to be lenient.
    let unit_seconds = match unit.to_ascii_lowercase().as_str() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        other => {
            return Err(format!(
                "rate unit `{other}` must be minute(s), hour(s) or day(s)"
            ));
        }
    };
    value
        .checked_mul(unit_seconds)
        .and_then(Duration::try_seconds)
        .ok_or_else(|| "rate is too large".to_string())
}

impl CronSchedule {
    fn parse(fields: &str) -> Result<Self, String> {
        let parts: Vec<&str> = fields.split_whitespace().collect();
        if parts.len() != 6 {
            return Err(format!(
                "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                parts.len()
            ));
        }
        let minutes =
            parse_field(parts[0], 0, 59, &[], "minutes")?.ok_or("minutes cannot be `?`")?;
        let hours = parse_field(parts[1], 0, 23, &[], "hours")?.ok_or("hours cannot be `?`")?;
        let days_of_month = parse_field(parts[2], 1, 31, &[], "day-of-month")?;
        let months =
            parse_field(parts[3], 1, 12, &MONTH_NAMES, "month")?.ok_or("month cannot be `?`")?;
        let days_of_week = parse_field(parts[4], 1, 7, &DAY_NAMES, "day-of-week")?;
        let years = parse_field(parts[5], FIRST_YEAR as u32, LAST_YEAR as u32, &[], "year")?
            .ok_or("year cannot be `?`")?;
        match (&days_of_month, &days_of_week) {
            (None, None) => {
                return Err("only one of day-of-month and day-of-week may be `?`".to_string());
            }
            (Some(_), Some(_)) => {
                return Err(
                    "one of day-of-month and day-of-week must be `?` (EventBridge rule)"
                        .to_string(),
                );
            }
            _ => {}
        }
        Ok(Self {
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            years,
        })
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let by_month_day = self
            .days_of_month
            .as_ref()
            .is_none_or(|days| days[date.day0() as usize]);
        let by_week_day = self
            .days_of_week
            .as_ref()
            .is_none_or(|days| days[date.weekday().num_days_from_sunday() as usize]);
        by_month_day && by_week_day
    }

    /// The first matching minute strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut candidate = after
            .with_second(0)?
            .with_nanosecond(0)?
            .checked_add_signed(Duration::minutes(1))?;
        // Each step moves to the start of the next possible month, day, hour or minute, so the
        // loop runs at most a few thousand times even for yearly schedules.
        loop {
            let year = candidate.year();
            if year > LAST_YEAR {
                return None;
            }
            // Years are indexed from 1970: an earlier start time jumps to the first one (a
            // negative index used to panic).
            if year < FIRST_YEAR {
                candidate = Utc.with_ymd_and_hms(FIRST_YEAR, 1, 1, 0, 0, 0).single()?;
                continue;
            }
            if !self.years[(year - FIRST_YEAR) as usize] {
                candidate = Utc.with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0).single()?;
                continue;
            }
            if !self.months[candidate.month0() as usize] {
                let (y, m) = if candidate.month() == 12 {
                    (year + 1, 1)
                } else {
                    (year, candidate.month() + 1)
                };
                candidate = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
                continue;
            }
            if !self.day_matches(candidate.date_naive()) {
                let next_day = candidate.date_naive().succ_opt()?;
                candidate = Utc.from_utc_datetime(&next_day.and_hms_opt(0, 0, 0)?);
                continue;
            }
            if !self.hours[candidate.hour() as usize] {
                candidate = candidate
                    .with_minute(0)?
                    .checked_add_signed(Duration::hours(1))?;
                continue;
            }
            if !self.minutes[candidate.minute() as usize] {
                candidate = candidate.checked_add_signed(Duration::minutes(1))?;
                continue;
            }
            return Some(candidate);
        }
    }
}

/// Parses one field into a membership table indexed from `min`; `None` for `?`.
fn parse_field(
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
    field: &str,
) -> Result<Option<Vec<bool>>, String> {
    if text == "?" {
        return Ok(None);
    }
    let mut set = vec![false; (max - min + 1) as usize];
    for item in text.split(',') {
        if item.contains(['L', 'W', '#'])
            && !names.iter().any(|n| item.to_ascii_uppercase().contains(n))
        {
            return Err(format!("`{item}` in {field}: L, W and # are not supported"));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("step `{step}` in {field} must be a positive number")
                    })?;
                (range, step)
            }
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, min, max, names, field)?,
                value(b, min, max, names, field)?,
            )
        } else {
            let start = value(range, min, max, names, field)?;
            // `5/15` means from 5 to the end in steps of 15.
            (start, if item.contains('/') { max } else { start })
        };
        if start > end {
            return Err(format!("range `{range}` in {field} runs backwards"));
        }
        for v in (start..=end).step_by(step as usize) {
            set[(v - min) as usize] = true;
        }
    }
    Ok(Some(set))
}

fn value(text: &str, min: u32, max: u32, names: &[&str], field: &str) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(position) = names.iter().position(|name| *name == upper) {
        return Ok(min + position as u32);
    }
    text.parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| format!("`{text}` in {field} must be {min}..{max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next(expression: &str, after: &str) -> String {
        Schedule::parse(expression)
            .unwrap()
            .next_after(at(after))
            .unwrap()
            .to_rfc3339()
    }

    fn latest(expression: &str, at_text: &str) -> Option<String> {
        Schedule::parse(expression)
            .unwrap()
            .latest_at_or_before(at(at_text))
            .map(|t| t.to_rfc3339())
    }

    #[test]
    fn latest_tick_names_the_run_of_an_outside_launch() {
        // Two cron launches 1.1 s apart, and one an hour late, belong to their tick.
        for launch in [
            "2026-11-28T12:00:00Z",
            "2026-11-28T12:00:01.1Z",
            "2026-11-28T12:59:59Z",
        ] {
            assert_eq!(
                latest("cron(0 * * * ? *)", launch).as_deref(),
                Some("2026-11-28T12:00:00+00:00"),
                "{launch}"
            );
        }
        assert_eq!(
            latest("0/5 * * * ? *", "2026-11-28T12:07:30Z").as_deref(),
            Some("2026-11-28T12:05:00+00:00")
        );
        // Sparse: yearly on 1 Jan, found from late December.
        assert_eq!(
            latest("cron(0 0 1 1 ? *)", "2026-12-31T23:59:00Z").as_deref(),
            Some("2026-01-01T00:00:00+00:00")
        );
        // Nothing before the first year a schedule allows.
        assert_eq!(latest("cron(0 0 1 1 ? 2030)", "2026-06-01T00:00:00Z"), None);
        // rate(): multiples of the interval since the epoch.
        assert_eq!(
            latest("rate(1 hour)", "2026-11-28T12:34:56Z").as_deref(),
            Some("2026-11-28T12:00:00+00:00")
        );
        assert_eq!(
            latest("rate(15 minutes)", "2026-11-28T12:34:56Z").as_deref(),
            Some("2026-11-28T12:30:00+00:00")
        );
    }

    #[test]
    fn every_minute_hour_and_day() {
        assert_eq!(
            next("0/1 * * * ? *", "2026-11-28T12:00:30Z"),
            "2026-11-28T12:01:00+00:00"
        );
        assert_eq!(
            next("cron(0/1 * * * ? *)", "2026-11-28T12:01:00Z"),
            "2026-11-28T12:02:00+00:00"
        );
        assert_eq!(
            next("0 0/1 * * ? *", "2026-11-28T12:00:30Z"),
            "2026-11-28T13:00:00+00:00"
        );
        assert_eq!(
            next("cron(0 * * * ? *)", "2026-11-28T23:10:00Z"),
            "2026-11-29T00:00:00+00:00"
        );
        assert_eq!(
            next("cron(0 8 * * ? *)", "2026-12-31T09:00:00Z"),
            "2027-01-01T08:00:00+00:00"
        );
        assert_eq!(
            next("* * * * ? *", "2026-11-28T12:00:59.999Z"),
            "2026-11-28T12:01:00+00:00"
        );
    }

    #[test]
    fn names_ranges_lists_and_weekdays() {
        // 2026-11-28 is a Saturday; MON-FRI at 09:30 → Monday 30 November.
        assert_eq!(
            next("cron(30 9 ? * MON-FRI *)", "2026-11-28T10:00:00Z"),
            "2026-11-30T09:30:00+00:00"
        );
        // EventBridge day 1 = Sunday.
        assert_eq!(
            next("cron(0 12 ? * 1 *)", "2026-11-28T10:00:00Z"),
            "2026-11-29T12:00:00+00:00"
        );
        assert_eq!(
            next("cron(15,45 * * * ? *)", "2026-11-28T10:20:00Z"),
            "2026-11-28T10:45:00+00:00"
        );
        assert_eq!(
            next("cron(0 0 1 JAN ? 2028)", "2026-11-28T10:20:00Z"),
            "2028-01-01T00:00:00+00:00"
        );
        assert_eq!(
            next("cron(0 0 31 * ? *)", "2026-11-28T10:20:00Z"),
            "2026-12-31T00:00:00+00:00"
        );
        assert_eq!(
            Schedule::parse("cron(0 0 1 1 ? 1999)")
                .unwrap()
                .next_after(at("2026-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn start_times_before_1970_and_at_the_ends_of_time_do_not_panic() {
        // Found while writing the `schedule` fuzz target: a start time before 1970 indexed the
        // year table with a negative number.
        assert_eq!(
            next("cron(0 0 1 1 ? *)", "1960-06-01T00:00:00Z"),
            "1970-01-01T00:00:00+00:00"
        );
        let cron = Schedule::parse("cron(* * * * ? *)").unwrap();
        assert_eq!(
            cron.next_after(DateTime::<Utc>::MIN_UTC).map(|t| t.year()),
            Some(1970)
        );
        assert_eq!(cron.next_after(DateTime::<Utc>::MAX_UTC), None);
        let rate = Schedule::parse("rate(1 day)").unwrap();
        assert_eq!(rate.next_after(DateTime::<Utc>::MAX_UTC), None);
        assert!(rate.next_after(DateTime::<Utc>::MIN_UTC).is_some());
    }

    #[test]
    fn rates() {
        assert_eq!(
            Schedule::parse("rate(1 hour)").unwrap(),
            Schedule::Rate(Duration::hours(1))
        );
        assert_eq!(
            Schedule::parse("rate(5 minutes)").unwrap(),
            Schedule::Rate(Duration::minutes(5))
        );
        assert_eq!(
            Schedule::parse("RATE(2 days)").unwrap(),
            Schedule::Rate(Duration::days(2))
        );
        assert_eq!(
            next("rate(1 minute)", "2026-11-28T12:00:30Z"),
            "2026-11-28T12:01:30+00:00"
        );
    }

    #[test]
    fn malformed_expressions_are_clear_errors() {
        for (expression, fragment) in [
            ("", "6 fields"),
            ("* * * * *", "6 fields"),
            ("cron(0 0 * * * *)", "must be `?`"),
            ("cron(0 0 ? * ? *)", "only one"),
            ("cron(61 * * * ? *)", "0..59"),
            ("cron(0 0 L * ? *)", "not supported"),
            ("cron(0 0 ? * 6#3 *)", "not supported"),
            ("cron(*/0 * * * ? *)", "positive"),
            ("cron(0 5-2 * * ? *)", "backwards"),
            ("rate(0 minutes)", "positive"),
            ("rate(1 fortnight)", "unit"),
            ("rate(minutes)", "value and a unit"),
        ] {
            let err = Schedule::parse(expression).unwrap_err();
            assert!(err.to_string().contains(fragment), "{expression}: {err}");
        }
    }
}
