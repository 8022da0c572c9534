//! A C program (`tests/c/speak.c`) compiled with `cc` against the built
//! shared library and `include/avow.h`, and run on the real model: its
//! buffer and its callback stream carry the stock voice's watermark, the
//! ledger has one verifying entry per synthesis, and the consent gate refuses
//! a pack without a record, a malformed, tampered, expired, not yet valid,
//! revoked, out-of-scope or wrongly signed record, and a changed pack, each
//! with its own status code.
//!
//! Needs the converted weights in the model cache (`avow models fetch`); skips
//! with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use avow_consent::{dsse, statement, ConsentStatement, Envelope, Evidence, RevocationStatement, SecretKey, Subject, VoicePackRef};

fn cache_dir() -> Option<PathBuf> {
    // The same resolution the engine uses (AVOW_CACHE_DIR, XDG, HOME).
    let dir = avow_models::ModelCache::default_dir().ok()?;
    if dir.join("kokoro-82m-v1.0.safetensors").exists() {
        return Some(dir);
    }
    assert!(std::env::var_os("AVOW_REQUIRE_MODELS").is_none(), "AVOW_REQUIRE_MODELS is set but {} has no weights", dir.display());
    eprintln!("skipping: no converted weights in {} (run `avow models fetch`)", dir.display());
    None
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared library cargo built for this test run: integration tests link
/// the library target, which cargo compiles with all its crate types into the
/// same `deps` directory as this test binary.
fn shared_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let candidates = [deps.join("libavow_capi.so"), deps.parent().unwrap().join("libavow_capi.so")];
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| panic!("libavow_capi.so not found next to {}; build it with `cargo build -p avow-capi`", exe.display()))
}

fn compile_c_program(out: &Path) -> PathBuf {
    let lib = shared_library();
    let lib_dir = lib.parent().unwrap();
    let exe = out.join("speak");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o"])
        .arg(&exe)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("tests/c/speak.c"))
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-pthread")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(o.status.success(), "compiling speak.c failed:\n{}", String::from_utf8_lossy(&o.stderr));
    exe
}

fn stock_payload(voice: &str) -> u32 {
    let record = std::fs::read(crate_dir().join(format!("../../voices/{voice}.consent.json"))).unwrap();
    let (_, statement) = avow_consent::parse_record(&record).unwrap();
    u32::from_str_radix(&statement.watermark_fingerprint, 16).unwrap()
}

fn statement_for(pack: &[u8], record_id: &str) -> ConsentStatement {
    ConsentStatement {
        format: statement::CONSENT_FORMAT.into(),
        record_id: record_id.into(),
        subject: Subject { name: "C ABI test subject".into(), public_key: None },
        voice_pack: VoicePackRef { sha256: avow_consent::sha256_hex(pack), name: "jf_alpha".into() },
        grantee: "anyone".into(),
        purposes: vec!["accessibility".into()],
        languages: vec!["en".into()],
        not_before: "2025-01-01T00:00:00Z".into(),
        not_after: "2125-01-01T00:00:00Z".into(),
        issued_at: "2025-01-01T00:00:00Z".into(),
        evidence: Evidence { reference_recordings: vec![], consent_recording: None, statement_text: "test record for the C ABI".into() },
        watermark_fingerprint: "c0ffee42".into(),
    }
}

fn sign(st: &ConsentStatement, key: &SecretKey) -> String {
    let mut e = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, st.to_payload());
    e.sign(key).unwrap();
    e.to_json()
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len() % 4, 0, "{} is not whole floats", path.display());
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn detected_payload(samples: &[f32]) -> Option<u32> {
    let detection = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(samples, 24_000).unwrap();
    detection.detected.then_some(detection.payload).flatten()
}

