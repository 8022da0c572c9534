//! Adaptation learns: starting from one stock voice and banking another
//! voice's speech of a sentence, a few training steps lower the held-out
//! reconstruction loss, the alignment covers the recording exactly, and the
//! adapter touches only the trained layers.
//!
//! Needs the converted weights and stock voices in the model cache; skips
//! without them unless `AVOW_REQUIRE_MODELS=1`.

use avow_bank::{adapt, align, AdaptConfig, SpeakerGuide};
use avow_kokoro::KModel;

mod common;
use common::{cache, fixture_tokens, style_table};

#[test]
fn a_few_steps_move_a_stock_voice_toward_the_banked_speech() {
    let Some(cache) = cache() else { return };
    let model = KModel::from_file(&cache.join("kokoro-82m-v1.0.safetensors")).unwrap();
    let tokens = fixture_tokens("sentence");
    let row = tokens.len() - 1;
    let (start, target) = (style_table(&cache, "jf_alpha"), style_table(&cache, "jm_kumo"));
    // The "speaker": another voice saying the sentence, a little slower.
    let speech = model.synthesize(&tokens, &target[row * 256..(row + 1) * 256], 0.9).unwrap().audio;

    let rec = align(&model, &tokens, &start[row * 256..(row + 1) * 256], &speech).unwrap();
    assert_eq!(rec.durations.len(), tokens.len() + 2);
    assert_eq!(rec.audio.len(), rec.frames() * 600);
    assert_eq!(rec.f0.len(), 2 * rec.frames());
    let voiced = rec.f0.iter().filter(|&&f| f > 0.0).count();
    assert!(voiced > rec.f0.len() / 4, "the speech should be largely voiced");

    let config = AdaptConfig { steps: 6, validate_every: 6, learning_rate: 1e-2, ..AdaptConfig::default() };
    let result = adapt(&model, &start, std::slice::from_ref(&rec), std::slice::from_ref(&rec), &config, None, None, |_| {}).unwrap();
    let (before, after) = (result.start_validation.unwrap(), result.best_validation.unwrap());
    eprintln!("held-out loss {before:.3} -> {after:.3}");
    assert!(after < before, "training did not lower the loss: {before} -> {after}");
    assert_eq!(result.best_step, 6);
    assert!(result.adapter.parameters() > 0);
    let names: Vec<String> = result.adapter.to_tensors().into_iter().map(|(n, _, _)| n).collect();
    assert!(names.iter().all(|n| !n.starts_with("adapter.predictor.N.")), "energy blocks are not trained");
    assert!(names.iter().any(|n| n.starts_with("adapter.decoder.generator.")));

    // A speaker guide adds 1 − cosine (weighted) to every loss, and a
    // malformed embedding is refused rather than broadcast.
    let encoder = avow_speaker::SpeakerEncoder::from_cache(false).unwrap();
    let wav16 = avow_audio::resample(&speech, 24_000, 16_000).unwrap();
    let heard = encoder.embed(&avow_speaker::frontend::normalize_volume(&wav16)).unwrap();
    let one = AdaptConfig { steps: 1, validate_every: 1, speaker_weight: 2.0, ..AdaptConfig::default() };
    let guide = SpeakerGuide { encoder: &encoder, embedding: heard.as_slice() };
    let held = std::slice::from_ref(&rec);
    let plain = adapt(&model, &start, held, held, &one, None, None, |_| {}).unwrap().start_validation.unwrap();
    let guided = adapt(&model, &start, held, held, &one, Some(&guide), None, |_| {}).unwrap().start_validation.unwrap();
    eprintln!("held-out loss without guide {plain:.3}, with {guided:.3}");
    assert!(guided > plain && guided < plain + 2.0 * 2.0, "the speaker term is missing or out of range: {plain} -> {guided}");
    let off = AdaptConfig { speaker_weight: 0.0, ..one.clone() };
    let unguided = adapt(&model, &start, held, held, &off, Some(&guide), None, |_| {}).unwrap().start_validation.unwrap();
    assert_eq!(unguided, plain, "speaker_weight 0 must leave the loss alone");
    let short = SpeakerGuide { encoder: &encoder, embedding: &heard.as_slice()[..100] };
    assert!(adapt(&model, &start, held, held, &one, Some(&short), None, |_| {}).is_err());
    let zero = [0f32; 256];
    let silent = SpeakerGuide { encoder: &encoder, embedding: &zero };
    assert!(adapt(&model, &start, held, held, &one, Some(&silent), None, |_| {}).is_err());
}

#[test]
fn bad_inputs_are_refused_not_panicked_on() {
    let Some(cache) = cache() else { return };
    let model = KModel::from_file(&cache.join("kokoro-82m-v1.0.safetensors")).unwrap();
    let start = style_table(&cache, "jf_alpha");
    // Far too short for the phonemes.
    assert!(align(&model, &[50, 60, 70, 80], &start[..256], &[0.0; 1200]).is_err());
    // Nothing to train on.
    assert!(adapt(&model, &start, &[], &[], &AdaptConfig::default(), None, None, |_| {}).is_err());
    let rec = avow_bank::AlignedRecording { ids: vec![0, 50, 0], durations: vec![1, 4, 1], audio: vec![0.01; 3600], f0: vec![0.0; 12] };
    // A wrong-size style table.
    assert!(adapt(&model, &start[..256], std::slice::from_ref(&rec), &[], &AdaptConfig::default(), None, None, |_| {}).is_err());
    // A recording whose parts disagree (audio not 600 samples per frame).
    let broken = avow_bank::AlignedRecording { audio: vec![0.01; 3000], ..rec.clone() };
    let err = adapt(&model, &start, &[broken], &[], &AdaptConfig::default(), None, None, |_| {}).unwrap_err();
    assert!(err.to_string().contains("inconsistent"), "{err}");
}
