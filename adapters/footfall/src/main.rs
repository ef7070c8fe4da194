//! `footfall`: the local runner. Counts people in images and streams on one machine.

mod detect;
mod logging;
mod model_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Count people in images and live video streams, with YOLOX on the CPU or a GPU.
#[derive(Debug, Parser)]
#[command(name = "footfall", version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: logging::LogFormat,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format, cli.verbose);
    let outcome = match cli.command {
        Command::Detect(args) => detect::run(args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
