//! `avow bank train` through the real binary: a pack whose record does not
//! verify is refused before any training (consent exit code, nothing
//! written); a consented pack is adapted to a folder of recordings with
//! transcripts, producing a pack that carries the speaker adapter, an
//! unsigned draft covering exactly that pack (with the recordings as
//! evidence), a report and a checkpoint; training resumes from the
//! checkpoint; and the adapted pack speaks through the engine once its
//! draft is signed. A pack that names its enrolled speaker refuses
//! recordings of somebody else.
//!
//! The "speaker" is a stock voice reading text through `avow say`, so the
//! test needs only the model cache; it skips when the cache is absent unless
//! `AVOW_REQUIRE_MODELS=1`.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

struct Material {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    cache: PathBuf,
}

impl Material {
    fn avow(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_avow"))
            .args(args)
            .current_dir(&self.dir)
            .env("AVOW_CACHE_DIR", &self.cache)
            .env("AVOW_LEDGER", self.dir.join("ledger.jsonl"))
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let o = self.avow(args);
        assert!(o.status.success(), "avow {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        o
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes `NAME.voicepack`: English, jf_alpha's style, enrolled speaker `speaker`.
    fn pack(&self, name: &str, speaker: Option<Vec<f32>>) {
        let stock = avow_voice::VoicePackData::from_bytes(&std::fs::read(self.cache.join("voices/jf_alpha.voicepack")).unwrap()).unwrap();
        let pack = avow_voice::VoicePackData {
            meta: avow_voice::VoiceMeta { name: "Test Speaker".into(), language: "en-us".into(), model: stock.meta.model.clone() },
            style: stock.style,
            adapters: Vec::new(),
            speaker,
        };
        std::fs::write(self.p(&format!("{name}.voicepack")), pack.to_bytes().unwrap()).unwrap();
    }

    /// Writes the unsigned record `NAME.consent.json` for `NAME.voicepack`.
    fn consent(&self, name: &str) {
        let (pack, record) = (format!("{name}.voicepack"), format!("{name}.consent.json"));
        self.ok(&[
            "consent", "draft", "--pack", &pack, "--subject-name", "Test Speaker", "--purpose", "aac",
            "--language", "en", "--valid-days", "30", "--reference", "recordings/take0.wav", "--consent-recording", "recordings/take0.wav",
            "--statement", "I, Test Speaker, agree that avow may speak in my voice.", "--out", &record,
        ]);
    }
}

fn encoder(cache: &std::path::Path) -> avow_speaker::SpeakerEncoder {
    let weights = avow_speaker::weights::ensure_weights(cache, &avow_models::PipDownloader::from_env(), false).unwrap();
    avow_speaker::SpeakerEncoder::load(weights).unwrap()
}

const SENTENCES: [&str; 3] = [
    "The old lighthouse keeper counted every ship that passed the rocky point, then wrote their names in a worn blue notebook.",
    "In the spring we planted beans and tomatoes behind the house, and by August the garden was taller than the fence.",
    "Every morning the baker rose before dawn to light the big stone oven at the end of the narrow street.",
];

/// Recordings with transcripts, an English pack made from a stock style, a
/// trusted issuer and the pack's signed record (plus an unsigned one).
fn material() -> Option<&'static Material> {
    static M: OnceLock<Option<Material>> = OnceLock::new();
    M.get_or_init(|| {
        let cache = cache_dir()?;
        let tmp = tempfile::tempdir().unwrap();
        let m = Material { dir: tmp.path().to_path_buf(), cache: cache.clone(), _dir: tmp };
        std::fs::create_dir_all(m.p("recordings")).unwrap();
        std::fs::create_dir_all(m.p("trust")).unwrap();
        for (i, text) in SENTENCES.iter().enumerate() {
            let wav = format!("recordings/take{i}.wav");
            m.ok(&["say", text, "--voice", "jf_alpha", "--out", &wav]);
            std::fs::write(m.p(&format!("recordings/take{i}.txt")), text).unwrap();
        }
        // The pack names its speaker as `avow enroll` does: the embedding of
        // the recordings it was made from (here, the banking recordings).
        let takes: Vec<PathBuf> = (0..SENTENCES.len()).map(|i| m.p(&format!("recordings/take{i}.wav"))).collect();
        let enrolled = avow_speaker::enrollment::prepare(&takes, &encoder(&cache), &Default::default()).unwrap();
        m.pack("base", Some(enrolled.centroid.as_slice().to_vec()));
        m.ok(&["keys", "new", "--out", "issuer"]);
        std::fs::copy(m.p("issuer.pub"), m.p("trust/issuer.pub")).unwrap();
        m.consent("base");
        std::fs::copy(m.p("base.consent.json"), m.p("base.unsigned.json")).unwrap();
        m.ok(&["consent", "sign", "base.consent.json", "--key", "issuer.key"]);
        Some(m)
    })
    .as_ref()
}

fn bank(m: &Material, consent: &str, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "bank", "train", "--voice", "base.voicepack", "--consent", consent, "--recordings", "recordings", "--trust", "trust",
        "--out", out,
    ];
    args.extend_from_slice(extra);
    m.avow(&args)
}

