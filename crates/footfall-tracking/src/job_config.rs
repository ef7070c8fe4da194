//! A user's job configuration (issue 12): the tracking rate, counting lines, zones and the alert
//! rule a scheduled job (local runner or ECS task) runs with. Plain data with one JSON form,
//! stored per user (`config.tracking`), carried in the AWS payloads and set by
//! `footfall users set-tracking`:
//!
//! ```json
//! {"fps": 10, "lines": ["door=320,0,320,480"], "zones": ["queue=0,0,100,0,100,100"],
//!  "alert": {"metric": "line:door:in", "window_s": 60, "k": 3, "n": 5, "margin": 1}}
//! ```
//!
//! Lines and zones use the `--line` / `--zone` syntax ([`Line`], [`Zone`]). The alert's metric
//! is the per-sample statistic the [`Alerter`](crate::Alerter) watches:
//!
//! - `people`: the sample's people count (the job's usual count);
//! - `zone:NAME`: the zone's occupancy in the sample;
//! - `line:NAME:in|out|total`: crossings of the line within the trailing `window_s` seconds
//!   (default [`DEFAULT_LINE_WINDOW_S`]), counted at each sample.
//!
//! The threshold stays the user's own (`config.threshold`); `k` of the last `n` samples must
//! exceed it (defaults 1 of 1) and the rule re-arms below `threshold - margin` (default 0).
//! Everything is checked on parsing, with limits ([`MAX_LINES`], [`MAX_ZONES`], at most
//! [`MAX_ZONE_POINTS`](crate::zones::MAX_ZONE_POINTS) points a zone, `fps` in `(0, 30]`,
//! `1 <= k <= n <= 600`), and errors name the field.
//!
//! It lives here, not in `footfall-domain` (which stays free of tracking) nor in `footfall-job`
//! (which pulls FFmpeg in): the Lambdas' payload crate validates it too.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::alerting::AlertRule;
use crate::lines::Line;
use crate::summary::CountingConfig;
use crate::tracker::TrackerConfig;
use crate::zones::Zone;

/// Most counting lines a user may configure.
pub const MAX_LINES: usize = 16;
/// Most zones a user may configure.
pub const MAX_ZONES: usize = 16;
/// Highest tracking rate, frames per second.
pub const MAX_FPS: f64 = 30.0;
/// The tracking rate when lines or zones are given without `fps`.
pub const DEFAULT_TRACKING_FPS: f64 = 10.0;
/// Longest alert window, in samples (`n`).
pub const MAX_WINDOW_SAMPLES: usize = 600;
/// The trailing window of a line metric when none is given, seconds.
pub const DEFAULT_LINE_WINDOW_S: f64 = 60.0;
/// Longest trailing window of a line metric, seconds.
pub const MAX_LINE_WINDOW_S: f64 = 3600.0;
/// Longest JSON text of a configuration (16 zones of 64 points fit with room to spare).
pub const MAX_JOB_CONFIG_JSON_BYTES: usize = 32 * 1024;

/// A configuration that cannot be used; `field` names the JSON field (`lines[1]`, `alert.k`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct JobConfigError {
    pub field: String,
    pub reason: String,
}

impl JobConfigError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Which count of a line a metric takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCount {
    In,
    Out,
    Total,
}

impl LineCount {
    fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
            Self::Total => "total",
        }
    }

    fn of(self, (ins, outs): (u64, u64)) -> u64 {
        match self {
            Self::In => ins,
            Self::Out => outs,
            Self::Total => ins + outs,
        }
    }
}

/// The per-sample statistic an alert watches.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertMetric {
    /// The sample's people count.
    People,
    /// A zone's occupancy.
    Zone(String),
    /// A line's crossings within the trailing `window_s` seconds.
    Line {
        name: String,
        count: LineCount,
        window_s: f64,
    },
}

impl AlertMetric {
    /// `people`, `zone:NAME` or `line:NAME:in|out|total` (the JSON and `--alert` form).
    pub fn spec(&self) -> String {
        match self {
            Self::People => "people".into(),
            Self::Zone(name) => format!("zone:{name}"),
            Self::Line { name, count, .. } => format!("line:{name}:{}", count.as_str()),
        }
    }

    /// What the alert's value counts, in words, for messages: `None` for the people count
    /// (the messages' usual wording), `people in zone queue`, `crossings in over line door
    /// within 60 s`.
    pub fn label(&self) -> Option<String> {
        match self {
            Self::People => None,
            Self::Zone(name) => Some(format!("people in zone {name}")),
            Self::Line {
                name,
                count,
                window_s,
            } => {
                let which = match count {
                    LineCount::In => "crossings in over",
                    LineCount::Out => "crossings out over",
                    LineCount::Total => "crossings of",
                };
                Some(format!("{which} line {name} within {window_s} s"))
            }
        }
    }

