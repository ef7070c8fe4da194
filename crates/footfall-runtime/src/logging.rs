//! The `tracing` subscriber of every footfall binary: human-readable or one JSON object a line,
//! on stderr for the CLI (stdout carries results) and stdout for Lambdas and the ECS task
//! (CloudWatch Logs reads it). `RUST_LOG` overrides the default filter.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable (coloured on a terminal).
    #[default]
    Human,
    /// JSON lines.
    Json,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    /// With JSON lines without timestamps: CloudWatch adds its own.
    CloudWatchStdout,
}

/// Burn's GPU runtime logs every autotune step at info; keep those out unless asked for.
pub const QUIET_GPU: &str =
    "cubecl_runtime=warn,cubecl_wgpu=warn,wgpu_core=warn,wgpu_hal=warn,naga=warn";

/// Installs the global subscriber. A second call does nothing (tests may call it twice).
pub fn init(format: LogFormat, target: LogTarget, verbose: bool) {
    let level = if verbose { "debug" } else { "info" };
    let default = format!("{level},{QUIET_GPU}");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match (format, target) {
        (LogFormat::Human, LogTarget::Stderr) => builder
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        (LogFormat::Json, LogTarget::Stderr) => builder
            .with_writer(std::io::stderr)
            .json()
            .with_current_span(false)
            .try_init(),
        (LogFormat::Human, LogTarget::CloudWatchStdout) => {
            builder.with_ansi(false).without_time().try_init()
        }
        (LogFormat::Json, LogTarget::CloudWatchStdout) => builder
            .json()
            .with_current_span(false)
            .without_time()
            .try_init(),
    };
}
