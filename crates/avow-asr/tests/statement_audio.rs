//! The spoken-consent check on audio: a stock voice reads a statement
//! (synthesized through the engine, watermark included); the recording must
//! pass for its own statement and fail for the same statement with another
//! challenge; silence and noise fail without an error.
//!
//! Needs the Kokoro and Whisper models; skips when absent unless
//! `AVOW_REQUIRE_MODELS=1`.

mod common;

use avow_asr::statement::{check_statement, ConsentStatement};

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|w| w.to_string()).collect()
}

fn speak(text: &str) -> Option<Vec<f32>> {
    let cache = avow_models::ModelCache::default_dir().ok()?;
    if !cache.join("kokoro-82m-v1.0.safetensors").is_file() {
        assert!(!common::required(), "AVOW_REQUIRE_MODELS=1 but Kokoro is not in {}", cache.display());
        eprintln!("skipping: no Kokoro weights in {}", cache.display());
        return None;
    }
    let ledger = tempfile::tempdir().expect("temp dir");
    let engine = avow_engine::Engine::open(&avow_engine::EngineOptions {
        ledger: Some(ledger.path().join("ledger.jsonl")),
        ..Default::default()
    })
    .expect("engine opens");
    let purpose = avow_engine::ConsentPurpose::parse("research").expect("purpose");
    let voice = engine.stock_voice("jf_gongitsune", purpose, "en-us").expect("stock voice");
    let speech = engine.speak(&voice, text, 1.0).expect("speaks");
    Some(avow_audio::resample(&speech.samples, avow_engine::SAMPLE_RATE, 16_000).expect("resamples"))
}

#[test]
fn right_statement_passes_wrong_challenge_fails() {
    let Some(asr) = common::transcriber() else { return };
    let right = ConsentStatement::with_challenge("Grace Hopper", words(&["river", "candle", "tiger", "orange", "violin"])).expect("statement");
    let wrong = ConsentStatement::with_challenge("Grace Hopper", words(&["apple", "bridge", "camel", "doctor", "eagle"])).expect("statement");
    let Some(audio) = speak(&right.text) else { return };
    let ok = asr.check_statement(&audio, &right).expect("checks");
    assert!(ok.passed, "the right statement fails: {ok:?}");
    let bad = asr.check_statement(&audio, &wrong).expect("checks");
    assert!(!bad.passed, "a wrong challenge passes: {bad:?}");
    assert!(bad.challenge_errors >= 4, "{bad:?}");
}

#[test]
fn silence_noise_and_empty_audio_fail_cleanly() {
    let Some(asr) = common::transcriber() else { return };
    let st = ConsentStatement::with_challenge("Grace Hopper", words(&["river", "candle", "tiger", "orange", "violin"])).expect("statement");
    let silence = asr.check_statement(&vec![0.0; 16_000 * 5], &st).expect("silence is checked");
    assert!(!silence.passed, "{silence:?}");
    // Deterministic white noise.
    let mut x = 0x2545_f491_u32;
    let noise: Vec<f32> = (0..16_000 * 5)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32 - 0.5) * 0.5
        })
        .collect();
    let heard = asr.check_statement(&noise, &st).expect("noise is checked");
    assert!(!heard.passed, "{heard:?}");
    let empty = asr.check_statement(&[], &st).expect("empty audio is checked");
    assert!(!empty.passed && empty.transcript.is_empty(), "{empty:?}");
}

#[test]
fn unrelated_real_speech_fails() {
    let Some(data) = common::librispeech() else { return };
    let Some(asr) = common::transcriber() else { return };
    let st = ConsentStatement::with_challenge("Grace Hopper", words(&["river", "candle", "tiger", "orange", "violin"])).expect("statement");
    let clip = common::fixture_audio(&data, "test-other/1688/1688-142285-0002.flac");
    let c = asr.check_statement(&clip, &st).expect("checks");
    assert!(!c.passed && c.wer > 0.5, "{c:?}");
    assert_eq!(check_statement(&c.transcript, &st), c, "the audio check is the text check of its transcript");
}
