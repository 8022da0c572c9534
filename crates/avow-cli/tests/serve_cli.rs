//! `avow serve` end to end: the real binary, the real model, a real HTTP
//! client (minreq) and raw sockets where a client has to misbehave.
//!
//! Needs the converted weights in the model cache (`avow models fetch`); skips
//! with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

/// A running `avow serve` on a free loopback port, with its own ledger.
struct Served {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Served {
    fn start(cache: &Path, args: &[&str]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, cache, args).unwrap_or_else(|stderr| panic!("avow serve did not start: {stderr}"))
    }

    /// Starts the server; on failure returns its standard error.
    fn start_in(dir: tempfile::TempDir, cache: &Path, args: &[&str]) -> Result<Served, String> {
        let stderr = std::fs::File::create(dir.path().join("stderr.txt")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_avow"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("AVOW_CACHE_DIR", cache)
            .env("AVOW_LEDGER", dir.path().join("ledger.jsonl"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        match line.trim().strip_prefix("listening on ") {
            Some(url) => Ok(Served { child, url: url.to_string(), dir }),
            None => {
                let status = child.wait().unwrap();
                let stderr = std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default();
                Err(format!("{status}: {stderr}"))
            }
        }
    }

    fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger.jsonl")
    }

    fn ledger_lines(&self) -> usize {
        std::fs::read_to_string(self.ledger()).map(|s| s.lines().count()).unwrap_or(0)
    }

    fn speech(&self, body: &str) -> minreq::Response {
        minreq::post(format!("{}/v1/audio/speech", self.url))
            .with_header("Content-Type", "application/json")
            .with_body(body)
            .with_timeout(600)
            .send()
            .unwrap()
    }

    fn get(&self, path: &str) -> minreq::Response {
        minreq::get(format!("{}{path}", self.url)).with_timeout(30).send().unwrap()
    }

    fn health(&self) -> serde_json::Value {
        serde_json::from_slice(self.get("/health").as_bytes()).unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stock_payload(voice: &str) -> u32 {
    let record = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../voices/{voice}.consent.json"))).unwrap();
    let (_, statement) = avow_consent::parse_record(&record).unwrap();
    u32::from_str_radix(&statement.watermark_fingerprint, 16).unwrap()
}

fn samples_of(pcm: &[u8]) -> Vec<f32> {
    assert!(pcm.len().is_multiple_of(2), "odd number of PCM bytes");
    pcm.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect()
}

fn detected_payload(samples: &[f32]) -> Option<u32> {
    let d = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(samples, 24_000).unwrap();
    d.detected.then_some(d.payload).flatten()
}

/// The error object of an OpenAI-shaped error response.
fn error_of(response: &minreq::Response) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(response.as_bytes())
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {:?}", String::from_utf8_lossy(response.as_bytes())));
    v["error"].clone()
}

/// A response read off the wire, chunk by chunk.
struct RawResponse {
    status: u16,
    head: String,
    /// The chunked body's chunks, in order (each streamed piece is one chunk).
    chunks: Vec<Vec<u8>>,
}

/// Sends a speech request over a plain socket and decodes the chunked body
/// by hand, so the framing itself can be checked.
fn raw_speech(addr: &str, body: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    write!(stream, "POST /v1/audio/speech HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut chunks = Vec::new();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
            let mut data = vec![0u8; size + 2];
            reader.read_exact(&mut data).unwrap();
            assert_eq!(&data[size..], b"\r\n", "chunk not terminated by CRLF");
            if size == 0 {
                break;
            }
            data.truncate(size);
            chunks.push(data);
        }
    }
    RawResponse { status, head, chunks }
}

fn audit_verify(ledger: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_avow")).args(["audit", "verify"]).arg(ledger).output().unwrap()
}

#[test]
fn speech_is_streamed_as_marked_wav_and_pcm_and_ledgered_per_sentence() {
    let Some(cache) = cache_dir() else { return };
    let served = Served::start(&cache, &[]);

    let wav = raw_speech(
        served.addr(),
        r#"{"model":"tts-1","input":"The meeting is on March 3rd. Please be on time.","voice":"jf_nezumi","response_format":"wav"}"#,
    );
    assert_eq!(wav.status, 200, "{}", wav.head);
    let head = wav.head.to_ascii_lowercase();
    assert!(head.contains("content-type: audio/wav"), "{head}");
    assert!(head.contains("transfer-encoding: chunked") && !head.contains("content-length"), "speech must stream: {head}");
    assert!(head.contains(&format!("x-avow-watermark: {:08x}", stock_payload("jf_nezumi"))), "{head}");
    let bytes = wav.chunks.concat();
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[36..40], b"data");
    assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 24_000);
    assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), u32::MAX, "streamed WAV declares an unknown length");
    let samples = samples_of(&bytes[44..]);
    assert!(samples.len() > 24_000, "under a second of speech for two sentences");
    assert_eq!(detected_payload(&samples), Some(stock_payload("jf_nezumi")), "wav response is not marked with the voice's payload");
    assert!(wav.chunks.len() >= 2, "two sentences came as one piece");
    assert_eq!(served.ledger_lines(), wav.chunks.len(), "one ledger entry per streamed piece");

    let pcm = served.speech(r#"{"input":"The meeting is on March 3rd, at 10:30.","voice":"jm_kumo","response_format":"pcm","speed":1.0}"#);
    assert_eq!(pcm.status_code, 200, "{}", String::from_utf8_lossy(pcm.as_bytes()));
    assert_eq!(pcm.headers.get("content-type").map(String::as_str), Some("audio/pcm"));
    let samples = samples_of(pcm.as_bytes());
    assert!(samples.len() > 12_000);
    assert_eq!(detected_payload(&samples), Some(stock_payload("jm_kumo")), "pcm response is not marked with the voice's payload");
    assert!(served.ledger_lines() > wav.chunks.len(), "the pcm request was not ledgered");
    let verify = audit_verify(&served.ledger());
    assert!(verify.status.success(), "ledger does not verify: {}", String::from_utf8_lossy(&verify.stderr));

    // The listing endpoints answer in OpenAI's list shape.
    let voices: serde_json::Value = serde_json::from_slice(served.get("/v1/voices").as_bytes()).unwrap();
    let ids: Vec<&str> = voices["data"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"jf_alpha") && ids.contains(&"jm_kumo"), "{ids:?}");
    assert_eq!(voices["data"][0]["purpose"], "accessibility");
    let models: serde_json::Value = serde_json::from_slice(served.get("/v1/models").as_bytes()).unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(served.health()["status"], "ok");

    // SIGTERM: a graceful stop with exit status 0.
    let pid = served.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut served = served;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit after SIGTERM: {status:?}");
}

