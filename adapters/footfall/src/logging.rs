//! Logs on stderr (stdout is reserved for results): human-readable or one JSON object a line.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Human,
    /// JSON lines.
    Json,
}

/// Installs the global subscriber; `RUST_LOG` overrides the default `info` level.
pub fn init(format: LogFormat, verbose: bool) {
    // Burn's GPU runtime logs every autotune step at info; keep those out unless asked for.
    let default = if verbose {
        "debug,cubecl_runtime=info,wgpu_core=warn,wgpu_hal=warn,naga=warn"
    } else {
        "info,cubecl_runtime=warn,cubecl_wgpu=warn,wgpu_core=warn,wgpu_hal=warn,naga=warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Ignore the error of a second initialisation (tests may call this twice).
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
