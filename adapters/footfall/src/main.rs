//! `footfall`: the local runner. Counts people in images and streams on one machine.

mod count;
mod db;
mod detect;
mod model_args;
mod run_schedule;
mod serve;
mod users;
mod weights;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use footfall_runtime::logging::{self, LogFormat, LogTarget};

/// Count people in images and live video streams, with YOLOX on the CPU or a GPU.
#[derive(Debug, Parser)]
#[command(name = "footfall", version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormatArg,
    /// Debug logging.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Detect people and objects in image files.
    Detect(detect::DetectArgs),
    /// Count people in a video file or stream (one job): per-sample counts and a summary.
    Count(count::CountArgs),
    /// Manage monitored users (the config table): add, list, enable, disable, remove.
    Users(users::UsersArgs),
    /// On each tick of an EventBridge schedule, count people for every monitored user.
    RunSchedule(run_schedule::RunScheduleArgs),
    /// The weights manifest and cache: list, import a file (checksum-verified).
    Weights(weights::WeightsArgs),
    /// The database schema: `db migrate` (MySQL: once per deploy, with an admin login).
    Db(db::DbArgs),
    /// Web pages, a JSON API and Prometheus metrics over the results (loopback by default).
    Serve(serve::ServeArgs),
}

impl Command {
    /// Whether the command was asked for JSON on stdout (then errors are JSON there too).
    fn json(&self) -> bool {
        match self {
            Command::Detect(args) => args.json,
            Command::Count(args) => args.count.json,
            Command::Users(args) => {
                matches!(args.action, footfall::cli::UsersAction::List { json: true })
            }
            Command::RunSchedule(_) | Command::Weights(_) | Command::Db(_) | Command::Serve(_) => {
                false
            }
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormatArg {
    /// Human-readable.
    Human,
    /// JSON lines.
    Json,
}

/// Exit status: 0 success; 1 some input (image) could not be processed; 2 the command could
/// not run (bad arguments, detector or database unavailable); 3 `count` finished but the stream
/// was not healthy (the report is printed); 4 `run-schedule` left alerts queued (not sent yet).
///
/// With `--json`, stdout carries one JSON document whatever happens: the report, or
/// `{"error":{"kind":..,"message":..}}` for a fatal error (also for bad arguments).
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let asked_json = std::env::args().any(|arg| arg == "--json");
            if asked_json && error.use_stderr() {
                print_json_error("usage", &error.to_string());
            }
            error.exit();
        }
    };
    let json = cli.command.json();
    let format = match cli.log_format {
        LogFormatArg::Human => LogFormat::Human,
        LogFormatArg::Json => LogFormat::Json,
    };
    logging::init(format, LogTarget::Stderr, cli.verbose);
    // The detector's activations are freed and allocated again every pass: keep them mapped.
    detector_core::memory::keep_freed_memory();
    let outcome = match cli.command {
        Command::Detect(args) => detect::run(args),
        Command::Count(args) => count::run(args),
        Command::Users(args) => users::run(args),
        Command::RunSchedule(args) => run_schedule::run(args),
        Command::Weights(args) => weights::run(args),
        Command::Db(args) => db::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let kind = error_kind(&e);
            // Human mode: one plain line on stderr; JSON logs: one JSON line, like the others.
            match format {
                LogFormat::Human => eprintln!("error: {e:#}"),
                LogFormat::Json => tracing::error!(kind, "{e:#}"),
            }
            if json {
                print_json_error(kind, &format!("{e:#}"));
            }
            ExitCode::from(2)
        }
    }
}

/// `{"error":{"kind":..,"message":..}}` on stdout.
fn print_json_error(kind: &str, message: &str) {
    let document = serde_json::json!({ "error": { "kind": kind, "message": message.trim_end() } });
    println!("{document}");
}

/// What failed, as a word scripts can branch on.
fn error_kind(error: &anyhow::Error) -> &'static str {
    use detector_core::{DetectorError, WeightsError};
    use footfall::cli::CliError;
    use footfall_job::CountError;
    for cause in error.chain() {
        if let Some(error) = cause.downcast_ref::<CliError>() {
            return match error {
                CliError::Usage(_) => "usage",
                CliError::Store(_) => "database",
                CliError::Io(_) => "io",
                CliError::Source(_) | CliError::Count(CountError::Source(_)) => "source",
                CliError::Count(_) => "detector",
                CliError::Output { .. } => "output",
            };
        }
        if cause.downcast_ref::<WeightsError>().is_some()
            || matches!(
                cause.downcast_ref::<DetectorError>(),
                Some(DetectorError::Weights(_))
            )
        {
            return "weights";
        }
        if cause.downcast_ref::<DetectorError>().is_some() {
            return "detector";
        }
        if cause
            .downcast_ref::<footfall_domain::schedule::ScheduleError>()
            .is_some()
        {
            return "usage";
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return "io";
        }
    }
    "error"
}
