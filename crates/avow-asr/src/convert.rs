//! CTranslate2 Whisper weights → safetensors in the Hugging Face /
//! candle-transformers layout (`model.encoder.layers.0.self_attn.q_proj.weight`,
//! ...), so the converted file reads like the PyTorch module tree.
//!
//! CTranslate2 fuses the self-attention projections into one `[3d, d]` matrix
//! (query, key, value) and the cross-attention key/value into one `[2d, d]`
//! matrix; they are split back here. Whisper's key projections have no bias:
//! the fused bias carries zeros there, and they are dropped (a key bias would
//! not change attention anyway, it adds the same amount to every score of a
//! query). Tensors keep their stored element type (f16 in the wheel), so the
//! conversion is exact.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, TensorView};

use crate::ct2::{Ct2DType, Ct2Model, Ct2Variable};
use crate::model::WhisperConfig;

/// Errors converting a CTranslate2 Whisper model.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The file is not a Whisper model.
    #[error("model.bin holds a `{0}`, not a WhisperSpec model")]
    NotWhisper(String),
    /// A variable the conversion needs is absent.
    #[error("model.bin lacks variable `{0}`")]
    Missing(String),
    /// A variable has an unexpected shape or type.
    #[error("variable `{name}`: {detail}")]
    Unexpected {
        /// Variable name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The model uses an option this Whisper implementation does not have.
    #[error("unsupported model option `{name}` = {value} (expected {expected})")]
    Unsupported {
        /// Flag name.
        name: String,
        /// Value found.
        value: i64,
        /// Value this implementation needs.
        expected: i64,
    },
    /// safetensors serialization failed.
    #[error("writing safetensors: {0}")]
    Safetensors(String),
}

/// Converted weights: safetensors bytes and the model dimensions.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The safetensors file.
    pub safetensors: Vec<u8>,
    /// Dimensions read from the weights.
    pub config: WhisperConfig,
}

struct Out<'a> {
    tensors: BTreeMap<String, (Dtype, Vec<usize>, &'a [u8])>,
}

impl<'a> Out<'a> {
    fn put(&mut self, name: String, dtype: Dtype, shape: Vec<usize>, data: &'a [u8]) {
        self.tensors.insert(name, (dtype, shape, data));
    }
}

fn st_dtype(name: &str, v: &Ct2Variable<'_>) -> Result<Dtype, ConvertError> {
    match v.dtype {
        Ct2DType::F32 => Ok(Dtype::F32),
        Ct2DType::F16 => Ok(Dtype::F16),
        Ct2DType::BF16 => Ok(Dtype::BF16),
        other => Err(ConvertError::Unexpected {
            name: name.to_string(),
            detail: format!("expected floating-point weights, found {other:?} (quantized models are not supported)"),
        }),
    }
}

fn var<'m, 'a>(m: &'m Ct2Model<'a>, name: &str) -> Result<&'m Ct2Variable<'a>, ConvertError> {
    m.get(name).ok_or_else(|| ConvertError::Missing(name.to_string()))
}

fn shaped<'m, 'a>(m: &'m Ct2Model<'a>, name: &str, shape: &[usize]) -> Result<&'m Ct2Variable<'a>, ConvertError> {
    let v = var(m, name)?;
    if v.shape != shape {
        return Err(ConvertError::Unexpected { name: name.to_string(), detail: format!("shape {:?}, expected {shape:?}", v.shape) });
    }
    Ok(v)
}

fn int(m: &Ct2Model<'_>, name: &str) -> Result<i64, ConvertError> {
    var(m, name)?
        .scalar_int()
        .ok_or_else(|| ConvertError::Unexpected { name: name.to_string(), detail: "expected an integer scalar".into() })
}

fn flag(m: &Ct2Model<'_>, name: &str, expected: i64) -> Result<(), ConvertError> {
    // Absent flags take CTranslate2's defaults, which are Whisper's.
    let Some(v) = m.get(name) else { return Ok(()) };
    let value = v
        .scalar_int()
        .ok_or_else(|| ConvertError::Unexpected { name: name.to_string(), detail: "expected an integer scalar".into() })?;
    if value != expected {
        return Err(ConvertError::Unsupported { name: name.to_string(), value, expected });
    }
    Ok(())
}

/// Copies `src` (shape `shape`) to `dst` unchanged.
fn copy<'a>(m: &Ct2Model<'a>, out: &mut Out<'a>, src: &str, dst: String, shape: &[usize]) -> Result<(), ConvertError> {
    let v = shaped(m, src, shape)?;
    out.put(dst, st_dtype(src, v)?, shape.to_vec(), v.data);
    Ok(())
}