    /// Parses the metric text; `window_s` is the line window (`None`: the default).
    pub fn parse(text: &str, window_s: Option<f64>) -> Result<Self, JobConfigError> {
        let field = "alert.metric";
        let metric = if text == "people" {
            Self::People
        } else if let Some(name) = text.strip_prefix("zone:") {
            if name.is_empty() {
                return Err(JobConfigError::new(field, "zone:NAME needs a zone name"));
            }
            Self::Zone(name.to_string())
        } else if let Some(rest) = text.strip_prefix("line:") {
            let (name, count) = rest.rsplit_once(':').ok_or_else(|| {
                JobConfigError::new(
                    field,
                    "expected line:NAME:in, line:NAME:out or line:NAME:total",
                )
            })?;
            let count = match count {
                "in" => LineCount::In,
                "out" => LineCount::Out,
                "total" => LineCount::Total,
                other => {
                    return Err(JobConfigError::new(
                        field,
                        format!("{other:?} is not in, out or total"),
                    ));
                }
            };
            if name.is_empty() {
                return Err(JobConfigError::new(field, "line:NAME:.. needs a line name"));
            }
            let window_s = window_s.unwrap_or(DEFAULT_LINE_WINDOW_S);
            if !(window_s > 0.0 && window_s <= MAX_LINE_WINDOW_S) {
                return Err(JobConfigError::new(
                    "alert.window_s",
                    format!(
                        "must be above 0 and at most {MAX_LINE_WINDOW_S} seconds, got {window_s}"
                    ),
                ));
            }
            Self::Line {
                name: name.to_string(),
                count,
                window_s,
            }
        } else {
            return Err(JobConfigError::new(
                field,
                format!("{text:?}: expected people, zone:NAME or line:NAME:in|out|total"),
            ));
        };
        if window_s.is_some() && !matches!(metric, Self::Line { .. }) {
            return Err(JobConfigError::new(
                "alert.window_s",
                "a window applies to line metrics only",
            ));
        }
        Ok(metric)
    }
}

/// The alert part of a [`JobConfig`]: metric, debounce (`k` of `n`) and hysteresis (`margin`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSpec {
    pub metric: AlertMetric,
    pub k: usize,
    pub n: usize,
    pub margin: f64,
}

impl Default for AlertSpec {
    /// Today's rule: the people count, one sample over the threshold, no margin.
    fn default() -> Self {
        Self {
            metric: AlertMetric::People,
            k: 1,
            n: 1,
            margin: 0.0,
        }
    }
}

impl AlertSpec {
    /// The rule with the user's threshold.
    pub fn rule(&self, threshold: u32) -> AlertRule {
        AlertRule {
            threshold: f64::from(threshold),
            k: self.k,
            n: self.n,
            margin: self.margin,
        }
    }
}

/// A user's job configuration; see the [module](self) documentation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "RawJobConfig", into = "RawJobConfig")]
pub struct JobConfig {
    /// The tracking rate (`None`: [`DEFAULT_TRACKING_FPS`] when there are lines or zones,
    /// else no tracking).
    pub fps: Option<f64>,
    pub lines: Vec<Line>,
    pub zones: Vec<Zone>,
    pub alert: AlertSpec,
}

/// The JSON form, before checking.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJobConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fps: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lines: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert: Option<RawAlert>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    #[serde(default = "people")]
    metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    margin: Option<f64>,
}

fn people() -> String {
    "people".into()
}

impl TryFrom<RawJobConfig> for JobConfig {
    type Error = JobConfigError;

