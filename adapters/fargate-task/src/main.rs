//! `footfall-task`: the per-user ECS task. Reads its configuration and payload from the
//! environment (see [`fargate_task::TaskConfig`]), runs the job, delivers the result, and exits
//! non-zero when a failure persisted (2 for configuration errors).

use std::process::ExitCode;

use fargate_task::sinks::sql::SqlResultStore;
use fargate_task::{JsonLog, TaskConfig, TaskDeps, run_task};

mod detector_job;
use detector_job::DetectorJob;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match TaskConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"level": "error", "event": "config_error", "error": e.to_string()})
            );
            return ExitCode::from(2);
        }
    };
    let log = JsonLog::stdout(&config.payload.run_id, &config.payload.user_id);
    let sdk = aws_config::load_from_env().await;
    // DATABASE_URL is required for EVENTBRIDGE runs (TaskConfig::check); API_GATEWAY runs never
    // touch the store.
    let store = SqlResultStore::new(
        config.database_url.as_deref().unwrap_or_default(),
        std::time::Duration::from_secs(10),
    );
    let job = match DetectorJob::from_env() {
        Ok(job) => job,
        Err(e) => {
            log.event("error", "config_error", serde_json::json!({"error": e}));
            return ExitCode::from(2);
        }
    };
    let deps = match TaskDeps::new(&sdk, config, job, store, log.clone()) {
        Ok(d) => d,
        Err(e) => {
            log.event(
                "error",
                "config_error",
                serde_json::json!({"error": e.to_string()}),
            );
            return ExitCode::from(2);
        }
    };
    let report = run_task(&deps).await;
    ExitCode::from(report.exit_code())
}
