//! The whole Kokoro-82M pipeline: tokens and a style vector in, 24 kHz audio out.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

use crate::decoder::Decoder;
use crate::layers::Linear;
use crate::plbert::PlBert;
use crate::predictor::ProsodyPredictor;
use crate::text_encoder::TextEncoder;

/// Output sample rate.
pub const SAMPLE_RATE: u32 = 24_000;
/// Most tokens the model accepts between the two pad tokens.
pub const MAX_TOKENS: usize = 510;
/// Width of a style vector: 128 for the decoder, then 128 for prosody.
pub const STYLE_DIM: usize = 256;
/// Audio samples per predicted duration unit.
pub const SAMPLES_PER_FRAME: usize = 600;

/// Errors from running the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A tensor operation failed (including missing or misshapen weights).
    #[error("model error: {0}")]
    Candle(#[from] candle_core::Error),
    /// The weights file could not be read.
    #[error("cannot read weights {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Inputs outside what the model accepts.
    #[error("invalid input: {0}")]
    Input(String),
}

/// What one synthesis produced.
#[derive(Debug, Clone)]
pub struct Synthesis {
    /// Mono audio at [`SAMPLE_RATE`].
    pub audio: Vec<f32>,
    /// Frames assigned to each input token, pads included (one frame = 600 samples).
    pub durations: Vec<u32>,
}

/// Audio and the prosody it was rendered from, as tensors.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Audio `[1, 600·F]` at [`SAMPLE_RATE`].
    pub audio: Tensor,
    /// F0 in Hz `[1, 2F]` (two values per frame).
    pub f0: Tensor,
    /// Energy `[1, 2F]`.
    pub energy: Tensor,
}

/// What the prosody predictor says for given tokens, style and durations
/// (all differentiable): the targets voice banking fits.
#[derive(Debug, Clone)]
pub struct Prosody {
    /// Unrounded frames per token `[T]`, pads included.
    pub durations: Tensor,
    /// F0 in Hz `[1, 2F]`.
    pub f0: Tensor,
    /// Energy `[1, 2F]`.
    pub energy: Tensor,
}

/// Kokoro-82M with its weights loaded.
#[derive(Debug, Clone)]
pub struct KModel {
    bert: PlBert,
    bert_encoder: Linear,
    text_encoder: TextEncoder,
    predictor: ProsodyPredictor,
    decoder: Decoder,
    device: Device,
}

impl KModel {
    /// Builds the model from a canonical-layout var builder.
    pub fn load(vb: VarBuilder) -> Result<Self, ModelError> {
        Ok(Self {
            bert: PlBert::load(vb.pp("bert"))?,
            bert_encoder: Linear::load(vb.pp("bert_encoder"), true)?,
            text_encoder: TextEncoder::load(vb.pp("text_encoder"))?,
            predictor: ProsodyPredictor::load(vb.pp("predictor"))?,
            decoder: Decoder::load(vb.pp("decoder"))?,
            device: vb.device().clone(),
        })
    }