/// Splits the rows of a fused projection `src` (`[parts.len() * d, ...]`)
/// into one tensor per part; `None` parts are dropped after checking they
/// are all zero.
fn split<'a>(
    m: &Ct2Model<'a>,
    out: &mut Out<'a>,
    src: &str,
    d: usize,
    cols: Option<usize>,
    parts: &[Option<String>],
) -> Result<(), ConvertError> {
    let mut shape = vec![parts.len() * d];
    shape.extend(cols);
    let v = shaped(m, src, &shape)?;
    let dtype = st_dtype(src, v)?;
    let part_bytes = v.data.len() / parts.len();
    for (i, part) in parts.iter().enumerate() {
        let bytes = &v.data[i * part_bytes..(i + 1) * part_bytes];
        match part {
            Some(name) => {
                let mut s = vec![d];
                s.extend(cols);
                out.put(name.clone(), dtype, s, bytes);
            }
            None => {
                // Only all-zero parts may go (the key bias): ±0.0 in any
                // float type is a zero bit pattern apart from the sign bit.
                let zero = bytes.chunks(v.dtype.size()).all(|e| {
                    let mut e = e.to_vec();
                    if let Some(last) = e.last_mut() {
                        *last &= 0x7f;
                    }
                    e.iter().all(|b| *b == 0)
                });
                if !zero {
                    return Err(ConvertError::Unexpected {
                        name: src.to_string(),
                        detail: format!("part {i} was expected to be zero (Whisper has no key bias)"),
                    });
                }
            }
        }
    }
    Ok(())
}

fn layer_norm<'a>(m: &Ct2Model<'a>, out: &mut Out<'a>, src: &str, dst: &str, d: usize) -> Result<(), ConvertError> {
    copy(m, out, &format!("{src}/gamma"), format!("{dst}.weight"), &[d])?;
    copy(m, out, &format!("{src}/beta"), format!("{dst}.bias"), &[d])
}

fn linear<'a>(m: &Ct2Model<'a>, out: &mut Out<'a>, src: &str, dst: &str, rows: usize, cols: usize) -> Result<(), ConvertError> {
    copy(m, out, &format!("{src}/weight"), format!("{dst}.weight"), &[rows, cols])?;
    copy(m, out, &format!("{src}/bias"), format!("{dst}.bias"), &[rows])
}

fn self_attention<'a>(m: &Ct2Model<'a>, out: &mut Out<'a>, src: &str, dst: &str, d: usize) -> Result<(), ConvertError> {
    let p = |n: &str| Some(format!("{dst}.{n}"));
    split(m, out, &format!("{src}/linear_0/weight"), d, Some(d), &[p("q_proj.weight"), p("k_proj.weight"), p("v_proj.weight")])?;
    split(m, out, &format!("{src}/linear_0/bias"), d, None, &[p("q_proj.bias"), None, p("v_proj.bias")])?;
    linear(m, out, &format!("{src}/linear_1"), &format!("{dst}.out_proj"), d, d)
}

fn cross_attention<'a>(m: &Ct2Model<'a>, out: &mut Out<'a>, src: &str, dst: &str, d: usize) -> Result<(), ConvertError> {
    let p = |n: &str| Some(format!("{dst}.{n}"));
    linear(m, out, &format!("{src}/linear_0"), &format!("{dst}.q_proj"), d, d)?;
    split(m, out, &format!("{src}/linear_1/weight"), d, Some(d), &[p("k_proj.weight"), p("v_proj.weight")])?;
    split(m, out, &format!("{src}/linear_1/bias"), d, None, &[None, p("v_proj.bias")])?;
    linear(m, out, &format!("{src}/linear_2"), &format!("{dst}.out_proj"), d, d)
}

fn ffn<'a>(m: &Ct2Model<'a>, out: &mut Out<'a>, src: &str, dst: &str, d: usize, hidden: usize) -> Result<(), ConvertError> {
    layer_norm(m, out, &format!("{src}/layer_norm"), &format!("{dst}.final_layer_norm"), d)?;
    linear(m, out, &format!("{src}/linear_0"), &format!("{dst}.fc1"), hidden, d)?;
    linear(m, out, &format!("{src}/linear_1"), &format!("{dst}.fc2"), d, hidden)
}

fn count_layers(m: &Ct2Model<'_>, prefix: &str) -> usize {
    (0..).take_while(|i| m.get(&format!("{prefix}/layer_{i}/ffn/linear_0/weight")).is_some()).count()
}