/// True when the server has neither answered nor closed the connection.
fn still_waiting_for_a_request(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let waiting = matches!(stream.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    waiting
}

#[test]
fn bad_requests_get_openai_shaped_errors_and_no_audio_or_ledger_entry() {
    let Some(cache) = cache_dir() else { return };
    let served = Served::start(&cache, &["--max-input-chars", "60", "--max-body-bytes", "2000", "--request-timeout", "5", "--max-connections", "2"]);
    // (what, body, status, param, code)
    let cases: &[(&str, &str, i32, Option<&str>, &str)] = &[
        ("unknown voice", r#"{"input":"Hello.","voice":"nobody"}"#, 400, Some("voice"), "voice_not_found"),
        ("bad JSON", r#"{"input":"Hello.","voice":"#, 400, None, "invalid_json"),
        ("missing input", r#"{"voice":"jf_alpha"}"#, 400, None, "invalid_json"),
        ("unsupported format", r#"{"input":"Hello.","voice":"jf_alpha","response_format":"mp3"}"#, 400, Some("response_format"), "unsupported_response_format"),
        ("speed above range", r#"{"input":"Hello.","voice":"jf_alpha","speed":4.0}"#, 400, Some("speed"), "invalid_value"),
        ("speed below range", r#"{"input":"Hello.","voice":"jf_alpha","speed":0.25}"#, 400, Some("speed"), "invalid_value"),
        ("input too long", &format!(r#"{{"input":"{}","voice":"jf_alpha"}}"#, "word ".repeat(20)), 400, Some("input"), "string_above_max_length"),
        ("nothing to speak", r#"{"input":"?!... ,;","voice":"jf_alpha"}"#, 400, Some("input"), "invalid_input"),
        ("oversized body", &format!(r#"{{"input":"Hi","voice":"jf_alpha","pad":"{}"}}"#, "x".repeat(5000)), 413, None, "request_too_large"),
    ];
    // With a cap of two connections, the server may still be closing the
    // previous ones (draining, on a loaded machine) and answer 503: retry
    // until it admits the request.
    let admitted = |send: &dyn Fn() -> minreq::Response| {
        let started = Instant::now();
        loop {
            let r = send();
            if r.status_code != 503 || started.elapsed() > Duration::from_secs(20) {
                return r;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    for (what, body, status, param, code) in cases {
        let r = admitted(&|| served.speech(body));
        assert_eq!(r.status_code, *status, "{what}: {}", String::from_utf8_lossy(r.as_bytes()));
        let error = error_of(&r);
        assert_eq!(error["code"], *code, "{what}: {error}");
        assert_eq!(error["param"].as_str(), *param, "{what}: {error}");
        assert!(!error["message"].as_str().unwrap_or_default().is_empty(), "{what}: no message");
    }
    let get_admitted = |path: &str| admitted(&|| served.get(path));
    assert_eq!(get_admitted("/v1/nothing").status_code, 404);
    let wrong_method = get_admitted("/v1/audio/speech");
    assert_eq!(wrong_method.status_code, 405);
    assert_eq!(wrong_method.headers.get("allow").map(String::as_str), Some("POST"));

    // A client that sends half a request and stalls gets 408 after the request deadline, not a hung thread.
    let mut slow = TcpStream::connect(served.addr()).unwrap();
    slow.write_all(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"input\":").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = String::new();
    let started = Instant::now();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "stalled client got: {answer:?}");
    assert!(started.elapsed() < Duration::from_secs(15), "408 took {:?}", started.elapsed());
    // Chunked uploads are refused with 411 rather than misread.
    let mut chunked = TcpStream::connect(served.addr()).unwrap();
    chunked.write_all(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = chunked.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 411"), "chunked upload got: {answer:?}");
    drop((slow, chunked));
    // Let the server notice those two closed, so the cap below counts only the idle ones.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(get_admitted("/health").status_code, 200);

    // Beyond --max-connections open connections, a newcomer is answered 503 at once.
    // The server may still count the connection of the last request while it
    // closes it; then one of our idle connections is itself refused (it holds a
    // 503) and does not fill a slot. Open idle pairs until both were admitted.
    let started = Instant::now();
    let idle = loop {
        let idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(served.addr()).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(300));
        if idle.iter().all(still_waiting_for_a_request) {
            break idle;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "idle connections kept being refused");
        drop(idle);
        std::thread::sleep(Duration::from_millis(500));
    };
    let overflow = served.get("/health");
    assert_eq!(overflow.status_code, 503, "{}", String::from_utf8_lossy(overflow.as_bytes()));
    assert_eq!(error_of(&overflow)["code"], "too_many_connections");
    assert!(overflow.headers.contains_key("retry-after"));
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));

    assert_eq!(served.ledger_lines(), 0, "refused requests must not synthesize");
    let health = get_admitted("/health");
    assert_eq!(health.status_code, 200, "the server survives bad clients");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(health.as_bytes()).unwrap()["status"], "ok");
}

#[test]
fn a_saturated_server_answers_429_with_retry_after_at_once() {
    let Some(cache) = cache_dir() else { return };
    let served = Served::start(&cache, &["--max-concurrency", "1", "--queue", "0"]);
    let addr = served.addr().to_string();
    let long = std::thread::spawn(move || {
        raw_speech(
            &addr,
            r#"{"input":"This first request keeps the only synthesis slot busy. It has three sentences. Here is the last.","voice":"jf_alpha","response_format":"pcm"}"#,
        )
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while served.health()["running"] != 1 {
        assert!(Instant::now() < deadline, "the first request never started");
        assert!(!long.is_finished(), "the first request finished before it could be observed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let busy = served.speech(r#"{"input":"Me too.","voice":"jf_alpha"}"#);
    assert_eq!(busy.status_code, 429, "{}", String::from_utf8_lossy(busy.as_bytes()));
    assert!(started.elapsed() < Duration::from_secs(5), "a refusal must not wait for the slot");
    assert_eq!(busy.headers.get("retry-after").map(String::as_str), Some("1"));
    assert_eq!(error_of(&busy)["type"], "rate_limit_error");
    let first = long.join().unwrap();
    assert_eq!(first.status, 200, "{}", first.head);
    assert!(first.chunks.len() >= 3, "three sentences, {} pieces", first.chunks.len());
    assert_eq!(served.ledger_lines(), first.chunks.len(), "only the admitted request synthesized");
}

#[test]
fn kill_9_during_a_stream_leaves_a_ledger_that_verifies() {
    let Some(cache) = cache_dir() else { return };
    let mut served = Served::start(&cache, &[]);
    let text = "This is the first sentence of a long request. ".to_string()
        + &(2..=12).map(|i| format!("Sentence number {i} keeps the server busy for a while.")).collect::<Vec<_>>().join(" ");
    let body = serde_json::json!({"input": text, "voice": "jf_tebukuro", "response_format": "pcm"}).to_string();
    let response = minreq::post(format!("{}/v1/audio/speech", served.url)).with_body(body).with_timeout(600).send_lazy().unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(response.headers.get("transfer-encoding").map(String::as_str), Some("chunked"));
    // Read until some audio arrived: the first sentence is synthesized and ledgered.
    let mut received = 0usize;
    for byte in response {
        byte.unwrap();
        received += 1;
        if received >= 4800 {
            break;
        }
    }
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let entries = served.ledger_lines();
    // Audio arrived before most sentences were synthesized: the response streams.
    assert!((1..12).contains(&entries), "expected a partly spoken request in the ledger, found {entries} entries");
    let verify = audit_verify(&served.ledger());
    assert!(
        verify.status.success(),
        "ledger after kill -9 does not verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn configured_packs_pass_the_consent_gate_at_start_up_and_on_every_request() {
    let Some(cache) = cache_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("alice.voicepack");
    std::fs::copy(cache.join("voices/jf_alpha.voicepack"), &pack).unwrap();
    let record = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../voices/jf_alpha.consent.json");
    std::fs::copy(&record, dir.path().join("alice.consent.json")).unwrap();
    let config = dir.path().join("voices.json");
    std::fs::write(&config, r#"{"voices":[{"name":"alice","pack":"alice.voicepack","consent":"alice.consent.json","language":"en-gb"}]}"#)
        .unwrap();
    let served = Served::start(&cache, &["--voices", config.to_str().unwrap(), "--no-stock-voices"]);
    let voices: serde_json::Value = serde_json::from_slice(served.get("/v1/voices").as_bytes()).unwrap();
    assert_eq!(voices["data"].as_array().unwrap().len(), 1);
    assert_eq!(voices["data"][0]["id"], "alice");
    assert_eq!(voices["data"][0]["language"], "en-gb");
    let stock = served.speech(r#"{"input":"Hello.","voice":"jf_alpha"}"#);
    assert_eq!(error_of(&stock)["code"], "voice_not_found", "stock voices were switched off");

    // The pack changes on disk while the server runs: the next request is refused by the gate.
    let mut bytes = std::fs::read(&pack).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&pack, &bytes).unwrap();
    let refused = served.speech(r#"{"input":"Hello.","voice":"alice"}"#);
    assert_eq!(refused.status_code, 403, "{}", String::from_utf8_lossy(refused.as_bytes()));
    let error = error_of(&refused);
    assert_eq!(error["code"], "consent_refused");
    assert!(error["message"].as_str().unwrap().contains("alice"), "{error}");
    assert_eq!(served.ledger_lines(), 0);
    drop(served);

    // And a server configured with the altered pack refuses to start, with the consent error's exit code.
    let err = Served::start_in(tempfile::tempdir().unwrap(), &cache, &["--voices", config.to_str().unwrap()])
        .err()
        .expect("a server with a tampered pack started");
    assert!(err.contains("consent refused for voice `alice`"), "{err}");
    assert!(err.contains("exit status: 19"), "hash-mismatch exit code expected: {err}");
}

#[test]
fn listening_beyond_loopback_needs_an_explicit_flag() {
    // Refused before any model loads, so this runs without the model cache.
    let o = Command::new(env!("CARGO_BIN_EXE_avow")).args(["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("--allow-remote"), "{stderr}");
    assert!(o.stdout.is_empty(), "nothing may be announced as listening");
    let o = Command::new(env!("CARGO_BIN_EXE_avow")).args(["serve", "--purpose", "spying"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown purpose"));
}
