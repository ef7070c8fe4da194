//! ByteTrack: multi-object tracking by associating every detection box.
//!
//! Y. Zhang, P. Sun, Y. Jiang, D. Yu, F. Weng, Z. Yuan, P. Luo, W. Liu, X. Wang, "ByteTrack:
//! Multi-Object Tracking by Associating Every Detection Box", ECCV 2022, arXiv:2110.06864
//! (reference code `yolox/tracker/byte_tracker.py`). Per sample:
//!
//! 1. every track's Kalman state ([`crate::kalman`]) is predicted to the sample's time;
//! 2. detections are split by score: *high* (`score >= track_thresh`) and *low*
//!    (`low_thresh <= score < track_thresh`); the rest are dropped;
//! 3. **first association**: high boxes against confirmed tracks, tracked and lost, on the cost
//!    `1 - IoU(predicted box, detection)` with limit `match_thresh` ([`crate::assignment`]);
//!    a lost track that matches is found again, with its id;
//! 4. **second association**: low boxes (a partly occluded person scores low) against the
//!    tracked tracks left over, limit `low_match_thresh`; tracked tracks still unmatched become
//!    *lost*;
//! 5. tentative tracks (born in an earlier sample, not yet confirmed) against the high boxes left,
//!    limit `tentative_match_thresh`; a tentative track is confirmed once it has been seen in
//!    `min_hits` consecutive samples and is dropped the first sample it is missed;
//! 6. **recovery** (not in ByteTrack): high boxes still unmatched against lost tracks that were
//!    walking, when the box lies ahead on the track's path within a gate that widens with the
//!    time lost ([`TrackerConfig::recovery_speed`]; see `Tracker::recover`). A person walking behind a pillar is first seen
//!    narrower and narrower, which slows the filter's velocity, then not at all; when they come
//!    out on the far side their box does not overlap the stalled prediction, and plain ByteTrack
//!    starts a new track: one person counted twice. This is the observation-centric recovery of
//!    OC-SORT (J. Cao, J. Pang, X. Weng, R. Khirodkar, K. Kitani, "Observation-Centric SORT",
//!    CVPR 2023, arXiv:2203.14360), with a distance gate instead of IoU so that it bridges
//!    more than a box width;
//! 7. high boxes still unmatched with `score >= new_track_thresh` start tentative tracks;
//! 8. lost tracks unseen for more than `track_buffer` frame steps are removed.
//!
//! Departures from the reference, all for a counter that runs on sampled frames: time is in
//! seconds and the Kalman step is scaled by the elapsed time (`(t - t_prev) * frame_rate` steps),
//! so a sample without a frame costs nothing but a longer prediction; the lost-track memory is
//! judged on time too (`track_buffer / frame_rate` seconds); the first sample's tracks are
//! tentative like all others (the reference confirms them at once), which makes the result
//! independent of where a stream starts; ids are given at birth (tentative tracks consume ids,
//! as in the reference), so the number of people is [`Tracker::unique_people`], not the largest
//! id; the reference's removal of tracked/lost duplicates (IoU > 0.85) is not done, as lost
//! tracks are matched first and a duplicate needs a missed association of a confirmed track.

use serde::{Deserialize, Serialize};

use crate::assignment::linear_assignment;
use crate::geometry::{BBox, Point, foot_point, from_xyah, iou, to_xyah};
use crate::kalman::{KalmanFilter, KalmanState};

/// One detection of the detector: a box in source-frame pixels and its confidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// `[x1, y1, x2, y2]`.
    pub bbox: BBox,
    pub score: f32,
}

impl Detection {
    pub fn new(bbox: BBox, score: f32) -> Self {
        Self { bbox, score }
    }

    fn is_valid(&self) -> bool {
        self.bbox.iter().all(|v| v.is_finite())
            && self.score.is_finite()
            && self.bbox[2] > self.bbox[0]
            && self.bbox[3] > self.bbox[1]
    }
}

