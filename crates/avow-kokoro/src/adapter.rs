//! Speaker adapters: per-speaker offsets to the bias of every style affine
//! layer (the `fc` of each AdaIN / adaptive layer norm), learned by voice
//! banking and stored in the voice pack.
//!
//! Why the biases: Kokoro conditions every normalization layer of the
//! prosody predictor and the decoder on the style vector through
//! `gain, bias = fc(style)`. For one speaker the style is nearly constant, so
//! an offset to `fc`'s bias is a free per-channel gain and bias for every
//! normalized feature map, 49,684 numbers in all (200 kB), far more
//! expressive than the 256-value style vector and still small enough to fit
//! from a minute of speech. Applying it costs nothing at inference: the
//! offsets are folded into the biases once, the forward pass is unchanged.
//!
//! An adapter may also carry a pitch shift in semitones (tensor
//! [`PITCH_TENSOR`]), which scales the prosody predictor's F0 curve. Style
//! search sets it to land a clone's median pitch on the speaker's when the
//! style alone overshoots; it costs one multiplication per frame.

use std::collections::BTreeMap;

use candle_core::{Result, Tensor};

use crate::layers::Linear;
use crate::model::{KModel, ModelError};

/// Called with each style affine layer's canonical name (e.g.
/// `decoder.decode.0.norm1.fc`) and the layer.
pub type StyleAffineVisitor<'a> = dyn FnMut(&str, &mut Linear) -> Result<()> + 'a;

/// Tensor names in a voice pack start with this, then the layer name, then `.bias`.
pub const TENSOR_PREFIX: &str = "adapter.";
const TENSOR_SUFFIX: &str = ".bias";
/// Voice-pack tensor holding the pitch shift: f32, shape `[1]`, semitones.
pub const PITCH_TENSOR: &str = "adapter.pitch_shift";
/// Largest pitch shift accepted, in semitones either way. A correction is a
/// few semitones; an octave or more would be another voice, not this one.
pub const MAX_PITCH_SHIFT: f32 = 12.0;

/// Bias offsets keyed by style affine layer name, and a pitch shift.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StyleAdapter {
    offsets: BTreeMap<String, Vec<f32>>,
    pitch_semitones: f32,
}

impl StyleAdapter {
    /// An adapter from `(layer name, offset)` pairs (names as the visitor
    /// reports them, without prefix or suffix).
    pub fn from_offsets(offsets: impl IntoIterator<Item = (String, Vec<f32>)>) -> Self {
        Self { offsets: offsets.into_iter().collect(), pitch_semitones: 0.0 }
    }

    /// This adapter with its pitch shift set to `semitones` (positive is
    /// higher). Refuses non-finite values and shifts beyond
    /// ±[`MAX_PITCH_SHIFT`].
    pub fn with_pitch_shift(mut self, semitones: f32) -> std::result::Result<Self, ModelError> {
        if !semitones.is_finite() || semitones.abs() > MAX_PITCH_SHIFT {
            return Err(ModelError::Input(format!("pitch shift {semitones} semitones is outside ±{MAX_PITCH_SHIFT}")));
        }
        self.pitch_semitones = semitones;
        Ok(self)
    }

    /// The pitch shift in semitones (0 when none).
    pub fn pitch_shift(&self) -> f32 {
        self.pitch_semitones
    }

    /// Parses the `adapter.<layer>.bias` tensors of a voice pack, and its
    /// [`PITCH_TENSOR`] if present, given as `(name, shape, values)`. Names
    /// that follow neither pattern, shapes that are not one-dimensional, a
    /// pitch tensor that is not one value within ±[`MAX_PITCH_SHIFT`], and
    /// non-finite values are refused.
    pub fn from_tensors(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> std::result::Result<Self, ModelError> {
        let mut offsets = BTreeMap::new();
        let mut pitch = None;
        for (name, shape, values) in tensors {
            if name == PITCH_TENSOR {
                if shape.as_slice() != [1] || values.len() != 1 || pitch.is_some() {
                    return Err(ModelError::Input(format!("adapter tensor {name:?} must hold one value, has shape {shape:?}")));
                }
                pitch = Some(values[0]);
                continue;
            }
            let layer = name
                .strip_prefix(TENSOR_PREFIX)
                .and_then(|n| n.strip_suffix(TENSOR_SUFFIX))
                .ok_or_else(|| ModelError::Input(format!("adapter tensor {name:?} is not named {TENSOR_PREFIX}<layer>{TENSOR_SUFFIX}")))?;
            if shape.len() != 1 || shape[0] != values.len() {
                return Err(ModelError::Input(format!("adapter tensor {name:?} has shape {shape:?}; expected one dimension")));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(ModelError::Input(format!("adapter tensor {name:?} holds a non-finite value")));
            }
            offsets.insert(layer.to_string(), values.clone());
        }
        Self { offsets, pitch_semitones: 0.0 }.with_pitch_shift(pitch.unwrap_or(0.0))
    }

    /// The voice-pack tensors `(name, shape, values)` for this adapter.
    pub fn to_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let mut tensors: Vec<_> = self
            .offsets
            .iter()
            .map(|(layer, v)| (format!("{TENSOR_PREFIX}{layer}{TENSOR_SUFFIX}"), vec![v.len()], v.clone()))
            .collect();
        if self.pitch_semitones != 0.0 {
            tensors.push((PITCH_TENSOR.to_string(), vec![1], vec![self.pitch_semitones]));
        }
        tensors
    }

