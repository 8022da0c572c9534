//! Text encoder: phoneme embedding, three convolution blocks and a BiLSTM;
//! its output is what the decoder reads, aligned by the predicted durations.

use candle_core::{DType, Result, Tensor};
use candle_nn::VarBuilder;

use crate::layers::{layer_norm, leaky_relu, BiLstm, Conv1d};

/// The text encoder (`text_encoder.*`).
#[derive(Debug, Clone)]
pub struct TextEncoder {
    embedding: Tensor,
    cnn: Vec<(Conv1d, Tensor, Tensor)>,
    lstm: BiLstm,
}

impl TextEncoder {
    /// Loads from `text_encoder.*`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let mut cnn = Vec::new();
        for i in 0..3 {
            let block = vb.pp("cnn").pp(i);
            let conv = Conv1d::load(block.pp(0), 2, 1, 1, true)?;
            let norm = block.pp(1);
            cnn.push((conv, norm.get_unchecked_dtype("gamma", DType::F32)?, norm.get_unchecked_dtype("beta", DType::F32)?));
        }
        Ok(Self {
            embedding: vb.pp("embedding").get_unchecked_dtype("weight", DType::F32)?,
            cnn,
            lstm: BiLstm::load(vb.pp("lstm"))?,
        })
    }

    /// `tokens` `[1, T]` → `[1, 512, T]`.
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let mut x = self.embedding.index_select(&tokens.squeeze(0)?, 0)?.t()?.unsqueeze(0)?;
        for (conv, gamma, beta) in &self.cnn {
            x = conv.forward(&x)?;
            // Layer norm over channels, i.e. over dim 1 of [B, C, T].
            x = layer_norm(&x.transpose(1, 2)?, Some(gamma), Some(beta), 1e-5)?.transpose(1, 2)?;
            x = leaky_relu(&x, 0.2)?;
        }
        self.lstm.forward(&x.transpose(1, 2)?.contiguous()?)?.transpose(1, 2)
    }
}
