//! [`Counting`]: the tracker, lines and zones fed one sample at a time, and the
//! [`TrackingSummary`] a job reports.
//!
//! The summary serialises to the fields issue 12 adds to `footfall count --json`:
//!
//! ```json
//! {"tracking": {"fps": 10.0, "unique_people": 3},
//!  "lines": [{"name": "door", "in": 2, "out": 1}],
//!  "zones": [{"name": "queue", "max": 2, "mean": 0.4, "visits": 3,
//!             "mean_dwell_s": 2.1, "max_dwell_s": 3.5}]}
//! ```
//!
//! so a job's output struct can embed it with `#[serde(flatten)]`. Zone statistics cover
//! samples with data only; with none, `max` and `mean` are `null`, and with no visit the dwell
//! fields are `null` (no data is not zero). Means and dwells are rounded to milliseconds.

use serde::{Deserialize, Serialize};

use crate::lines::{DeadBand, Line, LineCounter};
use crate::tracker::{ConfigError, Detection, TrackState, TrackView, Tracker, TrackerConfig};
use crate::zones::{Zone, ZoneCounter};

/// `"tracking"`: the sampling rate and the distinct people (tracks ever confirmed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingInfo {
    pub fps: f64,
    pub unique_people: u64,
}

/// One entry of `"lines"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSummary {
    pub name: String,
    #[serde(rename = "in")]
    pub ins: u64,
    #[serde(rename = "out")]
    pub outs: u64,
}

/// One entry of `"zones"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneSummary {
    pub name: String,
    /// Largest occupancy of a sample with data.
    pub max: Option<u32>,
    /// Mean occupancy over samples with data.
    pub mean: Option<f64>,
    pub visits: u64,
    pub mean_dwell_s: Option<f64>,
    pub max_dwell_s: Option<f64>,
}

/// The tracking part of a job's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingSummary {
    pub tracking: TrackingInfo,
    pub lines: Vec<LineSummary>,
    pub zones: Vec<ZoneSummary>,
}

/// What [`Counting`] needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CountingConfig {
    /// The tracker; its `frame_rate` is the job's sampling rate (`--fps`).
    pub tracker: TrackerConfig,
    pub lines: Vec<Line>,
    pub zones: Vec<Zone>,
    /// See [`crate::lines`].
    pub line_dead_band: DeadBand,
}

/// What one sample changed; the per-sample statistics alerts and timelines use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleReport {
    pub t: f64,
    /// Confirmed tracks seen in the sample; `None` for a sample without a frame.
    pub people: Option<u32>,
    /// The tracks seen (tentative ones included), for drawing.
    pub tracks: Vec<TrackView>,
    /// Occupancy of each zone, in configuration order (`None` without a frame).
    pub zones: Vec<Option<u32>>,
    /// `(in, out)` counted on each line in this sample, in configuration order (`None` without
    /// a frame). Crossings of a track confirmed in this sample are counted here too.
    pub lines: Vec<Option<(u64, u64)>>,
}

/// Tracker + lines + zones, fed sample by sample.
#[derive(Debug, Clone)]
pub struct Counting {
    tracker: Tracker,
    lines: Vec<LineCounter>,
    zones: Vec<ZoneCounter>,
    samples: u64,
    samples_without_data: u64,
}

