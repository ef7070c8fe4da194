//! Counting lines: who crossed a directed segment, `in` or `out`, judged on the feet.
//!
//! For the segment `P1 -> P2` in image coordinates (x right, y down) the side of a point is
//!
//! ```text
//! side(p) = (x2 - x1)(py - y1) - (y2 - y1)(px - x1)
//! ```
//!
//! and **`in`** is a crossing from `side > 0` to `side < 0`, **`out`** the reverse (issue 12).
//! Worked out on the two usual cases:
//!
//! - a vertical line drawn top to bottom, `(100, 0) -> (100, 200)`:
//!   `side = -200 (px - 100)`, positive left of the line: **left to right is `in`**;
//! - a horizontal line drawn left to right, `(0, 100) -> (200, 100)`:
//!   `side = 200 (py - 100)`, positive below the line (y grows downward): **upward is `in`**.
//!
//! Equivalently: walking along the line from `P1` to `P2`, `in` is crossing from its right-hand
//! side to its left-hand side as seen on screen. Swap `P1` and `P2` to swap `in` and `out`.
//!
//! A crossing counts only within the segment's extent: the path of the feet between the two
//! samples must meet the segment itself, not its extension. Jitter: per (track, line) a
//! *committed side* is kept, the side of the latest foot point farther than a dead band
//! ([`DeadBand`]) from the line, with that point as the anchor; a crossing is a change of the
//! committed side, and the path from the anchor to the new point must meet the segment. The
//! band is `max(2 px, 5 % of the box height)`: a detector's box bottom jitters by a few
//! percent of the person's height, and a fixed 2 px band, right for a far person, is crossed
//! by the jitter of a near one standing still. A person standing on the line and wobbling inside the band counts once, when they
//! leave it on the other side; a person who goes in and then back out counts one of each.
//! Passing round the end of the segment changes the committed side without a count.

use std::collections::HashMap;
use std::str::FromStr;

use crate::geometry::Point;
use crate::spec::ParseError;
use crate::spec::parse_named_numbers;
use crate::tracker::TrackView;

/// The dead band's least half-width, in pixels.
pub const DEFAULT_DEAD_BAND_PX: f32 = 2.0;
/// The dead band's half-width as a fraction of the track's box height.
pub const DEFAULT_DEAD_BAND_HEIGHT: f32 = 0.05;

/// How far from the line (each side) a foot point must be to change the committed side:
/// `max(px, height_fraction * box height)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeadBand {
    pub px: f32,
    pub height_fraction: f32,
}

impl Default for DeadBand {
    fn default() -> Self {
        Self {
            px: DEFAULT_DEAD_BAND_PX,
            height_fraction: DEFAULT_DEAD_BAND_HEIGHT,
        }
    }
}

impl DeadBand {
    /// The half-width for a box `height` pixels tall.
    pub fn width(&self, height: f32) -> f32 {
        let w = self.px.max(self.height_fraction * height);
        if w.is_finite() {
            w.max(0.0)
        } else {
            self.px.max(0.0)
        }
    }
}

/// A named directed segment `p1 -> p2` in source-frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub p1: Point,
    pub p2: Point,
}

impl FromStr for Line {
    type Err = ParseError;

    /// `NAME=X1,Y1,X2,Y2` (the `--line` syntax); the two ends must differ.
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (name, n) = parse_named_numbers(s)?;
        if n.len() != 4 {
            return Err(ParseError::Count {
                expected: "4 (X1,Y1,X2,Y2)",
                got: n.len(),
            });
        }
        let line = Line {
            name,
            p1: [n[0], n[1]],
            p2: [n[2], n[3]],
        };
        if line.length() == 0.0 {
            return Err(ParseError::Degenerate(
                "the line's two ends are the same point",
            ));
        }
        Ok(line)
    }
}

/// The `--line` syntax, `NAME=X1,Y1,X2,Y2`; parses back to the same line.
impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ([x1, y1], [x2, y2]) = (self.p1, self.p2);
        write!(f, "{}={x1},{y1},{x2},{y2}", self.name)
    }
}

impl Line {
    pub fn new(name: impl Into<String>, p1: Point, p2: Point) -> Self {
        Self {
            name: name.into(),
            p1,
            p2,
        }
    }

