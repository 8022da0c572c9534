//! `avow audit` (being built; see its issue).

use std::process::ExitCode;

/// Subcommands of `avow audit`.
#[derive(clap::Subcommand)]
pub enum Command {}

/// Runs `avow audit`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
