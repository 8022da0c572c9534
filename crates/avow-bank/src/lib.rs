//! Voice banking: adapts Kokoro-82M to one speaker's own recordings.
//!
//! A style vector alone cannot reach a real person's timbre, so banking fits
//! a [`StyleAdapter`](avow_kokoro::StyleAdapter): offsets to the biases of
//! the style affine layers of the prosody predictor and the decoder. The
//! steps:
//!
//! 1. [`align`]: each recording's phonemes are placed on its audio by
//!    dynamic time warping between the recording and the model's own
//!    synthesis of the same text (mel-cepstra, level-independent), giving
//!    per-token durations; YIN gives its F0 curve on the model's frame grid.
//! 2. [`train`]: the decoder is trained to reconstruct short crops of each
//!    recording from its aligned text, its own F0 and the predictor's energy
//!    (multi-resolution STFT and log-mel losses, [`loss`]); the predictor's
//!    duration encoder and F0 blocks are trained toward the measured
//!    durations and F0; a [`SpeakerGuide`] adds a GE2E speaker-similarity
//!    term on the rendered crops. Held-out recordings decide when to stop (the best
//!    validation loss wins), and a checkpoint is an adapter, so training can
//!    resume.
//! 3. [`guard`]: the adapted voice speaks guard sentences to a speech
//!    recognizer, and an adapter that costs words is scaled back.
//!
//! Like avow-kokoro, this is a lower crate: it handles raw recordings and
//! renders unmarked audio internally; the result is only usable through a
//! voice pack and a consent record that covers it.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod align;
pub mod checkpoint;
pub mod guard;
pub mod loss;
pub mod prompts;
pub mod session;
pub mod train;

pub use align::{align, AlignedRecording};
pub use guard::{guard_adapter, GuardedAdapter};
pub use prompts::{parse_prompt_file, PromptError, PROMPTS_EN_US};
pub use session::{RecordingSession, Rejection, SessionError, Take, TakeCheck, TakeLimits};
pub use train::{adapt, AdaptConfig, Adaptation, SpeakerGuide, StepReport};

/// Errors from aligning or adapting.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    /// The acoustic model failed.
    #[error(transparent)]
    Model(#[from] avow_kokoro::ModelError),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// Inputs that cannot be trained on.
    #[error("{0}")]
    Input(String),
    /// The intelligibility guard failed (its speech recognizer, or speaking
    /// the guard sentences).
    #[error(transparent)]
    Guard(#[from] avow_clone::CloneError),
}
