//! `avow detect` (being built; see its issue).

use std::process::ExitCode;

/// Arguments of `avow detect`.
#[derive(clap::Args)]
pub struct Args {
    /// Audio files to check.
    files: Vec<std::path::PathBuf>,
}

/// Runs `avow detect`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("watermark detection is not built yet")
}