#[test]
fn c_program_speaks_streams_cancels_and_is_refused_by_the_consent_gate() {
    let Some(cache) = cache_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let exe = compile_c_program(d);

    // Trust: the stock key (for the stock voice) and a test issuer.
    let trust = d.join("trust");
    let revoked = d.join("revoked");
    std::fs::create_dir_all(&trust).unwrap();
    std::fs::create_dir_all(&revoked).unwrap();
    std::fs::copy(crate_dir().join("../../consent/trust/avow-stock.pub"), trust.join("avow-stock.pub")).unwrap();
    let issuer = SecretKey::from_seed(&[42; 32]);
    std::fs::write(trust.join("test-issuer.pub"), issuer.public().to_file_text("C ABI test issuer")).unwrap();
    let stranger = SecretKey::from_seed(&[43; 32]);

    let pack = std::fs::read(cache.join("voices/jf_alpha.voicepack")).unwrap();
    let pack_path = d.join("jf_alpha.voicepack");
    std::fs::write(&pack_path, &pack).unwrap();
    let mut changed = pack.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    let changed_path = d.join("changed.voicepack");
    std::fs::write(&changed_path, &changed).unwrap();

    let write = |name: &str, text: String| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let good = write("good.json", sign(&statement_for(&pack, "capi-good"), &issuer));
    let expired = write("expired.json", {
        let mut st = statement_for(&pack, "capi-expired");
        st.not_after = "2025-06-01T00:00:00Z".into();
        sign(&st, &issuer)
    });
    let future = write("future.json", {
        let mut st = statement_for(&pack, "capi-future");
        st.not_before = "2124-01-01T00:00:00Z".into();
        sign(&st, &issuer)
    });
    let dubbing_only = write("dubbing.json", {
        let mut st = statement_for(&pack, "capi-dubbing");
        st.purposes = vec!["dubbing".into()];
        sign(&st, &issuer)
    });
    let french_only = write("french.json", {
        let mut st = statement_for(&pack, "capi-french");
        st.languages = vec!["fr".into()];
        sign(&st, &issuer)
    });
    let untrusted = write("untrusted.json", sign(&statement_for(&pack, "capi-untrusted"), &stranger));
    let revoked_record = write("revoked.json", sign(&statement_for(&pack, "capi-revoked"), &issuer));
    {
        let rev = RevocationStatement {
            format: statement::REVOCATION_FORMAT.into(),
            record_id: "capi-revoked".into(),
            revoked_at: "2025-02-01T00:00:00Z".into(),
            reason: "the subject withdrew consent".into(),
        };
        let mut e = Envelope::new(dsse::REVOCATION_PAYLOAD_TYPE, rev.to_payload());
        e.sign(&issuer).unwrap();
        std::fs::write(revoked.join("capi-revoked.json"), e.to_json()).unwrap();
    }
    // The good record's payload with one byte changed and its old signature kept.
    let tampered = write("tampered.json", {
        let st = statement_for(&pack, "capi-good");
        let mut signed = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, st.to_payload());
        signed.sign(&issuer).unwrap();
        let mut payload = st.to_payload();
        let at = payload.windows(4).position(|w| w == b"test").unwrap();
        payload[at] = b'T';
        let mut forged = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, payload);
        *forged.signatures_mut() = signed.signatures().to_vec();
        forged.to_json()
    });
    let malformed = write("malformed.json", "{ this is not a consent record".into());
    let missing = d.join("no-such-record.json");

    let p = |x: &Path| x.to_str().unwrap().to_string();
    // (expected status, purpose, language, pack, record, part of the message)
    let cases: Vec<(&str, &str, &str, String, String, &str)> = vec![
        ("AVOW_STATUS_OK", "accessibility", "en-us", p(&pack_path), p(&good), "-"),
        ("AVOW_STATUS_IO", "accessibility", "en-us", p(&pack_path), p(&missing), "no-such-record.json"),
        ("AVOW_STATUS_CONSENT_MALFORMED", "accessibility", "en-us", p(&pack_path), p(&malformed), "malformed"),
        ("AVOW_STATUS_CONSENT_BAD_SIGNATURE", "accessibility", "en-us", p(&pack_path), p(&tampered), "bad signature"),
        ("AVOW_STATUS_CONSENT_UNTRUSTED_SIGNER", "accessibility", "en-us", p(&pack_path), p(&untrusted), "untrusted"),
        ("AVOW_STATUS_CONSENT_NOT_YET_VALID", "accessibility", "en-us", p(&pack_path), p(&future), "not yet valid"),
        ("AVOW_STATUS_CONSENT_EXPIRED", "accessibility", "en-us", p(&pack_path), p(&expired), "expired"),
        ("AVOW_STATUS_CONSENT_REVOKED", "accessibility", "en-us", p(&pack_path), p(&revoked_record), "withdrew"),
        ("AVOW_STATUS_CONSENT_OUT_OF_SCOPE", "accessibility", "en-us", p(&pack_path), p(&dubbing_only), "out of scope"),
        ("AVOW_STATUS_CONSENT_OUT_OF_SCOPE", "accessibility", "en-us", p(&pack_path), p(&french_only), "out of scope"),
        ("AVOW_STATUS_CONSENT_HASH_MISMATCH", "accessibility", "en-us", p(&changed_path), p(&good), "hash mismatch"),
    ];
    let cases_text: String =
        cases.iter().map(|(s, pu, l, pa, r, m)| format!("{s}\t{pu}\t{l}\t{pa}\t{r}\t{m}\n")).collect();
    let cases_path = write("cases.tsv", cases_text);

    let ledger = d.join("ledger.jsonl");
    let out = Command::new(&exe)
        .args([&cache, &trust, &revoked, &ledger, &d.to_path_buf(), &cases_path])
        .env_remove("AVOW_TRUST_DIR")
        .env_remove("AVOW_REVOCATION_DIR")
        .env_remove("AVOW_LEDGER")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the C program failed ({:?}):\n{stderr}\n{stdout}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let value = |key: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no `{key}` in:\n{stdout}"))
            .to_string()
    };
    assert_eq!(value("cases"), cases.len().to_string(), "every consent case ran");
    assert!(stdout.contains("watermark c0ffee42"), "the accepted record's fingerprint: {stdout}");

    // The buffer and the stream carry the stock voice's watermark.
    let payload = stock_payload("jf_alpha");
    assert_eq!(u32::from_str_radix(&value("voice_watermark"), 16).unwrap(), payload);
    let buffer = read_f32(&d.join("buffer.f32"));
    assert_eq!(buffer.len().to_string(), value("buffer_samples"));
    assert_eq!(detected_payload(&buffer), Some(payload), "watermark in the C buffer");
    let stream = read_f32(&d.join("stream.f32"));
    assert_eq!(detected_payload(&stream), Some(payload), "watermark in the C callback stream");

    // One ledger entry per synthesis: the buffer, each streamed piece, the
    // one piece before the cancel, and the two threads; none for refusals.
    let pieces: u64 = value("stream_pieces").parse().unwrap();
    let report = avow_consent::ledger::verify(&ledger).unwrap();
    assert_eq!(report.entries, 1 + pieces + 1 + 2, "ledger entries");
}
