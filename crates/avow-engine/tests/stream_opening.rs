//! A stream's first sentence comes as its opening words and the rest (or,
//! by schedule, growing pieces), rendered from one prosody prediction and
//! joined without losing or repeating audio or changing the sentence's
//! sound; its closing pause is silence; every piece is marked and logged.
//!
//! Needs the converted weights in the model cache (`avow models fetch`);
//! skips with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

use avow_engine::{ConsentPurpose, Engine, EngineOptions, PieceSchedule, LEAD_KEEP_FRAMES, SAMPLE_RATE};

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
fn the_first_sentence_opens_with_its_first_word_and_loses_no_audio_at_the_seams() {
    let dir = tempfile::tempdir().unwrap();
    let Some(engine) = engine(dir.path()) else { return };
    let voice = engine.stock_voice("jf_alpha", ConsentPurpose::Aac, "en-us").unwrap();
    let text = "Please bring the printed agenda and your notes with you.";
    let pieces: Vec<Vec<f32>> = engine.stream(&voice, text, 1.0).unwrap().collect::<Result<_, _>>().unwrap();
    let lengths: Vec<f64> = pieces.iter().map(|p| p.len() as f64 / f64::from(SAMPLE_RATE)).collect();
    eprintln!("piece lengths (s): {lengths:.2?}");
    assert_eq!(pieces.len(), 2, "one sentence: its opening words and the rest");
    let streamed: usize = pieces.iter().map(Vec::len).sum();
    // The whole sentence, less the leading pad beyond the frames the stream keeps.
    let timing = engine.timing(&voice, text).unwrap();
    let (lead, _) = timing.pad_samples_at(1.0);
    let dropped = lead.saturating_sub(LEAD_KEEP_FRAMES * 600);
    assert_eq!(streamed, timing.samples_at(1.0) - dropped, "the seam neither drops nor repeats samples");
    assert!(pieces[0].len() * 3 < streamed, "the opening ({:.2} s) is a small part of the sentence", lengths[0]);
    // A short opening and growing pieces, as a faster machine would use:
    // more seams, same samples.
    let schedule = PieceSchedule { opening_frames: 8, growth: 1.4 };
    let grown: Vec<Vec<f32>> = engine.stream(&voice, text, 1.0).unwrap().schedule(schedule).collect::<Result<_, _>>().unwrap();
    assert!(grown.len() >= 3, "growth 1.4 cuts a ten-word sentence more than once");
    assert_eq!(grown.iter().map(Vec::len).sum::<usize>(), streamed);
    assert!(grown[0].len() < pieces[0].len(), "an 8-frame opening is shorter than the default's");
    for k in 1..grown.len() - 1 {
        assert!(grown[k].len() > grown[k - 1].len(), "piece {k} does not grow: {:?}", grown.iter().map(Vec::len).collect::<Vec<_>>());
    }
    assert!(pieces.iter().flatten().all(|s| s.is_finite()));
    // No click at any seam: the step across it is no larger than the
    // largest step inside the piece after it.
    for pieces in [&pieces, &grown] {
        for k in 1..pieces.len() {
            let seam_step = (pieces[k][0] - pieces[k - 1][pieces[k - 1].len() - 1]).abs();
            let max_step = pieces[k].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0f32, f32::max);
            assert!(seam_step <= max_step, "step at seam {k}: {seam_step} vs {max_step} inside");
        }
    }
    // The closing pause after the last phoneme's decay is silence (the
    // watermark's overlap-add leaves a trace of the last speech frames).
    let last = pieces.last().unwrap();
    let tail_peak = last[last.len() - 10 * 600..].iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(tail_peak < 1e-3, "the closing pause is not silent: peak {tail_peak}");
    let ledger = std::fs::read_to_string(dir.path().join("ledger.jsonl")).unwrap();
    assert_eq!(ledger.lines().count(), pieces.len() + grown.len(), "each piece gets its ledger entry");
    // Files keep whole sentences, leading pause included: exactly `speak`.
    let whole: Vec<f32> = engine.stream(&voice, text, 1.0).unwrap().whole_sentences().collect::<Result<Vec<_>, _>>().unwrap().concat();
    let spoken = engine.speak(&voice, text, 1.0).unwrap().samples;
    assert_eq!(whole, spoken);
    // The pieces, joined, sound like the sentence rendered whole. Each
    // piece normalizes with its own statistics, so they are not equal;
    // another stock voice saying the same is the scale.
    let joined = pieces.concat();
    let mcd = avow_audio::cepstrum::mel_cepstral_distance(&joined, &spoken[dropped..], SAMPLE_RATE).unwrap();
    let other = engine.stock_voice("jm_kumo", ConsentPurpose::Aac, "en-us").unwrap();
    let other_audio = engine.speak(&other, text, 1.0).unwrap().samples;
    let other_mcd = avow_audio::cepstrum::mel_cepstral_distance(&other_audio, &spoken, SAMPLE_RATE).unwrap();
    eprintln!("mel-cepstral distance to the whole sentence: streamed {mcd:.2} dB, another voice {other_mcd:.2} dB");
    assert!(mcd * 3.0 < other_mcd, "the seams change the sentence's sound: {mcd:.2} dB vs {other_mcd:.2} dB for another voice");
}
