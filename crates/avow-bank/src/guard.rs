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

use avow_clone::{
    count_word_errors, guard_scale, Downsample24To16, FinishConfig, GuardCheck, WordErrorCounter,
};
use avow_kokoro::{KModel, StyleAdapter};
use candle_core::Device;

use crate::BankError;

/// The sentences `avow bank train` judges an adapter on: the style search's
/// training sentences, all of them (banking sets no pitch correction, so
/// none are needed for that), never the benchmarks' evaluation sentences.
pub const GUARD_TEXTS_EN: &[&str] = avow_clone::sentences::TRAINING_EN;

/// The adapter the guard kept, with the checks that chose it.
#[derive(Debug, Clone)]
pub struct GuardedAdapter {
    /// The trained adapter scaled by the kept check's `offset_scale`.
    pub adapter: StyleAdapter,
    /// The check of the kept voice (`offset_scale` is the adapter's scale).
    pub kept: GuardCheck,
    /// Every voice judged, in order (the kept one among them).
    pub checks: Vec<GuardCheck>,
}

/// Judges `model` with `adapter` (and the style rows of `table`) speaking
/// every one of `sentences` (token ids without pads, one per text of
/// `texts`), and scales the adapter back while it is misheard; see the
/// module docs. `config.fallback_scales` are fractions of the adapter.
pub fn guard_adapter(
    model: &KModel,
    table: &[f32],
    adapter: &StyleAdapter,
    sentences: &[Vec<u32>],
    texts: &[&str],
    judge: &dyn WordErrorCounter,
    config: &FinishConfig,
) -> Result<GuardedAdapter, BankError> {
    if table.len() != avow_clone::STYLE_ROWS * avow_clone::STYLE_DIM {
        return Err(BankError::Input(
            "the style table has the wrong size".into(),
        ));
    }
    if sentences.is_empty() || sentences.len() != texts.len() {
        return Err(BankError::Input(
            "the guard needs at least one sentence, each with its text".into(),
        ));
    }
    if sentences
        .iter()
        .any(|s| s.is_empty() || s.len() > avow_kokoro::MAX_TOKENS)
    {
        return Err(BankError::Input(
            "guard sentences must be non-empty token lists within the model's limit".into(),
        ));
    }
    let set: Vec<(Vec<u32>, &str)> = sentences
        .iter()
        .cloned()
        .zip(texts.iter().copied())
        .collect();
    let down = Downsample24To16::new(&Device::Cpu)?;
    let guarded = guard_scale(config, |scale| {
        let scaled = adapter.scaled(scale)?;
        let voice = model.adapted(&scaled)?;
        let (word_errors, words) = count_word_errors(&voice, table, &set, judge, &down)?;
        Ok((
            scaled,
            GuardCheck {
                offset_scale: scale,
                pitch_shift: adapter.pitch_shift(),
                word_errors,
                words,
            },
        ))
    })?;
    Ok(GuardedAdapter {
        adapter: guarded.voice,
        kept: guarded.kept,
        checks: guarded.checks,
    })
}
