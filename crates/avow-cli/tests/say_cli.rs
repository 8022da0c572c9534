//! `avow say` end to end through the real binary and the real model: output
//! format, watermark, ledger, streaming, and refusals of bad input.
//!
//! Needs the converted weights in the model cache (`avow models fetch`); skips
//! with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        Run { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn avow(&self, cache: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_avow"));
        cmd.args(args)
            .env("AVOW_CACHE_DIR", cache)
            .env("AVOW_LEDGER", self.path("ledger.jsonl"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(bytes) = stdin {
                input.write_all(bytes).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }
    fn ledger_lines(&self) -> usize {
        std::fs::read_to_string(self.path("ledger.jsonl")).map(|s| s.lines().count()).unwrap_or(0)
    }
}

fn stock_payload(voice: &str) -> u32 {
    let record = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../voices/{voice}.consent.json"))).unwrap();
    let (_, statement) = avow_consent::parse_record(&record).unwrap();
    u32::from_str_radix(&statement.watermark_fingerprint, 16).unwrap()
}

#[test]
fn say_writes_a_marked_24khz_wav_and_one_ledger_entry() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    let out = run.path("hello.wav");
    let o = run.avow(&cache, &["say", "The meeting is on March 3rd, at 10:30.", "--voice", "jf_nezumi", "--out", out.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "output should be an ordinary readable file");
    }
    let audio = avow_audio::read_audio(&out).unwrap();
    assert_eq!((audio.sample_rate, audio.channels), (24_000, 1));
    let samples = audio.to_mono();
    assert!(samples.len() > 24_000, "under a second of speech for a sentence");
    let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    assert!(rms > 0.01, "output is nearly silent (rms {rms})");
    let detection = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(&samples, 24_000).unwrap();
    assert!(detection.detected, "no watermark in say output");
    assert_eq!(detection.payload, Some(stock_payload("jf_nezumi")));
    assert_eq!(run.ledger_lines(), 1);
}

#[test]
fn say_streams_raw_pcm_to_stdout_sentence_by_sentence() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    let o = run.avow(&cache, &["say", "--out", "-", "--voice", "jm_kumo"], Some("First sentence here. And a second one follows it.".as_bytes()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.len() > 48_000 && o.stdout.len().is_multiple_of(2), "{} bytes of PCM", o.stdout.len());
    let samples: Vec<f32> = o.stdout.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect();
    let detection = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(&samples, 24_000).unwrap();
    assert!(detection.detected, "no watermark in streamed output");
    assert_eq!(detection.payload, Some(stock_payload("jm_kumo")));
    // The first sentence's opening words come as a piece of their own.
    assert_eq!(run.ledger_lines(), 3, "one ledger entry per streamed piece: opening, rest of the first sentence, second sentence");
}

#[test]
fn bad_input_is_refused_with_an_error_and_no_output_file() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    let out = run.path("never.wav");
    let o_path = out.to_str().unwrap();
    // (what, arguments, standard input, expected message)
    type Case<'a> = (&'a str, Vec<&'a str>, Option<&'a [u8]>, &'a str);
    let cases: Vec<Case> = vec![
        ("empty text", vec!["say", "", "--out", o_path], None, "empty"),
        ("only punctuation", vec!["say", "?!... ,;", "--out", o_path], None, "nothing to speak"),
        ("invalid UTF-8 on stdin", vec!["say", "--out", o_path], Some(b"caf\xe9 \xff"), "UTF-8"),
        ("unknown voice", vec!["say", "hi", "--voice", "nobody", "--out", o_path], None, "unknown voice"),
        ("unknown language", vec!["say", "hi", "--lang", "tlh", "--out", o_path], None, "language"),
        ("unwritable output", vec!["say", "hi", "--out", "/nonexistent-dir/x.wav"], None, "does not exist"),
        ("bad speed", vec!["say", "hi", "--speed", "9", "--out", o_path], None, "speed"),
        ("pack without a record", vec!["say", "hi", "--voice", "Cargo.toml", "--out", o_path], None, "--consent"),
    ];
    for (what, args, stdin, message) in cases {
        let o = run.avow(&cache, &args, stdin);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{what}: succeeded");
        assert!(stderr.contains(message), "{what}: stderr lacks `{message}`: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: panicked: {stderr}");
        assert!(!out.exists(), "{what}: left an output file");
    }
    assert_eq!(run.ledger_lines(), 0);
    let leftovers: Vec<_> = std::fs::read_dir(run.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".avow-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

#[test]
fn a_tampered_voice_pack_is_refused_by_the_consent_gate() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    let mut pack = std::fs::read(cache.join("voices/jf_alpha.voicepack")).unwrap();
    let last = pack.len() - 1;
    pack[last] ^= 1;
    let tampered = run.path("tampered.voicepack");
    std::fs::write(&tampered, &pack).unwrap();
    let record = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../voices/jf_alpha.consent.json");
    let out = run.path("x.wav");
    let o = run.avow(
        &cache,
        &["say", "hi", "--voice", tampered.to_str().unwrap(), "--consent", record.to_str().unwrap(), "--out", out.to_str().unwrap()],
        None,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(19), "hash mismatch exit code; stderr: {stderr}");
    assert!(stderr.contains("consent refused"), "{stderr}");
    assert!(!out.exists());
    // The untouched pack with the same record is accepted.
    let o = run.avow(
        &cache,
        &["say", "hi", "--voice", cache.join("voices/jf_alpha.voicepack").to_str().unwrap(), "--consent", record.to_str().unwrap(), "--out", out.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_corrupted_cache_file_is_reported_not_used() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    // A cache whose big files are links to the real ones and whose voice pack is damaged.
    let fake = run.path("cache");
    std::fs::create_dir_all(fake.join("voices")).unwrap();
    for entry in std::fs::read_dir(&cache).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::os::unix::fs::symlink(entry.path(), fake.join(entry.file_name())).unwrap();
        }
    }
    for entry in std::fs::read_dir(cache.join("voices")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), fake.join("voices").join(entry.file_name())).unwrap();
    }
    let victim = fake.join("voices/jf_alpha.voicepack");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    let out = run.path("x.wav");
    let o = run.avow(&fake, &["say", "hello", "--out", out.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("jf_alpha.voicepack"), "error should name the file: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists());
}
