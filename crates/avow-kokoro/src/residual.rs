//! The style-conditioned residual block of StyleTTS2 (`AdainResBlk1d`), used by
//! the prosody predictor's F0/energy stacks and by the decoder.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::adapter::StyleAffineVisitor;
use crate::layers::{leaky_relu, AdaIn1d, Conv1d, DepthwiseUpsample};

/// `AdainResBlk1d(dim_in, dim_out, style_dim, upsample)`.
#[derive(Debug, Clone)]
pub struct AdainResBlock {
    norm1: AdaIn1d,
    norm2: AdaIn1d,
    conv1: Conv1d,
    conv2: Conv1d,
    shortcut: Option<Conv1d>,
    pool: Option<DepthwiseUpsample>,
}

impl AdainResBlock {
    /// Loads a block; `learned_shortcut` when `dim_in != dim_out`.
    pub fn load(vb: VarBuilder, learned_shortcut: bool, upsample: bool) -> Result<Self> {
        Ok(Self {
            norm1: AdaIn1d::load(vb.pp("norm1"))?,
            norm2: AdaIn1d::load(vb.pp("norm2"))?,
            conv1: Conv1d::load(vb.pp("conv1"), 1, 1, 1, true)?,
            conv2: Conv1d::load(vb.pp("conv2"), 1, 1, 1, true)?,
            shortcut: if learned_shortcut { Some(Conv1d::load(vb.pp("conv1x1"), 0, 1, 1, false)?) } else { None },
            pool: if upsample { Some(DepthwiseUpsample::load(vb.pp("pool"))?) } else { None },
        })
    }

    /// Calls `visit` on the style projections `{prefix}.norm1.fc` and `{prefix}.norm2.fc`.
    pub fn visit_style_affines(&mut self, prefix: &str, visit: &mut StyleAffineVisitor) -> Result<()> {
        visit(&format!("{prefix}.norm1.fc"), self.norm1.fc_mut())?;
        visit(&format!("{prefix}.norm2.fc"), self.norm2.fc_mut())
    }

    /// `x` `[1, C_in, T]`, `style` `[1, 128]` → `[1, C_out, T or 2T]`.
    pub fn forward(&self, x: &Tensor, style: &Tensor) -> Result<Tensor> {
        let mut r = leaky_relu(&self.norm1.forward(x, style)?, 0.2)?;
        if let Some(pool) = &self.pool {
            r = pool.forward(&r)?;
        }
        r = self.conv1.forward(&r)?;
        r = leaky_relu(&self.norm2.forward(&r, style)?, 0.2)?;
        r = self.conv2.forward(&r)?;

        let mut s = if self.pool.is_some() { upsample_nearest2(x)? } else { x.clone() };
        if let Some(conv) = &self.shortcut {
            s = conv.forward(&s)?;
        }
        (r + s)? / std::f64::consts::SQRT_2
    }
}

/// Nearest-neighbour 2× upsampling along time.
pub fn upsample_nearest2(x: &Tensor) -> Result<Tensor> {
    let (b, c, t) = x.dims3()?;
    Tensor::stack(&[x, x], 3)?.reshape((b, c, 2 * t))
}