/// Converts a parsed CTranslate2 Whisper model.
pub fn convert(m: &Ct2Model<'_>) -> Result<Converted, ConvertError> {
    if m.spec != "WhisperSpec" {
        return Err(ConvertError::NotWhisper(m.spec.clone()));
    }
    // This implementation is pre-norm, exact-erf GELU (CTranslate2 id 3),
    // unscaled embeddings, learned decoder positions starting at 0.
    flag(m, "decoder/activation", 3)?;
    flag(m, "decoder/pre_norm", 1)?;
    flag(m, "decoder/scale_embeddings", 0)?;
    flag(m, "decoder/alibi", 0)?;
    flag(m, "decoder/start_from_zero_embedding", 0)?;

    let conv1 = var(m, "encoder/conv1/weight")?;
    let [d, n_mels, 3] = conv1.shape[..] else {
        return Err(ConvertError::Unexpected { name: "encoder/conv1/weight".into(), detail: format!("shape {:?}", conv1.shape) });
    };
    let emb = var(m, "decoder/embeddings/weight")?;
    let [vocab, _] = emb.shape[..] else {
        return Err(ConvertError::Unexpected { name: "decoder/embeddings/weight".into(), detail: format!("shape {:?}", emb.shape) });
    };
    let audio_ctx = var(m, "encoder/position_encodings/encodings")?.shape.first().copied().unwrap_or(0);
    let text_ctx = var(m, "decoder/position_encodings/encodings")?.shape.first().copied().unwrap_or(0);
    let hidden = var(m, "encoder/layer_0/ffn/linear_0/weight")?.shape.first().copied().unwrap_or(0);
    let config = WhisperConfig {
        n_mels,
        d_model: d,
        ffn_dim: hidden,
        encoder_layers: count_layers(m, "encoder"),
        decoder_layers: count_layers(m, "decoder"),
        encoder_heads: usize::try_from(int(m, "encoder/num_heads")?).unwrap_or(0),
        decoder_heads: usize::try_from(int(m, "decoder/num_heads")?).unwrap_or(0),
        audio_ctx,
        text_ctx,
        vocab_size: vocab,
    };
    config.validate().map_err(|detail| ConvertError::Unexpected { name: "model".into(), detail })?;

    let mut out = Out { tensors: BTreeMap::new() };
    let o = &mut out;
    copy(m, o, "encoder/conv1/weight", "model.encoder.conv1.weight".into(), &[d, n_mels, 3])?;
    copy(m, o, "encoder/conv1/bias", "model.encoder.conv1.bias".into(), &[d])?;
    copy(m, o, "encoder/conv2/weight", "model.encoder.conv2.weight".into(), &[d, d, 3])?;
    copy(m, o, "encoder/conv2/bias", "model.encoder.conv2.bias".into(), &[d])?;
    copy(m, o, "encoder/position_encodings/encodings", "model.encoder.embed_positions.weight".into(), &[audio_ctx, d])?;
    for i in 0..config.encoder_layers {
        let (src, dst) = (format!("encoder/layer_{i}"), format!("model.encoder.layers.{i}"));
        layer_norm(m, o, &format!("{src}/self_attention/layer_norm"), &format!("{dst}.self_attn_layer_norm"), d)?;
        self_attention(m, o, &format!("{src}/self_attention"), &format!("{dst}.self_attn"), d)?;
        ffn(m, o, &format!("{src}/ffn"), &dst, d, hidden)?;
    }
    layer_norm(m, o, "encoder/layer_norm", "model.encoder.layer_norm", d)?;

    copy(m, o, "decoder/embeddings/weight", "model.decoder.embed_tokens.weight".into(), &[vocab, d])?;
    copy(m, o, "decoder/position_encodings/encodings", "model.decoder.embed_positions.weight".into(), &[text_ctx, d])?;
    for i in 0..config.decoder_layers {
        let (src, dst) = (format!("decoder/layer_{i}"), format!("model.decoder.layers.{i}"));
        layer_norm(m, o, &format!("{src}/self_attention/layer_norm"), &format!("{dst}.self_attn_layer_norm"), d)?;
        self_attention(m, o, &format!("{src}/self_attention"), &format!("{dst}.self_attn"), d)?;
        layer_norm(m, o, &format!("{src}/attention/layer_norm"), &format!("{dst}.encoder_attn_layer_norm"), d)?;
        cross_attention(m, o, &format!("{src}/attention"), &format!("{dst}.encoder_attn"), d)?;
        ffn(m, o, &format!("{src}/ffn"), &dst, d, hidden)?;
    }
    layer_norm(m, o, "decoder/layer_norm", "model.decoder.layer_norm", d)?;
    // The output projection is tied to the token embedding (CTranslate2
    // stores it as an alias); the model reads embed_tokens for both.
    if let Some(proj) = m.get("decoder/projection/weight") {
        if proj.data.as_ptr() != emb.data.as_ptr() {
            return Err(ConvertError::Unexpected {
                name: "decoder/projection/weight".into(),
                detail: "expected an alias of decoder/embeddings/weight (tied output projection)".into(),
            });
        }
    }

    let views = out
        .tensors
        .iter()
        .map(|(name, (dtype, shape, data))| {
            TensorView::new(*dtype, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| ConvertError::Safetensors(format!("{name}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let safetensors = safetensors::serialize(views, None).map_err(|e| ConvertError::Safetensors(e.to_string()))?;
    Ok(Converted { safetensors, config })
}
