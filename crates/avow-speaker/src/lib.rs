//! The GE2E speaker encoder of resemblyzer 0.1.4, in Candle, and the checks
//! enrollment audio must pass before avow builds a voice from it.
//!
//! For: turning 16 kHz speech into a 256-d unit-norm speaker embedding
//! exactly as resemblyzer's `VoiceEncoder.embed_utterance` does (same mel
//! front end, same partial slicing, same network), comparing embeddings,
//! a differentiable path ([`SpeakerEncoder::embed_tensor`]) so voice cloning
//! can follow gradients toward a speaker, and [`enrollment`]: reading
//! reference recordings, trimming and normalizing them, and refusing audio
//! that is too short, clipped, silent or not from one speaker.
//!
//! Not for: deciding consent (the consent crate does), speech recognition,
//! or training the encoder.
//!
//! Weights come from the pinned `resemblyzer==0.1.4` wheel on PyPI,
//! converted once from its legacy torch checkpoint ([`torch_legacy`]) into
//! `speaker/ge2e-resemblyzer-0.1.4.safetensors` in the model cache
//! ([`weights`]).
//!
//! One documented difference from resemblyzer: its `preprocess_wav` cuts
//! long pauses with webrtcvad, which this crate does not reimplement.
//! [`SpeakerEncoder::embed`] is exactly `embed_utterance` on the samples
//! given (parity-tested), and [`frontend::preprocess`] is `preprocess_wav`
//! with an energy-based voice detector in webrtcvad's place (its embeddings
//! stay within cosine 0.99 of resemblyzer's full pipeline on the fixtures).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

pub mod calibration;
pub mod enrollment;
pub mod frontend;
mod model;
pub mod torch_legacy;
pub mod weights;

pub use model::SpeakerEncoder;

/// Dimensions of a speaker embedding.
pub const EMBEDDING_DIM: usize = 256;

/// Errors of the speaker encoder.
#[derive(Debug, thiserror::Error)]
pub enum SpeakerError {
    /// A file-system operation failed.
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The weights file is not what the encoder needs.
    #[error("speaker encoder weights {}: {detail}", path.display())]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A file's sha256 differs from its pin.
    #[error("{} is corrupted: expected sha256 {expected}, found {actual}; {hint}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Pinned sha256.
        expected: String,
        /// Found sha256.
        actual: String,
        /// What to do about it.
        hint: String,
    },
    /// The legacy torch checkpoint could not be read.
    #[error("resemblyzer checkpoint: {0}")]
    Checkpoint(#[from] torch_legacy::TorchLoadError),
    /// Getting the wheel failed (pip missing, network, ...).
    #[error(transparent)]
    Models(#[from] avow_models::ModelsError),
    /// The input samples cannot be embedded.
    #[error("cannot embed audio: {0}")]
    BadAudio(String),
    /// A tensor operation failed.
    #[error("speaker encoder: {0}")]
    Candle(#[from] candle_core::Error),
}

impl SpeakerError {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |cause| SpeakerError::Io {
            action,
            path,
            cause,
        }
    }
}

/// A 256-d speaker embedding of unit length.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Normalizes `values` to unit length; `None` if they are not
    /// [`EMBEDDING_DIM`] finite numbers with a non-zero norm.
    pub fn from_values(values: Vec<f32>) -> Option<Self> {
        if values.len() != EMBEDDING_DIM || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let norm = values
            .iter()
            .map(|v| f64::from(*v).powi(2))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return None;
        }
        Some(Embedding(
            values
                .iter()
                .map(|v| (f64::from(*v) / norm) as f32)
                .collect(),
        ))
    }

    /// The values.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// Cosine similarity with `other` (both unit length, so the dot product).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        cosine(self, other)
    }

    /// The normalized mean of several embeddings (resemblyzer's
    /// `embed_speaker`); `None` for an empty list.
    pub fn centroid(items: &[Embedding]) -> Option<Embedding> {
        let mut sum = vec![0f32; EMBEDDING_DIM];
        for e in items {
            for (s, v) in sum.iter_mut().zip(&e.0) {
                *s += v;
            }
        }
        if items.is_empty() {
            return None;
        }
        Embedding::from_values(sum)
    }
}

/// Cosine similarity of two embeddings.
pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    a.0.iter()
        .zip(&b.0)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum::<f64>() as f32
}