    /// Whether the adapter changes nothing.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty() && self.pitch_semitones == 0.0
    }

    /// Number of parameters.
    pub fn parameters(&self) -> usize {
        self.offsets.values().map(Vec::len).sum::<usize>() + usize::from(self.pitch_semitones != 0.0)
    }

    /// The offset for one layer, if any.
    pub fn offset(&self, layer: &str) -> Option<&[f32]> {
        self.offsets.get(layer).map(Vec::as_slice)
    }

    /// This adapter with every bias offset multiplied by `factor` and the
    /// pitch shift kept: 0 gives the base model's biases, 1 this adapter,
    /// values between move part of the way (how voice banking backs off an
    /// adapter that costs intelligibility). Refuses a non-finite factor.
    pub fn scaled(&self, factor: f32) -> std::result::Result<Self, ModelError> {
        if !factor.is_finite() {
            return Err(ModelError::Input(format!("adapter scale {factor} is not finite")));
        }
        let offsets = self.offsets.iter().map(|(k, v)| (k.clone(), v.iter().map(|x| x * factor).collect())).collect();
        Ok(Self { offsets, pitch_semitones: self.pitch_semitones })
    }
}

impl KModel {
    /// Calls `visit` on every style affine layer of the prosody predictor
    /// (`predictor.*`) and the decoder (`decoder.*`), in a fixed order.
    pub fn visit_style_affines(&mut self, visit: &mut StyleAffineVisitor) -> Result<()> {
        self.predictor_mut().visit_style_affines("predictor", visit)?;
        self.decoder_mut().visit_style_affines("decoder", visit)
    }

    /// A copy of the model with `adapter` folded into its biases (and its
    /// pitch shift into the F0 predictor). The copy
    /// shares every other weight with `self` (tensors are reference
    /// counted), so it costs a few hundred kilobytes, not a second model.
    /// Refuses an adapter that names a layer the model does not have or
    /// whose size does not match.
    pub fn adapted(&self, adapter: &StyleAdapter) -> std::result::Result<KModel, ModelError> {
        let mut model = self.clone();
        if adapter.is_empty() {
            return Ok(model);
        }
        if adapter.pitch_semitones != 0.0 {
            model.predictor_mut().set_f0_scale(2f64.powf(adapter.pitch_semitones as f64 / 12.0));
        }
        let mut used = 0usize;
        model.visit_style_affines(&mut |name, layer| {
            let Some(offset) = adapter.offset(name) else { return Ok(()) };
            let Some(bias) = layer.bias() else {
                candle_core::bail!("style affine {name} has no bias to adapt");
            };
            if offset.len() != bias.dim(0)? {
                candle_core::bail!("adapter for {name} has {} values; the layer has {}", offset.len(), bias.dim(0)?);
            }
            let shifted = (bias + Tensor::new(offset, bias.device())?)?;
            layer.set_bias(shifted)?;
            used += 1;
            Ok(())
        })
        .map_err(|e| ModelError::Input(format!("adapter does not fit the model: {e}")))?;
        if used != adapter.offsets.len() {
            let mut known = Vec::new();
            model.visit_style_affines(&mut |name, _| {
                known.push(name.to_string());
                Ok(())
            })?;
            let unknown: Vec<&String> = adapter.offsets.keys().filter(|k| !known.contains(k)).collect();
            return Err(ModelError::Input(format!("adapter names layers the model does not have: {unknown:?}")));
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_multiplies_every_offset_and_keeps_the_pitch_shift() {
        let adapter = StyleAdapter::from_offsets([("a.fc".to_string(), vec![1.0, -2.0]), ("b.fc".to_string(), vec![4.0])])
            .with_pitch_shift(-1.5)
            .unwrap();
        let half = adapter.scaled(0.5).unwrap();
        assert_eq!(half.offset("a.fc"), Some(&[0.5, -1.0][..]));
        assert_eq!(half.offset("b.fc"), Some(&[2.0][..]));
        assert_eq!(half.pitch_shift(), -1.5);
        assert_eq!(adapter.scaled(1.0).unwrap(), adapter);
        assert!(adapter.scaled(0.0).unwrap().offset("a.fc").unwrap().iter().all(|&x| x == 0.0));
        assert!(adapter.scaled(f32::NAN).is_err());
        assert!(adapter.scaled(f32::INFINITY).is_err());
    }
}
