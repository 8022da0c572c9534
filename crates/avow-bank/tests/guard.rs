//! The banking intelligibility guard (`avow_bank::guard_adapter`): an
//! adapter that is understood is kept whole and judged as the pack will
//! speak (adapted model, the pack's style rows); a misheard one is scaled
//! back toward the voice without it, down to no adapter; one no worse than
//! the voice without it is kept; bad arguments are refused.
//!
//! The judge is scripted (errors per round), so these tests pin the guard's
//! decisions, not Whisper's. Needs the converted weights and stock voices in
//! the model cache; skips without them unless `AVOW_REQUIRE_MODELS=1`.

use std::cell::RefCell;

use avow_bank::guard_adapter;
use avow_clone::{CloneError, FinishConfig, WordErrorCounter};
use avow_kokoro::{KModel, StyleAdapter};

mod common;
use common::{cache, fixture_tokens, style_table};

/// Reports `errors[round]` word errors out of 10 words for every sentence
/// of a round (one sentence per round here), and keeps what it heard.
struct Scripted {
    errors: Vec<usize>,
    heard: RefCell<Vec<(String, Vec<f32>)>>,
}

impl Scripted {
    fn new(errors: &[usize]) -> Self {
        Self {
            errors: errors.to_vec(),
            heard: RefCell::new(Vec::new()),
        }
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

/// The model, a stock table, and an adapter on every decoder style affine
/// large enough to change the audio.
fn setup(cache: &std::path::Path) -> (KModel, Vec<f32>, StyleAdapter) {
    let model = KModel::from_file(&cache.join("kokoro-82m-v1.0.safetensors")).unwrap();
    let mut offsets = Vec::new();
    model
        .clone()
        .visit_style_affines(&mut |name, layer| {
            if name.starts_with("decoder.") {
                let n = layer.bias().expect("style affines have biases").dim(0)?;
                offsets.push((
                    name.to_string(),
                    (0..n).map(|i| 0.3 * ((i % 5) as f32 - 2.0)).collect(),
                ));
            }
            Ok(())
        })
        .unwrap();
    (
        model,
        style_table(cache, "jm_kumo"),
        StyleAdapter::from_offsets(offsets),
    )
}

const TEXT: [&str; 1] = ["the guard sentence"];

#[test]
fn an_understood_adapter_is_kept_whole_and_judged_as_the_pack_will_speak() {
    let Some(cache) = cache() else { return };
    let (model, table, adapter) = setup(&cache);
    let tokens = fixture_tokens("short");
    let judge = Scripted::new(&[0]);
    let done = guard_adapter(
        &model,
        &table,
        &adapter,
        &[tokens.clone()],
        &TEXT,
        &judge,
        &FinishConfig::default(),
    )
    .unwrap();
    assert_eq!(done.checks.len(), 1, "one round when the adapter passes");
    assert_eq!(done.kept.offset_scale, 1.0);
    assert_eq!(done.voice, adapter);

    // The judge heard the adapted model with the table's row for the
    // sentence's length, at 16 kHz, and not the base model.
    let heard = judge.heard.borrow();
    assert_eq!(heard[0].0, TEXT[0]);
    let row = &table[(tokens.len() - 1) * 256..tokens.len() * 256];
    let to16 = |m: &KModel| {
        avow_audio::resample(
            &m.synthesize(&tokens, row, 1.0).unwrap().audio,
            24_000,
            16_000,
        )
        .unwrap()
    };
    let distance = |a: &[f32], b: &[f32]| -> f32 {
        let n = a.len().min(b.len());
        a[..n]
            .iter()
            .zip(&b[..n])
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f32>()
            / b[..n].iter().map(|y| y * y).sum::<f32>()
    };
    let (adapted, base) = (to16(&model.adapted(&adapter).unwrap()), to16(&model));
    let (to_adapted, to_base) = (
        distance(&heard[0].1, &adapted),
        distance(&heard[0].1, &base),
    );
    assert!(
        to_adapted < 0.01 && to_base > 0.1,
        "relative error to the adapted voice {to_adapted}, to the base voice {to_base}"
    );
}

#[test]
fn a_misheard_adapter_is_scaled_back_toward_the_voice_without_it() {
    let Some(cache) = cache() else { return };
    let (model, table, adapter) = setup(&cache);
    let sentences = [fixture_tokens("short")];
    let config = FinishConfig::default();
    let run = |errors: &[usize]| {
        guard_adapter(
            &model,
            &table,
            &adapter,
            &sentences,
            &TEXT,
            &Scripted::new(errors),
            &config,
        )
        .unwrap()
    };

    // Adapted voice misheard (9 of 10), the voice without it clean, half the adapter clean: half is kept.
    let done = run(&[9, 0, 0]);
    let scales: Vec<f32> = done.checks.iter().map(|c| c.offset_scale).collect();
    assert_eq!(scales, [1.0, 0.0, 0.5]);
    assert_eq!(done.kept.offset_scale, 0.5);
    assert_eq!(done.voice, adapter.scaled(0.5).unwrap());

    // Half fails too: no adapter at all.
    let done = run(&[9, 0, 9]);
    assert_eq!(done.kept.offset_scale, 0.0);
    assert!(done
        .voice
        .to_tensors()
        .iter()
        .all(|(_, _, v)| v.iter().all(|&x| x == 0.0)));

    // The voice without the adapter is just as hard to understand: the
    // adapter costs nothing in intelligibility and is kept whole.
    let done = run(&[9, 9]);
    assert_eq!(done.checks.len(), 2);
    assert_eq!(done.voice, adapter);
}

#[test]
fn bad_arguments_are_refused_before_anything_is_judged() {
    let Some(cache) = cache() else { return };
    let (model, table, adapter) = setup(&cache);
    let judge = Scripted::new(&[0]);
    let ok = [fixture_tokens("short")];
    let config = FinishConfig::default();
    assert!(
        guard_adapter(&model, &table[..256], &adapter, &ok, &TEXT, &judge, &config).is_err(),
        "short table"
    );
    assert!(
        guard_adapter(&model, &table, &adapter, &[], &[], &judge, &config).is_err(),
        "no sentence"
    );
    assert!(
        guard_adapter(&model, &table, &adapter, &ok, &["a", "b"], &judge, &config).is_err(),
        "texts do not match"
    );
    assert!(
        guard_adapter(&model, &table, &adapter, &[vec![]], &TEXT, &judge, &config).is_err(),
        "empty sentence"
    );
    let nan_scale = FinishConfig {
        fallback_scales: vec![f32::NAN],
        ..FinishConfig::default()
    };
    assert!(
        guard_adapter(&model, &table, &adapter, &ok, &TEXT, &judge, &nan_scale).is_err(),
        "NaN scale"
    );
    assert!(judge.heard.borrow().is_empty(), "nothing was judged");
}
