//! The clone's intelligibility guard (`avow_clone::finish`): a clone that is
//! understood is kept whole; one that is misheard is compared with its start
//! voice and scaled back toward it, down to the start voice itself; one no
//! worse than its start voice is kept; the judge hears the pitch-corrected
//! voice on the guard sentences only; bad arguments are refused.
//!
//! The judge is scripted (errors per round), so these tests pin the guard's
//! decisions, not Whisper's. Needs the converted weights and stock voices in
//! the model cache; skips without them unless `AVOW_REQUIRE_MODELS=1`.

use std::cell::RefCell;

use avow_clone::{apply_offset, finish, speech_pitch, CloneError, FinishConfig, PitchTracker, WordErrorCounter};
use avow_kokoro::KModel;

mod common;
use common::{cache, fixture_tokens};

/// Reports `errors[round]` word errors out of 10 words for every sentence of
/// a round (one guard sentence per round here), and keeps what it heard.
struct Scripted {
    errors: Vec<usize>,
    heard: RefCell<Vec<(String, Vec<f32>)>>,
}

impl Scripted {
    fn new(errors: &[usize]) -> Self {
        Self { errors: errors.to_vec(), heard: RefCell::new(Vec::new()) }
    }
}

impl WordErrorCounter for Scripted {
    fn word_errors(&self, audio_16k: &[f32], text: &str) -> Result<(usize, usize), CloneError> {
        let mut heard = self.heard.borrow_mut();
        let round = heard.len();
        heard.push((text.to_string(), audio_16k.to_vec()));
        Ok((self.errors[round.min(self.errors.len() - 1)], 10))
    }
}

struct Setup {
    model: KModel,
    base: Vec<f32>,
    offset: Vec<f32>,
    sentences: Vec<Vec<u32>>,
}

fn setup(cache: &std::path::Path) -> Setup {
    let model = KModel::from_file(&cache.join("kokoro-82m-v1.0.safetensors")).unwrap();
    let bytes = std::fs::read(cache.join("voices/jf_gongitsune.voicepack")).unwrap();
    let base = avow_voice::VoicePackData::from_bytes(&bytes).unwrap().style;
    // A small, uneven offset: enough to tell the scaled styles apart.
    let offset = (0..avow_clone::STYLE_DIM).map(|i| 0.02 * ((i % 7) as f32 - 3.0)).collect();
    // Even sentences set the pitch, odd ones are judged.
    Setup { model, base, offset, sentences: vec![fixture_tokens("short"), fixture_tokens("sentence")] }
}

const TEXTS: [&str; 2] = ["the pitch sentence", "the guard sentence"];

fn scaled(s: &Setup, scale: f32) -> Vec<f32> {
    apply_offset(&s.base, &s.offset.iter().map(|o| o * scale).collect::<Vec<_>>())
}

#[test]
fn an_understood_clone_is_kept_whole_and_judged_as_the_pack_will_speak() {
    let Some(cache) = cache() else { return };
    let s = setup(&cache);
    let clone = scaled(&s, 1.0);
    let own_log2 = speech_pitch(&s.model, &clone, &s.sentences[..1]).unwrap().unwrap().median_log2();
    // Ask for 2 semitones lower than the clone speaks.
    let goal = own_log2 - 2.0 / 12.0;
    let judge = Scripted::new(&[0]);
    let done = finish(&s.model, &s.base, &s.offset, &s.sentences, &TEXTS, Some(goal), &judge, &FinishConfig::default()).unwrap();
    assert_eq!(done.checks.len(), 1, "one round when the clone passes");
    assert_eq!(done.kept.offset_scale, 1.0);
    assert_eq!(done.style, clone);
    assert!((done.kept.pitch_shift + 2.0).abs() < 1e-3, "pitch shift {}", done.kept.pitch_shift);

    let heard = judge.heard.borrow();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].0, TEXTS[1], "only the odd sentences are judged");
    // The judged audio carries the correction: 2 semitones under the same
    // sentence spoken without it.
    let tracker = PitchTracker::new(16_000);
    let judged = tracker.stats([heard[0].1.as_slice()]).unwrap().median_log2();
    let unshifted = speech_pitch(&s.model, &clone, &s.sentences[1..]).unwrap().unwrap().median_log2();
    let moved = 12.0 * (judged - unshifted);
    assert!((moved + 2.0).abs() < 0.4, "the judged voice moved {moved:+.2} semitones, expected -2");
}

#[test]
fn a_misheard_clone_is_scaled_back_toward_its_start_voice() {
    let Some(cache) = cache() else { return };
    let s = setup(&cache);
    let config = FinishConfig::default();

    // The clone fails (9 of 10), the start voice is clean, half the offset is clean: half is kept.
    let judge = Scripted::new(&[9, 0, 0]);
    let done = finish(&s.model, &s.base, &s.offset, &s.sentences, &TEXTS, None, &judge, &config).unwrap();
    let scales: Vec<f32> = done.checks.iter().map(|c| c.offset_scale).collect();
    assert_eq!(scales, [1.0, 0.0, 0.5]);
    assert_eq!(done.kept.offset_scale, 0.5);
    assert_eq!(done.style, scaled(&s, 0.5));
    assert_eq!(done.kept.pitch_shift, 0.0, "no goal, no shift");

    // Half the offset fails too: the start voice itself is kept.
    let judge = Scripted::new(&[9, 0, 9]);
    let done = finish(&s.model, &s.base, &s.offset, &s.sentences, &TEXTS, None, &judge, &config).unwrap();
    assert_eq!(done.kept.offset_scale, 0.0);
    assert_eq!(done.style, s.base);

    // The start voice is just as hard to understand: the clone costs
    // nothing in intelligibility, so it is kept whole.
    let judge = Scripted::new(&[9, 9]);
    let done = finish(&s.model, &s.base, &s.offset, &s.sentences, &TEXTS, None, &judge, &config).unwrap();
    assert_eq!(done.checks.len(), 2);
    assert_eq!(done.kept.offset_scale, 1.0);
    assert_eq!(done.style, scaled(&s, 1.0));
}

#[test]
fn bad_arguments_are_refused_before_any_synthesis() {
    let Some(cache) = cache() else { return };
    let s = setup(&cache);
    let judge = Scripted::new(&[0]);
    let config = FinishConfig::default();
    let run = |base: &[f32], offset: &[f32], sentences: &[Vec<u32>], texts: &[&str], goal: Option<f32>, config: &FinishConfig| {
        finish(&s.model, base, offset, sentences, texts, goal, &judge, config)
    };
    assert!(run(&s.base[..256], &s.offset, &s.sentences, &TEXTS, None, &config).is_err(), "short table");
    assert!(run(&s.base, &s.offset[..10], &s.sentences, &TEXTS, None, &config).is_err(), "short offset");
    assert!(run(&s.base, &s.offset, &s.sentences[..1], &TEXTS[..1], None, &config).is_err(), "one sentence");
    assert!(run(&s.base, &s.offset, &s.sentences, &TEXTS[..1], None, &config).is_err(), "texts do not match");
    assert!(run(&s.base, &s.offset, &[vec![], vec![1]], &TEXTS, None, &config).is_err(), "empty sentence");
    assert!(run(&s.base, &s.offset, &s.sentences, &TEXTS, Some(f32::NAN), &config).is_err(), "NaN goal");
    let nan_scale = FinishConfig { fallback_scales: vec![f32::NAN], ..FinishConfig::default() };
    assert!(run(&s.base, &s.offset, &s.sentences, &TEXTS, None, &nan_scale).is_err(), "NaN scale");
    assert!(judge.heard.borrow().is_empty(), "nothing was judged");
}
