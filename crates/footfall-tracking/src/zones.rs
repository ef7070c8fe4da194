//! Zones: how many people stand in a polygon, how many visits it had, and how long they lasted.
//!
//! A person is inside when their feet (the bottom-centre of the track's box) are inside the
//! polygon by the even-odd rule (a ray from the point crosses the boundary an odd number of
//! times; W. R. Franklin's `pnpoly`, also in E. Haines, "Point in Polygon Strategies",
//! Graphics Gems IV, 1994). Self-intersecting polygons therefore have holes where they overlap.
//!
//! - **Occupancy** of a sample: confirmed tracks seen in that sample with their feet inside.
//!   Samples without a frame are not samples: they count neither in the mean nor the max.
//! - **Visit**: a track's feet entering the zone start one; being seen outside ends it. A track
//!   that leaves and comes back makes a second visit. A track that is lost while inside (hidden,
//!   or gone) keeps its visit open; found again inside, the visit goes on (the hidden time
//!   counts); found outside, or removed by the tracker, the visit ends at its last time seen
//!   inside.
//! - **Dwell** of a visit: last time seen inside minus first time seen inside. A person seen
//!   inside in one sample only dwells 0 s; the true time is up to one sample period longer.
//!
//! As for lines, a tentative track's visit is held back and counts once the track is confirmed
//! (and its start is the tentative sample's time, not the confirmation's).

use std::collections::HashMap;
use std::str::FromStr;

use crate::geometry::Point;
use crate::spec::{ParseError, parse_named_numbers};
use crate::tracker::{TrackState, TrackView};

/// Most vertices accepted in a zone.
pub const MAX_ZONE_POINTS: usize = 64;

/// A named polygon in source-frame pixels (closed implicitly: the last point joins the first).
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub name: String,
    pub points: Vec<Point>,
}

impl FromStr for Zone {
    type Err = ParseError;

    /// `NAME=X1,Y1,X2,Y2,X3,Y3[,...]` (the `--zone` syntax): 3 to [`MAX_ZONE_POINTS`] points
    /// enclosing a non-zero area.
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (name, n) = parse_named_numbers(s)?;
        if n.len() % 2 != 0 || n.len() < 6 || n.len() > 2 * MAX_ZONE_POINTS {
            return Err(ParseError::Count {
                expected: "an even number, 3 to 64 points (X1,Y1,X2,Y2,X3,Y3,...)",
                got: n.len(),
            });
        }
        let zone = Zone {
            name,
            points: n.chunks_exact(2).map(|c| [c[0], c[1]]).collect(),
        };
        if zone.area() == 0.0 {
            return Err(ParseError::Degenerate("the zone's points enclose no area"));
        }
        Ok(zone)
    }
}

/// The `--zone` syntax, `NAME=X1,Y1,X2,Y2,...`; parses back to the same zone.
impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=", self.name)?;
        for (i, [x, y]) in self.points.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{x},{y}")?;
        }
        Ok(())
    }
}

impl Zone {
    pub fn new(name: impl Into<String>, points: Vec<Point>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }

