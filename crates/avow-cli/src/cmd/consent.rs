//! `avow consent` (being built; see its issue).

use std::process::ExitCode;

/// Subcommands of `avow consent`.
#[derive(clap::Subcommand)]
pub enum Command {}

/// Runs `avow consent`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
