//! Decoder: fuses aligned text features with F0 and energy through
//! style-conditioned residual blocks, then hands off to the iSTFTNet generator.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::adapter::StyleAffineVisitor;
use crate::generator::Generator;
use crate::layers::Conv1d;
use crate::residual::AdainResBlock;

/// The decoder (`decoder.*`).
#[derive(Debug, Clone)]
pub struct Decoder {
    encode: AdainResBlock,
    decode: Vec<AdainResBlock>,
    f0_conv: Conv1d,
    n_conv: Conv1d,
    asr_res: Conv1d,
    /// The waveform generator.
    pub generator: Generator,
}

impl Decoder {
    /// Loads from `decoder.*`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let decode = (0..4)
            .map(|i| AdainResBlock::load(vb.pp("decode").pp(i), true, i == 3))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            encode: AdainResBlock::load(vb.pp("encode"), true, false)?,
            decode,
            f0_conv: Conv1d::load(vb.pp("F0_conv"), 1, 2, 1, true)?,
            n_conv: Conv1d::load(vb.pp("N_conv"), 1, 2, 1, true)?,
            asr_res: Conv1d::load(vb.pp("asr_res").pp(0), 0, 1, 1, true)?,
            generator: Generator::load(vb.pp("generator"))?,
        })
    }

    /// Calls `visit` on every style projection (`{prefix}.encode`,
    /// `{prefix}.decode.*`, `{prefix}.generator.*`).
    pub fn visit_style_affines(&mut self, prefix: &str, visit: &mut StyleAffineVisitor) -> Result<()> {
        self.encode.visit_style_affines(&format!("{prefix}.encode"), visit)?;
        for (i, block) in self.decode.iter_mut().enumerate() {
            block.visit_style_affines(&format!("{prefix}.decode.{i}"), visit)?;
        }
        self.generator.visit_style_affines(&format!("{prefix}.generator"), visit)
    }

    /// `asr` `[1, 512, F]`, `f0`/`energy` `[1, 2F]`, `style` `[1, 128]` → audio `[1, 600·F]`.
    pub fn forward(&self, asr: &Tensor, f0: &Tensor, energy: &Tensor, style: &Tensor) -> Result<Tensor> {
        self.forward_with_source(asr, f0, energy, style, &self.generator.harmonic_source(f0)?)
    }

    /// Like [`Self::forward`], given the generator's harmonic source
    /// `[1, 600·F]` (for windows of a longer utterance, whose source phase
    /// runs on from the frames before the window).
    pub fn forward_with_source(&self, asr: &Tensor, f0: &Tensor, energy: &Tensor, style: &Tensor, source: &Tensor) -> Result<Tensor> {
        let f0_down = self.f0_conv.forward(&f0.unsqueeze(1)?)?;
        let n_down = self.n_conv.forward(&energy.unsqueeze(1)?)?;
        let mut x = self.encode.forward(&Tensor::cat(&[asr, &f0_down, &n_down], 1)?, style)?;
        let asr_res = self.asr_res.forward(asr)?;
        // Every block but the last (the upsampling one) sees the side inputs again.
        for block in &self.decode {
            x = Tensor::cat(&[&x, &asr_res, &f0_down, &n_down], 1)?;
            x = block.forward(&x, style)?;
        }
        self.generator.forward_with_source(&x, style, source)
    }
}
