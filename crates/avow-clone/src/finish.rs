//! The last stage of a clone: setting its pitch and checking that it is
//! still intelligible.
//!
//! The search optimizes likeness and pitch; nothing in its loss knows
//! whether words stay words. So the found style is spoken over guard
//! sentences and a speech recognizer transcribes it. A clone at or under an
//! absolute word error rate passes at once (the common case, one round).
//! Otherwise the start voice is judged on the same sentences, since some
//! stock voices are themselves hard for the recognizer, and the clone may be
//! at most a margin worse than it; if it is worse still, the style's offset
//! from the start voice is scaled back (by default to a half) and, failing
//! that, dropped: a clone that sounds less like the speaker beats one that
//! cannot be understood.
//!
//! The training sentences are split in two: the even ones set the pitch
//! correction ([`pitch_correction`] on the unshifted style, as the search left
//! it), the odd ones are rendered with that correction applied and
//! transcribed. So a round costs one synthesis per training sentence, the
//! same as measuring the pitch over all of them, and the guard hears exactly
//! the voice the pack will hold.

use avow_kokoro::{KModel, StyleAdapter};
use candle_core::Device;

use crate::resample::Downsample24To16;
use crate::search::{apply_offset, pitch_correction, speak_16k};
use crate::{CloneError, STYLE_DIM, STYLE_ROWS};

/// Counts word errors of speech against the text it should say (a speech
/// recognizer and a word alignment).
pub trait WordErrorCounter {
    /// Edits (substitutions, deletions, insertions) between what is heard in
    /// `audio_16k` (16 kHz mono) and `text`, and the number of words of
    /// `text`.
    fn word_errors(&self, audio_16k: &[f32], text: &str) -> Result<(usize, usize), CloneError>;
}

/// Knobs of [`finish`].
#[derive(Debug, Clone)]
pub struct FinishConfig {
    /// Word error rate (0–1) on the guard sentences under which a clone
    /// passes without comparing it with its start voice.
    pub pass_word_error_rate: f32,
    /// How much worse (0–1, absolute) than its start voice a clone may be.
    pub margin_over_start: f32,
    /// Fractions of the searched offset to try, in order, when the whole
    /// offset fails; the start voice (0) is the last resort.
    pub fallback_scales: Vec<f32>,
}

impl Default for FinishConfig {
    fn default() -> Self {
        // On the 69 words of the guard sentences the stock voices make 0–2
        // errors, except jf_alpha with 6 (BENCHMARKS.md, Cloning,
        // "Intelligibility guard"): 5 % lets 3 errors pass outright. The
        // margin is the tolerance, 3 points (2 words here).
        Self { pass_word_error_rate: 0.05, margin_over_start: 0.03, fallback_scales: vec![0.5] }
    }
}

/// One voice the guard judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardCheck {
    /// Fraction of the change this voice used: of the searched style offset
    /// for a clone, of the adapter for a banked voice (0: the start voice).
    pub offset_scale: f32,
    /// Pitch shift (semitones) measured for this voice and applied.
    pub pitch_shift: f32,
    /// Word errors on the guard sentences.
    pub word_errors: usize,
    /// Words in the guard sentences.
    pub words: usize,
}

impl GuardCheck {
    /// Word error rate (0–1).
    pub fn word_error_rate(&self) -> f32 {
        self.word_errors as f32 / self.words.max(1) as f32
    }
}

/// The finished clone.
#[derive(Debug, Clone)]
pub struct FinishedClone {
    /// Style table: the start voice plus the kept fraction of the offset.
    pub style: Vec<f32>,
    /// The check of the kept voice; its pitch shift goes into the pack.
    pub kept: GuardCheck,
    /// Every voice judged, in order (the kept one among them).
    pub checks: Vec<GuardCheck>,
}

/// Sets the pitch correction of `base + offset` and scales the offset back
/// when the clone fails the intelligibility guard (see the module docs).
///
/// `sentences` are token ids (without pads) of `texts`, at least two, so
/// that each half has one. `goal_log2` is the speaker's median F0 (log2 Hz,
/// as [`crate::CloneTarget::log2_f0_median`]); without it there is no
/// correction.
pub fn finish(
    model: &KModel,
    base: &[f32],
    offset: &[f32],
    sentences: &[Vec<u32>],
    texts: &[&str],
    goal_log2: Option<f32>,
    judge: &dyn WordErrorCounter,
    config: &FinishConfig,
) -> Result<FinishedClone, CloneError> {
    if base.len() != STYLE_ROWS * STYLE_DIM || offset.len() != STYLE_DIM {
        return Err(CloneError::Input("base table or offset has the wrong size".into()));
    }
    if sentences.len() != texts.len() || sentences.len() < 2 {
        return Err(CloneError::Input("the guard needs at least two sentences, each with its text".into()));
    }
    if sentences.iter().any(|s| s.is_empty() || s.len() > avow_kokoro::MAX_TOKENS) {
        return Err(CloneError::Input("sentences must be non-empty token lists within the model's limit".into()));
    }
    if goal_log2.is_some_and(|g| !g.is_finite()) {
        return Err(CloneError::Input("the pitch goal is not finite".into()));
    }
    let round = Round {
        model,
        base,
        offset,
        pitch_set: sentences.iter().step_by(2).cloned().collect(),
        guard_set: sentences.iter().zip(texts).skip(1).step_by(2).map(|(s, t)| (s.clone(), *t)).collect(),
        goal_log2,
        judge,
        down: Downsample24To16::new(&Device::Cpu)?,
    };
    let guarded = guard_scale(config, |scale| round.judge(scale))?;
    Ok(FinishedClone { style: guarded.voice, kept: guarded.kept, checks: guarded.checks })
}

