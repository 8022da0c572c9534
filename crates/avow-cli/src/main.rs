//! `avow`: consent-first voice cloning from the command line.
//!
//! This crate only parses arguments and calls the library crates; each
//! subcommand lives in its own module under `cmd/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

// The model allocates and frees large activation buffers for every layer;
// mimalloc, tuned by `avow_alloc::tune`, reuses them instead of faulting in
// fresh zeroed pages (about 15% of synthesis time with the system
// allocator, a third of a style-search step with mimalloc's defaults).
#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

#[derive(Parser)]
#[command(name = "avow", version, about = "Consent-first voice cloning engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Speak text with a voice and write a WAV file or raw PCM.
    Say(cmd::say::Args),
    /// Voice a subtitle file (SRT/WebVTT) in a consenting voice, timed to the cues.
    Dub(cmd::dub::Args),
    /// List the stock voices.
    Voices(cmd::say::VoicesArgs),
    /// Fetch, list and verify model weights.
    #[command(subcommand)]
    Models(cmd::models::Command),
    /// Create signing keys.
    #[command(subcommand)]
    Keys(cmd::keys::Command),
    /// Draft, sign, show, verify and revoke consent records.
    #[command(subcommand)]
    Consent(cmd::consent::Command),
    /// Verify the audit ledger.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Detect the avow watermark in audio files.
    Detect(cmd::detect::Args),
    /// Embed a watermark into an arbitrary file (for evaluation).
    #[command(subcommand)]
    Watermark(cmd::watermark::Command),
    /// Check a speaker's recordings and spoken consent, clone the voice, and draft its consent record.
    Enroll(cmd::enroll::EnrollArgs),
    /// Build voice packs from recordings.
    #[command(subcommand)]
    Voice(cmd::enroll::VoiceCommand),
    /// Voice banking: adapt a consented voice to more of its speaker's recordings.
    #[command(subcommand)]
    Bank(cmd::bank::BankCommand),
    /// Transcribe English speech in WAV/FLAC files (Whisper tiny.en).
    Transcribe(cmd::transcribe::Args),
    /// Serve speech over HTTP (OpenAI's /v1/audio/speech shape) on loopback.
    Serve(cmd::serve::Args),
}

fn main() -> ExitCode {
    avow_alloc::tune();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Say(a) => cmd::say::run(a),
        Command::Dub(a) => cmd::dub::run(a),
        Command::Voices(a) => cmd::say::run_voices(a),
        Command::Models(c) => cmd::models::run(c),
        Command::Keys(c) => cmd::keys::run(c),
        Command::Consent(c) => cmd::consent::run(c),
        Command::Audit(c) => cmd::audit::run(c),
        Command::Detect(a) => cmd::detect::run(a),
        Command::Watermark(c) => cmd::watermark::run(c),
        Command::Transcribe(a) => cmd::transcribe::run(a),
        Command::Enroll(a) => cmd::enroll::run_enroll(a),
        Command::Voice(c) => cmd::enroll::run_voice(c),
        Command::Bank(c) => cmd::bank::run(c),
        Command::Serve(a) => cmd::serve::run(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("avow: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
