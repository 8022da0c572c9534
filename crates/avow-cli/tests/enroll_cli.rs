//! `avow enroll` through the real binary: the spoken-consent check refuses a
//! statement with the wrong challenge words and a statement in another voice
//! (exit 20, nothing written), and a consenting speaker gets a voice pack, an
//! unsigned consent draft whose evidence names the recordings, and a report;
//! the pack does not speak until the draft is signed.
//!
//! The "speakers" are stock voices reading text through `avow say`, so the
//! test needs only the model cache (Kokoro, GE2E, Whisper); it skips when the
//! cache is absent unless `AVOW_REQUIRE_MODELS=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use avow_asr::statement::ConsentStatement;

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

fn avow(cache: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(args)
        .env("AVOW_CACHE_DIR", cache)
        .env("AVOW_LEDGER", dir.join("ledger.jsonl"))
        .output()
        .unwrap()
}

const NAME: &str = "Ada Lovelace";

fn statement(words: &[&str]) -> ConsentStatement {
    ConsentStatement::with_challenge(NAME, words.iter().map(|w| w.to_string()).collect()).unwrap()
}

fn right() -> ConsentStatement {
    statement(&["river", "candle", "tiger", "orange", "violin"])
}

/// Recordings made once for all tests: references and statements.
struct Material {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    cache: PathBuf,
}

fn material() -> Option<&'static Material> {
    static M: OnceLock<Option<Material>> = OnceLock::new();
    M.get_or_init(|| {
        let cache = cache_dir()?;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let say = |voice: &str, text: &str, file: &str| {
            let o = avow(&cache, &dir, &["say", text, "--voice", voice, "--out", dir.join(file).to_str().unwrap()]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        say("jf_alpha", "The old lighthouse keeper counted every ship that passed the rocky point, then wrote their names in a worn blue notebook.", "ref1.wav");
        say("jf_alpha", "In the spring we planted beans and tomatoes behind the house, and by August the garden was taller than the fence.", "ref2.wav");
        say("jf_alpha", &right().text, "statement-right.wav");
        say("jf_alpha", &statement(&["apple", "bridge", "camel", "doctor", "eagle"]).text, "statement-wrong-words.wav");
        say("jm_kumo", &right().text, "statement-other-voice.wav");
        std::fs::write(dir.join("statement.json"), right().to_json()).unwrap();
        Some(Material { _dir: tmp, dir, cache })
    })
    .as_ref()
}

fn enroll(m: &Material, statement_rec: &str, out: &Path) -> Output {
    avow(
        &m.cache,
        &m.dir,
        &[
            "enroll",
            "--name",
            NAME,
            "--audio",
            m.dir.join("ref1.wav").to_str().unwrap(),
            m.dir.join("ref2.wav").to_str().unwrap(),
            "--statement",
            m.dir.join(statement_rec).to_str().unwrap(),
            "--statement-text",
            m.dir.join("statement.json").to_str().unwrap(),
            "--purpose",
            "aac,dubbing",
            "--language",
            "en",
            "--steps",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    )
}

fn assert_refused(o: &Output, reason: &str, out: &Path) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(20), "expected refusal (exit 20): {stderr}");
    assert!(stderr.contains(reason), "refusal should say `{reason}`: {stderr}");
    let written = std::fs::read_dir(out).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "a refused enrollment must not write anything");
}

#[test]
fn enroll_refuses_a_statement_with_the_wrong_challenge_words() {
    let Some(m) = material() else { return };
    let out = m.dir.join("out-wrong-words");
    assert_refused(&enroll(m, "statement-wrong-words.wav", &out), "does not say the statement", &out);
}

#[test]
fn enroll_refuses_a_statement_read_by_another_speaker() {
    let Some(m) = material() else { return };
    let out = m.dir.join("out-other-voice");
    assert_refused(&enroll(m, "statement-other-voice.wav", &out), "does not come from the speaker", &out);
}

#[test]
fn enroll_writes_a_pack_and_a_draft_that_must_be_signed_before_it_speaks() {
    let Some(m) = material() else { return };
    let out = m.dir.join("out-ok");
    let o = enroll(m, "statement-right.wav", &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pack = out.join("Ada_Lovelace.voicepack");
    let draft = out.join("Ada_Lovelace.consent-draft.json");
    let pack_bytes = std::fs::read(&pack).unwrap();
    let data = avow_voice::VoicePackData::from_bytes(&pack_bytes).unwrap();
    assert_eq!(data.meta.name, NAME);
    let (_, record) = avow_consent::parse_record(&std::fs::read(&draft).unwrap()).unwrap();
    assert_eq!(record.voice_pack.sha256, avow_consent::sha256_hex(&pack_bytes), "the draft must cover the pack's exact bytes");
    assert_eq!(record.evidence.statement_text, right().text);
    assert_eq!(record.evidence.reference_recordings.len(), 2);
    let statement_hash = avow_consent::sha256_hex(&std::fs::read(m.dir.join("statement-right.wav")).unwrap());
    assert_eq!(record.evidence.consent_recording.as_ref().map(|h| h.sha256.as_str()), Some(statement_hash.as_str()));
    assert_eq!(record.purposes, vec!["aac".to_string(), "dubbing".to_string()]);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("enrollment.json")).unwrap()).unwrap();
    assert!(report["statement_speaker_similarity"].as_f64().unwrap() >= avow_speaker::calibration::CONSENT_THRESHOLD as f64);
    // The pitch the one-step search left over is stored in the pack (so the
    // consent hash covers it), reported, and within the correction's clamp.
    let shift = report["pitch_shift_semitones"].as_f64().unwrap() as f32;
    let stored = avow_kokoro::StyleAdapter::from_tensors(&data.adapters).unwrap().pitch_shift();
    assert_eq!(stored, shift, "the pack must carry the reported shift");
    assert!(shift.abs() <= avow_clone::MAX_PITCH_CORRECTION, "{shift}");
    // Whisper judged the clone on the guard sentences (the odd training
    // sentences) and the kept voice's check is among those reported.
    let guard = report["intelligibility_guard"].as_array().unwrap();
    let guard_words: usize = avow_clone::sentences::TRAINING_EN.iter().skip(1).step_by(2).map(|s| s.split_whitespace().count()).sum();
    assert!(!guard.is_empty());
    assert!(guard.iter().all(|c| c["words"].as_u64() == Some(guard_words as u64)), "{guard:?}");
    assert_eq!(guard[0]["offset_scale"].as_f64(), Some(1.0), "the searched style is judged first");
    let kept = report["intelligibility_kept_offset_scale"].as_f64().unwrap();
    assert!(guard.iter().any(|c| c["offset_scale"].as_f64() == Some(kept)));

    // Unsigned, the draft opens nothing.
    let wav = m.dir.join("clone.wav");
    let o = avow(
        &m.cache,
        &m.dir,
        &["say", "Hello.", "--voice", pack.to_str().unwrap(), "--consent", draft.to_str().unwrap(), "--purpose", "aac", "--out", wav.to_str().unwrap()],
    );
    assert!(!o.status.success(), "an unsigned draft must not unlock the pack");
    assert!(!wav.exists());

    // Enrolling again into the same directory does not overwrite without --force.
    let again = enroll(m, "statement-right.wav", &out);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
}
