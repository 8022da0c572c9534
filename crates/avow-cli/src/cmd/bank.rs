//! `avow bank train`: adapts a consented voice pack to more of its speaker's
//! recordings (voice banking), writing a new pack that carries the speaker
//! adapter and an unsigned consent draft for exactly that pack.
//!
//! The input pack must open with its signed record (same gate as `avow say`,
//! for the record's own purpose and the pack's language): banking extends a
//! voice its speaker has already consented to; it cannot start one. The new
//! pack has new bytes, so it speaks only once the draft, which carries the
//! original record's subject, purposes, languages and validity plus the
//! banking recordings' hashes as evidence, is signed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use avow_bank::{adapt, align, checkpoint, AdaptConfig, AlignedRecording, SpeakerGuide, StepReport};
use avow_consent::dsse::CONSENT_PAYLOAD_TYPE;
use avow_consent::{default_fingerprint, sha256_hex, Envelope, Purpose, RevocationStore, TrustStore, VerifyRequest};
use avow_kokoro::{KModel, StyleAdapter};
use avow_models::ModelCache;
use avow_speaker::enrollment::Limits;
use avow_text::{KokoroVocab, Language, TextFrontEnd};
use avow_voice::VoicePackData;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cmd::consent::{hash_file, write_atomic};

/// `avow bank ...`.
#[derive(clap::Subcommand)]
pub enum BankCommand {
    /// Adapt a voice pack to its speaker's recordings (a folder of WAV/FLAC
    /// files, each with a `.txt` transcript beside it, or transcribed with
    /// Whisper tiny.en when missing, English only).
    Train(TrainArgs),
    /// Record the speaker reading prompts, one take each, into a folder
    /// `bank train --recordings` reads (needs the `audio-device` feature).
    Record(RecordArgs),
}

/// Arguments of `avow bank record`.
#[derive(clap::Args)]
pub struct RecordArgs {
    /// Folder for the takes (NNN.wav with NNN.txt); recording resumes where
    /// it stopped when the folder already holds some.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Begin at this prompt (from 1), even if it is already recorded.
    #[arg(long, value_name = "N")]
    start: Option<usize>,
    /// Your own prompts, one per line (blank lines and # comments skipped),
    /// instead of the 150 built-in English ones.
    #[arg(long, value_name = "FILE")]
    prompts: Option<PathBuf>,
}

/// Arguments of `avow bank train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// The voice pack to adapt (from `avow enroll` or `avow voice clone`).
    #[arg(long, value_name = "PACK")]
    voice: PathBuf,
    /// The pack's signed consent record.
    #[arg(long, value_name = "RECORD")]
    consent: PathBuf,
    /// Folder of the speaker's recordings.
    #[arg(long, value_name = "DIR")]
    recordings: PathBuf,
    /// Output directory: NAME.voicepack, NAME.consent-draft.json, bank.json
    /// and the checkpoint bank.checkpoint.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Training steps (one recording each).
    #[arg(long, default_value_t = AdaptConfig::default().steps)]
    steps: usize,
    /// Recordings held out to choose when to stop (default: one in ten, at
    /// least one when there are two or more).
    #[arg(long)]
    held_out: Option<usize>,
    /// Continue from OUT/bank.checkpoint instead of starting over.
    #[arg(long)]
    resume: bool,
    /// Extra directory of trusted issuer keys (repeatable).
    #[arg(long = "trust", value_name = "DIR")]
    trust: Vec<PathBuf>,
    /// Model cache directory (default: $AVOW_CACHE_DIR or the XDG cache).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Replace existing outputs in --out.
    #[arg(long)]
    force: bool,
}

/// Runs `avow bank`.
pub fn run(command: BankCommand) -> anyhow::Result<ExitCode> {
    match command {
        BankCommand::Train(a) => train(a),
        BankCommand::Record(a) => record(a),
    }
}

fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = format!("{what} {{bar:30}} {{pos}}/{{len}}, eta {{eta}} {{msg}}");
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// Audio files in `dir` (sorted) with their transcripts when a `.txt` sits beside them.
pub(crate) fn recordings_in(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Option<String>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("wav" | "flac")) {
            continue;
        }
        let txt = path.with_extension("txt");
        let text = if txt.exists() {
            let t = std::fs::read_to_string(&txt).with_context(|| format!("cannot read {}", txt.display()))?;
            if t.trim().is_empty() {
                bail!("{} is empty", txt.display());
            }
            Some(t.trim().to_string())
        } else {
            None
        };
        out.push((path, text));
    }
    out.sort();
    if out.is_empty() {
        bail!("{} holds no WAV or FLAC recordings", dir.display());
    }
    Ok(out)
}

#[cfg(not(feature = "audio-device"))]
fn record(_: RecordArgs) -> anyhow::Result<ExitCode> {
    bail!(
        "`avow bank record` needs a microphone, and this avow was built without audio devices; \
         rebuild it with `cargo install --path crates/avow-cli --features audio-device` (needs the ALSA headers: \
         apt-get install libasound2-dev), or record with any recorder into a folder of WAV files, \
         each with its transcript beside it (001.wav + 001.txt), which `avow bank train --recordings` reads"
    )
}

#[cfg(feature = "audio-device")]
fn record(a: RecordArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write;

    use crate::cmd::record::{describe_folder, record_loop, AudioOutput, Microphone, Speaker};
    let prompts = match &a.prompts {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            avow_bank::parse_prompt_file(&text).with_context(|| format!("{}", path.display()))?
        }
        None => avow_bank::prompts::builtin_prompts(),
    };
    let start = match a.start {
        Some(n) if n == 0 || n > prompts.len() => bail!("--start {n}: the prompts are numbered 1 to {}", prompts.len()),
        Some(n) => Some(n - 1),
        None => None,
    };
    // The device first: a machine without a microphone fails before the folder is created.
    let mut microphone = Microphone::open()?;
    let mut session = avow_bank::RecordingSession::open(&a.out, prompts)?;
    let stdout = std::io::stdout();
    let mut ui = stdout.lock();
    writeln!(ui, "Recording from the default microphone at {} Hz into {}.", microphone.sample_rate(), a.out.display())?;
    writeln!(ui, "Read each prompt naturally, in a quiet room, at a steady distance from the microphone.")?;
    describe_folder(&session, &mut ui)?;
    let mut speaker = Speaker;
    let stdin = std::io::stdin();
    record_loop(&mut session, &mut microphone, Some(&mut speaker as &mut dyn AudioOutput), &mut stdin.lock(), &mut ui, start)?;
    Ok(ExitCode::SUCCESS)
}

