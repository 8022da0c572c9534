//! `avow watermark`: mark arbitrary files (for evaluation; `avow say` marks
//! its own output itself).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use avow_watermark::audio::{read_audio, write_wav_channels, WavFormat};
use avow_watermark::{parse_payload, Key, Watermarker, DEFAULT_KEY_ID};

/// Subcommands of `avow watermark`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Embed a 32-bit payload into a WAV or FLAC file, writing a WAV file.
    ///
    /// The mark is computed at 24 kHz on the channel mix and added to every
    /// channel at the file's own rate; everything else passes through.
    Embed {
        /// Payload: 1–8 hex digits (a consent record's watermark fingerprint).
        #[arg(long, value_name = "HEX")]
        payload: String,
        /// Watermark key: `avow-public-v1` (default) or a secret key as hex.
        #[arg(long, value_name = "K", default_value = DEFAULT_KEY_ID)]
        key: String,
        /// Write 32-bit float samples (default: 16-bit PCM).
        #[arg(long)]
        float: bool,
        /// Input audio file.
        input: PathBuf,
        /// Output WAV file (written atomically).
        output: PathBuf,
    },
}

/// Runs `avow watermark`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Embed {
            payload,
            key,
            float,
            input,
            output,
        } => {
            let payload = parse_payload(&payload).context("--payload")?;
            let key = Key::parse(&key).context("--key")?;
            let audio = read_audio(&input)?;
            let mono = audio.to_mono();
            let marked = Watermarker::new(&key, payload)
                .embed_at_rate(&mono, audio.sample_rate)
                .with_context(|| format!("marking {}", input.display()))?;
            let ch = usize::from(audio.channels);
            let mut out = audio.samples.clone();
            for (frame, (m, x)) in out.chunks_exact_mut(ch).zip(marked.iter().zip(&mono)) {
                for s in frame {
                    *s += m - x;
                }
            }
            let format = if float {
                WavFormat::Float32
            } else {
                WavFormat::Pcm16
            };
            write_wav_channels(&output, &out, audio.sample_rate, audio.channels, format)?;
            eprintln!(
                "{}: marked with payload {payload:08x} (key {}), {:.2} s at {} Hz",
                output.display(),
                key.id(),
                audio.duration_secs(),
                audio.sample_rate
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
