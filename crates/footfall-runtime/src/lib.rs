//! What every footfall process needs, whatever it runs on: [`mod@env`] (typed configuration from
//! environment variables, one parser for every adapter), [`mod@retry`] (attempts with exponential
//! backoff and jitter) and [`logging`] (the `tracing` subscriber, human or JSON).

pub mod env;
pub mod logging;
pub mod retry;

pub use env::{ConfigError, Env};
pub use retry::{Backoff, retry};

/// Milliseconds since the Unix epoch (with fractions), for log lines that another process
/// compares with its own clock (e.g. a process's start-up time measured from its spawn).
pub fn unix_ms_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1000.0)
}
