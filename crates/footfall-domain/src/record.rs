//! The result of one job for one user: what every runtime stores (database row, CSV line, spool
//! entry, callback body) and the alert is decided on.

use chrono::{DateTime, SubsecRound, Utc};

use crate::health::Health;
use crate::ids::{RunId, UserId};

/// Most people a result may report (a sanity bound on the count).
pub const MAX_PEOPLE: u32 = 1_000_000;

/// One job for one user. `(run_id, user_id)` identifies it: storing it twice stores it once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResultRecord {
    pub run_id: RunId,
    pub user_id: UserId,
    /// UTC, whole seconds (the `DATETIME` column's precision on MySQL).
    pub taken_at: DateTime<Utc>,
    /// People counted (the maximum over the sampled frames); `None` when no frame could be
    /// analysed (see `health`). Never 0 for "no data".
    pub people_count: Option<u32>,
    pub health: Health,
    /// Frames that went through the detector.
    pub frames: u32,
    /// The stream URL the job counted on (as the user registered it).
    pub source: String,
    /// Where the annotated picture was kept (a path under the data folder locally), if it was.
    pub image_ref: Option<String>,
}

impl ResultRecord {
    /// `taken_at` truncated to whole seconds, as every store keeps it.
    pub fn normalise_time(taken_at: DateTime<Utc>) -> DateTime<Utc> {
        taken_at.trunc_subsecs(0)
    }

    /// `taken_at` as RFC 3339 with a `Z` and whole seconds (`2026-11-30T20:00:00Z`).
    pub fn taken_at_text(&self) -> String {
        self.taken_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}