impl Counting {
    pub fn new(config: CountingConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            tracker: Tracker::new(config.tracker)?,
            lines: config
                .lines
                .into_iter()
                .map(|l| LineCounter::with_dead_band(l, config.line_dead_band))
                .collect(),
            zones: config.zones.into_iter().map(ZoneCounter::new).collect(),
            samples: 0,
            samples_without_data: 0,
        })
    }

    /// One sample at `t` seconds: its detections, or `None` when no frame could be read.
    pub fn push(&mut self, t: f64, detections: Option<&[Detection]>) -> SampleReport {
        self.samples += 1;
        let Some(detections) = detections else {
            self.samples_without_data += 1;
            return SampleReport {
                t,
                people: None,
                tracks: Vec::new(),
                zones: vec![None; self.zones.len()],
                lines: vec![None; self.lines.len()],
            };
        };
        let tracks = self.tracker.update(detections, t);
        let people = tracks
            .iter()
            .filter(|v| v.state == TrackState::Tracked)
            .count() as u32;
        let mut lines = Vec::with_capacity(self.lines.len());
        for counter in &mut self.lines {
            let before = (counter.ins(), counter.outs());
            for v in &tracks {
                counter.observe_track(v);
            }
            lines.push(Some((counter.ins() - before.0, counter.outs() - before.1)));
        }
        let zones = self
            .zones
            .iter_mut()
            .map(|z| Some(z.sample(t, &tracks)))
            .collect();
        for id in self.tracker.drain_removed() {
            for counter in &mut self.lines {
                counter.forget(id);
            }
            for zone in &mut self.zones {
                zone.forget(id);
            }
        }
        SampleReport {
            t,
            people: Some(people),
            tracks,
            zones,
            lines,
        }
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    pub fn lines(&self) -> &[LineCounter] {
        &self.lines
    }

    pub fn zones(&self) -> &[ZoneCounter] {
        &self.zones
    }

    /// Samples pushed, with and without data.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Samples pushed as `None`.
    pub fn samples_without_data(&self) -> u64 {
        self.samples_without_data
    }

    /// The summary so far (visits under way count, ended at their last sighting inside).
    pub fn summary(&self) -> TrackingSummary {
        TrackingSummary {
            tracking: TrackingInfo {
                fps: self.tracker.config().frame_rate,
                unique_people: self.tracker.unique_people(),
            },
            lines: self
                .lines
                .iter()
                .map(|c| LineSummary {
                    name: c.line().name.clone(),
                    ins: c.ins(),
                    outs: c.outs(),
                })
                .collect(),
            zones: self.zones.iter().map(zone_summary).collect(),
        }
    }
}

fn zone_summary(z: &ZoneCounter) -> ZoneSummary {
    let dwells = z.dwells();
    let (mean_dwell_s, max_dwell_s) = if dwells.is_empty() {
        (None, None)
    } else {
        let mean = dwells.iter().sum::<f64>() / dwells.len() as f64;
        let max = dwells.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (Some(round_ms(mean)), Some(round_ms(max)))
    };
    ZoneSummary {
        name: z.zone().name.clone(),
        max: z.max_occupancy(),
        mean: z.mean_occupancy().map(round_ms),
        visits: dwells.len() as u64,
        mean_dwell_s,
        max_dwell_s,
    }
}

fn round_ms(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(x: f32, y: f32) -> Detection {
        Detection::new([x - 20.0, y - 100.0, x + 20.0, y], 0.9)
    }

    #[test]
    fn summary_json_has_the_fields_of_the_issue() {
        let config = CountingConfig {
            lines: vec!["door=200,0,200,400".parse().unwrap()],
            zones: vec!["queue=245,200,400,200,400,400,245,400".parse().unwrap()],
            ..CountingConfig::default()
        };
        let mut c = Counting::new(config).unwrap();
        let empty = serde_json::to_value(c.summary()).unwrap();
        assert_eq!(
            empty,
            serde_json::json!({
                "tracking": {"fps": 10.0, "unique_people": 0},
                "lines": [{"name": "door", "in": 0, "out": 0}],
                "zones": [{"name": "queue", "max": null, "mean": null, "visits": 0,
                           "mean_dwell_s": null, "max_dwell_s": null}],
            })
        );
        // Walks right at 10 px per sample across the door (x = 200) and into the queue.
        let mut reports = Vec::new();
        for k in 0..30 {
            let t = k as f64 * 0.1;
            let r = if k == 12 {
                c.push(t, None)
            } else {
                c.push(t, Some(&[person(100.0 + 10.0 * k as f32, 300.0)]))
            };
            reports.push(r);
        }
        assert_eq!(reports[12].people, None);
        assert_eq!(reports[12].lines, vec![None]);
        let crossed: Vec<usize> = (0..30)
            .filter(|&k| reports[k].lines[0] == Some((1, 0)))
            .collect();
        // Feet reach x = 200 at k = 10; x = 202.x (past the band) the sample after.
        assert_eq!(crossed, vec![11]);
        let s = c.summary();
        assert_eq!(s.tracking.unique_people, 1);
        assert_eq!(
            s.lines[0],
            LineSummary {
                name: "door".into(),
                ins: 1,
                outs: 0
            }
        );
        let z = &s.zones[0];
        assert_eq!((z.max, z.visits), (Some(1), 1));
        // Inside from x = 250 (k = 15; the zone starts at 245, between samples) to the end (k = 29): 15 of 29 samples with data.
        assert_eq!(z.mean, Some(round_ms(15.0 / 29.0)));
        assert_eq!(z.max_dwell_s, Some(1.4));
        assert_eq!(c.samples(), 30);
        assert_eq!(c.samples_without_data(), 1);
    }
}
