//! The per-user footfall job, one implementation for every runtime. The data path reads top to
//! bottom: [`count`] (stream URL -> sampled frames -> [`counter::PeopleCounter`] -> counts) and
//! [`pipeline`] (counts -> result record -> picture, store, CSV, callback -> alert -> notifier).
//!
//! The local runner and the ECS task are wiring around [`pipeline::run_job`]: which
//! [`footfall_domain::sinks`] and which [`pipeline::JobPolicy`].

pub mod batching;
pub mod count;
pub mod counter;
#[cfg(feature = "detector")]
pub mod detector;
pub mod pipeline;

pub use batching::BatchingCounter;
pub use count::{
    BusiestFrame, CountError, CountReport, Sample, count_stream, count_stream_tracked,
    count_stream_until, count_url,
};
pub use counter::{CounterError, PeopleCounter, PersonBox, TRACKING_MIN_SCORE};
/// A user's job configuration (tracking rate, lines, zones, debounced alert rule).
pub use footfall_tracking::{JobConfig, JobConfigError};
pub use pipeline::{
    AlertOutcome, Counting, FailedAttempt, JobOutcome, JobPolicy, JobRequest, JobSinks, Step,
    run_job,
};
