//! `avow watermark embed` and `avow detect` through the real binary.

use std::path::Path;
use std::process::Command;

use avow_watermark::audio::{read_audio, write_wav_channels, WavFormat};

fn avow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_avow"))
}

/// Speech-like test audio: harmonic syllables with pauses.
fn speechlike(rate: u32, secs: f32) -> Vec<f32> {
    let n = (secs * rate as f32) as usize;
    let mut out = vec![0.0f32; n];
    let syl = (0.35 * rate as f32) as usize;
    let gap = (0.1 * rate as f32) as usize;
    let mut t = 0;
    let mut k = 0u32;
    let mut seed = 12345u64;
    while t < n {
        let f0 = 100.0 + 11.0 * (k % 5) as f32;
        let formant = 600.0 + 400.0 * (k % 4) as f32;
        for i in 0..syl.min(n - t) {
            let p = i as f32 / syl as f32;
            let env = (std::f32::consts::PI * p).sin();
            let ph = 2.0 * std::f32::consts::PI * f0 * (1.0 + 0.2 * p) * i as f32 / rate as f32;
            let mut s = 0.0;
            for h in 1..30 {
                let fh = f0 * h as f32;
                if fh > 0.45 * rate as f32 {
                    break;
                }
                s += (h as f32 * ph).sin()
                    * (1.0 / (1.0 + ((fh - formant) / 500.0).powi(2)) + 0.1 / h as f32);
            }
            out[t + i] = 0.1 * env * s;
        }
        // Breath noise under the syllable, as in real speech, so that the
        // spectrum between harmonics is not empty.
        for i in 0..(syl + gap).min(n - t) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            out[t + i] += 0.03 * u;
        }
        t += syl + gap;
        k += 1;
    }
    out
}

fn write(path: &Path, samples: &[f32], rate: u32, channels: u16) {
    write_wav_channels(path, samples, rate, channels, WavFormat::Pcm16).unwrap();
}

#[test]
fn embed_then_detect_round_trip_with_json() {
    let dir = tempfile::Builder::new().prefix("avow-wm-cli-rt-").tempdir().unwrap();
    let input = dir.path().join("in.wav");
    // Stereo 44.1 kHz: the detector must downmix and resample.
    let mono = speechlike(44_100, 5.0);
    let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, 0.8 * s]).collect();
    write(&input, &stereo, 44_100, 2);
    let out = dir.path().join("out.wav");
    let st = avow()
        .args(["watermark", "embed", "--payload", "c0ffee42"])
        .arg(&input)
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let o = avow().arg("detect").arg(&out).arg(&input).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "one file is unmarked: {text}");
    assert!(
        text.contains("WATERMARKED") && text.contains("c0ffee42"),
        "{text}"
    );
    assert!(text.contains("no watermark"), "{text}");

    let o = avow()
        .args(["detect", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["detected"], true);
    assert_eq!(v["payload"], "c0ffee42");
    assert!(v["p_value"].as_f64().unwrap() <= 1e-6);
    assert!(!v["ranges"].as_array().unwrap().is_empty());
    assert_eq!(v["file"], out.display().to_string());
    // The output keeps the input's layout.
    let r = read_audio(&out).unwrap();
    assert_eq!((r.sample_rate, r.channels), (44_100, 2));
}

#[test]
fn unreadable_and_bad_arguments_fail_cleanly() {
    let dir = tempfile::Builder::new().prefix("avow-wm-cli-bad-").tempdir().unwrap();
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"this is not audio").unwrap();
    let o = avow()
        .args(["detect", "--json"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["detected"], false);
    assert!(v["error"].as_str().unwrap().contains("not a WAV"), "{v}");

    let empty = dir.path().join("empty.wav");
    write(&empty, &[], 24_000, 1);
    let o = avow().arg("detect").arg(&empty).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no samples"));

    let input = dir.path().join("in.wav");
    write(&input, &speechlike(24_000, 1.0), 24_000, 1);
    let out = dir.path().join("out.wav");
    for bad in [["--payload", "nothex"], ["--payload", "123456789"]] {
        let o = avow()
            .args(["watermark", "embed"])
            .args(bad)
            .arg(&input)
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("avow: error:"));
        assert!(!out.exists(), "no output file on error");
    }
    let o = avow()
        .args(["watermark", "embed", "--payload", "1", "--key", "abcd"])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
    let o = avow()
        .args(["watermark", "embed", "--payload", "1"])
        .arg(&junk)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
}

