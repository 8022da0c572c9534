//! The consent gate, the mark and the ledger through `avow serve`, with a
//! real HTTP client (minreq) against the real binary and model:
//!
//! - every case of the refusal matrix (crates/avow-consent/tests/support/gate_matrix.rs)
//!   configured as a voice stops the server at start-up with the consent
//!   exit code and message, before it listens or writes a ledger entry;
//! - the same cases arising while the server runs (files changed on disk,
//!   a revocation written) are answered `403 consent_refused` per request;
//! - the accepted voice's streamed WAV carries the record's payload, is read
//!   by `avow detect` as it was received, and its ledger verifies;
//! - `kill -9` with several requests in flight, round after round on the same
//!   ledger, leaves a ledger that `avow audit verify` accepts (or that reports
//!   exactly one torn final line, which `avow audit recover` moves aside).
//!
//! Needs the converted weights in the model cache (`avow models fetch`); skips
//! with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

#[path = "../../avow-consent/tests/support/gate_matrix.rs"]
mod gate_matrix;
#[path = "support/ledger_audio.rs"]
mod ledger_audio;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gate_matrix::{GateMatrix, LANGUAGE, PURPOSE};

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

/// A running `avow serve` on a free loopback port.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `avow serve` writing to `ledger`; on failure returns its exit
/// code and standard error (and what it printed on standard output).
fn serve(cache: &Path, ledger: &Path, args: &[&str]) -> Result<Served, (Option<i32>, String)> {
    let stderr_path = ledger.with_extension("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("AVOW_CACHE_DIR", cache)
        .env("AVOW_LEDGER", ledger)
        .env_remove("AVOW_TRUST_DIR")
        .env_remove("AVOW_REVOCATION_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    match line.trim().strip_prefix("listening on ") {
        Some(url) => Ok(Served { child, url: url.to_string() }),
        None => {
            let status = child.wait().unwrap();
            Err((status.code(), format!("{line}{}", std::fs::read_to_string(&stderr_path).unwrap_or_default())))
        }
    }
}

fn speech(served: &Served, voice: &str, input: &str, format: &str) -> minreq::Response {
    let body = serde_json::json!({"model": "tts-1", "input": input, "voice": voice, "response_format": format}).to_string();
    minreq::post(format!("{}/v1/audio/speech", served.url))
        .with_header("Content-Type", "application/json")
        .with_body(body)
        .with_timeout(600)
        .send()
        .unwrap()
}

fn error_of(response: &minreq::Response) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(response.as_bytes())
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {:?}", String::from_utf8_lossy(response.as_bytes())));
    v["error"].clone()
}

fn ledger_lines(ledger: &Path) -> usize {
    std::fs::read_to_string(ledger).map(|s| s.lines().count()).unwrap_or(0)
}

fn avow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avow")).args(args).output().unwrap()
}

/// A voices file offering one pack per (name, pack, record).
fn voices_file(path: &Path, voices: &[(&str, &Path, &Path)]) {
    let list: Vec<serde_json::Value> = voices
        .iter()
        .map(|(name, pack, record)| serde_json::json!({"name": name, "pack": pack, "consent": record, "language": LANGUAGE}))
        .collect();
    std::fs::write(path, serde_json::json!({ "voices": list }).to_string()).unwrap();
}