#[test]
fn banking_refuses_a_pack_whose_record_does_not_verify() {
    let Some(m) = material() else { return };
    let o = bank(m, "base.unsigned.json", "out-refused", &["--steps", "1"]);
    let code = o.status.code().unwrap_or(-1);
    assert!((10..20).contains(&code), "expected a consent exit code, got {code}: {}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("consent refused"));
    assert!(!m.p("out-refused/Test_Speaker.voicepack").exists(), "nothing may be written");
}

#[test]
fn banking_refuses_recordings_of_someone_other_than_the_enrolled_speaker() {
    let Some(m) = material() else { return };
    // A pack enrolled from jm_kumo, properly consented, fed jf_alpha's recordings.
    m.ok(&["say", &format!("{} {}", SENTENCES[0], SENTENCES[1]), "--voice", "jm_kumo", "--out", "kumo.wav"]);
    let kumo = avow_speaker::enrollment::prepare_file(&m.p("kumo.wav"), &encoder(&m.cache), &Default::default()).unwrap();
    m.pack("kumo", Some(kumo.embedding.as_slice().to_vec()));
    m.consent("kumo");
    m.ok(&["consent", "sign", "kumo.consent.json", "--key", "issuer.key"]);
    let o = m.avow(&[
        "bank", "train", "--voice", "kumo.voicepack", "--consent", "kumo.consent.json", "--recordings", "recordings", "--trust", "trust",
        "--out", "out-kumo", "--steps", "1",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(20), "expected the consent-not-shown exit code: {stderr}");
    assert!(stderr.contains("do not sound like the speaker"), "{stderr}");
    assert!(!m.p("out-kumo/Test_Speaker.voicepack").exists(), "nothing may be written");
    assert!(!m.p("out-kumo/bank.checkpoint").exists(), "no training may start");
}

#[test]
fn banking_refuses_an_empty_folder_with_a_clear_error() {
    let Some(m) = material() else { return };
    std::fs::create_dir_all(m.p("empty")).unwrap();
    let o = m.avow(&[
        "bank", "train", "--voice", "base.voicepack", "--consent", "base.consent.json", "--recordings", "empty", "--trust", "trust",
        "--out", "out-empty",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no WAV or FLAC"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn banking_writes_an_adapted_pack_and_a_draft_that_unlocks_it_once_signed() {
    let Some(m) = material() else { return };
    let o = bank(m, "base.consent.json", "out", &["--steps", "2", "--held-out", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("recordings match the enrolled speaker"));
    assert!(stderr.contains("intelligibility: Whisper misheard"), "the guard reports its verdict: {stderr}");
    let pack_bytes = std::fs::read(m.p("out/Test_Speaker.voicepack")).unwrap();
    let pack = avow_voice::VoicePackData::from_bytes(&pack_bytes).unwrap();
    let base = avow_voice::VoicePackData::from_bytes(&std::fs::read(m.p("base.voicepack")).unwrap()).unwrap();
    assert_eq!(pack.speaker, base.speaker, "the banked pack keeps naming its speaker");
    assert!(!pack.adapters.is_empty(), "the banked pack must carry an adapter");
    assert!(pack.adapters.iter().all(|(name, _, _)| name.starts_with("adapter.")));
    assert!(pack.adapters.iter().any(|(_, _, v)| v.iter().any(|x| *x != 0.0)), "training must move the adapter");
    let (_, draft) = avow_consent::parse_record(&std::fs::read(m.p("out/Test_Speaker.consent-draft.json")).unwrap()).unwrap();
    assert_eq!(draft.voice_pack.sha256, avow_consent::sha256_hex(&pack_bytes));
    assert_eq!(draft.purposes, vec!["aac".to_string()]);
    assert_eq!(draft.evidence.reference_recordings.len(), 1 + SENTENCES.len(), "the banking recordings are evidence");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(m.p("out/bank.json")).unwrap()).unwrap();
    assert_eq!(report["held_out"], 1);
    assert!(report["start_validation_loss"].as_f64().is_some());
    // The intelligibility guard judged the adapted voice on every guard
    // sentence, and the pack holds the adapter at the scale it kept.
    let guard = report["intelligibility_guard"].as_array().expect("an English pack is judged");
    let words: usize = avow_bank::guard::GUARD_TEXTS_EN.iter().map(|t| t.split_whitespace().count()).sum();
    assert_eq!(guard[0]["adapter_scale"].as_f64(), Some(1.0));
    assert_eq!(guard[0]["words"].as_u64(), Some(words as u64));
    let kept = report["intelligibility_kept_adapter_scale"].as_f64().unwrap();
    assert!(guard.iter().any(|c| c["adapter_scale"].as_f64() == Some(kept)));
    assert!(m.p("out/bank.checkpoint").exists());

    // Unsigned, the new draft does not unlock the new pack.
    let say = |record: &str, wav: &str| {
        m.avow(&["say", "Hello there.", "--voice", "out/Test_Speaker.voicepack", "--consent", record, "--purpose", "aac", "--trust", "trust", "--out", wav])
    };
    assert!(!say("out/Test_Speaker.consent-draft.json", "unsigned.wav").status.success());
    assert!(!m.p("unsigned.wav").exists());
    // The old record does not cover the new bytes either.
    assert!(!say("base.consent.json", "old.wav").status.success());
    // Signed, it speaks through the engine with the adapter applied.
    m.ok(&["consent", "sign", "out/Test_Speaker.consent-draft.json", "--key", "issuer.key"]);
    let o = say("out/Test_Speaker.consent-draft.json", "banked.wav");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(avow_audio::read_audio(m.p("banked.wav")).unwrap().frames() > 4_000);

    // Resuming continues after the checkpoint's step instead of starting over.
    let o = bank(m, "base.consent.json", "out", &["--steps", "3", "--held-out", "1", "--resume", "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(m.p("out/bank.json")).unwrap()).unwrap();
    let steps: Vec<u64> = report["history"].as_array().unwrap().iter().map(|h| h["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, vec![3], "a resumed run trains only the remaining steps");
}