    /// `(x2 - x1)(py - y1) - (y2 - y1)(px - x1)`: positive on the `in` side's origin.
    pub fn side(&self, p: Point) -> f32 {
        let [x1, y1] = self.p1;
        let [x2, y2] = self.p2;
        (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1)
    }

    pub fn length(&self) -> f32 {
        (self.p2[0] - self.p1[0]).hypot(self.p2[1] - self.p1[1])
    }

    /// Signed distance (px) of `p` from the line through the segment, with the sign of
    /// [`Line::side`].
    pub fn signed_distance(&self, p: Point) -> f32 {
        self.side(p) / self.length()
    }

    /// Whether the path `a -> b`, whose ends lie on opposite sides, meets the segment: where it
    /// crosses the line through the segment must lie between `p1` and `p2`.
    fn crossing_within(&self, a: Point, b: Point) -> bool {
        let (sa, sb) = (self.side(a), self.side(b));
        let s = sa / (sa - sb);
        let x = [a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1])];
        let d = [self.p2[0] - self.p1[0], self.p2[1] - self.p1[1]];
        let u =
            ((x[0] - self.p1[0]) * d[0] + (x[1] - self.p1[1]) * d[1]) / (d[0] * d[0] + d[1] * d[1]);
        (0.0..=1.0).contains(&u)
    }
}

/// Which way a crossing went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrossingDirection {
    /// From `side > 0` to `side < 0`.
    In,
    /// From `side < 0` to `side > 0`.
    Out,
}

#[derive(Debug, Clone, Default)]
struct TrackOnLine {
    /// `(side > 0, anchor)`: the committed side and its latest point beyond the dead band.
    committed: Option<(bool, Point)>,
    confirmed: bool,
    pending_in: u64,
    pending_out: u64,
}

/// Counts the crossings of one line by tracks.
///
/// Crossings of a tentative track are held back and counted when it is confirmed (a track is
/// confirmed on its second sample, and its first step may well be the crossing); those of a
/// track that dies tentative are dropped.
#[derive(Debug, Clone)]
pub struct LineCounter {
    line: Line,
    dead_band: DeadBand,
    tracks: HashMap<u64, TrackOnLine>,
    ins: u64,
    outs: u64,
}

impl LineCounter {
    pub fn new(line: Line) -> Self {
        Self::with_dead_band(line, DeadBand::default())
    }

    pub fn with_dead_band(line: Line, dead_band: DeadBand) -> Self {
        Self {
            line,
            dead_band,
            tracks: HashMap::new(),
            ins: 0,
            outs: 0,
        }
    }

    pub fn line(&self) -> &Line {
        &self.line
    }

    /// Crossings counted as `in` so far.
    pub fn ins(&self) -> u64 {
        self.ins
    }

    /// Crossings counted as `out` so far.
    pub fn outs(&self) -> u64 {
        self.outs
    }

    /// A track seen in a sample (see [`LineCounter::observe`]).
    pub fn observe_track(&mut self, track: &TrackView) -> Option<CrossingDirection> {
        let height = track.bbox[3] - track.bbox[1];
        self.observe(track.id, track.foot, height, track.confirmed)
    }

    /// The feet of track `id`, whose box is `height` pixels tall, at a new sample. Returns the
    /// crossing made since the track's previous committed point, if any (counted now if
    /// `confirmed`, else held back).
    pub fn observe(
        &mut self,
        id: u64,
        foot: Point,
        height: f32,
        confirmed: bool,
    ) -> Option<CrossingDirection> {
        let st = self.tracks.entry(id).or_default();
        if confirmed && !st.confirmed {
            st.confirmed = true;
            self.ins += std::mem::take(&mut st.pending_in);
            self.outs += std::mem::take(&mut st.pending_out);
        }
        let d = self.line.signed_distance(foot);
        if d.abs() <= self.dead_band.width(height) || !d.is_finite() {
            return None;
        }
        let positive = d > 0.0;
        let mut crossing = None;
        if let Some((was_positive, anchor)) = st.committed
            && was_positive != positive
            && self.line.crossing_within(anchor, foot)
        {
            crossing = Some(if was_positive {
                CrossingDirection::In
            } else {
                CrossingDirection::Out
            });
        }
        st.committed = Some((positive, foot));
        match (crossing, st.confirmed) {
            (Some(CrossingDirection::In), true) => self.ins += 1,
            (Some(CrossingDirection::Out), true) => self.outs += 1,
            (Some(CrossingDirection::In), false) => st.pending_in += 1,
            (Some(CrossingDirection::Out), false) => st.pending_out += 1,
            (None, _) => {}
        }
        crossing
    }

