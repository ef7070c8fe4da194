//! Charts drawn on the server as inline SVG: a 24 h sparkline per tile and the history chart of
//! the stream page. Only numbers and formatted times go into the markup (no stored text), so it
//! is inserted unescaped.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

/// One run on a chart: its time and count (`None`: the run had no data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Point {
    pub t: DateTime<Utc>,
    pub people: Option<u32>,
}

/// At most `n` points: the runs of each of `n` equal slices of `[from, to)` become one point,
/// their maximum (the busiest moment stays visible), or no data when none had data.
pub(crate) fn downsample(
    points: &[Point],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    n: usize,
) -> Vec<Point> {
    if points.len() <= n || n == 0 {
        return points.to_vec();
    }
    let span = (to - from).num_milliseconds().max(1) as f64;
    let mut buckets: Vec<Option<Point>> = vec![None; n];
    for p in points {
        let i = (((p.t - from).num_milliseconds() as f64 / span) * n as f64) as isize;
        let i = i.clamp(0, n as isize - 1) as usize;
        buckets[i] = Some(match buckets[i] {
            None => *p,
            Some(b) => match (b.people, p.people) {
                (Some(x), Some(y)) if y > x => *p,
                (None, Some(_)) => *p,
                _ => b,
            },
        });
    }
    buckets.into_iter().flatten().collect()
}

/// A y-axis maximum and step: round numbers covering `max`.
fn nice_scale(max: u32) -> (f64, f64) {
    let max = f64::from(max.max(1));
    let rough = max / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude)
        .max(1.0);
    ((max / step).ceil() * step, step)
}

struct Frame {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    ymax: f64,
}

impl Frame {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.to - self.from).num_milliseconds().max(1) as f64;
        let f = (t - self.from).num_milliseconds() as f64 / span;
        self.left + f.clamp(0.0, 1.0) * self.width
    }
    fn y(&self, v: f64) -> f64 {
        self.top + self.height - (v / self.ymax).clamp(0.0, 1.0) * self.height
    }
}

/// Polylines through consecutive runs with data; a run without data breaks the line.
fn lines(out: &mut String, frame: &Frame, points: &[Point], class: &str) {
    let mut segment: Vec<(f64, f64)> = Vec::new();
    let flush = |out: &mut String, segment: &mut Vec<(f64, f64)>| {
        match segment.len() {
            0 => {}
            1 => {
                let (x, y) = segment[0];
                let _ = write!(
                    out,
                    r#"<circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="2"/>"#
                );
            }
            _ => {
                let _ = write!(out, r#"<polyline class="{class}" points=""#);
                for (i, (x, y)) in segment.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    let _ = write!(out, "{sep}{x:.1},{y:.1}");
                }
                out.push_str(r#""/>"#);
            }
        }
        segment.clear();
    };
    for p in points {
        match p.people {
            Some(n) => segment.push((frame.x(p.t), frame.y(f64::from(n)))),
            None => flush(out, &mut segment),
        }
    }
    flush(out, &mut segment);
}

/// The 24 h sparkline of a tile.
pub(crate) fn sparkline(
    points: &[Point],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    threshold: u32,
) -> String {
    let (w, h) = (240.0, 48.0);
    let points = downsample(points, from, to, 240);
    let max = points.iter().filter_map(|p| p.people).max().unwrap_or(0);
    let frame = Frame {
        from,
        to,
        left: 1.0,
        top: 3.0,
        width: w - 2.0,
        height: h - 6.0,
        ymax: f64::from(max.max(threshold).max(1)) * 1.1,
    };
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        r#"<svg class="spark" viewBox="0 0 {w} {h}" preserveAspectRatio="none" role="img" aria-label="people over the last 24 hours">"#
    );
    let ty = frame.y(f64::from(threshold));
    let _ = write!(
        out,
        r#"<line class="threshold" x1="0" x2="{w}" y1="{ty:.1}" y2="{ty:.1}"/>"#
    );
    for p in points.iter().filter(|p| p.people.is_none()) {
        let x = frame.x(p.t);
        let _ = write!(
            out,
            r#"<rect class="nodata" x="{:.1}" y="{:.1}" width="2" height="4"/>"#,
            x - 1.0,
            h - 4.0
        );
    }
    lines(&mut out, &frame, &points, "line");
    out.push_str("</svg>");
    out
}

/// Time labels for a span: clock times within two days, dates beyond.
fn tick_label(t: DateTime<Utc>, span: Duration) -> String {
    if span <= Duration::hours(48) {
        t.format("%H:%M").to_string()
    } else if span <= Duration::days(10) {
        t.format("%a %d").to_string()
    } else {
        t.format("%b %d").to_string()
    }
}

