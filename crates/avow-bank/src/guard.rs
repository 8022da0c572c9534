//! The intelligibility guard on a trained adapter.
//!
//! Training fits spectra, durations, F0 and the speaker encoder's view of
//! the voice; nothing in its loss knows whether words stay words, and an
//! adapter fitted to a few noisy recordings can cost a listener (or a
//! speech recognizer) words. So the adapted voice speaks guard sentences
//! and a recognizer transcribes them, with the same decision as a clone's
//! guard ([`avow_clone::guard_scale`]): the adapter passes at or under an
//! absolute word error rate, or when it is at most a margin worse than the
//! voice without it (the pack's style on the base model); otherwise the
//! adapter is scaled back (by default to a half) and, failing that, dropped.

use avow_clone::{count_word_errors, guard_scale, Downsample24To16, FinishConfig, GuardCheck, Guarded, WordErrorCounter};
use avow_kokoro::{KModel, StyleAdapter};
use candle_core::Device;

use crate::BankError;

/// The sentences `avow bank train` judges an adapter on: the style search's
/// training sentences, all of them (banking sets no pitch correction, so
/// none are needed for that), never the benchmarks' evaluation sentences.
pub const GUARD_TEXTS_EN: &[&str] = avow_clone::sentences::TRAINING_EN;

/// The adapter the guard kept (`voice`: the trained adapter scaled by the
/// kept check's `offset_scale`), with the checks that chose it.
pub type GuardedAdapter = Guarded<StyleAdapter>;

/// Judges `model` with `adapter` (and the style rows of `table`) speaking
/// every one of `sentences` (token ids without pads, one per text of
/// `texts`), and scales the adapter back while it is misheard; see the
/// module docs. `config.fallback_scales` are fractions of the adapter.
/// A bad table or sentence list is refused before anything is judged.
pub fn guard_adapter(
    model: &KModel,
    table: &[f32],
    adapter: &StyleAdapter,
    sentences: &[Vec<u32>],
    texts: &[&str],
    judge: &dyn WordErrorCounter,
    config: &FinishConfig,
) -> Result<GuardedAdapter, BankError> {
    if sentences.len() != texts.len() {
        return Err(BankError::Input("the guard needs each sentence with its text".into()));
    }
    let set: Vec<(Vec<u32>, &str)> = sentences.iter().cloned().zip(texts.iter().copied()).collect();
    let down = Downsample24To16::new(&Device::Cpu)?;
    Ok(guard_scale(config, |scale| {
        let scaled = adapter.scaled(scale)?;
        let (word_errors, words) = count_word_errors(&model.adapted(&scaled)?, table, &set, judge, &down)?;
        Ok((scaled, GuardCheck { offset_scale: scale, pitch_shift: adapter.pitch_shift(), word_errors, words }))
    })?)
}
