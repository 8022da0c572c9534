//! Kokoro-82M in Candle: PL-BERT, text encoder, prosody predictor and the
//! iSTFTNet decoder, plus importers that turn the published checkpoints into
//! one canonical safetensors layout (PyTorch module names, weight-norm folded,
//! LSTM gates in PyTorch order, f32).
//!
//! This is a lower crate: its forward pass takes raw token ids and a raw style
//! vector and returns unmarked audio. Applications must go through the engine,
//! which adds the consent gate and the watermark; this crate is not re-exported
//! there.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod adapter;
pub mod convert;
pub mod convert_pth;
pub mod decoder;
pub mod generator;
pub mod layers;
pub mod model;
pub mod onnx;
pub mod plbert;
pub mod predictor;
pub mod residual;
pub mod stft;
pub mod text_encoder;

pub use adapter::StyleAdapter;
pub use convert_pth::{pth_to_safetensors, read_voice_pt, Layout, PthError, PthReport};
pub use model::{KModel, ModelError, Prepared, Prosody, Rendered, Synthesis, MAX_TOKENS, SAMPLE_RATE, STYLE_DIM};