    fn try_from(raw: RawJobConfig) -> Result<Self, JobConfigError> {
        if let Some(fps) = raw.fps
            && !(fps > 0.0 && fps <= MAX_FPS)
        {
            return Err(JobConfigError::new(
                "fps",
                format!("must be above 0 and at most {MAX_FPS}, got {fps}"),
            ));
        }
        if raw.lines.len() > MAX_LINES {
            return Err(JobConfigError::new(
                "lines",
                format!("at most {MAX_LINES} lines, got {}", raw.lines.len()),
            ));
        }
        if raw.zones.len() > MAX_ZONES {
            return Err(JobConfigError::new(
                "zones",
                format!("at most {MAX_ZONES} zones, got {}", raw.zones.len()),
            ));
        }
        let lines = parse_all::<Line>("lines", &raw.lines, |l| &l.name)?;
        let zones = parse_all::<Zone>("zones", &raw.zones, |z| &z.name)?;
        let alert = match raw.alert {
            None => AlertSpec::default(),
            Some(a) => {
                let metric = AlertMetric::parse(&a.metric, a.window_s)?;
                match &metric {
                    AlertMetric::People => {}
                    AlertMetric::Zone(name) if zones.iter().any(|z| &z.name == name) => {}
                    AlertMetric::Zone(name) => {
                        return Err(JobConfigError::new(
                            "alert.metric",
                            format!("no zone named {name:?} is configured"),
                        ));
                    }
                    AlertMetric::Line { name, .. } if lines.iter().any(|l| &l.name == name) => {}
                    AlertMetric::Line { name, .. } => {
                        return Err(JobConfigError::new(
                            "alert.metric",
                            format!("no line named {name:?} is configured"),
                        ));
                    }
                }
                let k = a.k.unwrap_or(1);
                let n = a.n.unwrap_or(k.max(1));
                if !(1..=MAX_WINDOW_SAMPLES).contains(&n) {
                    return Err(JobConfigError::new(
                        "alert.n",
                        format!("must be 1 to {MAX_WINDOW_SAMPLES}, got {n}"),
                    ));
                }
                if !(1..=n).contains(&k) {
                    return Err(JobConfigError::new(
                        "alert.k",
                        format!("must be 1 to n ({n}), got {k}"),
                    ));
                }
                let margin = a.margin.unwrap_or(0.0);
                if !(margin.is_finite() && margin >= 0.0 && margin <= f64::from(u32::MAX)) {
                    return Err(JobConfigError::new(
                        "alert.margin",
                        format!("must be a number 0 or more, got {margin}"),
                    ));
                }
                AlertSpec {
                    metric,
                    k,
                    n,
                    margin,
                }
            }
        };
        Ok(Self {
            fps: raw.fps,
            lines,
            zones,
            alert,
        })
    }
}

/// Parses every `NAME=...` item of `field`; names must be distinct.
fn parse_all<T>(
    field: &str,
    items: &[String],
    name: impl Fn(&T) -> &String,
) -> Result<Vec<T>, JobConfigError>
where
    T: std::str::FromStr<Err = crate::spec::ParseError>,
{
    let mut parsed: Vec<T> = Vec::with_capacity(items.len());
    for (i, text) in items.iter().enumerate() {
        let item: T = text.parse().map_err(|e: crate::spec::ParseError| {
            JobConfigError::new(format!("{field}[{i}]"), e.to_string())
        })?;
        if parsed.iter().any(|p| name(p) == name(&item)) {
            return Err(JobConfigError::new(
                format!("{field}[{i}]"),
                format!("the name {:?} is used twice", name(&item)),
            ));
        }
        parsed.push(item);
    }
    Ok(parsed)
}

impl From<JobConfig> for RawJobConfig {
    fn from(c: JobConfig) -> Self {
        let alert = (c.alert != AlertSpec::default()).then(|| RawAlert {
            window_s: match &c.alert.metric {
                AlertMetric::Line { window_s, .. } => Some(*window_s),
                _ => None,
            },
            metric: c.alert.metric.spec(),
            k: Some(c.alert.k),
            n: Some(c.alert.n),
            margin: Some(c.alert.margin),
        });
        Self {
            fps: c.fps,
            lines: c.lines.iter().map(ToString::to_string).collect(),
            zones: c.zones.iter().map(ToString::to_string).collect(),
            alert,
        }
    }
}

impl JobConfig {
    /// Parses and checks the JSON form (size bounded first).
    pub fn from_json(text: &str) -> Result<Self, JobConfigError> {
        if text.len() > MAX_JOB_CONFIG_JSON_BYTES {
            return Err(JobConfigError::new(
                "tracking",
                format!(
                    "{} bytes of JSON, at most {MAX_JOB_CONFIG_JSON_BYTES}",
                    text.len()
                ),
            ));
        }
        let raw: RawJobConfig = serde_json::from_str(text)
            .map_err(|e| JobConfigError::new("tracking", e.to_string()))?;
        Self::try_from(raw)
    }

