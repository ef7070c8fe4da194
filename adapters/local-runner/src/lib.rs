//! The footfall local runner: the job pipeline (footfall-job) wired to one machine's sinks.
//!
//! - [`scheduler`]: each tick of an EventBridge schedule, one job per monitored user;
//! - [`results`]: the `result` table with a spool for database outages;
//! - [`csv_log`] and [`pictures`]: `results/{user_id}.csv` and `images/{user_id}/{run_id}.jpg`;
//! - [`smtp`]: alert emails (or log lines without a server), one address rule, a deadline on
//!   every send;
//! - [`outbox`]: alerts queued in the database and sent off the job's path, with backoff, at
//!   most once;
//! - [`shutdown`]: SIGTERM / SIGINT to a bounded, clean stop;
//! - [`retention`]: old pictures pruned.
//!
//! The alert cooldown lives in the database (`results_store::Store` is the
//! [`CooldownStore`](footfall_domain::sinks::CooldownStore)), so it holds across processes.

pub mod csv_log;
pub mod outbox;
pub mod pictures;
pub mod results;
pub mod retention;
pub mod scheduler;
pub mod shutdown;
pub mod smtp;