fn train(a: TrainArgs) -> anyhow::Result<ExitCode> {
    if a.steps == 0 {
        bail!("--steps must be at least 1");
    }
    // The gate: the pack opens with its record for the record's own purpose
    // and the pack's language, or banking does not start.
    let pack_bytes = avow_consent::read_limited(&a.voice, avow_voice::MAX_PACK_BYTES)?;
    let record_bytes = std::fs::read(&a.consent).with_context(|| format!("cannot read {}", a.consent.display()))?;
    let pack = VoicePackData::from_bytes(&pack_bytes).with_context(|| format!("{}", a.voice.display()))?;
    let (_, statement) = match avow_consent::parse_record(&record_bytes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("avow: consent refused: {e}");
            return Ok(ExitCode::from(e.exit_code()));
        }
    };
    let purpose = statement.purposes.iter().find_map(|p| Purpose::parse(p)).unwrap_or(Purpose::Aac);
    let trust = TrustStore::resolve(&a.trust)?;
    let revocations = RevocationStore::resolve(&[])?;
    let request = VerifyRequest::new(purpose, pack.meta.language.clone());
    if let Err(e) = avow_consent::verify(&record_bytes, pack_bytes.clone(), &request, &trust, &revocations) {
        eprintln!("avow: consent refused: {e}");
        return Ok(ExitCode::from(e.exit_code()));
    }
    let language: Language = pack.meta.language.parse().map_err(|e| anyhow::anyhow!("{e}"))?;

    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let stem: String = pack.meta.name.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let pack_path = a.out.join(format!("{stem}.voicepack"));
    let draft_path = a.out.join(format!("{stem}.consent-draft.json"));
    let report_path = a.out.join("bank.json");
    let checkpoint_path = a.out.join("bank.checkpoint");
    for p in [&pack_path, &draft_path, &report_path] {
        if p.exists() && !a.force {
            bail!("{} exists (use --force to replace)", p.display());
        }
    }
    let resume = if a.resume {
        Some(checkpoint::load(&checkpoint_path)?)
    } else {
        if checkpoint_path.exists() && !a.force {
            bail!("{} exists: continue with --resume, or start over with --force", checkpoint_path.display());
        }
        None
    };

    let files_list = recordings_in(&a.recordings)?;
    let show = std::io::stderr().is_terminal();
    let cache = ModelCache::from_dir_or_env(a.cache_dir.clone())?;
    let files = cache.ensure(show)?;
    let model = KModel::from_file(&files.weights)?;
    let ge2e = avow_speaker::weights::ensure_weights(cache.dir(), &avow_models::PipDownloader::from_env(), show)?;
    let encoder = avow_speaker::SpeakerEncoder::load(ge2e)?;
    // Same input checks as enrollment: readable, not silent or clipped, at
    // least 10 s of speech, and one speaker throughout.
    let paths: Vec<PathBuf> = files_list.iter().map(|(p, _)| p.clone()).collect();
    let enrollment = avow_speaker::enrollment::prepare(&paths, &encoder, &Limits::default())?;
    // A pack made by `avow enroll` names its speaker by embedding: banking
    // someone else's recordings into it is refused, by the bar the spoken
    // consent statement had to clear. Stock packs carry no speaker.
    match pack.speaker.as_ref() {
        Some(values) => {
            let subject = avow_speaker::Embedding::from_values(values.clone())
                .ok_or_else(|| anyhow::anyhow!("{}: the speaker embedding is empty or zero", a.voice.display()))?;
            let similarity = enrollment.centroid.cosine(&subject);
            if similarity < avow_speaker::calibration::CONSENT_THRESHOLD {
                eprintln!(
                    "avow: banking refused: the recordings do not sound like the speaker {} was enrolled from (similarity {similarity:.2}, at least {:.2} needed)",
                    a.voice.display(),
                    avow_speaker::calibration::CONSENT_THRESHOLD
                );
                return Ok(ExitCode::from(crate::cmd::enroll::EXIT_CONSENT_NOT_SHOWN));
            }
            eprintln!("recordings match the enrolled speaker (similarity {similarity:.2})");
        }
        None => eprintln!("avow: note: {} names no enrolled speaker, so the recordings' speaker is not checked against it", a.voice.display()),
    }
    let mut transcriber = None;
    let mut texts = Vec::with_capacity(files_list.len());
    for (path, text) in &files_list {
        let text = match text {
            Some(t) => t.clone(),
            None => {
                if !pack.meta.language.starts_with("en") {
                    bail!("{} has no transcript (.txt beside it); automatic transcription is English only", path.display());
                }
                if transcriber.is_none() {
                    let asr = avow_asr::AsrCache::new(cache.dir());
                    transcriber = Some(avow_asr::Transcriber::load(&asr.ensure(show)?)?);
                }
                let t = transcriber.as_ref().map(|t| t.transcribe_file(path)).transpose()?.map(|t| t.text).unwrap_or_default();
                eprintln!("{}: transcribed as \"{t}\"", path.display());
                t
            }
        };
        texts.push(text);
    }
    let vocab_text = std::fs::read_to_string(&files.vocab).with_context(|| format!("{}", files.vocab.display()))?;
    let vocab = KokoroVocab::from_json(&vocab_text)?;
    let front = TextFrontEnd::new(avow_phonemize::EspeakPhonemizer::new()?, vocab);

    let bar = progress(texts.len() as u64, "aligning");
    let mut aligned: Vec<AlignedRecording> = Vec::with_capacity(texts.len());
    for ((rec, text), (path, _)) in enrollment.recordings.iter().zip(&texts).zip(&files_list) {
        let ids: Vec<u32> = front.prepare(text, language)?.into_iter().flat_map(|u| u.ids).collect();
        if ids.is_empty() || ids.len() > avow_kokoro::MAX_TOKENS {
            bail!("{}: the transcript gives {} phonemes; 1 to {} fit one recording", path.display(), ids.len(), avow_kokoro::MAX_TOKENS);
        }
        let row = (ids.len() - 1).min(avow_voice::STYLE_ROWS - 1);
        let style = &pack.style[row * avow_voice::STYLE_DIM..(row + 1) * avow_voice::STYLE_DIM];
        aligned.push(align(&model, &ids, style, &rec.audio_24k).with_context(|| format!("{}", path.display()))?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let held = a.held_out.unwrap_or(if aligned.len() >= 2 { (aligned.len() / 10).max(1) } else { 0 });
    if held >= aligned.len() {
        bail!("--held-out {held} leaves no recording to train on ({} in all)", aligned.len());
    }
    let (train_set, held_set) = aligned.split_at(aligned.len() - held);
    let train_secs: f32 = train_set.iter().map(AlignedRecording::secs).sum();
    eprintln!(
        "banking {} recordings ({train_secs:.0} s), {} held out; adapter over {} steps",
        train_set.len(),
        held_set.len(),
        a.steps
    );

    let config = AdaptConfig { steps: a.steps, ..AdaptConfig::default() };
    let bar = progress(a.steps as u64, "training");
    if let Some((_, step)) = &resume {
        bar.set_position((*step).min(a.steps) as u64);
    }
    let started = Instant::now();
    let mut checkpoint_error = None;
    // The recordings' own centroid guides the timbre (the pack's enrolled
    // speaker, when it has one, was just checked to be the same person).
    let guide = SpeakerGuide { encoder: &encoder, embedding: enrollment.centroid.as_slice() };
    let result = adapt(&model, &pack.style, train_set, held_set, &config, Some(&guide), resume.as_ref().map(|(ad, s)| (ad, *s)), |r: &StepReport| {
        bar.inc(1);
        if let Some(v) = r.validation_loss {
            bar.set_message(format!("held-out loss {v:.3}"));
            if !show {
                eprintln!("step {}: training loss {:.3}, held-out loss {v:.3}", r.step, r.train_loss);
            }
        }
        if let Some(c) = &r.checkpoint {
            if let Err(e) = checkpoint::save(&checkpoint_path, c, r.step) {
                checkpoint_error.get_or_insert(e);
            }
        }
    })?;
    bar.finish_and_clear();
    if let Some(e) = checkpoint_error {
        eprintln!("avow: warning: {e}");
    }
    let guarded = if pack.meta.language.starts_with("en") {
        let transcriber = match transcriber {
            Some(t) => t,
            None => avow_asr::Transcriber::load(&avow_asr::AsrCache::new(cache.dir()).ensure(show)?)?,
        };
        Some(check_intelligibility(&model, &pack.style, &result.adapter, &front, language, &transcriber, show)?)
    } else {
        eprintln!("avow: note: the adapted voice's intelligibility is not checked: the recognizer (Whisper tiny.en) is English only");
        None
    };
    let adapter = guarded.as_ref().map_or(&result.adapter, |g| &g.voice);

    let adapted = VoicePackData {
        meta: pack.meta.clone(),
        style: pack.style.clone(),
        // A clone's pitch shift is not carried over: banking fits the F0
        // predictor to the recordings' own pitch.
        adapters: adapter.to_tensors(),
        speaker: pack.speaker.clone(),
    };
    let adapted_bytes = adapted.to_bytes()?;
    let record_id = avow_consent::new_record_id();
    let mut draft = statement.clone();
    draft.record_id = record_id.clone();
    draft.voice_pack.sha256 = sha256_hex(&adapted_bytes);
    draft.issued_at = avow_consent::Timestamp::now().to_string();
    for (path, _) in &files_list {
        draft.evidence.reference_recordings.push(hash_file(path)?);
    }
    draft.watermark_fingerprint = default_fingerprint(&record_id);
    draft.validate().context("the draft would not be a valid record")?;
    let report = serde_json::json!({
        "voice": pack.meta.name,
        "recordings": files_list.iter().zip(&texts).map(|((p, _), t)| serde_json::json!({"file": p.display().to_string(), "text": t})).collect::<Vec<_>>(),
        "train_seconds": train_secs,
        "held_out": held_set.len(),
        "steps": a.steps,
        "best_step": result.best_step,
        "start_validation_loss": result.start_validation,
        "best_validation_loss": result.best_validation,
        "history": result.history.iter().map(|r| serde_json::json!({"step": r.step, "train_loss": r.train_loss, "validation_loss": r.validation_loss})).collect::<Vec<_>>(),
        "adapter_parameters": adapter.parameters(),
        "intelligibility_kept_adapter_scale": guarded.as_ref().map(|g| g.kept.offset_scale),
        "intelligibility_guard": guarded.as_ref().map(|g| g.checks.iter().map(|c| serde_json::json!({
            "adapter_scale": c.offset_scale,
            "word_errors": c.word_errors,
            "words": c.words,
        })).collect::<Vec<_>>()),
        "training_wall_seconds": started.elapsed().as_secs_f64(),
        "pack_sha256": draft.voice_pack.sha256,
        "record_id": record_id,
    });
    write_atomic(&pack_path, &adapted_bytes, a.force)?;
    write_atomic(&draft_path, Envelope::new(CONSENT_PAYLOAD_TYPE, draft.to_payload()).to_json().as_bytes(), a.force)?;
    write_atomic(&report_path, serde_json::to_string_pretty(&report)?.as_bytes(), a.force)?;
    println!(
        "banked {}: held-out loss {} → {} (best at step {}), adapter {} parameters",
        pack.meta.name,
        result.start_validation.map_or("n/a".into(), |v| format!("{v:.3}")),
        result.best_validation.map_or("n/a".into(), |v| format!("{v:.3}")),
        result.best_step,
        adapter.parameters()
    );
    println!("  voice pack     {}", pack_path.display());
    println!("  consent draft  {} (unsigned)", draft_path.display());
    println!("  report         {}", report_path.display());
    println!("next: the issuer signs the draft: avow consent sign {} --key ISSUER.key", draft_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs the intelligibility guard on the trained adapter
/// ([`avow_bank::guard_adapter`] over the style search's training
/// sentences, judged by Whisper) and reports its verdict.
fn check_intelligibility(
    model: &KModel,
    table: &[f32],
    adapter: &StyleAdapter,
    front: &TextFrontEnd<avow_phonemize::EspeakPhonemizer>,
    language: Language,
    transcriber: &avow_asr::Transcriber,
    show: bool,
) -> anyhow::Result<avow_bank::GuardedAdapter> {
    let texts = avow_bank::guard::GUARD_TEXTS_EN;
    let mut sentences = Vec::with_capacity(texts.len());
    for text in texts {
        sentences.push(front.prepare(text, language)?.into_iter().flat_map(|u| u.ids).collect::<Vec<u32>>());
    }
    let spinner = if show { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    spinner.set_message("checking that the adapted voice is understood");
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let guarded = avow_bank::guard_adapter(
        model,
        table,
        adapter,
        &sentences,
        texts,
        &avow_enroll::WhisperJudge(transcriber),
        &avow_clone::FinishConfig::default(),
    )?;
    spinner.finish_and_clear();
    let kept = guarded.kept;
    eprintln!(
        "intelligibility: Whisper misheard {} of {} words of the adapted voice ({:.1}%)",
        kept.word_errors,
        kept.words,
        100.0 * kept.word_error_rate()
    );
    if kept.offset_scale < 1.0 {
        eprintln!(
            "warning: the trained adapter was hard to understand ({:.1}% of words misheard); it was scaled to {:.0}% of its strength",
            100.0 * guarded.checks.first().map_or(f32::NAN, |c| c.word_error_rate()),
            100.0 * kept.offset_scale
        );
    }
    Ok(guarded)
}
