//! `footfall`: the local runner. Counts people in images and streams on one machine.

mod count;
mod detect;
mod model_args;
mod run_schedule;
mod users;

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
/// was not healthy (the report is printed).
fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match cli.log_format {
        LogFormatArg::Human => LogFormat::Human,
        LogFormatArg::Json => LogFormat::Json,
    };
    logging::init(format, LogTarget::Stderr, cli.verbose);
    let outcome = match cli.command {
        Command::Detect(args) => detect::run(args),
        Command::Count(args) => count::run(args),
        Command::Users(args) => users::run(args),
        Command::RunSchedule(args) => run_schedule::run(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