    /// Even-odd point-in-polygon test.
    pub fn contains(&self, p: Point) -> bool {
        let pts = &self.points;
        let mut inside = false;
        let mut j = pts.len().wrapping_sub(1);
        for i in 0..pts.len() {
            let ([xi, yi], [xj, yj]) = (pts[i], pts[j]);
            if (yi > p[1]) != (yj > p[1]) && p[0] < (xj - xi) * (p[1] - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// Absolute area by the shoelace formula (self-overlapping parts may cancel).
    pub fn area(&self) -> f32 {
        let pts = &self.points;
        let mut twice = 0.0f64;
        for i in 0..pts.len() {
            let [x1, y1] = pts[i];
            let [x2, y2] = pts[(i + 1) % pts.len()];
            twice += f64::from(x1) * f64::from(y2) - f64::from(x2) * f64::from(y1);
        }
        (twice.abs() / 2.0) as f32
    }
}

#[derive(Debug, Clone, Default)]
struct TrackInZone {
    confirmed: bool,
    /// `(first, last)` time seen inside, of the visit under way.
    open: Option<(f64, f64)>,
    /// Dwells of visits closed while the track was tentative.
    held: Vec<f64>,
}

/// Occupancy, visits and dwell of one zone.
#[derive(Debug, Clone)]
pub struct ZoneCounter {
    zone: Zone,
    tracks: HashMap<u64, TrackInZone>,
    /// Dwell (s) of every closed visit of a confirmed track.
    dwells: Vec<f64>,
    samples: u64,
    occupancy_sum: u64,
    occupancy_max: Option<u32>,
}

impl ZoneCounter {
    pub fn new(zone: Zone) -> Self {
        Self {
            zone,
            tracks: HashMap::new(),
            dwells: Vec::new(),
            samples: 0,
            occupancy_sum: 0,
            occupancy_max: None,
        }
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// One sample with data, taken at `t`: the tracks seen in it (as [`Tracker::update`]
    /// returns them). Returns the occupancy (confirmed tracks inside).
    ///
    /// [`Tracker::update`]: crate::tracker::Tracker::update
    pub fn sample(&mut self, t: f64, seen: &[TrackView]) -> u32 {
        let mut occupancy = 0u32;
        for track in seen {
            let inside = self.zone.contains(track.foot);
            if inside && track.state == TrackState::Tracked {
                occupancy += 1;
            }
            self.observe(track.id, inside, t, track.confirmed);
        }
        self.samples += 1;
        self.occupancy_sum += u64::from(occupancy);
        self.occupancy_max = Some(self.occupancy_max.map_or(occupancy, |m| m.max(occupancy)));
        occupancy
    }

    fn observe(&mut self, id: u64, inside: bool, t: f64, confirmed: bool) {
        let st = self.tracks.entry(id).or_default();
        if confirmed && !st.confirmed {
            st.confirmed = true;
            self.dwells.append(&mut st.held);
        }
        match (inside, st.open) {
            (true, None) => st.open = Some((t, t)),
            (true, Some((first, _))) => st.open = Some((first, t)),
            (false, Some((first, last))) => {
                st.open = None;
                if st.confirmed {
                    self.dwells.push(last - first);
                } else {
                    st.held.push(last - first);
                }
            }
            (false, None) => {}
        }
    }

    /// Ends the visit of a track the tracker removed (at its last time seen inside).
    pub fn forget(&mut self, id: u64) {
        if let Some(st) = self.tracks.remove(&id)
            && st.confirmed
            && let Some((first, last)) = st.open
        {
            self.dwells.push(last - first);
        }
    }

    /// Samples with data seen so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Largest occupancy of a sample; `None` before the first sample with data.
    pub fn max_occupancy(&self) -> Option<u32> {
        self.occupancy_max
    }

    /// Mean occupancy over samples with data; `None` before the first.
    pub fn mean_occupancy(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.occupancy_sum as f64 / self.samples as f64)
    }

    /// Dwell (s) of every visit of a confirmed track so far, closed ones first; a visit under
    /// way counts as if it ended at its last time seen inside.
    pub fn dwells(&self) -> Vec<f64> {
        let mut out = self.dwells.clone();
        let mut open: Vec<(u64, f64)> = self
            .tracks
            .iter()
            .filter(|(_, st)| st.confirmed)
            .filter_map(|(id, st)| st.open.map(|(first, last)| (*id, last - first)))
            .collect();
        open.sort_by_key(|(id, _)| *id);
        out.extend(open.into_iter().map(|(_, d)| d));
        out
    }

    /// Visits so far (closed and under way) of confirmed tracks.
    pub fn visits(&self) -> u64 {
        self.dwells().len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Zone {
        Zone::new(
            "sq",
            vec![
                [100.0, 100.0],
                [200.0, 100.0],
                [200.0, 200.0],
                [100.0, 200.0],
            ],
        )
    }

    fn view(id: u64, foot: Point, state: TrackState) -> TrackView {
        TrackView {
            id,
            bbox: [foot[0] - 10.0, foot[1] - 50.0, foot[0] + 10.0, foot[1]],
            kalman_bbox: [foot[0] - 10.0, foot[1] - 50.0, foot[0] + 10.0, foot[1]],
            score: 0.9,
            state,
            foot,
            confirmed: state != TrackState::Tentative,
            last_seen: 0.0,
        }
    }

    #[test]
    fn parses_the_cli_syntax_and_refuses_bad_values() {
        let z: Zone = "queue=0,0,10,0,10,10".parse().unwrap();
        assert_eq!(z.points, vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]]);
        assert_eq!(z.area(), 50.0);
        assert_eq!(z.to_string(), "queue=0,0,10,0,10,10");
        assert_eq!(z.to_string().parse::<Zone>().unwrap(), z);
        assert!(matches!(
            "q=0,0,10,0".parse::<Zone>(),
            Err(ParseError::Count { got: 4, .. })
        ));
        assert!(matches!(
            "q=0,0,10,0,10".parse::<Zone>(),
            Err(ParseError::Count { got: 5, .. })
        ));
        assert!(matches!(
            "q=0,0,5,5,10,10".parse::<Zone>(),
            Err(ParseError::Degenerate(_))
        ));
        assert!(matches!(
            "q=0,0,5,inf,10,10".parse::<Zone>(),
            Err(ParseError::BadNumber(_))
        ));
        let many = format!("q={}", vec!["1"; 2 * MAX_ZONE_POINTS + 2].join(","));
        assert!(matches!(
            many.parse::<Zone>(),
            Err(ParseError::Count { .. })
        ));
    }

    #[test]
    fn point_in_polygon_even_odd() {
        let sq = square();
        assert!(sq.contains([150.0, 150.0]));
        assert!(!sq.contains([250.0, 150.0]));
        assert!(!sq.contains([150.0, 99.0]));
        // A concave "U": the notch is outside.
        let u = Zone::new(
            "u",
            vec![
                [0.0, 0.0],
                [30.0, 0.0],
                [30.0, 30.0],
                [20.0, 30.0],
                [20.0, 10.0],
                [10.0, 10.0],
                [10.0, 30.0],
                [0.0, 30.0],
            ],
        );
        assert!(u.contains([5.0, 20.0]) && u.contains([25.0, 20.0]) && u.contains([15.0, 5.0]));
        assert!(!u.contains([15.0, 20.0]));
        // A self-crossing pentagram: its centre is covered twice, so outside by even-odd.
        let star = Zone::new(
            "star",
            vec![
                [50.0, 0.0],
                [79.0, 90.0],
                [2.0, 35.0],
                [98.0, 35.0],
                [21.0, 90.0],
            ],
        );
        assert!(!star.contains([50.0, 50.0]));
        assert!(star.contains([50.0, 10.0]));
    }

    #[test]
    fn occupancy_visits_and_dwell() {
        let mut z = ZoneCounter::new(square());
        assert_eq!((z.max_occupancy(), z.mean_occupancy()), (None, None));
        // Track 1 inside from t=1.0 to t=3.0, leaves, comes back 4.0..4.5; track 2 passes by.
        for k in 0..60 {
            let t = k as f64 * 0.1;
            let x = if (1.0..=3.0 + 1e-9).contains(&t) || (4.0 - 1e-9..=4.5 + 1e-9).contains(&t) {
                150.0
            } else {
                300.0
            };
            z.sample(
                t,
                &[
                    view(1, [x, 150.0], TrackState::Tracked),
                    view(2, [50.0, 150.0], TrackState::Tracked),
                ],
            );
        }
        assert_eq!(z.visits(), 2);
        let d = z.dwells();
        assert!(
            (d[0] - 2.0).abs() < 1e-9 && (d[1] - 0.5).abs() < 1e-9,
            "{d:?}"
        );
        assert_eq!(z.max_occupancy(), Some(1));
        assert!((z.mean_occupancy().unwrap() - 27.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn a_track_lost_inside_ends_its_visit_at_its_last_sighting() {
        let mut z = ZoneCounter::new(square());
        z.sample(0.0, &[view(1, [150.0, 150.0], TrackState::Tracked)]);
        z.sample(0.7, &[view(1, [160.0, 150.0], TrackState::Tracked)]);
        // Lost: not in the samples; an open visit still counts, to its last sighting.
        z.sample(0.8, &[]);
        assert_eq!(z.dwells(), vec![0.7]);
        z.forget(1);
        assert_eq!(z.dwells(), vec![0.7]);
        assert_eq!(z.visits(), 1);
        // Lost inside and found inside: one visit, hiding time included.
        z.sample(1.0, &[view(2, [150.0, 150.0], TrackState::Tracked)]);
        z.sample(2.5, &[view(2, [150.0, 150.0], TrackState::Tracked)]);
        z.sample(2.6, &[view(2, [350.0, 150.0], TrackState::Tracked)]);
        assert_eq!(z.dwells(), vec![0.7, 1.5]);
        // Lost tracks do not occupy.
        assert_eq!(
            z.sample(2.7, &[view(3, [150.0, 150.0], TrackState::Lost)]),
            0
        );
    }

    #[test]
    fn tentative_tracks_count_once_confirmed_from_their_first_sample() {
        let mut z = ZoneCounter::new(square());
        assert_eq!(
            z.sample(0.0, &[view(1, [150.0, 150.0], TrackState::Tentative)]),
            0
        );
        assert_eq!(z.visits(), 0);
        assert_eq!(
            z.sample(0.1, &[view(1, [150.0, 150.0], TrackState::Tracked)]),
            1
        );
        z.sample(0.2, &[view(1, [150.0, 150.0], TrackState::Tracked)]);
        assert_eq!(z.visits(), 1);
        assert!((z.dwells()[0] - 0.2).abs() < 1e-9);
        // A track that dies tentative leaves no visit.
        z.sample(0.3, &[view(5, [150.0, 150.0], TrackState::Tentative)]);
        z.forget(5);
        assert_eq!(z.visits(), 1);
    }
}
