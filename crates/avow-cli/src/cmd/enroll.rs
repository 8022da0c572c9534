//! `avow enroll` and `avow voice clone`: from a person's recordings to a
//! voice pack (and, for enroll, the spoken-consent check and an unsigned
//! consent record drafted from what was checked).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use avow_asr::ConsentStatement as SpokenStatement;
use avow_clone::{SearchConfig, StepReport};
use avow_consent::dsse::CONSENT_PAYLOAD_TYPE;
use avow_consent::statement::CONSENT_FORMAT;
use avow_consent::{default_fingerprint, sha256_hex, ConsentStatement, Envelope, Evidence, Purpose, Subject, Timestamp, VoicePackRef};
use avow_enroll::{check_spoken_consent, ClonedVoice, Cloner};
use avow_models::ModelCache;
use avow_speaker::enrollment::{Enrollment, Limits};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cmd::consent::{hash_file, write_atomic};

/// Arguments of `avow voice clone`.
#[derive(clap::Args)]
pub struct CloneArgs {
    /// Reference recordings of the speaker (WAV or FLAC, any rate; at least 10 s of speech in total).
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    audio: Vec<PathBuf>,
    /// Where to write the voice pack.
    #[arg(long, value_name = "PACK")]
    out: PathBuf,
    /// Voice name stored in the pack (default: the output's file stem).
    #[arg(long)]
    name: Option<String>,
    /// Language the voice will speak (BCP-47).
    #[arg(long, default_value = "en-us")]
    lang: String,
    #[command(flatten)]
    search: SearchArgs,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
}

