//! The Whisper network in Candle: a convolutional front end and transformer
//! encoder over the log-mel spectrogram, and a transformer decoder with a
//! key/value cache for greedy token-by-token decoding.
//!
//! Weight names follow the Hugging Face module tree (what
//! [`crate::convert`] writes), so the loader below reads like the graph.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, Embedding, LayerNorm, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

/// Dimensions of a Whisper model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhisperConfig {
    /// Mel bands of the input (80).
    pub n_mels: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Hidden width of the feed-forward blocks.
    pub ffn_dim: usize,
    /// Encoder blocks.
    pub encoder_layers: usize,
    /// Decoder blocks.
    pub decoder_layers: usize,
    /// Encoder attention heads.
    pub encoder_heads: usize,
    /// Decoder attention heads.
    pub decoder_heads: usize,
    /// Encoder positions (1500 = 30 s after the stride-2 convolution).
    pub audio_ctx: usize,
    /// Decoder positions (448 tokens).
    pub text_ctx: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
}

impl WhisperConfig {
    /// Checks that the dimensions make a usable model.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let nonzero = [
            self.n_mels,
            self.d_model,
            self.ffn_dim,
            self.encoder_layers,
            self.decoder_layers,
            self.encoder_heads,
            self.decoder_heads,
            self.audio_ctx,
            self.text_ctx,
            self.vocab_size,
        ];
        if nonzero.contains(&0) {
            return Err(format!("a dimension is zero: {self:?}"));
        }
        if !self.d_model.is_multiple_of(self.encoder_heads) || !self.d_model.is_multiple_of(self.decoder_heads) {
            return Err(format!("d_model {} is not divisible by the head count", self.d_model));
        }
        Ok(())
    }
}

fn linear(vb: VarBuilder, i: usize, o: usize) -> Result<Linear> {
    candle_nn::linear(i, o, vb)
}

fn linear_no_bias(vb: VarBuilder, i: usize, o: usize) -> Result<Linear> {
    candle_nn::linear_no_bias(i, o, vb)
}

fn layer_norm(vb: VarBuilder, d: usize) -> Result<LayerNorm> {
    candle_nn::layer_norm(d, 1e-5, vb)
}

/// Multi-head attention; the decoder's self-attention keeps a cache of past
/// keys and values, cross-attention computes its keys/values once per audio.
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn load(vb: VarBuilder, d: usize, heads: usize) -> Result<Self> {
        Ok(Self {
            q: linear(vb.pp("q_proj"), d, d)?,
            k: linear_no_bias(vb.pp("k_proj"), d, d)?,
            v: linear(vb.pp("v_proj"), d, d)?,
            out: linear(vb.pp("out_proj"), d, d)?,
            heads,
        })
    }

    /// `[b, t, d]` → `[b, heads, t, d/heads]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        x.reshape((b, t, self.heads, d / self.heads))?.transpose(1, 2)?.contiguous()
    }

    fn keys_values(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((self.split_heads(&self.k.forward(x)?)?, self.split_heads(&self.v.forward(x)?)?))
    }

    /// Attention of `x` over `k`/`v` (already split into heads). `mask` is
    /// added to the scores (causal masking of a multi-token decoder step).
    fn attend(&self, x: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let q = self.split_heads(&self.q.forward(x)?)?;
        let scale = 1.0 / ((d / self.heads) as f64).sqrt();
        let mut scores = (q.matmul(&k.t()?)? * scale)?;
        if let Some(m) = mask {
            scores = scores.broadcast_add(m)?;
        }
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = weights.matmul(v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out.forward(&y)
    }
}

struct Mlp {
    fc1: Linear,
    fc2: Linear,
}

impl Mlp {
    fn load(vb: VarBuilder, d: usize, hidden: usize) -> Result<Self> {
        Ok(Self { fc1: linear(vb.pp("fc1"), d, hidden)?, fc2: linear(vb.pp("fc2"), hidden, d)? })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // Whisper uses the exact (erf) GELU.
        self.fc2.forward(&self.fc1.forward(x)?.gelu_erf()?)
    }
}

struct EncoderBlock {
    attn_ln: LayerNorm,
    attn: Attention,
    mlp_ln: LayerNorm,
    mlp: Mlp,
}