/// The tracker's knobs; the defaults are ByteTrack's (for a 10 fps sampling rate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerConfig {
    /// Detections at or above this score are *high* (first association, new tracks).
    pub track_thresh: f32,
    /// Detections at or above this score (and below `track_thresh`) are *low*: they can only
    /// continue a track. The detector must be run with a score threshold this low.
    pub low_thresh: f32,
    /// A high detection left unmatched starts a track only at or above this score (ByteTrack's
    /// `det_thresh = track_thresh + 0.1`).
    pub new_track_thresh: f32,
    /// Cost limit (`1 - IoU`) of the first association.
    pub match_thresh: f32,
    /// Cost limit of the second association (low boxes).
    pub low_match_thresh: f32,
    /// Cost limit for tentative tracks.
    pub tentative_match_thresh: f32,
    /// Consecutive samples a track must be seen in to be confirmed (1: at once).
    pub min_hits: u32,
    /// Frame steps a lost track is remembered (30 at 10 fps: 3 s).
    pub track_buffer: u32,
    /// The sampling rate (frames per second) the frame steps refer to.
    pub frame_rate: f64,
    /// Recovery of lost tracks (see the module docs): a high box left over may continue a lost
    /// walking track when it lies ahead on the track's path, at most `recovery_base +
    /// recovery_speed * seconds lost` box heights from where it was last seen. 0 and 0 turn
    /// it off.
    pub recovery_base: f32,
    /// Box heights per second a lost person may have walked (a walker does about 0.8).
    pub recovery_speed: f32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            track_thresh: 0.5,
            low_thresh: 0.1,
            new_track_thresh: 0.6,
            match_thresh: 0.8,
            low_match_thresh: 0.5,
            tentative_match_thresh: 0.7,
            min_hits: 2,
            track_buffer: 30,
            frame_rate: 10.0,
            recovery_base: 0.5,
            recovery_speed: 1.0,
        }
    }
}

/// A [`TrackerConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be in [0, 1], got {value}")]
    OutOfUnitRange { name: &'static str, value: f32 },
    #[error("low_thresh {low} must not exceed track_thresh {high}")]
    LowAboveHigh { low: f32, high: f32 },
    #[error("frame_rate must be positive and finite, got {0}")]
    FrameRate(f64),
    #[error("min_hits must be at least 1")]
    MinHits,
    #[error("{name} must be in [0, 10] box heights, got {value}")]
    Recovery { name: &'static str, value: f32 },
}

impl TrackerConfig {
    /// Checks the ranges (scores and costs in `[0, 1]`, `low <= high`, a positive frame rate).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("track_thresh", self.track_thresh),
            ("low_thresh", self.low_thresh),
            ("new_track_thresh", self.new_track_thresh),
            ("match_thresh", self.match_thresh),
            ("low_match_thresh", self.low_match_thresh),
            ("tentative_match_thresh", self.tentative_match_thresh),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::OutOfUnitRange { name, value });
            }
        }
        if self.low_thresh > self.track_thresh {
            return Err(ConfigError::LowAboveHigh {
                low: self.low_thresh,
                high: self.track_thresh,
            });
        }
        if !(self.frame_rate.is_finite() && self.frame_rate > 0.0) {
            return Err(ConfigError::FrameRate(self.frame_rate));
        }
        if self.min_hits == 0 {
            return Err(ConfigError::MinHits);
        }
        for (name, value) in [
            ("recovery_base", self.recovery_base),
            ("recovery_speed", self.recovery_speed),
        ] {
            if !(value.is_finite() && (0.0..=10.0).contains(&value)) {
                return Err(ConfigError::Recovery { name, value });
            }
        }
        Ok(())
    }

    /// How long a lost track is remembered, in seconds.
    pub fn max_lost_s(&self) -> f64 {
        f64::from(self.track_buffer) / self.frame_rate
    }
}

/// Where a track is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackState {
    /// Born, not yet seen in `min_hits` consecutive samples; dropped when missed.
    Tentative,
    /// Confirmed and seen in the latest sample.
    Tracked,
    /// Confirmed, missed since `last_seen`; kept for `track_buffer` steps.
    Lost,
}