/// The history chart of the stream page, with axes, the threshold and no-data marks.
pub(crate) fn chart(
    points: &[Point],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    threshold: u32,
) -> String {
    let (w, h) = (960.0, 300.0);
    let points = downsample(points, from, to, 720);
    let max = points.iter().filter_map(|p| p.people).max().unwrap_or(0);
    let (ymax, step) = nice_scale(((f64::from(max.max(threshold))) * 1.1).ceil() as u32);
    let frame = Frame {
        from,
        to,
        left: 48.0,
        top: 14.0,
        width: w - 48.0 - 16.0,
        height: h - 14.0 - 34.0,
        ymax,
    };
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="people counted from {} to {} UTC">"#,
        from.format("%Y-%m-%d %H:%M"),
        to.format("%Y-%m-%d %H:%M")
    );
    // Horizontal grid and y labels.
    let mut v = 0.0;
    while v <= ymax + 0.001 {
        let y = frame.y(v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="ylabel" x="{:.1}" y="{:.1}">{}</text>"#,
            frame.left,
            frame.left + frame.width,
            frame.left - 6.0,
            y + 4.0,
            v as u64
        );
        v += step;
    }
    // Vertical ticks and time labels.
    let span = to - from;
    let ticks = 6;
    for i in 0..=ticks {
        let t = from + span * i / ticks;
        let x = frame.x(t);
        let edge = match i {
            0 => " first",
            i if i == ticks => " last",
            _ => "",
        };
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><text class="xlabel{edge}" x="{x:.1}" y="{:.1}">{}</text>"#,
            frame.top,
            frame.top + frame.height,
            h - 10.0,
            tick_label(t, span)
        );
    }
    // Threshold.
    let ty = frame.y(f64::from(threshold));
    let _ = write!(
        out,
        r#"<line class="threshold" x1="{:.1}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}"/><text class="tlabel" x="{:.1}" y="{:.1}">threshold {threshold}</text>"#,
        frame.left,
        frame.left + frame.width,
        frame.left + frame.width - 4.0,
        ty - 5.0
    );
    // Runs without data, at the bottom.
    for p in points.iter().filter(|p| p.people.is_none()) {
        let x = frame.x(p.t);
        let _ = write!(
            out,
            r#"<rect class="nodata" x="{:.1}" y="{:.1}" width="3" height="8"><title>{} UTC: no data</title></rect>"#,
            x - 1.5,
            frame.top + frame.height - 8.0,
            p.t.format("%Y-%m-%d %H:%M")
        );
    }
    lines(&mut out, &frame, &points, "line");
    // Dots with tooltips while they stay readable.
    if points.len() <= 200 {
        for p in &points {
            if let Some(n) = p.people {
                let over = if n > threshold { " over" } else { "" };
                let _ = write!(
                    out,
                    r#"<circle class="dot{over}" cx="{:.1}" cy="{:.1}" r="3"><title>{} UTC: {n}</title></circle>"#,
                    frame.x(p.t),
                    frame.y(f64::from(n)),
                    p.t.format("%Y-%m-%d %H:%M")
                );
            }
        }
    }
    // Axes.
    let _ = write!(
        out,
        r#"<line class="axis" x1="{l:.1}" x2="{l:.1}" y1="{t:.1}" y2="{b:.1}"/><line class="axis" x1="{l:.1}" x2="{r:.1}" y1="{b:.1}" y2="{b:.1}"/>"#,
        l = frame.left,
        r = frame.left + frame.width,
        t = frame.top,
        b = frame.top + frame.height
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn no_data_breaks_the_line_and_is_marked() {
        let points = [
            Point {
                t: at(1),
                people: Some(3),
            },
            Point {
                t: at(2),
                people: Some(5),
            },
            Point {
                t: at(3),
                people: None,
            },
            Point {
                t: at(4),
                people: Some(0),
            },
        ];
        let svg = sparkline(&points, at(0), at(24), 4);
        assert_eq!(svg.matches("<polyline").count(), 1);
        // The lone 0 after the gap is a dot, not joined to the 5.
        assert_eq!(svg.matches("<circle").count(), 1);
        assert_eq!(svg.matches(r#"class="nodata""#).count(), 1);
        let chart = chart(&points, at(0), at(24), 4);
        assert!(chart.contains("threshold 4"));
        assert!(chart.contains("no data"));
        assert!(chart.contains(r#"class="dot over""#));
    }

    #[test]
    fn downsampling_keeps_the_busiest_run() {
        let points: Vec<Point> = (0..1000)
            .map(|i| Point {
                t: at(0) + Duration::minutes(i),
                people: if i == 500 {
                    Some(99)
                } else if i % 7 == 0 {
                    None
                } else {
                    Some(1)
                },
            })
            .collect();
        let reduced = downsample(&points, at(0), at(0) + Duration::minutes(1000), 100);
        assert!(reduced.len() <= 100);
        assert_eq!(reduced.iter().filter_map(|p| p.people).max(), Some(99));
    }

    #[test]
    fn nice_scales() {
        assert_eq!(nice_scale(0), (1.0, 1.0));
        assert_eq!(nice_scale(17), (20.0, 5.0));
        assert_eq!(nice_scale(100), (100.0, 25.0));
    }
}
