//! Summaries of per-frame people counts. One definition for every runtime and output:
//! nearest-rank percentiles over the counted frames, `None` when no frame was counted ("no data"
//! is never 0).

/// Nearest-rank percentile (`q` in 0..=1) of `values`; `None` when empty.
pub fn percentile(values: &[usize], q: f64) -> Option<usize> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The median people count: the nearest-rank 50th percentile, a count that was really seen
/// (the lower middle value for an even number of frames), not an average of two.
pub fn median(values: &[usize]) -> Option<usize> {
    percentile(values, 0.5)
}

/// Max, median and 90th percentile of per-frame counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CountSummary {
    pub frames: usize,
    pub max: Option<usize>,
    pub median: Option<usize>,
    pub p90: Option<usize>,
}

impl CountSummary {
    pub fn of(counts: &[usize]) -> Self {
        Self {
            frames: counts.len(),
            max: counts.iter().copied().max(),
            median: median(counts),
            p90: percentile(counts, 0.9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[5, 1, 4, 2, 3], 0.5), Some(3));
        assert_eq!(percentile(&(1..=10).collect::<Vec<_>>(), 0.9), Some(9));
        assert_eq!(percentile(&(1..=20).collect::<Vec<_>>(), 0.9), Some(18));
    }

    #[test]
    fn one_median() {
        // The detector's own summary averaged the two middle values (2.5 here) while the runner
        // took the nearest rank (2): one definition remains.
        assert_eq!(median(&[1, 2, 3, 4]), Some(2));
        assert_eq!(median(&[4, 1, 3]), Some(3));
        assert_eq!(median(&[]), None);
        let s = CountSummary::of(&[0, 3, 1, 4]);
        assert_eq!(
            (s.frames, s.max, s.median, s.p90),
            (4, Some(4), Some(1), Some(4))
        );
        assert_eq!(CountSummary::of(&[]).max, None);
    }
}