/// A track as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackView {
    /// Stable over the track's life; never reused.
    pub id: u64,
    /// `[x1, y1, x2, y2]`: the box of the detection matched in the latest sample when the track
    /// is tentative or tracked (as supervision's ByteTrack hands back its input boxes), the
    /// Kalman prediction when lost. Counting judges the detector's boxes, not the filter's
    /// estimate, which lags and overshoots when a person starts or stops.
    pub bbox: BBox,
    /// The Kalman estimate `[x1, y1, x2, y2]` (posterior when seen, prediction when lost).
    pub kalman_bbox: BBox,
    /// The score of the latest matched detection.
    pub score: f32,
    pub state: TrackState,
    /// Bottom-centre of `bbox` (the feet).
    pub foot: Point,
    /// Whether the track has ever been confirmed (tentative: no; tracked and lost: yes).
    pub confirmed: bool,
    /// Time of the latest matched detection (s).
    pub last_seen: f64,
}

#[derive(Debug, Clone)]
struct Track {
    id: u64,
    kf: KalmanState,
    state: TrackState,
    score: f32,
    hits: u32,
    last_seen: f64,
    /// The latest matched detection's box.
    det_bbox: BBox,
}

impl Track {
    fn bbox(&self) -> BBox {
        from_xyah(&self.kf.mean[..4])
    }

    /// Corrects the track with its matched detection.
    fn matched(&mut self, kf: &KalmanFilter, det: &Detection, t: f64) {
        kf.update(&mut self.kf, to_xyah(&det.bbox));
        self.score = det.score;
        self.hits += 1;
        self.last_seen = t;
        self.det_bbox = det.bbox;
    }

    fn view(&self) -> TrackView {
        let kalman_bbox = self.bbox();
        let bbox = if self.state == TrackState::Lost {
            kalman_bbox
        } else {
            self.det_bbox
        };
        TrackView {
            id: self.id,
            bbox,
            kalman_bbox,
            score: self.score,
            state: self.state,
            foot: foot_point(&bbox),
            confirmed: self.state != TrackState::Tentative,
            last_seen: self.last_seen,
        }
    }
}