fn gate_args(m: &GateMatrix, voices: &Path) -> Vec<String> {
    [
        "--voices",
        voices.to_str().unwrap(),
        "--no-stock-voices",
        "--purpose",
        PURPOSE,
        "--lang",
        LANGUAGE,
        "--trust",
        m.trust.to_str().unwrap(),
        "--revocations",
        m.revocations.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn serve_refuses_every_matrix_case_at_start_up_and_per_request_and_marks_the_accepted_voice() {
    let Some(cache) = cache_dir() else { return };
    let m = GateMatrix::new(&std::fs::read(cache.join("voices/jf_alpha.voicepack")).unwrap());
    let ledger = m.path("ledger.jsonl");

    // Start-up: a server configured with a refused voice does not start.
    for (k, case) in m.refusals().iter().enumerate() {
        let voices = m.path(&format!("startup-{k}.json"));
        voices_file(&voices, &[("v", &case.pack, &case.record)]);
        let args = gate_args(&m, &voices);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let Err((code, stderr)) = serve(&cache, &ledger, &args) else { panic!("{}: the server started", case.name) };
        assert_eq!(code, Some(i32::from(case.exit_code)), "{}: {stderr}", case.name);
        assert!(stderr.contains("consent refused for voice `v`") && stderr.contains(case.message), "{}: lacks `{}`: {stderr}", case.name, case.message);
        assert!(!stderr.contains("listening on") && !stderr.contains("panicked"), "{}: {stderr}", case.name);
    }
    // A voices file entry with no record at all is a configuration error.
    let voices = m.path("no-record.json");
    std::fs::write(&voices, serde_json::json!({"voices": [{"name": "v", "pack": m.pack}]}).to_string()).unwrap();
    let args = gate_args(&m, &voices);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Err((code, stderr)) = serve(&cache, &ledger, &args) else { panic!("a pack without a record was served") };
    assert!(code != Some(0) && stderr.contains("consent"), "{code:?}: {stderr}");
    assert_eq!(ledger_lines(&ledger), 0);

    // Per request: one voice per case, each starting from its own copy of the
    // good pack and record, then changed on disk into the case.
    let mut voices: Vec<(String, PathBuf, PathBuf)> = vec![("good".into(), m.pack.clone(), m.record.clone())];
    for k in 0..m.refusals().len() {
        let (pack, record) = (m.path(&format!("v{k}.voicepack")), m.path(&format!("v{k}.consent.json")));
        std::fs::copy(&m.pack, &pack).unwrap();
        std::fs::copy(&m.record, &record).unwrap();
        voices.push((format!("v{k}"), pack, record));
    }
    let listed: Vec<(&str, &Path, &Path)> = voices.iter().map(|(n, p, r)| (n.as_str(), p.as_path(), r.as_path())).collect();
    let voices_path = m.path("voices.json");
    voices_file(&voices_path, &listed);
    let args = gate_args(&m, &voices_path);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let served = serve(&cache, &ledger, &args).unwrap_or_else(|(code, e)| panic!("the server did not start ({code:?}): {e}"));
    for (case, (name, pack, record)) in m.refusals().iter().zip(&voices[1..]) {
        std::fs::write(pack, std::fs::read(&case.pack).unwrap()).unwrap();
        let expected = match std::fs::read(&case.record) {
            Ok(bytes) => {
                std::fs::write(record, bytes).unwrap();
                case.message.to_string()
            }
            // The record file is gone: the error names it.
            Err(_) => {
                std::fs::remove_file(record).unwrap();
                record.file_name().unwrap().to_string_lossy().into_owned()
            }
        };
        let r = speech(&served, name, "Hello.", "wav");
        assert_eq!(r.status_code, 403, "{}: {}", case.name, String::from_utf8_lossy(r.as_bytes()));
        let error = error_of(&r);
        assert_eq!(error["code"], "consent_refused", "{}: {error}", case.name);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(&expected), "{}: `{message}` lacks `{expected}`", case.name);
    }
    assert_eq!(ledger_lines(&ledger), 0, "refused requests must not reach the ledger");

    // Accepted: a streamed WAV (sizes unknown when the header was sent),
    // about 5 s, saved as received and read by `avow detect`.
    let text = "The service speaks for the test. Every byte it streams carries the consent record's mark.";
    let r = speech(&served, "good", text, "wav");
    assert_eq!(r.status_code, 200, "{}", String::from_utf8_lossy(r.as_bytes()));
    assert_eq!(r.headers.get("x-avow-watermark").map(String::as_str), Some(gate_matrix::FINGERPRINT));
    let wav = m.path("received.wav");
    std::fs::write(&wav, r.as_bytes()).unwrap();
    assert_eq!(&r.as_bytes()[40..44], &u32::MAX.to_le_bytes(), "the streamed WAV declares an unknown length");
    let detect = avow(&["detect", "--json", wav.to_str().unwrap()]);
    assert!(detect.status.success(), "avow detect on the streamed WAV: {}", String::from_utf8_lossy(&detect.stderr));
    let verdict: serde_json::Value = serde_json::from_slice(&detect.stdout).unwrap();
    assert_eq!(verdict["payload"], gate_matrix::FINGERPRINT, "{verdict}");
    let pieces = ledger_lines(&ledger);
    assert!(pieces >= 2, "two sentences, {pieces} ledger entries");
    let hashes: Vec<String> = ledger_audio::entries_from(&ledger, 0).into_iter().map(|e| e.2).collect();
    ledger_audio::pieces_covering(ledger_audio::wav_data(r.as_bytes()), &hashes).expect("the WAV's samples are the ledgered pieces");

    // Raw PCM of the same voice: marked too, and ledgered.
    let r = speech(&served, "good", text, "pcm");
    assert_eq!(r.status_code, 200);
    let samples: Vec<f32> = r.as_bytes().chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect();
    let d = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(&samples, 24_000).unwrap();
    assert!(d.detected && d.payload == Some(m.payload), "pcm response: {d:?}");
    let hashes: Vec<String> = ledger_audio::entries_from(&ledger, pieces).into_iter().map(|e| e.2).collect();
    assert!(!hashes.is_empty(), "the pcm request was not ledgered");
    ledger_audio::pieces_covering(r.as_bytes(), &hashes).expect("the PCM body is the ledgered pieces");
    for (record_id, watermark, _) in ledger_audio::entries_from(&ledger, 0) {
        assert_eq!((record_id.as_str(), watermark.as_str()), (m.record_id.as_str(), gate_matrix::FINGERPRINT));
    }
    let verify = avow(&["audit", "verify", ledger.to_str().unwrap()]);
    assert!(verify.status.success(), "{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));

    // Revoked while the server runs: the next request is refused.
    let entries = ledger_lines(&ledger);
    m.revoke(&m.record_id);
    let r = speech(&served, "good", "Hello.", "wav");
    assert_eq!(r.status_code, 403, "a revocation written while the server runs was ignored: {}", String::from_utf8_lossy(r.as_bytes()));
    assert!(error_of(&r)["message"].as_str().unwrap_or_default().contains("revoked"), "{}", error_of(&r));
    assert_eq!(ledger_lines(&ledger), entries);
}

#[test]
fn kill_9_with_requests_in_flight_leaves_a_ledger_that_verifies_round_after_round() {
    let Some(cache) = cache_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let text = (1..=8).map(|i| format!("Sentence number {i} keeps this request in flight a while longer.")).collect::<Vec<_>>().join(" ");
    let mut torn = 0;
    for round in 1..=2 {
        let before = ledger_lines(&ledger);
        let mut served = serve(&cache, &ledger, &["--max-concurrency", "2", "--queue", "4"])
            .unwrap_or_else(|(code, e)| panic!("round {round}: the server did not start on the old ledger ({code:?}): {e}"));
        // Four clients at once: two synthesizing, two queued.
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let url = format!("{}/v1/audio/speech", served.url);
                let body = serde_json::json!({"input": text, "voice": "jf_alpha", "response_format": "pcm"}).to_string();
                std::thread::spawn(move || minreq::post(url).with_body(body).with_timeout(600).send().map(|r| r.status_code))
            })
            .collect();
        // Kill once appends are under way, with syntheses still running.
        let deadline = Instant::now() + Duration::from_secs(300);
        while ledger_lines(&ledger) < before + 3 {
            assert!(Instant::now() < deadline, "round {round}: no ledger entries appeared");
            std::thread::sleep(Duration::from_millis(20));
        }
        served.child.kill().unwrap();
        served.child.wait().unwrap();
        for client in clients {
            // Cut off mid-stream: an error or an incomplete body, never a hang.
            let _ = client.join().unwrap();
        }
        let verify = avow(&["audit", "verify", ledger.to_str().unwrap()]);
        let report = format!("{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
        match verify.status.code() {
            Some(0) => {}
            // Exit code 23: a torn final line, the one a crash mid-append may leave.
            Some(23) => {
                torn += 1;
                assert!(report.contains("torn final line"), "{report}");
                let recover = avow(&["audit", "recover", ledger.to_str().unwrap()]);
                assert!(recover.status.success(), "{}", String::from_utf8_lossy(&recover.stderr));
                assert!(avow(&["audit", "verify", ledger.to_str().unwrap()]).status.success(), "still broken after recover");
            }
            other => panic!("round {round}: after kill -9 the ledger does not verify ({other:?}): {report}"),
        }
        assert!(ledger_lines(&ledger) > before, "round {round}: nothing was ledgered");
        eprintln!("round {round}: killed with {} entries; verify: {}", ledger_lines(&ledger), report.trim());
    }
    eprintln!("{torn} of 2 kills left a torn final entry");
}
