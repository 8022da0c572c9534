//! `avow say` and `avow voices` (being built; see the Speak issue).

use std::process::ExitCode;

/// Arguments of `avow say`.
#[derive(clap::Args)]
pub struct Args {
    /// Text to speak; read from standard input when absent.
    text: Option<String>,
}

/// Arguments of `avow voices`.
#[derive(clap::Args)]
pub struct VoicesArgs {}

/// Runs `avow say`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("speech synthesis is not built yet")
}

/// Runs `avow voices`.
pub fn run_voices(_args: VoicesArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("voice listing is not built yet")
}