impl EncoderBlock {
    fn load(vb: VarBuilder, c: &WhisperConfig) -> Result<Self> {
        Ok(Self {
            attn_ln: layer_norm(vb.pp("self_attn_layer_norm"), c.d_model)?,
            attn: Attention::load(vb.pp("self_attn"), c.d_model, c.encoder_heads)?,
            mlp_ln: layer_norm(vb.pp("final_layer_norm"), c.d_model)?,
            mlp: Mlp::load(vb.clone(), c.d_model, c.ffn_dim)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.attn_ln.forward(x)?;
        let (k, v) = self.attn.keys_values(&h)?;
        let x = (x + self.attn.attend(&h, &k, &v, None)?)?;
        &x + self.mlp.forward(&self.mlp_ln.forward(&x)?)?
    }
}

/// The audio encoder.
pub struct Encoder {
    conv1: Conv1d,
    conv2: Conv1d,
    positions: Tensor,
    blocks: Vec<EncoderBlock>,
    ln: LayerNorm,
}

impl Encoder {
    fn load(vb: VarBuilder, c: &WhisperConfig) -> Result<Self> {
        let conv = |stride| Conv1dConfig { padding: 1, stride, ..Default::default() };
        Ok(Self {
            conv1: candle_nn::conv1d(c.n_mels, c.d_model, 3, conv(1), vb.pp("conv1"))?,
            conv2: candle_nn::conv1d(c.d_model, c.d_model, 3, conv(2), vb.pp("conv2"))?,
            positions: vb.get((c.audio_ctx, c.d_model), "embed_positions.weight")?,
            blocks: (0..c.encoder_layers)
                .map(|i| EncoderBlock::load(vb.pp(format!("layers.{i}")), c))
                .collect::<Result<_>>()?,
            ln: layer_norm(vb.pp("layer_norm"), c.d_model)?,
        })
    }

    /// `[b, n_mels, frames]` log-mel → `[b, frames/2, d_model]`.
    pub fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let x = self.conv1.forward(mel)?.gelu_erf()?;
        let x = self.conv2.forward(&x)?.gelu_erf()?.transpose(1, 2)?;
        let t = x.dim(1)?;
        let mut x = x.broadcast_add(&self.positions.narrow(0, 0, t)?)?;
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        self.ln.forward(&x)
    }
}

struct DecoderBlock {
    self_ln: LayerNorm,
    self_attn: Attention,
    cross_ln: LayerNorm,
    cross_attn: Attention,
    mlp_ln: LayerNorm,
    mlp: Mlp,
}

impl DecoderBlock {
    fn load(vb: VarBuilder, c: &WhisperConfig) -> Result<Self> {
        Ok(Self {
            self_ln: layer_norm(vb.pp("self_attn_layer_norm"), c.d_model)?,
            self_attn: Attention::load(vb.pp("self_attn"), c.d_model, c.decoder_heads)?,
            cross_ln: layer_norm(vb.pp("encoder_attn_layer_norm"), c.d_model)?,
            cross_attn: Attention::load(vb.pp("encoder_attn"), c.d_model, c.decoder_heads)?,
            mlp_ln: layer_norm(vb.pp("final_layer_norm"), c.d_model)?,
            mlp: Mlp::load(vb.clone(), c.d_model, c.ffn_dim)?,
        })
    }
}

/// The text decoder.
pub struct Decoder {
    embed: Embedding,
    positions: Tensor,
    blocks: Vec<DecoderBlock>,
    ln: LayerNorm,
}

/// Per-audio decoder state: cross-attention keys/values of the encoder
/// output and the self-attention cache of the tokens fed so far.
pub struct DecoderState {
    cross: Vec<(Tensor, Tensor)>,
    cache: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl DecoderState {
    /// Tokens fed so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first token.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Decoder {
    fn load(vb: VarBuilder, c: &WhisperConfig) -> Result<Self> {
        Ok(Self {
            embed: candle_nn::embedding(c.vocab_size, c.d_model, vb.pp("embed_tokens"))?,
            positions: vb.get((c.text_ctx, c.d_model), "embed_positions.weight")?,
            blocks: (0..c.decoder_layers)
                .map(|i| DecoderBlock::load(vb.pp(format!("layers.{i}")), c))
                .collect::<Result<_>>()?,
            ln: layer_norm(vb.pp("layer_norm"), c.d_model)?,
        })
    }

    /// A fresh state for the encoder output `audio` (`[1, frames, d]`).
    pub fn start(&self, audio: &Tensor) -> Result<DecoderState> {
        let cross = self.blocks.iter().map(|b| b.cross_attn.keys_values(audio)).collect::<Result<_>>()?;
        Ok(DecoderState { cross, cache: vec![None; self.blocks.len()], len: 0 })
    }

    /// Feeds `tokens` (after those already in `state`) and returns the
    /// logits for the next token after the last one, `[vocab]`.
    pub fn step(&self, state: &mut DecoderState, tokens: &[u32]) -> Result<Tensor> {
        let n = tokens.len();
        let offset = state.len;
        if n == 0 || offset + n > self.positions.dim(0)? {
            candle_core::bail!("decoder context of {} tokens exceeded", self.positions.dim(0)?);
        }
        let dev = self.positions.device();
        let ids = Tensor::new(tokens, dev)?.unsqueeze(0)?;
        let mut x = self.embed.forward(&ids)?.broadcast_add(&self.positions.narrow(0, offset, n)?)?;
        // Within a multi-token step, token i may not see tokens after i;
        // every cached token is in its past.
        let mask = if n > 1 {
            let m: Vec<f32> = (0..n)
                .flat_map(|i| (0..offset + n).map(move |j| if j > offset + i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            Some(Tensor::from_vec(m, (n, offset + n), dev)?)
        } else {
            None
        };
        for (i, b) in self.blocks.iter().enumerate() {
            let h = b.self_ln.forward(&x)?;
            let (k, v) = b.self_attn.keys_values(&h)?;
            let (k, v) = match &state.cache[i] {
                Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
                None => (k, v),
            };
            x = (&x + b.self_attn.attend(&h, &k, &v, mask.as_ref())?)?;
            state.cache[i] = Some((k, v));
            let h = b.cross_ln.forward(&x)?;
            let (ck, cv) = &state.cross[i];
            x = (&x + b.cross_attn.attend(&h, ck, cv, None)?)?;
            x = (&x + b.mlp.forward(&b.mlp_ln.forward(&x)?)?)?;
        }
        state.len += n;
        let last = self.ln.forward(&x.narrow(1, n - 1, 1)?)?;
        // Output projection tied to the token embedding.
        last.squeeze(0)?.squeeze(0)?.unsqueeze(0)?.matmul(&self.embed.embeddings().t()?)?.squeeze(0)?.to_dtype(DType::F32)
    }
}

/// Encoder and decoder.
pub struct Whisper {
    /// The audio encoder.
    pub encoder: Encoder,
    /// The text decoder.
    pub decoder: Decoder,
    /// Dimensions.
    pub config: WhisperConfig,
}

impl Whisper {
    /// Loads the model from safetensors bytes written by [`crate::convert`],
    /// computing in f32 on `device`.
    pub fn from_safetensors(bytes: Vec<u8>, config: WhisperConfig, device: &Device) -> Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, device)?;
        Ok(Self {
            encoder: Encoder::load(vb.pp("model.encoder"), &config)?,
            decoder: Decoder::load(vb.pp("model.decoder"), &config)?,
            config,
        })
    }

    /// Runs the encoder on one `[n_mels, frames]` spectrogram.
    pub fn encode(&self, mel: &Tensor) -> Result<Tensor> {
        self.encoder.forward(&mel.unsqueeze(0)?)
    }

    /// The index of the largest logit, skipping `disabled` ids (`-inf`).
    pub fn argmax_allowed(logits: &Tensor, disabled: &[bool]) -> Result<Option<u32>> {
        let v: Vec<f32> = logits.to_vec1()?;
        let mut best: Option<(u32, f32)> = None;
        for (i, &l) in v.iter().enumerate() {
            if disabled.get(i).copied().unwrap_or(false) || l.is_nan() {
                continue;
            }
            if best.is_none_or(|(_, b)| l > b) {
                best = Some((i as u32, l));
            }
        }
        Ok(best.map(|(i, _)| i))
    }
}
