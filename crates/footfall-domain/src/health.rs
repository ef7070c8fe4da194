//! How a job's stream went, and the health recorded with its result.

use std::fmt;

/// State of the stream at the end of a job. "No frames" is a health state, never a count of 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamHealth {
    /// The sampling policy was satisfied, or a finite source was read to its end.
    Ok,
    /// The source opened but stopped delivering data (read timeout), even after reconnects.
    Stalled,
    /// The source could not be opened or decoded at all (404, refused, not a video, ...).
    Unavailable,
    /// The stream ended or broke before the policy was satisfied (a finite source short of its
    /// duration, a live stream that closed), even after reconnects.
    EndedEarly,
}

impl StreamHealth {
    /// The snake_case name used in JSON, CSV and the database.
    pub fn as_str(self) -> &'static str {
        Health::from(self).as_str()
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Ok, Self::Stalled, Self::Unavailable, Self::EndedEarly]
            .into_iter()
            .find(|health| health.as_str() == text)
    }
}

impl fmt::Display for StreamHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The health stored with a result: the stream's, or `error` when the stream was fine but the
/// job itself failed (detector error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Stalled,
    Unavailable,
    EndedEarly,
    Error,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Stalled => "stalled",
            Self::Unavailable => "unavailable",
            Self::EndedEarly => "ended_early",
            Self::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Ok,
            Self::Stalled,
            Self::Unavailable,
            Self::EndedEarly,
            Self::Error,
        ]
        .into_iter()
        .find(|health| health.as_str() == text)
    }
}

impl From<StreamHealth> for Health {
    fn from(health: StreamHealth) -> Self {
        match health {
            StreamHealth::Ok => Self::Ok,
            StreamHealth::Stalled => Self::Stalled,
            StreamHealth::Unavailable => Self::Unavailable,
            StreamHealth::EndedEarly => Self::EndedEarly,
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for h in [
            Health::Ok,
            Health::Stalled,
            Health::Unavailable,
            Health::EndedEarly,
            Health::Error,
        ] {
            assert_eq!(Health::parse(h.as_str()), Some(h));
            assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{h}\""));
        }
        assert_eq!(
            StreamHealth::parse("ended_early"),
            Some(StreamHealth::EndedEarly)
        );
        assert_eq!(StreamHealth::parse("error"), None);
    }
}
