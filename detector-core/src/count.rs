//! People counts over a set of frames.
//!
//! Only the per-frame counts and their maximum live here. Summaries over a job (median, p90)
//! are `footfall_domain::CountSummary`, the one definition every runtime and output uses.

use serde::Serialize;

/// Per-frame people counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeopleCount {
    /// Count in each frame, in input order.
    pub per_frame: Vec<usize>,
}

impl PeopleCount {
    pub fn from_counts(per_frame: Vec<usize>) -> Self {
        Self { per_frame }
    }

    /// The largest count; `None` for no frames ("no data" is never 0).
    pub fn max(&self) -> Option<usize> {
        self.per_frame.iter().copied().max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_of_no_frames_is_none() {
        assert_eq!(PeopleCount::from_counts(vec![3, 1, 2]).max(), Some(3));
        assert_eq!(PeopleCount::from_counts(vec![]).max(), None);
    }
}