/// The voice a guard kept, with the checks that chose it.
#[derive(Debug, Clone)]
pub struct Guarded<V> {
    /// The kept voice (whatever the caller builds at a scale: a style
    /// table, an adapter).
    pub voice: V,
    /// The check of the kept voice.
    pub kept: GuardCheck,
    /// Every voice judged, in order (the kept one among them).
    pub checks: Vec<GuardCheck>,
}

/// The intelligibility guard's decision, for any change to a voice that can
/// be taken part of the way: `judge_at(scale)` builds the voice `scale` of
/// the way from the start voice (0) to the full change (1) and counts its
/// word errors on the guard sentences.
///
/// The full change passes at or under `pass_word_error_rate`, or when it is
/// at most `margin_over_start` worse than the start voice; otherwise each
/// of `fallback_scales` is tried against the same limit, and the start
/// voice is the last resort. [`finish`] uses it on a clone's style offset;
/// voice banking on its adapter.
pub fn guard_scale<V>(
    config: &FinishConfig,
    mut judge_at: impl FnMut(f32) -> Result<(V, GuardCheck), CloneError>,
) -> Result<Guarded<V>, CloneError> {
    if config.fallback_scales.iter().any(|s| !s.is_finite()) {
        return Err(CloneError::Input("offset scales must be finite".into()));
    }
    let mut checks = Vec::new();
    let (voice, full) = judge_at(1.0)?;
    checks.push(full);
    if full.word_error_rate() <= config.pass_word_error_rate {
        return Ok(Guarded { voice, kept: full, checks });
    }
    let (start_voice, start) = judge_at(0.0)?;
    checks.push(start);
    let allowed = start.word_error_rate() + config.margin_over_start;
    if full.word_error_rate() <= allowed {
        return Ok(Guarded { voice, kept: full, checks });
    }
    for &scale in &config.fallback_scales {
        let (voice, check) = judge_at(scale)?;
        checks.push(check);
        if check.word_error_rate() <= allowed {
            return Ok(Guarded { voice, kept: check, checks });
        }
    }
    Ok(Guarded { voice: start_voice, kept: start, checks })
}

/// Word errors, summed, of `voice` speaking each `(tokens, text)` of
/// `sentences` with the row of `table` for its length, as `judge` hears it,
/// and the words of the texts.
pub fn count_word_errors(
    voice: &KModel,
    table: &[f32],
    sentences: &[(Vec<u32>, &str)],
    judge: &dyn WordErrorCounter,
    down: &Downsample24To16,
) -> Result<(usize, usize), CloneError> {
    if table.len() != STYLE_ROWS * STYLE_DIM {
        return Err(CloneError::Input("style table has the wrong size".into()));
    }
    // All checked before anything is spoken, so a bad list costs no judging.
    if sentences.is_empty() || sentences.iter().any(|(t, _)| t.is_empty() || t.len() > avow_kokoro::MAX_TOKENS) {
        return Err(CloneError::Input("sentences must be non-empty token lists within the model's limit".into()));
    }
    let (mut word_errors, mut words) = (0, 0);
    for (tokens, text) in sentences {
        let (e, w) = judge.word_errors(&speak_16k(voice, table, tokens, down)?, text)?;
        word_errors += e;
        words += w;
    }
    Ok((word_errors, words))
}

/// What one round of the guard needs.
struct Round<'a> {
    model: &'a KModel,
    base: &'a [f32],
    offset: &'a [f32],
    pitch_set: Vec<Vec<u32>>,
    guard_set: Vec<(Vec<u32>, &'a str)>,
    goal_log2: Option<f32>,
    judge: &'a dyn WordErrorCounter,
    down: Downsample24To16,
}

impl Round<'_> {
    /// The style at `scale` of the offset, with its pitch correction set
    /// and its word errors counted.
    fn judge(&self, scale: f32) -> Result<(Vec<f32>, GuardCheck), CloneError> {
        let scaled: Vec<f32> = self.offset.iter().map(|o| o * scale).collect();
        let style = apply_offset(self.base, &scaled);
        let pitch_shift = match self.goal_log2 {
            Some(goal) => pitch_correction(self.model, &style, &self.pitch_set, goal)?.unwrap_or(0.0),
            None => 0.0,
        };
        let voice = self.model.adapted(&StyleAdapter::default().with_pitch_shift(pitch_shift)?)?;
        let (word_errors, words) = count_word_errors(&voice, &style, &self.guard_set, self.judge, &self.down)?;
        Ok((style, GuardCheck { offset_scale: scale, pitch_shift, word_errors, words }))
    }
}
