//! The consent gate and the mark through `avow say`: every case of the
//! refusal matrix (crates/avow-consent/tests/support/gate_matrix.rs) exits
//! with its consent exit code and message, writes no output file and no
//! ledger entry; the good record's WAV file and `--out -` stream carry the
//! record's watermark payload (read back by `avow detect` too), and split
//! exactly into the pieces the ledger holds, one entry per synthesized piece,
//! which `avow audit verify` accepts.
//!
//! Needs the converted weights in the model cache (`avow models fetch`); skips
//! with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

#[path = "../../avow-consent/tests/support/gate_matrix.rs"]
mod gate_matrix;
#[path = "support/ledger_audio.rs"]
mod ledger_audio;

use std::path::Path;
use std::process::{Command, Output};

use gate_matrix::{GateMatrix, LANGUAGE, PURPOSE};

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

/// `avow` with the matrix's trust and revocation directories and its own ledger.
fn avow(m: &GateMatrix, cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(args)
        .env("AVOW_CACHE_DIR", cache)
        .env("AVOW_LEDGER", m.path("ledger.jsonl"))
        .env_remove("AVOW_REVOCATION_DIR")
        .env_remove("AVOW_TRUST_DIR")
        .output()
        .unwrap()
}

fn say_args<'a>(m: &'a GateMatrix, pack: &'a Path, record: Option<&'a Path>, out: &'a str, text: &'a str) -> Vec<&'a str> {
    let mut args = vec!["say", text, "--voice", pack.to_str().unwrap()];
    if let Some(record) = record {
        args.extend(["--consent", record.to_str().unwrap()]);
    }
    args.extend(["--purpose", PURPOSE, "--lang", LANGUAGE, "--trust", m.trust.to_str().unwrap(), "--revoked", m.revocations.to_str().unwrap()]);
    args.extend(["--out", out]);
    args
}

fn ledger_lines(m: &GateMatrix) -> usize {
    std::fs::read_to_string(m.path("ledger.jsonl")).map(|s| s.lines().count()).unwrap_or(0)
}

fn detected_payload(samples: &[f32]) -> Option<u32> {
    let d = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(samples, 24_000).unwrap();
    d.detected.then_some(d.payload).flatten()
}

#[test]
fn say_refuses_every_matrix_case_and_marks_and_ledgers_the_accepted_voice() {
    let Some(cache) = cache_dir() else { return };
    let m = GateMatrix::new(&std::fs::read(cache.join("voices/jf_alpha.voicepack")).unwrap());
    let out = m.path("out.wav");
    let out_arg = out.to_str().unwrap();

    for case in m.refusals() {
        let o = avow(&m, &cache, &say_args(&m, &case.pack, Some(&case.record), out_arg, "Hello."));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(i32::from(case.exit_code)), "{}: {stderr}", case.name);
        assert!(stderr.contains("consent refused") && stderr.contains(case.message), "{}: stderr lacks `{}`: {stderr}", case.name, case.message);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", case.name);
        assert!(!out.exists(), "{}: left an output file", case.name);
        assert!(o.stdout.is_empty(), "{}: wrote to stdout", case.name);
    }
    // A pack given with no record at all.
    let o = avow(&m, &cache, &say_args(&m, &m.pack, None, out_arg, "Hello."));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("--consent RECORD"), "{stderr}");
    assert!(!out.exists());
    assert_eq!(ledger_lines(&m), 0, "refusals must not reach the ledger");
    let leftovers: Vec<_> =
        std::fs::read_dir(m.dir.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with(".avow-")).collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");

    // Accepted: a WAV file, about 5 s, long enough for the payload to decode.
    let text = "The command line speaks for the test. Every sample it writes carries the consent record's mark.";
    let o = avow(&m, &cache, &say_args(&m, &m.pack, Some(&m.record), out_arg, text));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let samples = avow_audio::read_audio(&out).unwrap().to_mono();
    assert_eq!(detected_payload(&samples), Some(m.payload), "the WAV file lacks the record's payload");
    let detect = avow(&m, &cache, &["detect", "--json", out_arg]);
    assert!(detect.status.success(), "avow detect: {}", String::from_utf8_lossy(&detect.stderr));
    let verdict: serde_json::Value = serde_json::from_slice(&detect.stdout).unwrap();
    assert_eq!(verdict["payload"], gate_matrix::FINGERPRINT, "{verdict}");
    // The file is written sentence by sentence: one entry per sentence,
    // and together they hash exactly the samples in the file.
    let after_file = ledger_lines(&m);
    assert_eq!(after_file, 2, "two sentences in the file, {after_file} ledger entries");
    let hashes: Vec<String> = ledger_audio::entries_from(&m.path("ledger.jsonl"), 0).into_iter().map(|e| e.2).collect();
    ledger_audio::pieces_covering(ledger_audio::wav_data(&std::fs::read(&out).unwrap()), &hashes).unwrap();

    // Accepted: raw PCM on standard output.
    let o = avow(&m, &cache, &say_args(&m, &m.pack, Some(&m.record), "-", text));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!o.stdout.is_empty() && o.stdout.len().is_multiple_of(2));
    let samples: Vec<f32> = o.stdout.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect();
    assert_eq!(detected_payload(&samples), Some(m.payload), "the stdout stream lacks the record's payload");
    // Streamed piece by piece: the pieces on stdout are exactly the ledgered ones.
    let hashes: Vec<String> = ledger_audio::entries_from(&m.path("ledger.jsonl"), after_file).into_iter().map(|e| e.2).collect();
    assert!(hashes.len() >= 2, "two sentences streamed with {} ledger entries", hashes.len());
    ledger_audio::pieces_covering(&o.stdout, &hashes).unwrap();

    for (record_id, watermark, _) in ledger_audio::entries_from(&m.path("ledger.jsonl"), 0) {
        assert_eq!((record_id.as_str(), watermark.as_str()), (m.record_id.as_str(), gate_matrix::FINGERPRINT));
    }
    let verify = avow(&m, &cache, &["audit", "verify", m.path("ledger.jsonl").to_str().unwrap()]);
    assert!(verify.status.success(), "{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    assert!(String::from_utf8_lossy(&verify.stdout).contains(&format!("{} entries", ledger_lines(&m))), "{}", String::from_utf8_lossy(&verify.stdout));
}
