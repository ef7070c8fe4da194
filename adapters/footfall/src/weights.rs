//! `footfall weights list|import`: the manifest's models and the local weights cache, for
//! machines that cannot (or should not) download.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use detector_core::ModelSize;
use detector_core::weights::manifest::{self, sha256_hex};

use crate::model_args::cache_dir_from_env;

#[derive(Debug, Args)]
pub struct WeightsArgs {
    #[command(subcommand)]
    pub action: WeightsAction,
}

#[derive(Debug, Subcommand)]
pub enum WeightsAction {
    /// The models of weights/manifest.json, their checksums, and what the cache holds.
    List,
    /// Copy a weights file into the cache after checking its sha256 against the manifest
    /// (the published file or a known export of the model).
    Import {
        /// The ONNX file.
        path: PathBuf,
        /// Which model it is.
        #[arg(long, default_value = "nano")]
        model: ModelSize,
    },
}

pub fn run(args: WeightsArgs) -> anyhow::Result<u8> {
    let cache = cache_dir_from_env();
    let mut out = std::io::stdout().lock();
    match args.action {
        WeightsAction::List => {
            writeln!(out, "cache: {}", cache.display())?;
            for entry in manifest::entries() {
                let cached = cache.join(&entry.file);
                let state = match std::fs::read(&cached) {
                    Ok(bytes) if entry.accepts(&sha256_hex(&bytes)) => "cached, verified",
                    Ok(_) if entry.verified() => "cached, CHECKSUM MISMATCH",
                    Ok(_) => "cached, unverified",
                    Err(_) => "not cached",
                };
                let checksum = entry
                    .sha256
                    .as_deref()
                    .unwrap_or("unverified (no checksum)");
                writeln!(out, "{:<11} {:<24} sha256 {checksum}", entry.name, state)?;
                for export in &entry.accepted_exports {
                    writeln!(
                        out,
                        "{:<11} {:<24} also accepted: {} ({} bytes): {}",
                        "", "", export.sha256, export.bytes, export.description
                    )?;
                }
            }
        }
        WeightsAction::Import { path, model } => {
            let entry = manifest::entry(model.name())?;
            let cached = manifest::import(&entry, &path, &cache)?;
            writeln!(
                out,
                "imported {} as {} ({})",
                path.display(),
                entry.name,
                cached.display()
            )?;
        }
    }
    Ok(0)
}