    /// Drops a track that the tracker removed.
    pub fn forget(&mut self, id: u64) {
        self.tracks.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A far person: the band is 2 px.
    const H: f32 = 40.0;

    fn walk(counter: &mut LineCounter, id: u64, path: &[Point]) {
        for p in path {
            counter.observe(id, *p, H, true);
        }
    }

    fn straight(from: Point, to: Point, steps: usize) -> Vec<Point> {
        (0..=steps)
            .map(|k| {
                let s = k as f32 / steps as f32;
                [
                    from[0] + s * (to[0] - from[0]),
                    from[1] + s * (to[1] - from[1]),
                ]
            })
            .collect()
    }

    #[test]
    fn parses_the_cli_syntax_and_refuses_bad_values() {
        let l: Line = "door = 100, 0, 100.5, 200".parse().unwrap();
        assert_eq!(l, Line::new("door", [100.0, 0.0], [100.5, 200.0]));
        assert!(matches!(
            "door".parse::<Line>(),
            Err(ParseError::NoEquals(_))
        ));
        assert_eq!("=1,2,3,4".parse::<Line>(), Err(ParseError::EmptyName));
        assert!(matches!(
            "a=1,2,3".parse::<Line>(),
            Err(ParseError::Count { got: 3, .. })
        ));
        assert!(matches!(
            "a=1,2,x,4".parse::<Line>(),
            Err(ParseError::BadNumber(_))
        ));
        assert!(matches!(
            "a=1,2,NaN,4".parse::<Line>(),
            Err(ParseError::BadNumber(_))
        ));
        assert!(matches!(
            "a=1,2,1,2".parse::<Line>(),
            Err(ParseError::Degenerate(_))
        ));
        assert_eq!(l.to_string(), "door=100,0,100.5,200");
        assert_eq!(l.to_string().parse::<Line>().unwrap(), l);
        let long = format!("{}=1,2,3,4", "n".repeat(65));
        assert_eq!(long.parse::<Line>(), Err(ParseError::NameTooLong));
    }

    #[test]
    fn the_sign_convention_of_the_issue() {
        // Vertical, top to bottom: left is side > 0.
        let v = Line::new("v", [100.0, 0.0], [100.0, 200.0]);
        assert!(v.side([50.0, 100.0]) > 0.0 && v.side([150.0, 100.0]) < 0.0);
        // Horizontal, left to right: below (larger y) is side > 0.
        let h = Line::new("h", [0.0, 100.0], [200.0, 100.0]);
        assert!(h.side([100.0, 150.0]) > 0.0 && h.side([100.0, 50.0]) < 0.0);
    }

    #[test]
    fn vertical_line_top_to_bottom_counts_left_to_right_as_in() {
        let mut c = LineCounter::new(Line::new("v", [100.0, 0.0], [100.0, 200.0]));
        walk(&mut c, 1, &straight([40.0, 120.0], [160.0, 100.0], 12));
        assert_eq!((c.ins(), c.outs()), (1, 0));
        walk(&mut c, 2, &straight([160.0, 50.0], [40.0, 60.0], 12));
        assert_eq!((c.ins(), c.outs()), (1, 1));
    }

    #[test]
    fn horizontal_line_left_to_right_counts_upward_as_in() {
        let mut c = LineCounter::new(Line::new("h", [0.0, 100.0], [200.0, 100.0]));
        walk(&mut c, 1, &straight([80.0, 180.0], [90.0, 20.0], 16));
        assert_eq!((c.ins(), c.outs()), (1, 0));
        walk(&mut c, 2, &straight([50.0, 20.0], [50.0, 180.0], 16));
        assert_eq!((c.ins(), c.outs()), (1, 1));
    }

    #[test]
    fn crossing_outside_the_segment_does_not_count() {
        let mut c = LineCounter::new(Line::new("v", [100.0, 0.0], [100.0, 200.0]));
        // Below the segment's lower end (y > 200): crosses the line's extension only.
        walk(&mut c, 1, &straight([40.0, 260.0], [160.0, 260.0], 12));
        // A diagonal step that meets the extension just past the end.
        walk(&mut c, 2, &[[90.0, 195.0], [110.0, 215.0]]);
        assert_eq!((c.ins(), c.outs()), (0, 0));
        // Going round the end commits the new side: coming back straight through counts `out`.
        walk(&mut c, 1, &straight([160.0, 150.0], [40.0, 150.0], 12));
        assert_eq!((c.ins(), c.outs()), (0, 1));
        // A step that meets the segment exactly at its end counts.
        walk(&mut c, 3, &[[90.0, 190.0], [110.0, 210.0]]);
        assert_eq!((c.ins(), c.outs()), (1, 1));
    }

    #[test]
    fn jitter_around_the_line_counts_once() {
        let mut c = LineCounter::new(Line::new("v", [100.0, 0.0], [100.0, 200.0]));
        walk(&mut c, 1, &straight([40.0, 100.0], [98.5, 100.0], 6));
        // Standing on the line, feet wobbling +-1.5 px across it for 30 samples.
        for k in 0..30 {
            let x = if k % 2 == 0 { 101.5 } else { 98.5 };
            c.observe(1, [x, 100.0 + (k % 3) as f32], H, true);
        }
        assert_eq!(
            (c.ins(), c.outs()),
            (0, 0),
            "nothing committed while inside the band"
        );
        walk(&mut c, 1, &straight([101.5, 100.0], [160.0, 100.0], 6));
        assert_eq!((c.ins(), c.outs()), (1, 0));
        // A wobble wider than the band is real motion: back and forth counts each way.
        walk(
            &mut c,
            2,
            &[
                [90.0, 50.0],
                [95.0, 50.0],
                [105.0, 50.0],
                [95.0, 50.0],
                [105.0, 50.0],
            ],
        );
        assert_eq!((c.ins(), c.outs()), (3, 1));
        // A near person (200 px tall): the band is 10 px, a +-6 px wobble is jitter.
        let mut c = LineCounter::new(Line::new("v", [100.0, 0.0], [100.0, 400.0]));
        for (k, x) in [
            60.0, 80.0, 94.0, 106.0, 94.0, 106.0, 94.0, 106.0, 120.0, 140.0,
        ]
        .into_iter()
        .enumerate()
        {
            c.observe(1, [x, 300.0 + k as f32], 200.0, true);
        }
        assert_eq!((c.ins(), c.outs()), (1, 0));
        assert_eq!(DeadBand::default().width(200.0), 10.0);
        assert_eq!(DeadBand::default().width(30.0), 2.0);
    }

    #[test]
    fn two_people_crossing_at_once_count_two() {
        let mut c = LineCounter::new(Line::new("h", [0.0, 100.0], [200.0, 100.0]));
        let a = straight([60.0, 160.0], [60.0, 40.0], 10);
        let b = straight([100.0, 160.0], [100.0, 40.0], 10);
        for k in 0..a.len() {
            c.observe(7, a[k], H, true);
            c.observe(9, b[k], H, true);
        }
        assert_eq!((c.ins(), c.outs()), (2, 0));
    }

    #[test]
    fn in_then_out_counts_one_each() {
        let mut c = LineCounter::new(Line::new("v", [100.0, 0.0], [100.0, 200.0]));
        walk(&mut c, 1, &straight([60.0, 100.0], [140.0, 100.0], 8));
        walk(&mut c, 1, &straight([140.0, 100.0], [60.0, 100.0], 8));
        assert_eq!((c.ins(), c.outs()), (1, 1));
    }

    #[test]
    fn tentative_crossings_wait_for_confirmation() {
        let mut c = LineCounter::new(Line::new("v", [100.0, 0.0], [100.0, 200.0]));
        assert_eq!(c.observe(1, [90.0, 100.0], H, false), None);
        assert_eq!(
            c.observe(1, [110.0, 100.0], H, false),
            Some(CrossingDirection::In)
        );
        assert_eq!(c.ins(), 0);
        c.observe(1, [120.0, 100.0], H, true);
        assert_eq!(c.ins(), 1);
        // A track that dies tentative never counts.
        c.observe(2, [90.0, 100.0], H, false);
        c.observe(2, [110.0, 100.0], H, false);
        c.forget(2);
        assert_eq!(c.ins(), 1);
        // A lost track found again on the other side counts the crossing it made unseen.
        c.observe(3, [90.0, 150.0], H, true);
        c.observe(3, [140.0, 150.0], H, true);
        assert_eq!(c.ins(), 2);
    }
}
