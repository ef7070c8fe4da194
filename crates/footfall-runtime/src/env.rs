//! Configuration from environment variables, parsed one way everywhere: values are trimmed, an
//! empty value counts as unset, flags accept `1/true/yes/on` and `0/false/no/off` in any case,
//! and anything else is an error naming the variable (never silently "false").

use std::str::FromStr;

/// A bad or missing configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// How a key is looked up.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// A view of the configuration: the process environment, or a map in tests.
pub struct Env<'a> {
    lookup: Lookup<'a>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl Env<'static> {
    /// The process environment.
    pub fn process() -> Self {
        Self::new(|key| std::env::var(key).ok())
    }
}

impl<'a> Env<'a> {
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// From `(key, value)` pairs (tests).
    pub fn from_pairs(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self::new(move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        })
    }

    /// The trimmed value, `None` when unset or empty.
    pub fn opt(&self, key: &str) -> Option<String> {
        (self.lookup)(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A value that must be set.
    pub fn req(&self, key: &str) -> Result<String, ConfigError> {
        self.opt(key)
            .ok_or_else(|| ConfigError::new(key, "is not set"))
    }

    /// A parsed value, `default` when unset.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.opt(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| ConfigError::new(key, format!("`{v}`: {e}"))),
        }
    }

    /// A non-negative whole number, `default` when unset.
    pub fn num(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        match self.opt(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                ConfigError::new(key, format!("`{v}` is not a non-negative whole number"))
            }),
        }
    }

    /// A flag, `false` when unset.
    pub fn flag(&self, key: &str) -> Result<bool, ConfigError> {
        match self.opt(key) {
            None => Ok(false),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(
                    key,
                    format!("`{v}` is not a flag (use true/false, 1/0, yes/no or on/off)"),
                )),
            },
        }
    }

    /// A comma-separated list (empty items dropped); empty when unset.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.opt(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The variable that lets stream URLs name private and loopback hosts (tests on loopback only).
pub const ALLOW_PRIVATE_STREAMS: &str = "FOOTFALL_ALLOW_PRIVATE_STREAMS";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_one_way() {
        // `FOOTFALL_ALLOW_PRIVATE_STREAMS=TRUE` worked in the controller only: the task and the
        // notification Lambda compared case-sensitively and read it as false.
        for (value, expected) in [
            ("TRUE", true),
            ("true", true),
            (" Yes ", true),
            ("1", true),
            ("on", true),
            ("FALSE", false),
            ("0", false),
            ("no", false),
            ("", false),
        ] {
            let pairs = [(ALLOW_PRIVATE_STREAMS, value)];
            assert_eq!(
                Env::from_pairs(&pairs).flag(ALLOW_PRIVATE_STREAMS),
                Ok(expected),
                "{value:?}"
            );
        }
        let pairs = [(ALLOW_PRIVATE_STREAMS, "maybe")];
        let err = Env::from_pairs(&pairs)
            .flag(ALLOW_PRIVATE_STREAMS)
            .unwrap_err();
        assert_eq!(err.key, ALLOW_PRIVATE_STREAMS);
    }

    #[test]
    fn values_numbers_lists() {
        let pairs = [
            ("A", "  x "),
            ("EMPTY", "  "),
            ("N", "42"),
            ("BAD", "-1"),
            ("L", "a, b,,c"),
        ];
        let env = Env::from_pairs(&pairs);
        assert_eq!(env.opt("A").as_deref(), Some("x"));
        assert_eq!(env.opt("EMPTY"), None);
        assert_eq!(env.req("EMPTY").unwrap_err().reason, "is not set");
        assert_eq!(env.num("N", 1), Ok(42));
        assert_eq!(env.num("MISSING", 7), Ok(7));
        assert!(env.num("BAD", 1).is_err());
        assert_eq!(env.parse_or::<f64>("N", 1.0), Ok(42.0));
        assert_eq!(env.list("L"), ["a", "b", "c"]);
        assert!(env.list("MISSING").is_empty());
    }
}