#[test]
fn secret_key_marks_are_invisible_to_the_public_detector() {
    let dir = tempfile::Builder::new().prefix("avow-wm-cli-key-").tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write(&input, &speechlike(24_000, 5.0), 24_000, 1);
    let out = dir.path().join("out.wav");
    let key = "00112233445566778899aabbccddeeff";
    let st = avow()
        .args(["watermark", "embed", "--payload", "7", "--key", key])
        .arg(&input)
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let o = avow().arg("detect").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let o = avow()
        .args(["detect", "--key", key])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("00000007"));
}

/// A ledger entry for one synthesis under `record` with watermark `payload`.
fn ledger_entry(record: &str, payload: u32, second: i64) -> avow_consent::ledger::LedgerEntry {
    use avow_consent::{sha256_hex, Purpose, Timestamp};
    avow_consent::ledger::LedgerEntry {
        time: Timestamp(1_795_680_000 + second),
        record_id: record.into(),
        pack_sha256: sha256_hex(b"pack"),
        purpose: Purpose::Dubbing,
        language: "en".into(),
        text_sha256: sha256_hex(format!("text {second}").as_bytes()),
        audio_sha256: sha256_hex(format!("audio {second}").as_bytes()),
        watermark: payload,
    }
}

#[test]
fn detect_traces_a_payload_through_a_verified_ledger_and_refuses_an_edited_one() {
    let dir = tempfile::Builder::new().prefix("avow-wm-cli-ledger-").tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write(&input, &speechlike(24_000, 5.0), 24_000, 1);
    let marked = dir.path().join("marked.wav");
    let st = avow().args(["watermark", "embed", "--payload", "c0ffee42"]).arg(&input).arg(&marked).status().unwrap();
    assert!(st.success());
    let other = dir.path().join("other.wav");
    let st = avow().args(["watermark", "embed", "--payload", "0badf00d"]).arg(&input).arg(&other).status().unwrap();
    assert!(st.success());

    // Two syntheses under record A carry c0ffee42; record B has another payload.
    let ledger = dir.path().join("audit.jsonl");
    let mut l = avow_consent::ledger::Ledger::open(&ledger).unwrap();
    l.append(&ledger_entry("rec-a", 0xc0ff_ee42, 0)).unwrap();
    l.append(&ledger_entry("rec-b", 0x1234_5678, 60)).unwrap();
    l.append(&ledger_entry("rec-a", 0xc0ff_ee42, 3600)).unwrap();
    drop(l);

    let o = avow().arg("detect").arg("--ledger").arg(&ledger).arg(&marked).arg(&other).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("payload c0ffee42") && lines[0].contains("ledger: record rec-a, 2 syntheses from 2026-11-26T08:00:00Z to 2026-11-26T09:00:00Z"), "{text}");
    assert!(lines[1].contains("payload 0badf00d") && lines[1].ends_with("ledger: no synthesis with this payload"), "{text}");

    let o = avow().arg("detect").arg("--json").arg("--ledger").arg(&ledger).arg(&marked).arg(&input).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let v: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(v[0]["ledger"]["record_ids"], serde_json::json!(["rec-a"]));
    assert_eq!(v[0]["ledger"]["syntheses"], 2);
    assert_eq!(v[0]["ledger"]["last"], "2026-11-26T09:00:00Z");
    // Unmarked: no payload, nothing to trace.
    assert_eq!(v[1]["detected"], false);
    assert!(v[1]["ledger"].is_null());
    // Without --ledger the key is absent, as before.
    let o = avow().arg("detect").arg("--json").arg(&marked).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("ledger").is_none());

    // An edited ledger (the first synthesis moved to record B) is refused, not used.
    let body = std::fs::read_to_string(&ledger).unwrap();
    let forged = body.replacen("\"record_id\":\"rec-a\"", "\"record_id\":\"rec-b\"", 1);
    assert_ne!(forged, body);
    std::fs::write(&ledger, forged).unwrap();
    let o = avow().arg("detect").arg("--ledger").arg(&ledger).arg(&marked).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "nothing is reported from a forged ledger");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--ledger") && err.contains("line 2"), "{err}");
    // A missing ledger is an error too.
    let o = avow().arg("detect").arg("--ledger").arg(dir.path().join("none.jsonl")).arg(&marked).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
}
