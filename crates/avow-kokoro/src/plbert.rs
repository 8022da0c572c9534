//! PL-BERT: an ALBERT encoder (one transformer layer shared across 12 passes)
//! over phoneme tokens, the model's context for durations and prosody.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::layers::{layer_norm, Linear};

const HIDDEN: usize = 768;
const HEADS: usize = 12;
const PASSES: usize = 12;
const EPS: f64 = 1e-12;

/// The ALBERT encoder.
#[derive(Debug, Clone)]
pub struct PlBert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    emb_norm: (Tensor, Tensor),
    mapping_in: Linear,
    query: Linear,
    key: Linear,
    value: Linear,
    dense: Linear,
    attn_norm: (Tensor, Tensor),
    ffn: Linear,
    ffn_output: Linear,
    full_norm: (Tensor, Tensor),
}

fn norm_pair(vb: &VarBuilder) -> Result<(Tensor, Tensor)> {
    Ok((vb.get_unchecked_dtype("weight", DType::F32)?, vb.get_unchecked_dtype("bias", DType::F32)?))
}

impl PlBert {
    /// Loads from `bert.*`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let emb = vb.pp("embeddings");
        let layer = vb.pp("encoder").pp("albert_layer_groups.0").pp("albert_layers.0");
        let attn = layer.pp("attention");
        Ok(Self {
            word: emb.pp("word_embeddings").get_unchecked_dtype("weight", DType::F32)?,
            position: emb.pp("position_embeddings").get_unchecked_dtype("weight", DType::F32)?,
            token_type: emb.pp("token_type_embeddings").get_unchecked_dtype("weight", DType::F32)?,
            emb_norm: norm_pair(&emb.pp("LayerNorm"))?,
            mapping_in: Linear::load(vb.pp("encoder").pp("embedding_hidden_mapping_in"), true)?,
            query: Linear::load(attn.pp("query"), true)?,
            key: Linear::load(attn.pp("key"), true)?,
            value: Linear::load(attn.pp("value"), true)?,
            dense: Linear::load(attn.pp("dense"), true)?,
            attn_norm: norm_pair(&attn.pp("LayerNorm"))?,
            ffn: Linear::load(layer.pp("ffn"), true)?,
            ffn_output: Linear::load(layer.pp("ffn_output"), true)?,
            full_norm: norm_pair(&layer.pp("full_layer_layer_norm"))?,
        })
    }

    /// `tokens` `[1, T]` (u32) → hidden states `[1, T, 768]`.
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let t = tokens.dim(1)?;
        let ids = tokens.squeeze(0)?;
        let positions = Tensor::arange(0u32, t as u32, tokens.device())?;
        let x = (self.word.index_select(&ids, 0)? + self.position.index_select(&positions, 0)?)?
            .broadcast_add(&self.token_type.narrow(0, 0, 1)?)?;
        let x = layer_norm(&x, Some(&self.emb_norm.0), Some(&self.emb_norm.1), EPS)?;
        let mut h = self.mapping_in.forward(&x)?;
        for _ in 0..PASSES {
            h = self.layer(&h)?;
        }
        h.unsqueeze(0)
    }

    fn layer(&self, h: &Tensor) -> Result<Tensor> {
        let t = h.dim(0)?;
        let head_dim = HIDDEN / HEADS;
        let split = |x: Tensor| x.reshape((t, HEADS, head_dim))?.transpose(0, 1)?.contiguous();
        let q = split(self.query.forward(h)?)?;
        let k = split(self.key.forward(h)?)?;
        let v = split(self.value.forward(h)?)?;
        let scores = (q.matmul(&k.t()?)? / (head_dim as f64).sqrt())?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let ctx = probs.matmul(&v)?.transpose(0, 1)?.reshape((t, HIDDEN))?;
        let attn = layer_norm(&(h + self.dense.forward(&ctx)?)?, Some(&self.attn_norm.0), Some(&self.attn_norm.1), EPS)?;
        // ALBERT's `gelu_new` is the tanh approximation (onnxruntime: FastGelu).
        let ff = self.ffn_output.forward(&self.ffn.forward(&attn)?.gelu()?)?;
        layer_norm(&(ff + attn)?, Some(&self.full_norm.0), Some(&self.full_norm.1), EPS)
    }
}
