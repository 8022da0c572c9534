//! A stream's first sentence comes as a short opening piece and the rest,
//! rendered from one prosody prediction and joined without losing or
//! repeating audio; every piece is marked and logged.
//!
//! Needs the converted weights in the model cache (`avow models fetch`);
//! skips with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

use avow_engine::{ConsentPurpose, Engine, EngineOptions, LEAD_KEEP_FRAMES, SAMPLE_RATE};

fn engine(dir: &std::path::Path) -> Option<Engine> {
    let cache = avow_models::ModelCache::default_dir().ok()?;
    if !cache.join("kokoro-82m-v1.0.safetensors").exists() {
        assert!(std::env::var_os("AVOW_REQUIRE_MODELS").is_none(), "AVOW_REQUIRE_MODELS is set but {} has no weights", cache.display());
        eprintln!("skipping: no converted weights in {} (run `avow models fetch`)", cache.display());
        return None;
    }
    let options = EngineOptions { ledger: Some(dir.join("ledger.jsonl")), ..Default::default() };
    Some(Engine::open(&options).expect("engine opens"))
}

#[test]
fn the_first_sentence_opens_with_a_short_piece_and_loses_no_audio() {
    let dir = tempfile::tempdir().unwrap();
    let Some(engine) = engine(dir.path()) else { return };
    let voice = engine.stock_voice("jf_alpha", ConsentPurpose::Aac, "en-us").unwrap();
    let text = "Please bring the printed agenda and your notes with you.";
    let pieces: Vec<Vec<f32>> = engine.stream(&voice, text, 1.0).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(pieces.len(), 2, "one sentence: the opening and the rest");
    let streamed: usize = pieces.iter().map(Vec::len).sum();
    // The whole sentence, less the leading pad beyond the frames the stream keeps.
    let timing = engine.timing(&voice, text).unwrap();
    let (lead, _) = timing.pad_samples_at(1.0);
    let expected = timing.samples_at(1.0) - lead.saturating_sub(LEAD_KEEP_FRAMES * 600);
    assert_eq!(streamed, expected, "the seam neither drops nor repeats samples");
    let first_s = pieces[0].len() as f64 / f64::from(SAMPLE_RATE);
    assert!(pieces[0].len() * 3 < streamed, "the opening ({first_s:.2} s) is a small part of the sentence");
    assert!(pieces.iter().flatten().all(|s| s.is_finite()));
    // No click at the seam: the step across it is no larger than the
    // largest step inside the rest.
    let seam_step = (pieces[1][0] - pieces[0][pieces[0].len() - 1]).abs();
    let max_step = pieces[1].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0f32, f32::max);
    assert!(seam_step <= max_step, "step at the seam {seam_step} vs {max_step} inside");
    let ledger = std::fs::read_to_string(dir.path().join("ledger.jsonl")).unwrap();
    assert_eq!(ledger.lines().count(), 2, "each piece gets its ledger entry");
    // Files keep whole sentences, leading pause included: exactly `speak`.
    let whole: Vec<f32> = engine.stream(&voice, text, 1.0).unwrap().whole_sentences().collect::<Result<Vec<_>, _>>().unwrap().concat();
    assert_eq!(whole, engine.speak(&voice, text, 1.0).unwrap().samples);
}