/// Knobs of the style search shared by both commands.
#[derive(clap::Args)]
pub struct SearchArgs {
    /// Gradient steps of the style search (each synthesizes one training sentence).
    #[arg(long, default_value_t = SearchConfig::default().steps)]
    steps: usize,
    /// Model cache directory (default: $AVOW_CACHE_DIR or the XDG cache).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// `avow voice ...`.
#[derive(clap::Subcommand)]
pub enum VoiceCommand {
    /// Build a voice pack that sounds like the speaker of some recordings.
    /// The pack is unusable until a consent record for it is signed.
    Clone(CloneArgs),
}

/// Arguments of `avow enroll`.
#[derive(clap::Args)]
pub struct EnrollArgs {
    /// The speaker's name, as said in the consent statement.
    #[arg(long)]
    name: String,
    /// Reference recordings of the speaker (WAV or FLAC; at least 10 s of speech in total).
    #[arg(long, num_args = 1.., required = true, value_name = "FILE")]
    audio: Vec<PathBuf>,
    /// The speaker reading their consent statement aloud.
    #[arg(long, value_name = "REC")]
    statement: PathBuf,
    /// The statement they read, as saved by `avow consent statement --out`.
    #[arg(long, value_name = "JSON")]
    statement_text: PathBuf,
    /// Output directory: gets NAME.voicepack, NAME.consent-draft.json and enrollment.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Purposes the speaker consents to, comma-separated (aac, accessibility, dubbing, narration, research).
    #[arg(long, value_delimiter = ',', default_value = "aac")]
    purpose: Vec<String>,
    /// Languages the voice may speak, comma-separated BCP-47 ranges.
    #[arg(long, value_delimiter = ',', default_value = "en")]
    language: Vec<String>,
    /// Days the consent is valid from now.
    #[arg(long, default_value_t = 365)]
    valid_days: u32,
    #[command(flatten)]
    search: SearchArgs,
    /// Replace existing files in --out.
    #[arg(long)]
    force: bool,
}

/// Runs `avow voice`.
pub fn run_voice(command: VoiceCommand) -> anyhow::Result<ExitCode> {
    match command {
        VoiceCommand::Clone(a) => clone(a),
    }
}

fn open_cloner(search: &SearchArgs) -> anyhow::Result<Cloner> {
    let cache = ModelCache::from_dir_or_env(search.cache_dir.clone())?;
    Ok(Cloner::open(&cache, std::io::stderr().is_terminal())?)
}

fn check_references(cloner: &Cloner, audio: &[PathBuf]) -> anyhow::Result<Enrollment> {
    let enrollment = avow_speaker::enrollment::prepare(audio, cloner.encoder(), &Limits::default())?;
    eprintln!(
        "references: {} file(s), {:.1} s of speech, one speaker (agreement {})",
        enrollment.recordings.len(),
        enrollment.speech_secs,
        if enrollment.agreement.is_empty() {
            "n/a".to_string()
        } else {
            format!("{:.2}", enrollment.agreement.iter().copied().fold(f32::INFINITY, f32::min))
        }
    );
    Ok(enrollment)
}

fn run_search(cloner: &Cloner, enrollment: &Enrollment, name: &str, lang: &str, steps: usize) -> anyhow::Result<ClonedVoice> {
    if steps == 0 {
        bail!("--steps must be at least 1");
    }
    let config = SearchConfig { steps, ..SearchConfig::default() };
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("cloning {bar:30} {pos}/{len} steps, eta {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    let cloned = cloner.clone_voice(enrollment, name, lang, &config, |r: &StepReport| {
        bar.set_message(format!("similarity {:.2}", r.cosine));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let last = cloned.history.iter().rev().take(5).map(|r| r.cosine).sum::<f32>() / cloned.history.len().min(5) as f32;
    eprintln!(
        "cloned from stock voice {} in {:.0} s: speaker similarity on training sentences {:.2} (start {:.2}), pitch corrected by {:+.1} semitones",
        cloned.base_voice,
        start.elapsed().as_secs_f64(),
        last,
        cloned.history.first().map(|r| r.cosine).unwrap_or(f32::NAN),
        cloned.pitch_shift_semitones
    );
    let kept = cloned.guard_kept;
    eprintln!(
        "intelligibility: Whisper misheard {} of {} words of the clone ({:.1}%)",
        kept.word_errors,
        kept.words,
        100.0 * kept.word_error_rate()
    );
    if kept.offset_scale < 1.0 {
        eprintln!(
            "warning: the searched voice was hard to understand ({:.1}% of words misheard); it was moved back {:.0}% of the way to stock voice {}",
            100.0 * cloned.guard.first().map_or(f32::NAN, |c| c.word_error_rate()),
            100.0 * (1.0 - kept.offset_scale),
            cloned.base_voice
        );
    }
    if cloned.pitch_shift_semitones.abs() >= avow_clone::MAX_PITCH_CORRECTION {
        eprintln!(
            "warning: the searched voice's pitch was {0} semitones or more from the recordings'; the correction stops at {0}, \
             so the clone may still sound higher or lower than the speaker. Check that the references are one speaker's ordinary speaking voice.",
            avow_clone::MAX_PITCH_CORRECTION
        );
    }
    Ok(cloned)
}

fn clone(a: CloneArgs) -> anyhow::Result<ExitCode> {
    avow_engine::check_language(&a.lang)?;
    if a.out.exists() && !a.force {
        bail!("{} exists (use --force to replace)", a.out.display());
    }
    let name = match &a.name {
        Some(n) => n.clone(),
        None => a.out.file_stem().map(|s| s.to_string_lossy().into_owned()).context("--out has no file name")?,
    };
    let cloner = open_cloner(&a.search)?;
    let enrollment = check_references(&cloner, &a.audio)?;
    let cloned = run_search(&cloner, &enrollment, &name, &a.lang, a.search.steps)?;
    let bytes = cloned.pack.to_bytes()?;
    write_atomic(&a.out, &bytes, a.force)?;
    println!("wrote voice pack {} (sha256 {})", a.out.display(), sha256_hex(&bytes));
    println!("it speaks only once a consent record for it is signed: see `avow consent draft --pack {}`", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs `avow enroll`.
pub fn run_enroll(a: EnrollArgs) -> anyhow::Result<ExitCode> {
    for p in &a.purpose {
        if p != "*" && Purpose::parse(p).is_none() {
            bail!("unknown purpose `{p}`");
        }
    }
    let statement_json = std::fs::read_to_string(&a.statement_text)
        .with_context(|| format!("cannot read {}", a.statement_text.display()))?;
    let statement = SpokenStatement::from_json(&statement_json).with_context(|| format!("{}", a.statement_text.display()))?;
    if normalize_name(&statement.name) != normalize_name(&a.name) {
        bail!("the statement was written for `{}`, not `{}`", statement.name, a.name);
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let file_stem = a.name.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect::<String>();
    let pack_path = a.out.join(format!("{file_stem}.voicepack"));
    let draft_path = a.out.join(format!("{file_stem}.consent-draft.json"));
    let report_path = a.out.join("enrollment.json");
    for p in [&pack_path, &draft_path, &report_path] {
        if p.exists() && !a.force {
            bail!("{} exists (use --force to replace)", p.display());
        }
    }

    let cloner = open_cloner(&a.search)?;
    let enrollment = check_references(&cloner, &a.audio)?;
    let spoken = match check_spoken_consent(&a.statement, &statement, &enrollment.centroid, cloner.encoder(), cloner.transcriber()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("avow: enrollment refused: {e}");
            return Ok(ExitCode::from(EXIT_CONSENT_NOT_SHOWN));
        }
    };
    eprintln!(
        "consent statement: said (word error rate {:.0}%), same speaker (similarity {:.2})",
        100.0 * spoken.statement.wer,
        spoken.speaker_cosine
    );
    let lang = a.language.first().map(String::as_str).filter(|l| *l != "*").unwrap_or("en-us");
    let voice_lang = if avow_engine::check_language(lang).is_ok() { lang } else { "en-us" };
    let cloned = run_search(&cloner, &enrollment, &a.name, voice_lang, a.search.steps)?;
    let pack = cloned.pack.to_bytes()?;

    let record_id = avow_consent::new_record_id();
    let now = Timestamp::now();
    let record = ConsentStatement {
        format: CONSENT_FORMAT.into(),
        record_id: record_id.clone(),
        subject: Subject { name: a.name.clone(), public_key: None },
        voice_pack: VoicePackRef { sha256: sha256_hex(&pack), name: a.name.clone() },
        grantee: "anyone".into(),
        purposes: a.purpose.clone(),
        languages: a.language.clone(),
        not_before: now.to_string(),
        not_after: now.plus(i64::from(a.valid_days) * 86_400).to_string(),
        issued_at: now.to_string(),
        evidence: Evidence {
            reference_recordings: a.audio.iter().map(|p| hash_file(p)).collect::<anyhow::Result<_>>()?,
            consent_recording: Some(hash_file(&a.statement)?),
            statement_text: statement.text.clone(),
        },
        watermark_fingerprint: default_fingerprint(&record_id),
    };
    record.validate().context("the draft would not be a valid record")?;
    let report = serde_json::json!({
        "name": a.name,
        "speech_seconds": enrollment.speech_secs,
        "reference_agreement": enrollment.agreement,
        "statement": spoken.statement,
        "statement_speaker_similarity": spoken.speaker_cosine,
        "base_voice": cloned.base_voice,
        "base_voice_similarity": cloned.base_scores,
        "speaker_f0_median_hz": cloned.speaker_f0_hz,
        "pitch_shift_semitones": cloned.pitch_shift_semitones,
        "intelligibility_kept_offset_scale": cloned.guard_kept.offset_scale,
        "intelligibility_guard": cloned.guard.iter().map(|c| serde_json::json!({
            "offset_scale": c.offset_scale,
            "pitch_shift_semitones": c.pitch_shift,
            "word_errors": c.word_errors,
            "words": c.words,
        })).collect::<Vec<_>>(),
        "search": cloned.history.iter().map(|r| serde_json::json!({"step": r.step, "similarity": r.cosine, "f0_error_octaves": r.f0_error})).collect::<Vec<_>>(),
        "pack_sha256": record.voice_pack.sha256,
        "record_id": record_id,
    });
    write_atomic(&pack_path, &pack, a.force)?;
    write_atomic(&draft_path, Envelope::new(CONSENT_PAYLOAD_TYPE, record.to_payload()).to_json().as_bytes(), a.force)?;
    write_atomic(&report_path, serde_json::to_string_pretty(&report)?.as_bytes(), a.force)?;
    println!("enrolled {}:", a.name);
    println!("  voice pack     {}", pack_path.display());
    println!("  consent draft  {} (unsigned)", draft_path.display());
    println!("  report         {}", report_path.display());
    println!("next: the issuer signs the draft: avow consent sign {} --key ISSUER.key", draft_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Exit code when the spoken consent was not shown (statement not said, or
/// said by someone else): distinct from bad arguments (1) and from the
/// consent gate's codes (10–19).
pub const EXIT_CONSENT_NOT_SHOWN: u8 = 20;

fn normalize_name(n: &str) -> String {
    n.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

