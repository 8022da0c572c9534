//! `avow keys` (being built; see its issue).

use std::process::ExitCode;

/// Subcommands of `avow keys`.
#[derive(clap::Subcommand)]
pub enum Command {}

/// Runs `avow keys`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