    /// Loads canonical safetensors weights from a file.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)?;
        Self::load(vb)
    }

    /// Synthesizes `tokens` (vocabulary ids without the pads; at most
    /// [`MAX_TOKENS`]) with a `style` vector of [`STYLE_DIM`] values. `speed`
    /// divides the predicted durations.
    pub fn synthesize(&self, tokens: &[u32], style: &[f32], speed: f32) -> Result<Synthesis, ModelError> {
        // PL-BERT and the duration encoder run once (in `prepare`): their
        // features give both the durations and, spread over frames, the
        // prosody input.
        let prepared = self.prepare(tokens, style, speed)?;
        let audio = self.decoder.forward(&prepared.asr, &prepared.f0, &prepared.energy, &prepared.decoder_style)?;
        Ok(Synthesis { audio: audio.squeeze(0)?.to_vec1()?, durations: prepared.durations })
    }

    /// Token-level durations in frames (rounded, at least 1), for `ids`
    /// `[1, T]` including pads.
    pub fn predict_durations(&self, ids: &Tensor, style: &Tensor, speed: f32) -> Result<Vec<u32>, ModelError> {
        Ok(round_durations(&self.raw_durations(ids, style)?, speed))
    }

    /// Unrounded durations (expected frames per token at speed 1).
    pub fn raw_durations(&self, ids: &Tensor, style: &Tensor) -> Result<Vec<f32>, ModelError> {
        let d = self.duration_features(ids, style)?;
        Ok(self.predictor.durations(&d)?.to_vec1()?)
    }

    fn duration_features(&self, ids: &Tensor, style: &Tensor) -> candle_core::Result<Tensor> {
        let bert = self.bert.forward(ids)?;
        let d_en = self.bert_encoder.forward(&bert)?.transpose(1, 2)?;
        self.predictor.text_encoder.forward(&d_en, &prosody_style(style)?)
    }

    /// Renders audio for given durations: alignment, F0 and energy, decoder.
    /// Differentiable with respect to the weights and the style.
    pub fn render(&self, ids: &Tensor, style: &Tensor, durations: &[u32]) -> Result<Tensor, ModelError> {
        let d = self.duration_features(ids, style)?;
        self.render_from_features(ids, style, &d, durations)
    }

    fn render_from_features(&self, ids: &Tensor, style: &Tensor, d: &Tensor, durations: &[u32]) -> Result<Tensor, ModelError> {
        Ok(self.render_parts_from_features(ids, style, d, durations)?.audio)
    }

    /// Like [`Self::render`], also returning the predicted F0 and energy
    /// curves it rendered from (all differentiable), for objectives on pitch.
    pub fn render_parts(&self, ids: &Tensor, style: &Tensor, durations: &[u32]) -> Result<Rendered, ModelError> {
        let d = self.duration_features(ids, style)?;
        self.render_parts_from_features(ids, style, &d, durations)
    }

    fn render_parts_from_features(&self, ids: &Tensor, style: &Tensor, d: &Tensor, durations: &[u32]) -> Result<Rendered, ModelError> {
        let alignment = self.alignment(ids, durations)?;
        let (f0, energy) = self.prosody(d, style, &alignment)?;
        let asr = self.text_encoder.forward(ids)?.matmul(&alignment)?;
        let audio = self.decoder.forward(&asr, &f0, &energy, &style.narrow(1, 0, 128)?)?;
        Ok(Rendered { audio, f0, energy })
    }

    /// The predictor's durations, F0 and energy for `ids` `[1, T]` rendered
    /// with `durations` (e.g. measured on a recording rather than predicted).
    pub fn predict_prosody(&self, ids: &Tensor, style: &Tensor, durations: &[u32]) -> Result<Prosody, ModelError> {
        let d = self.duration_features(ids, style)?;
        let alignment = self.alignment(ids, durations)?;
        let (f0, energy) = self.prosody(&d, style, &alignment)?;
        Ok(Prosody { durations: self.predictor.durations(&d)?, f0, energy })
    }

    /// The text encoder's features spread over frames by `durations`:
    /// `[1, 512, F]`, the decoder's content input.
    pub fn aligned_text(&self, ids: &Tensor, durations: &[u32]) -> Result<Tensor, ModelError> {
        let alignment = self.alignment(ids, durations)?;
        Ok(self.text_encoder.forward(ids)?.matmul(&alignment)?)
    }

    /// The decoder alone: content `asr` `[1, 512, F]`, `f0` and `energy`
    /// `[1, 2F]`, and a full `style` `[1, 256]` (its decoder half is used) →
    /// audio `[1, 600·F]`. Any window of whole frames can be decoded on its
    /// own, which is how adaptation trains on short crops.
    pub fn decode(&self, asr: &Tensor, f0: &Tensor, energy: &Tensor, style: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.decoder.forward(asr, f0, energy, &style.narrow(1, 0, 128)?)?)
    }

    /// The prosody predictor's F0 and energy curves for given durations, `[2F]` each.
    pub fn f0_energy(&self, ids: &Tensor, style: &Tensor, durations: &[u32]) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
        let alignment = self.alignment(ids, durations)?;
        let (f0, n) = self.prosody(&self.duration_features(ids, style)?, style, &alignment)?;
        Ok((f0.squeeze(0)?.to_vec1()?, n.squeeze(0)?.to_vec1()?))
    }

    /// One-hot token-to-frame alignment `[1, T, F]` from per-token durations.
    fn alignment(&self, ids: &Tensor, durations: &[u32]) -> Result<Tensor, ModelError> {
        let frames: usize = durations.iter().map(|&d| d as usize).sum();
        let t = ids.dim(1)?;
        if durations.len() != t || frames == 0 {
            return Err(ModelError::Input(format!("{} durations for {t} tokens", durations.len())));
        }
        let mut alignment = vec![0f32; t * frames];
        let mut frame = 0;
        for (token, &d) in durations.iter().enumerate() {
            for _ in 0..d {
                alignment[token * frames + frame] = 1.0;
                frame += 1;
            }
        }
        Ok(Tensor::from_vec(alignment, (1, t, frames), &self.device)?)
    }

    /// F0 and energy `[1, 2F]` from duration-encoder features `d` spread over frames.
    fn prosody(&self, d: &Tensor, style: &Tensor, alignment: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let en = d.transpose(1, 2)?.matmul(alignment)?;
        self.predictor.f0_energy(&en, &prosody_style(style)?)
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    pub(crate) fn predictor_mut(&mut self) -> &mut ProsodyPredictor {
        &mut self.predictor
    }

    pub(crate) fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }
}

