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

/// Bias offsets keyed by style affine layer name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StyleAdapter {
    offsets: BTreeMap<String, Vec<f32>>,
}

impl StyleAdapter {
    /// An adapter from `(layer name, offset)` pairs (names as the visitor
    /// reports them, without prefix or suffix).
    pub fn from_offsets(offsets: impl IntoIterator<Item = (String, Vec<f32>)>) -> Self {
        Self { offsets: offsets.into_iter().collect() }
    }

    /// Parses the `adapter.<layer>.bias` tensors of a voice pack, given as
    /// `(name, shape, values)`. Names that do not follow the pattern, shapes
    /// that are not one-dimensional, and non-finite values are refused.
    pub fn from_tensors(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> std::result::Result<Self, ModelError> {
        let mut offsets = BTreeMap::new();
        for (name, shape, values) in tensors {
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
        Ok(Self { offsets })
    }

    /// The voice-pack tensors `(name, shape, values)` for this adapter.
    pub fn to_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        self.offsets
            .iter()
            .map(|(layer, v)| (format!("{TENSOR_PREFIX}{layer}{TENSOR_SUFFIX}"), vec![v.len()], v.clone()))
            .collect()
    }

    /// Whether the adapter changes nothing.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Number of parameters.
    pub fn parameters(&self) -> usize {
        self.offsets.values().map(Vec::len).sum()
    }

    /// The offset for one layer, if any.
    pub fn offset(&self, layer: &str) -> Option<&[f32]> {
        self.offsets.get(layer).map(Vec::as_slice)
    }
}

impl KModel {
    /// Calls `visit` on every style affine layer of the prosody predictor
    /// (`predictor.*`) and the decoder (`decoder.*`), in a fixed order.
    pub fn visit_style_affines(&mut self, visit: &mut StyleAffineVisitor) -> Result<()> {
        self.predictor_mut().visit_style_affines("predictor", visit)?;
        self.decoder_mut().visit_style_affines("decoder", visit)
    }

    /// A copy of the model with `adapter` folded into its biases. The copy
    /// shares every other weight with `self` (tensors are reference
    /// counted), so it costs a few hundred kilobytes, not a second model.
    /// Refuses an adapter that names a layer the model does not have or
    /// whose size does not match.
    pub fn adapted(&self, adapter: &StyleAdapter) -> std::result::Result<KModel, ModelError> {
        let mut model = self.clone();
        if adapter.is_empty() {
            return Ok(model);
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