/// The ByteTrack tracker (see the module docs).
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    kf: KalmanFilter,
    tracks: Vec<Track>,
    next_id: u64,
    confirmed: u64,
    last_t: Option<f64>,
    removed: Vec<u64>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            kf: KalmanFilter::default(),
            tracks: Vec::new(),
            next_id: 1,
            confirmed: 0,
            last_t: None,
            removed: Vec::new(),
        })
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Number of tracks ever confirmed: the distinct people seen so far.
    pub fn unique_people(&self) -> u64 {
        self.confirmed
    }

    /// Every live track (tentative, tracked and lost), in birth order.
    pub fn tracks(&self) -> Vec<TrackView> {
        self.tracks.iter().map(Track::view).collect()
    }

    /// Ids of the tracks removed since the last call (tentative tracks that were missed, lost
    /// tracks past their memory), oldest first.
    pub fn drain_removed(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.removed)
    }

    /// Feeds the detections of the sample taken at `t` seconds and returns the tracks seen in
    /// it (tentative and tracked, in birth order). Times should increase; an earlier or equal
    /// time predicts nothing. Boxes that are empty or not finite are ignored.
    pub fn update(&mut self, detections: &[Detection], t: f64) -> Vec<TrackView> {
        let cfg = self.config;
        let steps = match self.last_t {
            Some(prev) => ((t - prev) * cfg.frame_rate).max(0.0) as f32,
            None => 1.0,
        };
        self.last_t = Some(t);

        for track in &mut self.tracks {
            if track.state == TrackState::Lost {
                // As the reference: a lost track keeps its speed but stops growing/shrinking.
                track.kf.mean[7] = 0.0;
            }
            self.kf.predict(&mut track.kf, steps);
        }

        let valid: Vec<&Detection> = detections.iter().filter(|d| d.is_valid()).collect();
        let high: Vec<&Detection> = valid
            .iter()
            .copied()
            .filter(|d| d.score >= cfg.track_thresh)
            .collect();
        let low: Vec<&Detection> = valid
            .iter()
            .copied()
            .filter(|d| d.score >= cfg.low_thresh && d.score < cfg.track_thresh)
            .collect();
        let mut seen = vec![false; self.tracks.len()];

        // 1. High boxes against confirmed tracks (tracked and lost).
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state != TrackState::Tentative)
            .collect();
        let first = self.associate(&pool, &high, cfg.match_thresh);
        for &(ti, di) in &first.matches {
            let track = &mut self.tracks[pool[ti]];
            track.matched(&self.kf, high[di], t);
            track.state = TrackState::Tracked;
            seen[pool[ti]] = true;
        }
        let high_left: Vec<&Detection> = first.unmatched_cols.iter().map(|&d| high[d]).collect();

        // 2. Low boxes against tracked tracks left over; the rest of those are lost.
        let remaining: Vec<usize> = first
            .unmatched_rows
            .iter()
            .map(|&ti| pool[ti])
            .filter(|&i| self.tracks[i].state == TrackState::Tracked)
            .collect();
        let second = self.associate(&remaining, &low, cfg.low_match_thresh);
        for &(ti, di) in &second.matches {
            self.tracks[remaining[ti]].matched(&self.kf, low[di], t);
            seen[remaining[ti]] = true;
        }
        for &ti in &second.unmatched_rows {
            let track = &mut self.tracks[remaining[ti]];
            track.state = TrackState::Lost;
            track.hits = 0;
        }

        // 3. Tentative tracks against the high boxes left.
        let tentative: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state == TrackState::Tentative)
            .collect();
        let third = self.associate(&tentative, &high_left, cfg.tentative_match_thresh);
        for &(ti, di) in &third.matches {
            let track = &mut self.tracks[tentative[ti]];
            track.matched(&self.kf, high_left[di], t);
            if track.hits >= cfg.min_hits {
                track.state = TrackState::Tracked;
                self.confirmed += 1;
            }
            seen[tentative[ti]] = true;
        }
        let mut drop = vec![false; self.tracks.len()];
        for &ti in &third.unmatched_rows {
            drop[tentative[ti]] = true;
        }

        // 4. Recovery: high boxes still left against lost tracks, by distance (below).
        let lost: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state == TrackState::Lost)
            .collect();
        let unborn: Vec<&Detection> = third.unmatched_cols.iter().map(|&d| high_left[d]).collect();
        let recovered = self.recover(&lost, &unborn, t);
        for &(ti, di) in &recovered.matches {
            let track = &mut self.tracks[lost[ti]];
            track.matched(&self.kf, unborn[di], t);
            track.state = TrackState::Tracked;
            seen[lost[ti]] = true;
        }

        // 5. Births.
        for &di in &recovered.unmatched_cols {
            let det = unborn[di];
            if det.score < cfg.new_track_thresh {
                continue;
            }
            let state = if cfg.min_hits <= 1 {
                self.confirmed += 1;
                TrackState::Tracked
            } else {
                TrackState::Tentative
            };
            self.tracks.push(Track {
                id: self.next_id,
                kf: self.kf.initiate(to_xyah(&det.bbox)),
                state,
                score: det.score,
                hits: 1,
                last_seen: t,
                det_bbox: det.bbox,
            });
            self.next_id += 1;
            seen.push(true);
            drop.push(false);
        }

        // 6. Deaths: missed tentative tracks, lost tracks past their memory.
        let max_lost = cfg.max_lost_s();
        for (i, track) in self.tracks.iter().enumerate() {
            if track.state == TrackState::Lost && t - track.last_seen > max_lost + 1e-9 {
                drop[i] = true;
            }
        }
        let mut out = Vec::new();
        let mut kept = Vec::with_capacity(self.tracks.len());
        for (i, track) in std::mem::take(&mut self.tracks).into_iter().enumerate() {
            if drop[i] {
                self.removed.push(track.id);
                continue;
            }
            if seen[i] {
                out.push(track.view());
            }
            kept.push(track);
        }
        self.tracks = kept;
        out
    }

    /// Assignment of lost `tracks` to `dets` for recovery. A detection may continue a lost
    /// track that was walking (at least 0.1 box heights a second by its filter) when its feet
    /// lie **ahead** of where the track was last seen, along the track's direction: between a
    /// quarter of a box height and `recovery_base + recovery_speed * seconds lost` heights
    /// forward, and at most half a height to the side; and when the heights agree within a
    /// factor 1.5 (an occluder narrows a box, it rarely shortens it). Someone appearing where a
    /// person vanished, or beside their path, is somebody else: people who stopped or turned are
    /// left to the IoU associations. Cost: the forward distance over the gate.
    fn recover(
        &self,
        tracks: &[usize],
        dets: &[&Detection],
        t: f64,
    ) -> crate::assignment::Assignment {
        let cfg = self.config;
        let mut cost = Vec::with_capacity(tracks.len() * dets.len());
        for &i in tracks {
            let track = &self.tracks[i];
            let last = track.det_bbox;
            let height = last[3] - last[1];
            let gate = cfg.recovery_base + cfg.recovery_speed * (t - track.last_seen) as f32;
            // The filter's velocity in pixels per step; only its direction is used.
            let (vx, vy) = (track.kf.mean[4], track.kf.mean[5]);
            let speed = (vx * vx + vy * vy).sqrt();
            let walking = speed * cfg.frame_rate as f32 >= 0.1 * height;
            let from = foot_point(&last);
            for d in dets {
                let ratio = (d.bbox[3] - d.bbox[1]) / height;
                let foot = foot_point(&d.bbox);
                let (dx, dy) = (foot[0] - from[0], foot[1] - from[1]);
                let ahead = (dx * vx + dy * vy) / speed / height;
                let aside = (dx * vy - dy * vx).abs() / speed / height;
                let fits = walking
                    && gate > 0.0
                    && (1.0 / 1.5..=1.5).contains(&ratio)
                    && (0.25..=gate).contains(&ahead)
                    && aside <= 0.5;
                // NaN never matches.
                cost.push(if fits { ahead / gate } else { f32::NAN });
            }
        }
        linear_assignment(&cost, tracks.len(), dets.len(), 1.0)
    }

    /// Assignment of `tracks` (indices into `self.tracks`) to `dets` on `1 - IoU`.
    fn associate(
        &self,
        tracks: &[usize],
        dets: &[&Detection],
        limit: f32,
    ) -> crate::assignment::Assignment {
        let boxes: Vec<BBox> = tracks.iter().map(|&i| self.tracks[i].bbox()).collect();
        let mut cost = Vec::with_capacity(tracks.len() * dets.len());
        for b in &boxes {
            for d in dets {
                cost.push(1.0 - iou(b, &d.bbox));
            }
        }
        linear_assignment(&cost, tracks.len(), dets.len(), limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DT: f64 = 0.1;

    fn person(x: f32, y: f32, score: f32) -> Detection {
        Detection::new([x - 20.0, y - 100.0, x + 20.0, y], score)
    }

    fn tracker() -> Tracker {
        Tracker::new(TrackerConfig::default()).unwrap()
    }

    #[test]
    fn a_walking_person_keeps_one_id_and_is_confirmed_on_the_second_sample() {
        let mut tr = tracker();
        let v = tr.update(&[person(100.0, 300.0, 0.9)], 0.0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].state, TrackState::Tentative);
        assert!(!v[0].confirmed);
        assert_eq!(tr.unique_people(), 0);
        let id = v[0].id;
        for k in 1..50 {
            let x = 100.0 + 8.0 * k as f32;
            let v = tr.update(&[person(x, 300.0, 0.9)], k as f64 * DT);
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].id, id);
            assert_eq!(v[0].state, TrackState::Tracked);
            // The feet follow the detection's bottom-centre.
            assert!((v[0].foot[0] - x).abs() < 3.0 && (v[0].foot[1] - 300.0).abs() < 3.0);
        }
        assert_eq!(tr.unique_people(), 1);
    }

    #[test]
    fn a_one_sample_false_positive_is_never_a_person() {
        let mut tr = tracker();
        tr.update(&[person(100.0, 300.0, 0.9)], 0.0);
        let v = tr.update(&[], DT);
        assert!(v.is_empty());
        assert!(tr.tracks().is_empty());
        assert_eq!(tr.drain_removed(), vec![1]);
        assert_eq!(tr.unique_people(), 0);
    }

    #[test]
    fn low_score_boxes_continue_a_track_but_start_none() {
        let mut tr = tracker();
        for k in 0..5 {
            tr.update(&[person(100.0 + 5.0 * k as f32, 300.0, 0.9)], k as f64 * DT);
        }
        // Occluded: the detector is unsure (0.3); a second, lone low box elsewhere is ignored.
        for k in 5..15 {
            let v = tr.update(
                &[
                    person(100.0 + 5.0 * k as f32, 300.0, 0.3),
                    person(500.0, 300.0, 0.3),
                ],
                k as f64 * DT,
            );
            assert_eq!(v.len(), 1);
            assert_eq!((v[0].id, v[0].state), (1, TrackState::Tracked));
        }
        // Below low_thresh: nothing matches, the track is lost.
        tr.update(&[person(175.0, 300.0, 0.05)], 1.5);
        assert_eq!(tr.tracks()[0].state, TrackState::Lost);
        assert_eq!(tr.unique_people(), 1);
    }

    /// A person walking behind a pillar: seen narrower and narrower (the visible part), then
    /// not at all for 0.8 s, then narrow on the far side and whole again. The narrowing drags
    /// the filter's velocity down, so plain ByteTrack's IoU association misses the person on
    /// the far side; recovery continues the track.
    #[test]
    fn a_person_behind_a_pillar_is_recovered_and_a_stranger_far_away_is_not() {
        let (pillar_left, pillar_right) = (300.0_f32, 400.0_f32);
        let visible = |x: f32| -> Option<Detection> {
            let (x1, x2) = (x - 20.0, x + 20.0);
            let left = (x1, x2.min(pillar_left));
            let right = (x1.max(pillar_right), x2);
            // The larger visible part, if at least 10 px wide.
            let (a, b) = if left.1 - left.0 >= right.1 - right.0 {
                left
            } else {
                right
            };
            (b - a >= 10.0).then(|| Detection::new([a, 200.0, b, 300.0], 0.8))
        };
        for recovery in [true, false] {
            let mut cfg = TrackerConfig::default();
            if !recovery {
                (cfg.recovery_base, cfg.recovery_speed) = (0.0, 0.0);
            }
            let mut tr = Tracker::new(cfg).unwrap();
            let mut ids = std::collections::BTreeSet::new();
            for k in 0..60 {
                let x = 200.0 + 6.0 * k as f32;
                let t = k as f64 * DT;
                // A stranger appears far away (400 px off) at t = 3 s: a new person either way.
                let mut dets: Vec<Detection> = visible(x).into_iter().collect();
                if k >= 30 {
                    dets.push(person(x - 260.0, 600.0, 0.9));
                }
                for v in tr.update(&dets, t) {
                    if v.confirmed {
                        ids.insert(v.id);
                    }
                }
            }
            let expected = if recovery { 2 } else { 3 };
            assert_eq!(
                tr.unique_people(),
                expected,
                "recovery {recovery}: ids {ids:?}"
            );
        }
    }

    /// Recovery does not give a vanished person's id to someone who appears where they
    /// vanished (a doorway: one out, the next in), nor beside their path.
    #[test]
    fn recovery_leaves_newcomers_at_the_vanishing_point_or_aside_alone() {
        for (appear_dx, appear_dy) in [(0.0, 0.0), (40.0, 0.0), (-60.0, 160.0)] {
            let mut tr = tracker();
            // Walks left 10 px a sample and vanishes at x = 100 at t = 2 s.
            for k in 0..=20 {
                tr.update(
                    &[person(300.0 - 10.0 * k as f32, 300.0, 0.9)],
                    k as f64 * DT,
                );
            }
            // 0.5 s later someone walks the other way from (100 + dx, 300 + dy).
            for k in 0..20 {
                let x = 100.0 + appear_dx + 10.0 * k as f32;
                tr.update(&[person(x, 300.0 + appear_dy, 0.9)], 2.5 + k as f64 * DT);
            }
            assert_eq!(
                tr.unique_people(),
                2,
                "appearing at +({appear_dx}, {appear_dy})"
            );
        }
    }

    #[test]
    fn a_lost_track_is_found_again_with_its_id_and_forgotten_after_the_buffer() {
        let mut tr = tracker();
        let mut t = 0.0;
        let mut x = 100.0;
        for _ in 0..10 {
            tr.update(&[person(x, 300.0, 0.9)], t);
            t += DT;
            x += 10.0;
        }
        // Behind an occluder for 1 s: the prediction walks on (behind the person: after ten
        // samples the velocity estimate has not fully converged).
        for _ in 0..10 {
            assert!(tr.update(&[], t).is_empty());
            let lost = tr.tracks();
            assert_eq!(lost[0].state, TrackState::Lost);
            assert!(
                lost[0].foot[0] > x - 40.0 && lost[0].foot[0] <= x,
                "{} vs {x}",
                lost[0].foot[0]
            );
            t += DT;
            x += 10.0;
        }
        let v = tr.update(&[person(x, 300.0, 0.9)], t);
        assert_eq!((v[0].id, v[0].state), (1, TrackState::Tracked));
        // Gone for longer than 3 s: removed, and a return is a new track.
        for _ in 0..31 {
            t += DT;
            tr.update(&[], t);
        }
        assert!(tr.tracks().is_empty());
        assert_eq!(tr.drain_removed(), vec![1]);
        let v = tr.update(&[person(x, 300.0, 0.9)], t + DT);
        assert_eq!(v[0].id, 2);
    }

    #[test]
    fn memory_is_kept_exactly_track_buffer_steps() {
        let mut tr = tracker();
        tr.update(&[person(100.0, 300.0, 0.9)], 0.0);
        tr.update(&[person(100.0, 300.0, 0.9)], 0.1);
        // Last seen at 0.1; at 0.1 + 3.0 it is still there, one step later it is gone.
        for k in 2..=31 {
            tr.update(&[], k as f64 * DT);
        }
        assert_eq!(tr.tracks().len(), 1);
        tr.update(&[], 3.2);
        assert!(tr.tracks().is_empty());
        // Samples without frames do not stop the clock.
        let mut tr = tracker();
        tr.update(&[person(100.0, 300.0, 0.9)], 0.0);
        tr.update(&[person(100.0, 300.0, 0.9)], 0.1);
        tr.update(&[], 3.2);
        assert!(tr.tracks().is_empty());
    }

    #[test]
    fn two_people_side_by_side_keep_their_ids() {
        let mut tr = tracker();
        let mut ids = None;
        for k in 0..40 {
            let y = 400.0 - 6.0 * k as f32;
            let v = tr.update(
                &[person(300.0, y, 0.9), person(345.0, y, 0.8)],
                k as f64 * DT,
            );
            assert_eq!(v.len(), 2);
            let got = if v[0].foot[0] < v[1].foot[0] {
                (v[0].id, v[1].id)
            } else {
                (v[1].id, v[0].id)
            };
            assert_eq!(*ids.get_or_insert(got), got);
        }
        assert_eq!(tr.unique_people(), 2);
    }

    #[test]
    fn min_hits_one_confirms_at_birth_and_bad_configs_are_refused() {
        let cfg = TrackerConfig {
            min_hits: 1,
            ..TrackerConfig::default()
        };
        let mut tr = Tracker::new(cfg).unwrap();
        let v = tr.update(&[person(100.0, 300.0, 0.9)], 0.0);
        assert_eq!(v[0].state, TrackState::Tracked);
        assert_eq!(tr.unique_people(), 1);
        // Unreadable boxes are ignored.
        let v = tr.update(
            &[
                Detection::new([f32::NAN, 0.0, 1.0, 1.0], 0.9),
                Detection::new([5.0, 5.0, 5.0, 9.0], 0.9),
            ],
            0.1,
        );
        assert!(v.is_empty());

        let bad = [
            TrackerConfig {
                track_thresh: 1.5,
                ..TrackerConfig::default()
            },
            TrackerConfig {
                low_thresh: 0.6,
                ..TrackerConfig::default()
            },
            TrackerConfig {
                frame_rate: 0.0,
                ..TrackerConfig::default()
            },
            TrackerConfig {
                min_hits: 0,
                ..TrackerConfig::default()
            },
        ];
        for cfg in bad {
            assert!(Tracker::new(cfg).is_err(), "{cfg:?}");
        }
    }
}