    /// Checks an already decoded JSON value (payloads).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, JobConfigError> {
        Self::from_json(&value.to_string())
    }

    /// The compact JSON form (parses back to the same configuration).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks a configuration built in code (as parsing would).
    pub fn validate(&self) -> Result<(), JobConfigError> {
        Self::from_json(&self.to_json()).map(|_| ())
    }

    /// The tracking rate, when the job tracks: `fps`, or [`DEFAULT_TRACKING_FPS`] with lines or
    /// zones. `None`: a plain counting job (an alert on `people` needs no tracking).
    pub fn tracking_fps(&self) -> Option<f64> {
        match self.fps {
            Some(fps) => Some(fps),
            None if !self.lines.is_empty() || !self.zones.is_empty() => Some(DEFAULT_TRACKING_FPS),
            None => None,
        }
    }

    /// What [`crate::Counting`] needs for this job, when it tracks.
    pub fn counting_config(&self) -> Option<CountingConfig> {
        let fps = self.tracking_fps()?;
        Some(CountingConfig {
            tracker: TrackerConfig {
                frame_rate: fps,
                ..TrackerConfig::default()
            },
            lines: self.lines.clone(),
            zones: self.zones.clone(),
            ..CountingConfig::default()
        })
    }

    /// The per-sample metric of the alert, fed sample by sample.
    pub fn metric(&self) -> MetricSeries {
        let source = match &self.alert.metric {
            AlertMetric::People => Source::People,
            AlertMetric::Zone(name) => Source::Zone(
                self.zones
                    .iter()
                    .position(|z| &z.name == name)
                    .unwrap_or(usize::MAX),
            ),
            AlertMetric::Line {
                name,
                count,
                window_s,
            } => Source::Line {
                index: self
                    .lines
                    .iter()
                    .position(|l| &l.name == name)
                    .unwrap_or(usize::MAX),
                count: *count,
                window_s: *window_s,
            },
        };
        MetricSeries {
            source,
            window: VecDeque::new(),
            in_window: 0,
        }
    }
}

#[derive(Debug, Clone)]
enum Source {
    People,
    Zone(usize),
    Line {
        index: usize,
        count: LineCount,
        window_s: f64,
    },
}

/// The alert metric over a job's samples: one value per sample ([`MetricSeries::push`]).
#[derive(Debug, Clone)]
pub struct MetricSeries {
    source: Source,
    /// Line metrics: `(t, crossings)` of the samples within the trailing window.
    window: VecDeque<(f64, u64)>,
    in_window: u64,
}

/// What one sample gives a [`MetricSeries`]: `None` fields mean the sample had no data.
#[derive(Debug, Clone, Copy)]
pub struct MetricSample<'a> {
    pub t: f64,
    pub people: Option<u32>,
    /// Occupancy per zone, configuration order (empty without tracking).
    pub zones: &'a [u32],
    /// `(in, out)` crossings in this sample per line, configuration order.
    pub lines: &'a [(u64, u64)],
}

