//! The clone's pitch correction: it measures how far a style's speech is
//! from a pitch goal, the shift it returns lands the adapted model's speech
//! on that goal (YIN hears the F0 scale), it is clamped, and bad arguments
//! are refused.
//!
//! Needs the converted weights and stock voices in the model cache; skips
//! without them unless `AVOW_REQUIRE_MODELS=1`.

use avow_clone::{pitch_correction, speech_pitch, MAX_PITCH_CORRECTION};
use avow_kokoro::{KModel, StyleAdapter};

mod common;
use common::{cache, fixture_tokens};

#[test]
fn the_correction_lands_the_adapted_speech_on_the_goal() {
    let Some(cache) = cache() else { return };
    let model = KModel::from_file(&cache.join("kokoro-82m-v1.0.safetensors")).unwrap();
    // The stock voice the clones of the female shared speakers start from.
    let bytes = std::fs::read(cache.join("voices/jf_gongitsune.voicepack")).unwrap();
    let table = avow_voice::VoicePackData::from_bytes(&bytes).unwrap().style;
    let sentences = vec![fixture_tokens("sentence"), fixture_tokens("short")];
    let heard_log2 = speech_pitch(&model, &table, &sentences).unwrap().expect("voiced speech").median_log2();
    eprintln!("jf_gongitsune median {:.1} Hz", heard_log2.exp2());

    // Ask for 1.8 semitones lower (3080's clone overshot by 1.7): the
    // correction says so, and the model adapted with it speaks there, within
    // what the median of two sentences resolves (0.1 semitone when measured).
    let goal = heard_log2 - 1.8 / 12.0;
    let shift = pitch_correction(&model, &table, &sentences, goal).unwrap().unwrap();
    assert!((shift + 1.8).abs() < 1e-3, "correction {shift}, expected -1.8");
    let adapted = model.adapted(&StyleAdapter::default().with_pitch_shift(shift).unwrap()).unwrap();
    let left = 12.0 * (goal - speech_pitch(&adapted, &table, &sentences).unwrap().unwrap().median_log2());
    eprintln!("after the shift, {left:+.2} semitones remain");
    assert!(left.abs() < 0.4, "the shifted voice is still {left:+.2} semitones off");

    // Far goals are clamped rather than followed into another voice.
    assert_eq!(pitch_correction(&model, &table, &sentences, heard_log2 + 1.0).unwrap(), Some(MAX_PITCH_CORRECTION));
    assert_eq!(pitch_correction(&model, &table, &sentences, heard_log2 - 1.0).unwrap(), Some(-MAX_PITCH_CORRECTION));

    // Bad arguments.
    assert!(pitch_correction(&model, &table[..256], &sentences, goal).is_err(), "short table");
    assert!(speech_pitch(&model, &table[..256], &sentences).is_err(), "short table");
    assert!(pitch_correction(&model, &table, &[Vec::new()], goal).is_err(), "empty sentence");
    assert!(pitch_correction(&model, &table, &sentences, f32::NAN).is_err(), "NaN goal");
    assert_eq!(pitch_correction(&model, &table, &[], goal).unwrap(), None, "nothing spoken, nothing to judge");
}