/// An utterance taken through everything but the decoder: durations and
/// the frame-level text features, F0 and energy of every frame. Rendering a
/// window of its frames ([`KModel::render_frames`]) costs in proportion to
/// the window, so the start of a long utterance can be heard before the rest
/// is rendered.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Aligned text-encoder features `[1, 512, F]`.
    asr: Tensor,
    /// F0 in Hz and energy, `[1, 2F]` each.
    f0: Tensor,
    energy: Tensor,
    /// The decoder half of the style vector `[1, 128]`.
    decoder_style: Tensor,
    durations: Vec<u32>,
}

impl Prepared {
    /// Frames in the utterance (600 samples each), pads included.
    pub fn frames(&self) -> usize {
        self.durations.iter().map(|&d| d as usize).sum()
    }

    /// Frames assigned to each token, pads included.
    pub fn durations(&self) -> &[u32] {
        &self.durations
    }

    /// The predicted energy, two values per frame (the decoder's `N`
    /// input: about −9 in silence and 5 to 9 in speech).
    pub fn energy(&self) -> Result<Vec<f32>, ModelError> {
        Ok(self.energy.flatten_all()?.to_vec1()?)
    }
}

impl KModel {
    /// Runs [`Self::synthesize`] up to the decoder (same inputs and checks).
    pub fn prepare(&self, tokens: &[u32], style: &[f32], speed: f32) -> Result<Prepared, ModelError> {
        check_inputs(tokens, style, speed)?;
        let mut ids = Vec::with_capacity(tokens.len() + 2);
        ids.push(0);
        ids.extend_from_slice(tokens);
        ids.push(0);
        let ids = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?;
        let style = Tensor::new(style, &self.device)?.unsqueeze(0)?;
        let d = self.duration_features(&ids, &style)?;
        let raw: Vec<f32> = self.predictor.durations(&d)?.to_vec1()?;
        let durations = round_durations(&raw, speed);
        let alignment = self.alignment(&ids, &durations)?;
        let (f0, energy) = self.prosody(&d, &style, &alignment)?;
        let asr = self.text_encoder.forward(&ids)?.matmul(&alignment)?;
        Ok(Prepared { asr, f0, energy, decoder_style: style.narrow(1, 0, 128)?, durations })
    }

    /// Audio (600 samples per frame) of `frames` of a prepared utterance.
    /// The whole range gives exactly [`Self::synthesize`]'s audio. A window
    /// is rendered as if the utterance consisted of it alone, except that
    /// the harmonic source's phase runs on from the frames before it; near
    /// the window's edges the audio therefore differs from the whole
    /// rendering (convolution padding, per-window instance-norm
    /// statistics): callers render a few frames of context past a cut and
    /// cross-fade there.
    pub fn render_frames(&self, prepared: &Prepared, frames: std::ops::Range<usize>) -> Result<Vec<f32>, ModelError> {
        let total = prepared.frames();
        if frames.start >= frames.end || frames.end > total {
            return Err(ModelError::Input(format!("frames {frames:?} outside the utterance's 0..{total}")));
        }
        let (start, len) = (frames.start, frames.len());
        let asr = prepared.asr.narrow(2, start, len)?;
        let f0 = prepared.f0.narrow(1, 2 * start, 2 * len)?;
        let energy = prepared.energy.narrow(1, 2 * start, 2 * len)?;
        let source = self.decoder.generator.harmonic_source_range(&prepared.f0, 2 * start..2 * frames.end)?;
        let audio = self.decoder.forward_with_source(&asr, &f0, &energy, &prepared.decoder_style, &source)?;
        Ok(audio.squeeze(0)?.to_vec1()?)
    }
}

fn check_inputs(tokens: &[u32], style: &[f32], speed: f32) -> Result<(), ModelError> {
    if tokens.is_empty() || tokens.len() > MAX_TOKENS {
        return Err(ModelError::Input(format!("{} tokens; the model takes 1 to {MAX_TOKENS}", tokens.len())));
    }
    if style.len() != STYLE_DIM || style.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::Input(format!("style must be {STYLE_DIM} finite values")));
    }
    if !(speed.is_finite() && (0.25..=4.0).contains(&speed)) {
        return Err(ModelError::Input(format!("speed {speed} is outside 0.25..=4")));
    }
    Ok(())
}

fn prosody_style(style: &Tensor) -> candle_core::Result<Tensor> {
    style.narrow(1, 128, 128)
}

/// Frames per token: `raw / speed` rounded (halves to even), at least 1.
fn round_durations(raw: &[f32], speed: f32) -> Vec<u32> {
    raw.iter().map(|&d| round_half_even(d / speed).max(1.0) as u32).collect()
}

/// Rounds halves to even, as `torch.round` and ONNX `Round` do.
fn round_half_even(x: f32) -> f32 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_halves_to_even_and_never_drop_below_one_frame() {
        assert_eq!(round_durations(&[0.2, 1.5, 2.5, 3.5, 2.49, 7.0], 1.0), vec![1, 2, 2, 4, 2, 7]);
        // Speed divides before rounding: 5 frames at 2x is 2.5 → 2.
        assert_eq!(round_durations(&[5.0, 3.0], 2.0), vec![2, 2]);
    }
}
