//! What every footfall process needs, whatever it runs on: [`mod@env`] (typed configuration from
//! environment variables, one parser for every adapter), [`mod@retry`] (attempts with exponential
//! backoff and jitter) and [`logging`] (the `tracing` subscriber, human or JSON).

pub mod env;
pub mod logging;
pub mod retry;

pub use env::{ConfigError, Env};
pub use retry::{Backoff, retry};
