//! `avow transcribe`: English speech to text with Whisper tiny.en.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

/// Arguments of `avow transcribe`.
#[derive(clap::Args)]
pub struct Args {
    /// WAV or FLAC files (any sample rate, any channel count).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print a JSON array of {file, text, seconds} instead of text.
    #[arg(long)]
    json: bool,
    /// Model cache directory (default: $AVOW_CACHE_DIR, then ~/.cache/avow).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// Runs `avow transcribe`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Cheap checks first: loading the model takes seconds.
    for f in &args.files {
        if !f.is_file() {
            bail!("{} is not a readable file", f.display());
        }
    }
    let progress = std::io::stderr().is_terminal();
    let cache = match &args.cache_dir {
        Some(d) => avow_asr::AsrCache::new(d),
        None => avow_asr::AsrCache::default_location()?,
    };
    let files = cache.ensure(progress)?;
    let asr = avow_asr::Transcriber::load(&files)?;
    let mut results = Vec::new();
    for f in &args.files {
        let samples = avow_asr::read_audio_16k(f)?;
        let t = asr.transcribe_with_progress(&samples, progress).with_context(|| format!("transcribing {}", f.display()))?;
        if args.json {
            results.push(serde_json::json!({ "file": f.display().to_string(), "text": t.text, "seconds": t.seconds }));
        } else if args.files.len() == 1 {
            println!("{}", t.text);
        } else {
            println!("{}: {}", f.display(), t.text);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(ExitCode::SUCCESS)
}
