//! `avow models` (being built; see its issue).

use std::process::ExitCode;

/// Subcommands of `avow models`.
#[derive(clap::Subcommand)]
pub enum Command {}

/// Runs `avow models`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