impl MetricSeries {
    /// The metric at this sample: `None` when the sample had no data (no frame), so the
    /// [`Alerter`](crate::Alerter) skips it.
    pub fn push(&mut self, s: MetricSample<'_>) -> Option<f64> {
        let people = s.people?;
        match self.source {
            Source::People => Some(f64::from(people)),
            Source::Zone(i) => s.zones.get(i).map(|&n| f64::from(n)),
            Source::Line {
                index,
                count,
                window_s,
            } => {
                let crossed = count.of(*s.lines.get(index)?);
                self.window.push_back((s.t, crossed));
                self.in_window += crossed;
                // The trailing window (t - W, t].
                while let Some(&(t0, n)) = self.window.front() {
                    if t0 <= s.t - window_s {
                        self.window.pop_front();
                        self.in_window -= n;
                    } else {
                        break;
                    }
                }
                Some(self.in_window as f64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<JobConfig, JobConfigError> {
        JobConfig::from_json(json)
    }

    #[test]
    fn the_json_form_round_trips_with_defaults() {
        let c = parse(
            r#"{"fps": 5, "lines": ["door=320,0,320,480"], "zones": ["queue=0,0,100,0,100,100"],
                "alert": {"metric": "line:door:in", "window_s": 30, "k": 3, "n": 5, "margin": 1}}"#,
        )
        .unwrap();
        assert_eq!(c.tracking_fps(), Some(5.0));
        assert_eq!(
            c.alert.metric,
            AlertMetric::Line {
                name: "door".into(),
                count: LineCount::In,
                window_s: 30.0
            }
        );
        assert_eq!((c.alert.k, c.alert.n, c.alert.margin), (3, 5, 1.0));
        assert_eq!(parse(&c.to_json()).unwrap(), c);
        // Only an alert: no tracking, k of k, default margin.
        let c = parse(r#"{"alert": {"k": 2}}"#).unwrap();
        assert_eq!(c.tracking_fps(), None);
        assert!(c.counting_config().is_none());
        assert_eq!((c.alert.k, c.alert.n, c.alert.margin), (2, 2, 0.0));
        // Lines alone track at 10 fps and alert as today.
        let c = parse(r#"{"zones": ["q=0,0,1,0,1,1"]}"#).unwrap();
        assert_eq!(c.tracking_fps(), Some(10.0));
        assert_eq!(c.alert, AlertSpec::default());
        assert_eq!(c.to_json(), r#"{"zones":["q=0,0,1,0,1,1"]}"#);
        assert_eq!(parse("{}").unwrap(), JobConfig::default());
    }

    #[test]
    fn errors_name_the_field() {
        let field = |json: &str| parse(json).unwrap_err().field;
        assert_eq!(field(r#"{"fps": 0}"#), "fps");
        assert_eq!(field(r#"{"fps": 31}"#), "fps");
        assert_eq!(field(r#"{"lines": ["a=1,2,3"]}"#), "lines[0]");
        assert_eq!(
            field(r#"{"lines": ["a=0,0,1,1", "a=0,0,2,2"]}"#),
            "lines[1]"
        );
        assert_eq!(field(r#"{"zones": ["z=0,0,1,1,2,2"]}"#), "zones[0]");
        assert_eq!(
            field(r#"{"zones": ["q=0,0,1,0,1,1"], "alert": {"metric": "zone:nope"}}"#),
            "alert.metric"
        );
        assert_eq!(
            field(r#"{"lines": ["d=0,0,1,1"], "alert": {"metric": "line:d:sideways"}}"#),
            "alert.metric"
        );
        assert_eq!(
            field(r#"{"lines": ["d=0,0,1,1"], "alert": {"metric": "line:e:in"}}"#),
            "alert.metric"
        );
        assert_eq!(
            field(r#"{"lines": ["d=0,0,1,1"], "alert": {"metric": "line:d:in", "window_s": 0}}"#),
            "alert.window_s"
        );
        assert_eq!(field(r#"{"alert": {"window_s": 10}}"#), "alert.window_s");
        assert_eq!(field(r#"{"alert": {"k": 4, "n": 3}}"#), "alert.k");
        assert_eq!(field(r#"{"alert": {"k": 0, "n": 3}}"#), "alert.k");
        assert_eq!(field(r#"{"alert": {"n": 601}}"#), "alert.n");
        assert_eq!(field(r#"{"alert": {"margin": -1}}"#), "alert.margin");
        assert_eq!(field(r#"{"alert": {"k": -1}}"#), "tracking");
        assert_eq!(field(r#"{"colour": "red"}"#), "tracking");
        let many: Vec<String> = (0..17).map(|i| format!("\"l{i}=0,0,1,1\"")).collect();
        assert_eq!(
            field(&format!(r#"{{"lines": [{}]}}"#, many.join(","))),
            "lines"
        );
        let big = format!(
            r#"{{"lines": ["{}"]}}"#,
            "x".repeat(MAX_JOB_CONFIG_JSON_BYTES)
        );
        assert_eq!(field(&big), "tracking");
    }

    #[test]
    fn line_metrics_count_crossings_in_the_trailing_window() {
        let c = parse(
            r#"{"lines": ["a=0,0,1,1", "d=0,0,1,1"], "alert": {"metric": "line:d:total", "window_s": 1}}"#,
        )
        .unwrap();
        let mut m = c.metric();
        let mut at = |t: f64, d: (u64, u64)| {
            m.push(MetricSample {
                t,
                people: Some(0),
                zones: &[],
                lines: &[(9, 9), d],
            })
        };
        assert_eq!(at(0.0, (1, 0)), Some(1.0));
        assert_eq!(at(0.5, (0, 2)), Some(3.0));
        // (0.0 leaves the window (t - 1, t] at t = 1.0.)
        assert_eq!(at(1.0, (0, 0)), Some(2.0));
        assert_eq!(at(1.6, (0, 0)), Some(0.0));
        // No data: no value, and nothing enters the window.
        assert_eq!(
            m.push(MetricSample {
                t: 1.7,
                people: None,
                zones: &[],
                lines: &[],
            }),
            None
        );
    }

    #[test]
    fn zone_and_people_metrics_take_the_sample() {
        let c = parse(
            r#"{"zones": ["a=0,0,1,0,1,1", "b=0,0,1,0,1,1"], "alert": {"metric": "zone:b"}}"#,
        )
        .unwrap();
        let mut m = c.metric();
        let s = MetricSample {
            t: 0.0,
            people: Some(7),
            zones: &[1, 4],
            lines: &[],
        };
        assert_eq!(m.push(s), Some(4.0));
        assert_eq!(JobConfig::default().metric().push(s), Some(7.0));
    }
}
