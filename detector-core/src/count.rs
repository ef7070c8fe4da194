//! People counts over a set of frames.

use serde::Serialize;

/// Per-frame people counts and their summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeopleCount {
    /// Count in each frame, in input order.
    pub per_frame: Vec<usize>,
    /// Largest count (0 for no frames).
    pub max: usize,
    /// Median count (mean of the two middle values for an even number of frames).
    pub median: f64,
    /// Mean count.
    pub mean: f64,
}

impl PeopleCount {
    /// Summarises per-frame counts.
    pub fn from_counts(per_frame: Vec<usize>) -> Self {
        let n = per_frame.len();
        let max = per_frame.iter().copied().max().unwrap_or(0);
        let mean = if n == 0 {
            0.0
        } else {
            per_frame.iter().sum::<usize>() as f64 / n as f64
        };
        let mut sorted = per_frame.clone();
        sorted.sort_unstable();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => sorted[n / 2] as f64,
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0,
        };
        Self {
            per_frame,
            max,
            median,
            mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_odd_even_and_empty() {
        let c = PeopleCount::from_counts(vec![3, 1, 2]);
        assert_eq!((c.max, c.median, c.mean), (3, 2.0, 2.0));
        let c = PeopleCount::from_counts(vec![4, 1, 2, 5]);
        assert_eq!((c.max, c.median, c.mean), (5, 3.0, 3.0));
        let c = PeopleCount::from_counts(vec![]);
        assert_eq!((c.max, c.median, c.mean), (0, 0.0, 0.0));
    }
}
