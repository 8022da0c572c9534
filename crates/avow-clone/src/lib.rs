//! Voice cloning for Kokoro by analysis-by-synthesis.
//!
//! Kokoro speaks in the voice its 256-value style vector describes, but ships
//! no encoder from audio to style. This crate finds a style for a speaker by
//! synthesizing through the Candle model and following gradients toward the
//! speaker's embedding and pitch, regularized toward the stock voices' styles
//! ([`search`]), then sets the clone's pitch correction and checks that its
//! speech is still intelligible ([`finish`]).
//!
//! It runs the model without the consent gate and without a watermark, so it
//! never returns audio: its output is a style table for a voice pack, which
//! is useless until a consent record for that pack verifies.

pub mod finish;
pub mod pitch;
pub mod resample;
pub mod search;
pub mod sentences;

pub use finish::{count_word_errors, finish, guard_scale, FinishConfig, FinishedClone, GuardCheck, Guarded, WordErrorCounter};
pub use pitch::{masked_mean_log2, semitones, PitchStats, PitchTracker};
pub use resample::Downsample24To16;
pub use search::{apply_offset, pitch_correction, search, speech_pitch, style_spread, CloneTarget, SearchConfig, SearchResult, SpeakerEmbedder, StepReport, MAX_PITCH_CORRECTION};

/// Rows of a Kokoro style table (one per utterance length in tokens).
pub const STYLE_ROWS: usize = 510;
/// Values per style row.
pub const STYLE_DIM: usize = avow_kokoro::STYLE_DIM;

/// Errors of the style search.
#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    /// Arguments the search cannot work with.
    #[error("{0}")]
    Input(String),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] avow_kokoro::ModelError),
    /// The intelligibility guard's judge (a speech recognizer) failed.
    #[error("intelligibility check: {0}")]
    Judge(String),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}
