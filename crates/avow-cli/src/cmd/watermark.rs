//! `avow watermark` (being built; see its issue).

use std::process::ExitCode;

/// Subcommands of `avow watermark`.
#[derive(clap::Subcommand)]
pub enum Command {}

/// Runs `avow watermark`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
