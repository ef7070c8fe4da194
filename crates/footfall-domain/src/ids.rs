//! Validated identifiers. A user id is also a file name (`results/{user_id}.csv`,
//! `images/{user_id}/...`) and an S3 key segment, a run id is part of the `result` table's key:
//! both are checked once, here, by every runtime and store.

use std::fmt;

/// Longest user id (the `config.user_id` column is `VARCHAR(64)`).
pub const MAX_USER_ID_LEN: usize = 64;
/// Longest run id (the `result.run_id` column is `VARCHAR(64)`; API Gateway, EventBridge and
/// Lambda request ids are 36-character UUIDs, the local scheduler's are 16 characters).
pub const MAX_RUN_ID_LEN: usize = 64;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{value}`: {reason}")]
pub struct IdError {
    /// `user id` or `run id`.
    pub kind: &'static str,
    /// The refused text (control characters escaped by `Debug` when logged).
    pub value: String,
    pub reason: String,
}

fn refuse(kind: &'static str, value: &str, reason: impl Into<String>) -> IdError {
    IdError {
        kind,
        value: value.escape_debug().to_string(),
        reason: reason.into(),
    }
}

/// A user id: 1..=64 characters of `A-Z a-z 0-9 _ - . @`, not starting with `.` or `-` and
/// without `..`, so it is safe as a file name, a path segment and a command-line argument.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        const KIND: &str = "user id";
        if value.is_empty() || value.len() > MAX_USER_ID_LEN {
            return Err(refuse(
                KIND,
                value,
                format!("must be 1 to {MAX_USER_ID_LEN} characters"),
            ));
        }
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@')))
        {
            return Err(refuse(
                KIND,
                value,
                format!("character {c:?} not allowed (only A-Z a-z 0-9 _ - . @)"),
            ));
        }
        if value.starts_with(['.', '-']) {
            return Err(refuse(KIND, value, "must not start with '.' or '-'"));
        }
        if value.contains("..") {
            return Err(refuse(KIND, value, "must not contain '..'"));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A run id: 1..=64 characters of `A-Z a-z 0-9 _ - . :`. With the user id it identifies one
/// result, so a retried run stores nothing twice.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

impl RunId {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        const KIND: &str = "run id";
        if value.is_empty() || value.len() > MAX_RUN_ID_LEN {
            return Err(refuse(
                KIND,
                value,
                format!("must be 1 to {MAX_RUN_ID_LEN} characters"),
            ));
        }
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        {
            return Err(refuse(
                KIND,
                value,
                format!("character {c:?} not allowed (only A-Z a-z 0-9 _ - . :)"),
            ));
        }
        Ok(Self(value.to_string()))
    }

    /// The run id of a scheduler tick: its UTC time, so re-running a tick is idempotent.
    pub fn for_tick(tick: chrono::DateTime<chrono::Utc>) -> Self {
        Self(tick.format("%Y%m%dT%H%M%SZ").to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $t {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}
string_newtype!(UserId);
string_newtype!(RunId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        for ok in ["user_1", "A-b.c_9", "x", "alice@shop1", &"a".repeat(64)] {
            UserId::parse(ok).unwrap();
        }
        // `-x` and `a..b` were accepted by the results store and refused by the AWS payloads:
        // a user added with `footfall users add` could then fail every AWS run. One rule now.
        for bad in [
            "",
            "../etc",
            "a/b",
            "..",
            ".hidden",
            "-x",
            "a..b",
            "a\u{0}b",
            "a\nb",
            "ü",
            "a b",
            "a\\b",
            &"a".repeat(65),
        ] {
            let err = UserId::parse(bad).unwrap_err();
            assert_eq!(err.kind, "user id", "{bad:?}");
        }
    }

    #[test]
    fn run_ids_have_one_length_limit() {
        RunId::parse(&"r".repeat(MAX_RUN_ID_LEN)).unwrap();
        RunId::parse("8f2b6c1e-1d7a-4f55-9a51-0c2f9f1e3d11").unwrap();
        RunId::parse("20261130T200000Z").unwrap();
        // The payloads accepted up to 128 characters that the results table then refused, and
        // the task retried that refusal as if it were transient.
        assert!(RunId::parse(&"r".repeat(MAX_RUN_ID_LEN + 1)).is_err());
        for bad in ["", "a/b", "a b", "a,b", "a\nb"] {
            assert!(RunId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_validates() {
        let id: UserId = serde_json::from_str("\"shop-1\"").unwrap();
        assert_eq!(id, "shop-1");
        assert!(serde_json::from_str::<UserId>("\"../x\"").is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"shop-1\"");
    }

    #[test]
    fn tick_run_ids() {
        let tick = chrono::DateTime::parse_from_rfc3339("2026-11-30T20:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(RunId::for_tick(tick), "20261130T200000Z");
    }
}
