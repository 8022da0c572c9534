//! Prosody predictor: per-token durations, then frame-level F0 and energy,
//! all conditioned on the prosody half of the style vector.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::adapter::StyleAffineVisitor;
use crate::layers::{AdaLayerNorm, BiLstm, Conv1d, Linear};
use crate::residual::AdainResBlock;

/// `DurationEncoder`: three BiLSTMs interleaved with adaptive layer norms,
/// each fed the style vector alongside the features.
#[derive(Debug, Clone)]
pub struct DurationEncoder {
    blocks: Vec<(BiLstm, AdaLayerNorm)>,
}

impl DurationEncoder {
    /// Loads from `predictor.text_encoder.*` (`lstms.0`, `lstms.1`, ... alternate LSTM and norm).
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let lstms = vb.pp("lstms");
        let blocks = (0..3)
            .map(|i| Ok((BiLstm::load(lstms.pp(2 * i))?, AdaLayerNorm::load(lstms.pp(2 * i + 1))?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { blocks })
    }

    /// `x` `[1, 512, T]`, `style` `[1, 128]` → `[1, T, 640]` (features ++ style).
    pub fn forward(&self, x: &Tensor, style: &Tensor) -> Result<Tensor> {
        let t = x.dim(2)?;
        let s = style.unsqueeze(1)?.repeat((1, t, 1))?;
        let mut h = Tensor::cat(&[&x.transpose(1, 2)?, &s], 2)?;
        for (lstm, norm) in &self.blocks {
            let y = norm.forward(&lstm.forward(&h)?, style)?;
            h = Tensor::cat(&[&y, &s], 2)?;
        }
        Ok(h)
    }
}

/// The prosody predictor (`predictor.*`).
#[derive(Debug, Clone)]
pub struct ProsodyPredictor {
    /// Token-level encoder shared by durations and prosody.
    pub text_encoder: DurationEncoder,
    lstm: BiLstm,
    duration_proj: Linear,
    shared: BiLstm,
    f0: Vec<AdainResBlock>,
    n: Vec<AdainResBlock>,
    f0_proj: Conv1d,
    n_proj: Conv1d,
    /// Factor on the predicted F0 curve: a speaker's pitch shift (1 = none).
    f0_scale: f64,
}

fn resblock_stack(vb: VarBuilder) -> Result<Vec<AdainResBlock>> {
    Ok(vec![
        AdainResBlock::load(vb.pp(0), false, false)?,
        AdainResBlock::load(vb.pp(1), true, true)?,
        AdainResBlock::load(vb.pp(2), false, false)?,
    ])
}

impl ProsodyPredictor {
    /// Loads from `predictor.*`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            text_encoder: DurationEncoder::load(vb.pp("text_encoder"))?,
            lstm: BiLstm::load(vb.pp("lstm"))?,
            duration_proj: Linear::load(vb.pp("duration_proj").pp("linear_layer"), true)?,
            shared: BiLstm::load(vb.pp("shared"))?,
            f0: resblock_stack(vb.pp("F0"))?,
            n: resblock_stack(vb.pp("N"))?,
            f0_proj: Conv1d::load(vb.pp("F0_proj"), 0, 1, 1, true)?,
            n_proj: Conv1d::load(vb.pp("N_proj"), 0, 1, 1, true)?,
            f0_scale: 1.0,
        })
    }

    /// Calls `visit` on every style projection: the duration encoder's
    /// layer norms (`{prefix}.text_encoder.lstms.{1,3,5}.fc`) and the F0 and
    /// energy blocks (`{prefix}.F0.*`, `{prefix}.N.*`).
    pub fn visit_style_affines(&mut self, prefix: &str, visit: &mut StyleAffineVisitor) -> Result<()> {
        for (i, (_, norm)) in self.text_encoder.blocks.iter_mut().enumerate() {
            visit(&format!("{prefix}.text_encoder.lstms.{}.fc", 2 * i + 1), norm.fc_mut())?;
        }
        for (i, block) in self.f0.iter_mut().enumerate() {
            block.visit_style_affines(&format!("{prefix}.F0.{i}"), visit)?;
        }
        for (i, block) in self.n.iter_mut().enumerate() {
            block.visit_style_affines(&format!("{prefix}.N.{i}"), visit)?;
        }
        Ok(())
    }

    /// Duration logits summed into expected frames per token: `d` `[1, T, 640]`
    /// → `[T]` (before speed scaling and rounding).
    pub fn durations(&self, d: &Tensor) -> Result<Tensor> {
        let x = self.lstm.forward(d)?;
        let logits = self.duration_proj.forward(&x)?;
        candle_nn::ops::sigmoid(&logits)?.sum(2)?.squeeze(0)
    }

    /// Frame-level F0 and energy: `en` `[1, 640, F]` → two `[1, 2F]` curves.
    pub fn f0_energy(&self, en: &Tensor, style: &Tensor) -> Result<(Tensor, Tensor)> {
        let x = self.shared.forward(&en.transpose(1, 2)?.contiguous()?)?.transpose(1, 2)?;
        let run = |blocks: &[AdainResBlock], proj: &Conv1d| -> Result<Tensor> {
            let mut h = x.clone();
            for block in blocks {
                h = block.forward(&h, style)?;
            }
            proj.forward(&h)?.squeeze(1)
        };
        let mut f0 = run(&self.f0, &self.f0_proj)?;
        if self.f0_scale != 1.0 {
            f0 = (f0 * self.f0_scale)?;
        }
        Ok((f0, run(&self.n, &self.n_proj)?))
    }

    /// Multiplies every F0 curve this predictor produces by `factor` from
    /// now on. The decoder takes its harmonic source and its F0 features
    /// from this curve, so scaling it moves the rendered pitch by the same
    /// ratio.
    pub(crate) fn set_f0_scale(&mut self, factor: f64) {
        self.f0_scale = factor;
    }
}
