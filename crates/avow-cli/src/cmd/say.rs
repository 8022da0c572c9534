//! `avow say` and `avow voices`: speech through the engine's gated path.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use avow_engine::{ConsentGate, ConsentPurpose, Engine, EngineError, EngineOptions, VerifiedVoice, SAMPLE_RATE, STOCK_VOICES};

/// Largest text accepted on standard input or as an argument (the front end's limit).
const MAX_TEXT_BYTES: usize = 1 << 20;

/// Arguments of `avow say`.
#[derive(clap::Args)]
pub struct Args {
    /// Text to speak; read from standard input when absent.
    text: Option<String>,
    /// A stock voice name (see `avow voices`) or a voice pack file (then `--consent` is required).
    #[arg(long, default_value = "jf_alpha")]
    voice: String,
    /// Signed consent record for a voice pack given by path.
    #[arg(long)]
    consent: Option<PathBuf>,
    /// What the speech is for: aac, accessibility, dubbing, narration or research.
    #[arg(long, default_value = "accessibility")]
    purpose: String,
    /// Language of the text (en-us, en-gb, es, fr, it, pt-br, hi).
    #[arg(long, default_value = "en-us")]
    lang: String,
    /// Speaking rate (1.0 is natural; 0.5 to 2.5).
    #[arg(long, default_value_t = 1.0)]
    speed: f32,
    /// Output WAV file, or `-` for raw 16-bit little-endian mono PCM at 24 kHz on
    /// standard output, sentence by sentence.
    #[arg(long, short, required_unless_present = "play")]
    out: Option<PathBuf>,
    /// Play the speech on the default output device as it is synthesized,
    /// sentence by sentence (builds with the `audio-device` feature).
    #[arg(long, conflicts_with = "out")]
    play: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

/// The engine's options on the command line of every command that speaks
/// (`say`, `dub`): model cache, trust roots, revocations and ledger.
#[derive(clap::Args)]
pub(crate) struct EngineArgs {
    /// Model cache directory (default: $AVOW_CACHE_DIR, then ~/.cache/avow).
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Directory of trusted issuer keys (repeatable). Replaces the default trust
    /// roots ($AVOW_TRUST_DIR, ~/.config/avow/trust and the built-in stock-voice key).
    #[arg(long, value_name = "DIR")]
    trust: Vec<PathBuf>,
    /// Directory of signed revocations (repeatable; `avow consent revoke` writes them).
    /// Replaces the default ($AVOW_REVOCATION_DIR, then ~/.config/avow/revoked).
    #[arg(long, value_name = "DIR", alias = "revocations")]
    revoked: Vec<PathBuf>,
    /// Audit ledger file (default: $AVOW_LEDGER, then ~/.local/share/avow/ledger.jsonl).
    #[arg(long)]
    ledger: Option<PathBuf>,
}

impl EngineArgs {
    /// The engine options these arguments name (progress bars on a terminal only).
    pub(crate) fn options(&self) -> EngineOptions {
        EngineOptions {
            cache_dir: self.cache_dir.clone(),
            trust_dirs: self.trust.clone(),
            revocation_dirs: self.revoked.clone(),
            ledger: self.ledger.clone(),
            progress: std::io::stderr().is_terminal(),
        }
    }
}

/// Arguments of `avow voices`.
#[derive(clap::Args)]
pub struct VoicesArgs {}

/// Runs `avow say`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let purpose = ConsentPurpose::parse(&args.purpose)
        .with_context(|| format!("unknown purpose `{}` (aac, accessibility, dubbing, narration, research)", args.purpose))?;
    let text = match &args.text {
        Some(t) => t.clone(),
        None => read_stdin()?,
    };
    // Cheap checks first: loading the model takes seconds.
    if text.trim().is_empty() {
        bail!("the text is empty");
    }
    avow_engine::check_language(&args.lang)?;
    if text.len() > MAX_TEXT_BYTES {
        bail!("the text is {} bytes; the limit is {MAX_TEXT_BYTES} bytes: split it into smaller pieces", text.len());
    }
    let out = args.out.clone().unwrap_or_default();
    let to_stdout = out.as_os_str() == "-";
    // Opened before the model loads: no device (or no feature) fails fast.
    let player = if args.play { Some(super::play::Player::open(SAMPLE_RATE)?) } else { None };
    if !to_stdout && player.is_none() {
        check_writable(&out)?;
    }
    let (engine, voice) = match open_voice_and_engine(&args.engine, &args.voice, args.consent.as_deref(), purpose, &args.lang)? {
        Ok(opened) => opened,
        Err(refused) => return Ok(refused),
    };
    if let Some(player) = player {
        player.speak(engine.stream(&voice, &text, args.speed)?)?;
    } else if to_stdout {
        let mut out = std::io::stdout().lock();
        for piece in engine.stream(&voice, &text, args.speed)? {
            let bytes = avow_audio::to_s16le(&piece?)?;
            if let Err(e) = out.write_all(&bytes).and_then(|_| out.flush()) {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(ExitCode::SUCCESS);
                }
                return Err(e).context("cannot write to standard output");
            }
        }
    } else {
        let (seconds, watermark) = write_wav_streaming(&engine, &voice, &text, args.speed, &out)?;
        if std::io::stderr().is_terminal() {
            eprintln!("wrote {} ({seconds:.1} s, watermark {watermark:08x})", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the speech sentence by sentence into a temporary WAV file beside
/// `out`, then fsyncs and renames it: memory stays bounded by one sentence
/// however long the text, and a failure leaves no partial file behind.
fn write_wav_streaming(
    engine: &Engine,
    voice: &avow_voice::Voice,
    text: &str,
    speed: f32,
    out: &std::path::Path,
) -> anyhow::Result<(f64, u32)> {
    let dir = output_dir(out);
    let mut tmp = tempfile::Builder::new()
        .prefix(".avow-say-")
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let spec = hound::WavSpec { channels: 1, sample_rate: SAMPLE_RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut samples = 0usize;
    {
        let mut writer = hound::WavWriter::new(std::io::BufWriter::new(tmp.as_file_mut()), spec)
            .with_context(|| format!("cannot write {}", out.display()))?;
        for piece in engine.stream(voice, text, speed)?.whole_sentences() {
            let piece = piece?;
            samples += piece.len();
            for s in piece {
                writer.write_sample(avow_audio::f32_to_i16(s)).with_context(|| format!("cannot write {}", out.display()))?;
            }
        }
        writer.finalize().with_context(|| format!("cannot write {}", out.display()))?;
    }
    tmp.as_file().sync_all().with_context(|| format!("cannot write {}", out.display()))?;
    // Temporary files are private (0600); the result is an ordinary file.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(out).map_err(|e| e.error).with_context(|| format!("cannot write {}", out.display()))?;
    Ok((samples as f64 / SAMPLE_RATE as f64, voice.consent().watermark_payload()))
}

/// Opens `--voice` (a stock voice name, or a voice pack file with its
/// `--consent` record) through the consent gate, and only then, for a voice
/// that passed, the engine (seconds: the model loads) and checks that the
/// voice fits its model. `Ok(Err(code))` is a refusal, already reported on
/// standard error, with its consent exit code (those of `avow consent verify`).
pub(crate) fn open_voice_and_engine(
    engine_args: &EngineArgs,
    voice: &str,
    consent: Option<&Path>,
    purpose: ConsentPurpose,
    lang: &str,
) -> anyhow::Result<Result<(Engine, VerifiedVoice), ExitCode>> {
    let gate = ConsentGate::open(&engine_args.options())?;
    let pack = Path::new(voice);
    let opened = match consent {
        Some(record) => gate.load_voice(pack, record, purpose, lang),
        None if STOCK_VOICES.contains(&voice) => gate.stock_voice(voice, purpose, lang),
        None if pack.exists() => bail!("{} is a voice pack: give its signed consent record with --consent RECORD", pack.display()),
        None => Err(EngineError::UnknownVoice { name: voice.to_string() }),
    };
    let voice = match opened {
        Ok(voice) => voice,
        Err(EngineError::Consent(e)) => {
            eprintln!("avow: consent refused: {e}");
            return Ok(Err(ExitCode::from(e.exit_code())));
        }
        Err(e) => return Err(e.into()),
    };
    let engine = Engine::with_gate(gate)?;
    engine.check_fits(&voice)?;
    Ok(Ok((engine, voice)))
}

/// Runs `avow voices`.
pub fn run_voices(_args: VoicesArgs) -> anyhow::Result<ExitCode> {
    for name in STOCK_VOICES {
        println!("{name}\tstock Kokoro voice (synthetic), signed stock consent record");
    }
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_TEXT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    if bytes.len() > MAX_TEXT_BYTES {
        bail!("standard input is over the {MAX_TEXT_BYTES} byte limit: split the text into smaller pieces");
    }
    String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("standard input is not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

/// The directory an output file goes in (`.` for a bare file name).
pub(crate) fn output_dir(path: &std::path::Path) -> &std::path::Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    }
}

/// Fails early, before the model loads, when the output cannot be created.
pub(crate) fn check_writable(path: &std::path::Path) -> anyhow::Result<()> {
    let dir = output_dir(path);
    if !dir.is_dir() {
        bail!("cannot write {}: directory {} does not exist", path.display(), dir.display());
    }
    if path.is_dir() {
        bail!("cannot write {}: it is a directory", path.display());
    }
    let probe = dir.join(format!(".avow-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| format!("cannot write {}: directory {} is not writable", path.display(), dir.display()))
}
