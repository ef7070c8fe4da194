//! Counting that follows people across frames (issue 12), on plain data: boxes are
//! `[f32; 4]` = `x1, y1, x2, y2` in pixels of the source frame, times are seconds. No I/O, no
//! tensors; the job pipeline feeds detections in and reads counts out.
//!
//! - [`kalman`]: the constant-velocity Kalman filter of SORT / ByteTrack on `(cx, cy, a, h)`;
//! - [`assignment`]: linear assignment (Hungarian / Kuhn-Munkres) with a cost limit;
//! - [`tracker`]: ByteTrack, two-stage association of high- and low-score detections;
//! - [`lines`]: directed counting lines, `in` / `out` crossings of the feet, without jitter;
//! - [`zones`]: polygon zones, occupancy per sample, visits and dwell;
//! - [`alerting`]: alerts that fire for `k` of the last `n` samples and re-arm with hysteresis;
//! - [`job_config`]: a user's job configuration (rate, lines, zones, alert rule) and its JSON;
//! - [`summary`]: [`Counting`] (tracker + lines + zones per sample) and the JSON summary.

pub mod alerting;
pub mod assignment;
pub mod geometry;
pub mod job_config;
pub mod kalman;
pub mod lines;
pub mod spec;
pub mod summary;
#[cfg(test)]
mod testutil;
pub mod tracker;
pub mod zones;

pub use alerting::{AlertRule, AlertRuleError, Alerter};
pub use geometry::{BBox, Point, foot_point, iou};
pub use job_config::{
    AlertMetric, AlertSpec, JobConfig, JobConfigError, LineCount, MetricSample, MetricSeries,
};
pub use lines::{CrossingDirection, DeadBand, Line, LineCounter};
pub use spec::ParseError;
pub use summary::{
    Counting, CountingConfig, LineSummary, SampleReport, TrackingInfo, TrackingSummary, ZoneSummary,
};
pub use tracker::{ConfigError, Detection, TrackState, TrackView, Tracker, TrackerConfig};
pub use zones::{Zone, ZoneCounter};
