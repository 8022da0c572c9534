//! A C program (`tests/c/speak.c`) compiled with `cc` against the built
//! shared library and `include/avow.h`, and run on the real model: its
//! buffer and its callback stream carry the stock voice's watermark, the
//! ledger has one verifying entry per synthesis, and the consent gate refuses
//! a malformed record and every case of the refusal matrix
//! (crates/avow-consent/tests/support/gate_matrix.rs: a pack without a
//! record, an expired, not yet valid, revoked, out-of-scope or wrongly signed
//! record, a trusted signature over other content, one byte changed in the
//! pack or in the record), each with its own status code.
//!
//! Needs the converted weights in the model cache (`avow models fetch`); skips
//! with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../avow-consent/tests/support/gate_matrix.rs"]
mod gate_matrix;

use gate_matrix::{GateMatrix, LANGUAGE, PURPOSE};

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

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

/// The C status of a consent refusal with this `avow consent verify` exit code.
fn status_name(exit_code: u8) -> &'static str {
    match exit_code {
        1 => "AVOW_STATUS_IO",
        10 => "AVOW_STATUS_CONSENT_MALFORMED",
        12 => "AVOW_STATUS_CONSENT_BAD_SIGNATURE",
        13 => "AVOW_STATUS_CONSENT_UNTRUSTED_SIGNER",
        15 => "AVOW_STATUS_CONSENT_NOT_YET_VALID",
        16 => "AVOW_STATUS_CONSENT_EXPIRED",
        17 => "AVOW_STATUS_CONSENT_REVOKED",
        18 => "AVOW_STATUS_CONSENT_OUT_OF_SCOPE",
        19 => "AVOW_STATUS_CONSENT_HASH_MISMATCH",
        other => panic!("no C status for exit code {other}"),
    }
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

    // The refusal matrix every surface is tested with, plus the stock key
    // (for the stock voice) in its trust directory.
    let pack = std::fs::read(cache.join("voices/jf_alpha.voicepack")).unwrap();
    let m = GateMatrix::new(&pack);
    let (trust, revoked) = (m.trust.clone(), m.revocations.clone());
    std::fs::copy(crate_dir().join("../../consent/trust/avow-stock.pub"), trust.join("avow-stock.pub")).unwrap();
    let malformed = d.join("malformed.json");
    std::fs::write(&malformed, "{ this is not a consent record").unwrap();

    let p = |x: &Path| x.to_str().unwrap().to_string();
    // (expected status, purpose, language, pack, record, part of the message)
    let mut cases: Vec<(&str, &str, &str, String, String, &str)> = vec![
        ("AVOW_STATUS_OK", PURPOSE, LANGUAGE, p(&m.pack), p(&m.record), "-"),
        ("AVOW_STATUS_CONSENT_MALFORMED", PURPOSE, LANGUAGE, p(&m.pack), p(&malformed), "malformed"),
    ];
    for case in m.refusals() {
        cases.push((status_name(case.exit_code), PURPOSE, LANGUAGE, p(&case.pack), p(&case.record), case.message));
    }
    let write = |name: &str, text: String| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases_text: String =
        cases.iter().map(|(s, pu, l, pa, r, msg)| format!("{s}\t{pu}\t{l}\t{pa}\t{r}\t{msg}\n")).collect();
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
    assert!(stdout.contains(&format!("case 1 AVOW_STATUS_OK watermark {}", gate_matrix::FINGERPRINT)), "the accepted record's fingerprint: {stdout}");

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
