//! iSTFTNet generator: a harmonic-plus-noise source driven by F0, two
//! transposed-convolution upsamplers with Snake residual blocks, and an
//! inverse STFT (n_fft 20, hop 5) from predicted magnitude and phase.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Module, Result, Shape, Tensor, Var};
use candle_nn::VarBuilder;

use crate::adapter::StyleAffineVisitor;
use crate::layers::{cpu_tensor, leaky_relu, AdaIn1d, Conv1d, ConvTranspose1d, F32Scope, Linear};
use crate::stft::Stft;

/// Samples per F0 frame: upsample rates 10·6 times the iSTFT hop 5.
pub const SAMPLES_PER_F0_FRAME: usize = 300;
const SAMPLE_RATE: f32 = 24_000.0;
const HARMONICS: usize = 9;
const SINE_AMP: f32 = 0.1;
const VOICED_THRESHOLD: f32 = 10.0;

/// `AdaINResBlock1`: three dilated convolution pairs with Snake activations.
#[derive(Debug, Clone)]
pub struct SnakeResBlock {
    layers: Vec<SnakeLayer>,
}

#[derive(Debug, Clone)]
struct SnakeLayer {
    adain1: AdaIn1d,
    adain2: AdaIn1d,
    snake1: Snake,
    snake2: Snake,
    conv1: Conv1d,
    conv2: Conv1d,
}

/// Snake activation `x + sin²(αx)/α` with a learned `α` per channel, as one
/// pass over the data. Written out with candle ops it takes five passes and,
/// when differentiated, keeps five full-size intermediates per activation;
/// the generator has 36 of them on its longest tensors.
#[derive(Debug, Clone)]
struct Snake {
    /// `α` per channel.
    alpha: Vec<f32>,
    /// `α` as `[1, C, 1]`, for the backward pass.
    alpha_t: Tensor,
}

impl Snake {
    fn load(vb: &VarBuilder, name: &str) -> Result<Self> {
        let alpha_t = vb.get_unchecked_dtype(name, DType::F32)?;
        Ok(Self { alpha: alpha_t.flatten_all()?.to_vec1()?, alpha_t })
    }

    /// `x` `[1, C, T]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        if x.track_op() {
            x.apply_op1(self.clone())
        } else {
            x.apply_op1_no_bwd(self)
        }
    }
}

impl CustomOp1 for Snake {
    fn name(&self) -> &'static str {
        "snake"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("snake takes a contiguous f32 tensor");
        };
        let (_, c, t) = layout.shape().dims3()?;
        if c != self.alpha.len() {
            candle_core::bail!("snake: {c} channels for {} alphas", self.alpha.len());
        }
        let x = &data[start..end];
        let y = if x.len() == c * t {
            avow_kernels::snake(x, &self.alpha, t)
        } else {
            // Several batch items (c·t > 0 here, since x is not empty).
            x.chunks_exact(c * t).flat_map(|item| avow_kernels::snake(item, &self.alpha, t)).collect()
        };
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        // d/dx [x + sin²(αx)/α] = 1 + sin(2αx).
        let slope = (arg.detach().broadcast_mul(&(&self.alpha_t * 2.0)?)?.sin()? + 1.0)?;
        Ok(Some(grad_res.mul(&slope)?))
    }
}

impl SnakeResBlock {
    /// Loads a block with the given kernel size and dilations (1, 3, 5).
    pub fn load(vb: VarBuilder, kernel: usize) -> Result<Self> {
        let layers = [1usize, 3, 5]
            .iter()
            .enumerate()
            .map(|(i, &dilation)| {
                Ok(SnakeLayer {
                    adain1: AdaIn1d::load(vb.pp("adain1").pp(i))?,
                    adain2: AdaIn1d::load(vb.pp("adain2").pp(i))?,
                    snake1: Snake::load(&vb.pp("alpha1"), &i.to_string())?,
                    snake2: Snake::load(&vb.pp("alpha2"), &i.to_string())?,
                    conv1: Conv1d::load(vb.pp("convs1").pp(i), dilation * (kernel - 1) / 2, 1, dilation, true)?,
                    conv2: Conv1d::load(vb.pp("convs2").pp(i), (kernel - 1) / 2, 1, 1, true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// Calls `visit` on every style projection, `{prefix}.adain1.{i}.fc` and
    /// `{prefix}.adain2.{i}.fc`.
    pub fn visit_style_affines(&mut self, prefix: &str, visit: &mut StyleAffineVisitor) -> Result<()> {
        for (i, l) in self.layers.iter_mut().enumerate() {
            visit(&format!("{prefix}.adain1.{i}.fc"), l.adain1.fc_mut())?;
            visit(&format!("{prefix}.adain2.{i}.fc"), l.adain2.fc_mut())?;
        }
        Ok(())
    }

    /// `x` `[1, C, T]`, `style` `[1, 128]`.
    ///
    /// When a gradient will flow through `x` or `style` and the block's own
    /// parameters are all frozen (the style search), the block is one
    /// checkpointed op: the graph keeps its input and output only, and the
    /// backward pass recomputes the block. Otherwise (inference, or speaker
    /// adaptation training this block's style projections) it is the plain
    /// sequence of layers.
    pub fn forward(&self, x: &Tensor, style: &Tensor) -> Result<Tensor> {
        if (x.track_op() || style.track_op()) && x.dim(0)? == 1 && self.is_frozen() {
            x.contiguous()?.apply_op2(&style.contiguous()?, Checkpointed(self.clone()))
        } else {
            self.forward_layers(x, style)
        }
    }

    /// Whether no parameter of the block is a trainable variable, so that
    /// the only gradients it owes are its inputs'.
    fn is_frozen(&self) -> bool {
        self.layers.iter().all(|l| l.adain1.is_frozen() && l.adain2.is_frozen())
    }

    fn forward_layers(&self, x: &Tensor, style: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for l in &self.layers {
            let mut h = l.snake1.forward(&l.adain1.forward(&x, style)?)?;
            h = l.conv1.forward(&h)?;
            h = l.snake2.forward(&l.adain2.forward(&h, style)?)?;
            h = l.conv2.forward(&h)?;
            x = (h + x)?;
        }
        Ok(x)
    }
}

/// A [`SnakeResBlock`] as one op whose backward pass recomputes it
/// (gradient checkpointing). Differentiated layer by layer, a block keeps
/// about twenty activations of its input's size for the backward pass, and
/// the generator's last stage runs four such blocks on 128 channels at
/// 4.8 kHz. Checkpointed, the graph keeps each block's input and output, and
/// one block's activations exist at a time, during its own backward pass,
/// for the price of running the blocks forward twice. Measured on a
/// style-search step (`avow-clone`'s `search_step` example): peak memory
/// 3.1 → 1.75 GB, time per step up about 15 %.
#[derive(Debug, Clone)]
struct Checkpointed(SnakeResBlock);

#[cfg(test)]
thread_local! {
    /// Checkpointed forward passes run on this thread (tests run one per thread).
    static CHECKPOINTED_RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl CustomOp2 for Checkpointed {
    fn name(&self) -> &'static str {
        "checkpointed-snake-resblock"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        #[cfg(test)]
        CHECKPOINTED_RUNS.with(|c| c.set(c.get() + 1));
        let (x, style) = (cpu_tensor(self.name(), s1, l1)?, cpu_tensor(self.name(), s2, l2)?);
        // Untracked inputs: nothing is recorded. f32 as in the recomputation.
        let _f32 = F32Scope::enter();
        let y = self.0.forward_layers(&x, &style)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1()?), shape))
    }

    fn bwd(&self, x: &Tensor, style: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let x = Var::from_tensor(&x.detach())?;
        let style = Var::from_tensor(&style.detach())?;
        let _f32 = F32Scope::enter();
        let y = self.0.forward_layers(x.as_tensor(), style.as_tensor())?;
        // The vector-Jacobian product with the incoming gradient.
        let grads = (y * grad_res.detach())?.sum_all()?.backward()?;
        Ok((grads.get(x.as_tensor()).cloned(), grads.get(style.as_tensor()).cloned()))
    }
}

/// The generator (`decoder.generator.*`).
#[derive(Debug, Clone)]
pub struct Generator {
    source_linear: Linear,
    noise_convs: Vec<Conv1d>,
    noise_res: Vec<SnakeResBlock>,
    ups: Vec<ConvTranspose1d>,
    resblocks: Vec<SnakeResBlock>,
    conv_post: Conv1d,
    stft: Stft,
}

impl Generator {
    /// Loads from `decoder.generator.*`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let mut resblocks = Vec::new();
        for i in 0..6 {
            resblocks.push(SnakeResBlock::load(vb.pp("resblocks").pp(i), [3, 7, 11][i % 3])?);
        }
        Ok(Self {
            source_linear: Linear::load(vb.pp("m_source").pp("l_linear"), true)?.float_in_reference(),
            noise_convs: vec![
                Conv1d::load(vb.pp("noise_convs").pp(0), 3, 6, 1, true)?,
                Conv1d::load(vb.pp("noise_convs").pp(1), 0, 1, 1, true)?,
            ],
            noise_res: vec![
                SnakeResBlock::load(vb.pp("noise_res").pp(0), 7)?,
                SnakeResBlock::load(vb.pp("noise_res").pp(1), 11)?,
            ],
            ups: vec![
                ConvTranspose1d::load(vb.pp("ups").pp(0), 5, 10)?,
                ConvTranspose1d::load(vb.pp("ups").pp(1), 3, 6)?,
            ],
            resblocks,
            conv_post: Conv1d::load(vb.pp("conv_post"), 3, 1, 1, true)?.float_in_reference(),
            stft: Stft::new(20, 5, vb.device())?,
        })
    }

    /// Calls `visit` on the style projections of the residual blocks
    /// (`{prefix}.resblocks.*`, `{prefix}.noise_res.*`).
    pub fn visit_style_affines(&mut self, prefix: &str, visit: &mut StyleAffineVisitor) -> Result<()> {
        for (i, block) in self.resblocks.iter_mut().enumerate() {
            block.visit_style_affines(&format!("{prefix}.resblocks.{i}"), visit)?;
        }
        for (i, block) in self.noise_res.iter_mut().enumerate() {
            block.visit_style_affines(&format!("{prefix}.noise_res.{i}"), visit)?;
        }
        Ok(())
    }

    /// `x` `[1, 512, 2F]`, `style` `[1, 128]`, `f0` `[1, 2F]` → audio `[1, 600·F]`.
    pub fn forward(&self, x: &Tensor, style: &Tensor, f0: &Tensor) -> Result<Tensor> {
        self.forward_with_source(x, style, &self.harmonic_source(f0)?)
    }

    /// Like [`Self::forward`], given the harmonic source `[1, 600·F]` (see
    /// [`Self::harmonic_source_range`], for rendering a window of frames).
    pub fn forward_with_source(&self, x: &Tensor, style: &Tensor, source: &Tensor) -> Result<Tensor> {
        let har = self.stft.magnitude_phase(source)?;
        let (magnitude, phase) = self.spectrogram_from_source(x, style, &har)?;
        // Match the reference graph's gain (see `Stft::overlap_add`).
        self.stft.overlap_add(&magnitude, &phase)
    }

    /// The predicted magnitude and phase `[1, 11, 120·F + 1]` each, before the inverse STFT.
    pub fn spectrogram(&self, x: &Tensor, style: &Tensor, f0: &Tensor) -> Result<(Tensor, Tensor)> {
        let har = self.stft.magnitude_phase(&self.harmonic_source(f0)?)?;
        self.spectrogram_from_source(x, style, &har)
    }

    /// Like [`Self::spectrogram`], given the source's magnitude and phase
    /// `[1, 22, 120·F + 1]` instead of F0.
    pub fn spectrogram_from_source(&self, x: &Tensor, style: &Tensor, har: &Tensor) -> Result<(Tensor, Tensor)> {
        let mut x = x.clone();
        for i in 0..2 {
            x = leaky_relu(&x, 0.1)?;
            let x_source = self.noise_res[i].forward(&self.noise_convs[i].forward(har)?, style)?;
            x = self.ups[i].forward(&x)?;
            if i == 1 {
                // ReflectionPad1d((1, 0)): prepend x[1].
                x = Tensor::cat(&[&x.narrow(2, 1, 1)?, &x], 2)?;
            }
            x = (x + x_source)?;
            let mut acc = self.resblocks[3 * i].forward(&x, style)?;
            for j in 1..3 {
                acc = (acc + self.resblocks[3 * i + j].forward(&x, style)?)?;
            }
            x = (acc / 3.0)?;
        }
        let x = self.conv_post.forward(&leaky_relu(&x, 0.01)?)?;
        let bins = self.stft.bins();
        Ok((x.narrow(1, 0, bins)?.exp()?, x.narrow(1, bins, bins)?.sin()?))
    }

    /// Harmonic source `[1, 300·frames]` for `f0` `[1, frames]`: nine harmonics of F0 with phase integrated at frame
    /// rate and interpolated to samples, gated by voicing, mixed by a linear
    /// layer and tanh. This export carries no random phase or noise term, so
    /// neither does the port (the output is deterministic).
    pub fn harmonic_source(&self, f0: &Tensor) -> Result<Tensor> {
        let frames = f0.dim(1)?;
        self.harmonic_source_range(f0, 0..frames)
    }

    /// The samples of [`Self::harmonic_source`] for F0 frames `range` only,
    /// `[1, 300·range.len()]`, identical to the same slice of the whole
    /// source: the harmonics' phase is integrated from the first frame of
    /// `f0`, so windows rendered separately stay in phase with each other.
    pub fn harmonic_source_range(&self, f0: &Tensor, range: std::ops::Range<usize>) -> Result<Tensor> {
        let device = f0.device();
        let f0: Vec<f32> = f0.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()?;
        let frames = f0.len();
        if range.start >= range.end || range.end > frames {
            candle_core::bail!("F0 frames {range:?} outside 0..{frames}");
        }
        let first = range.start * SAMPLES_PER_F0_FRAME;
        let samples = range.len() * SAMPLES_PER_F0_FRAME;
        let scale = SAMPLES_PER_F0_FRAME as f32;
        let mut sines = vec![0f32; samples * HARMONICS];
        for h in 0..HARMONICS {
            // Per-frame phase increment (cycles per sample), accumulated per
            // frame and scaled by the frame length.
            let mut phase = Vec::with_capacity(frames);
            let mut acc = 0f32;
            for &f in &f0 {
                let rad = f * (h + 1) as f32 / SAMPLE_RATE;
                acc += rad - rad.floor();
                phase.push(acc * 2.0 * std::f32::consts::PI * scale);
            }
            for (k, j) in (first..first + samples).enumerate() {
                // Linear interpolation with half-pixel centres, clamped at the ends.
                let src = ((j as f32 + 0.5) / scale - 0.5).max(0.0);
                let i0 = (src.floor() as usize).min(frames - 1);
                let i1 = (i0 + 1).min(frames - 1);
                let w = src - i0 as f32;
                let p = phase[i0] * (1.0 - w) + phase[i1] * w;
                let voiced = if f0[j / SAMPLES_PER_F0_FRAME] > VOICED_THRESHOLD { 1.0 } else { 0.0 };
                sines[k * HARMONICS + h] = p.sin() * SINE_AMP * voiced;
            }
        }
        let sines = Tensor::from_vec(sines, (samples, HARMONICS), device)?;
        self.source_linear.forward(&sines)?.tanh()?.reshape((1, samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// A block of kernel 3 on 4 channels with random weights, style size 6.
    fn random_block() -> SnakeResBlock {
        let dev = Device::Cpu;
        let mut w = std::collections::HashMap::new();
        let mut put = |name: String, shape: &[usize]| {
            w.insert(name, Tensor::randn(0f32, 0.5, shape, &dev).unwrap());
        };
        for i in 0..3 {
            for n in ["adain1", "adain2"] {
                put(format!("{n}.{i}.fc.weight"), &[8, 6]);
                put(format!("{n}.{i}.fc.bias"), &[8]);
            }
            for n in ["alpha1", "alpha2"] {
                put(format!("{n}.{i}"), &[1, 4, 1]);
            }
            for n in ["convs1", "convs2"] {
                put(format!("{n}.{i}.weight"), &[4, 4, 3]);
                put(format!("{n}.{i}.bias"), &[4]);
            }
        }
        let block = SnakeResBlock::load(VarBuilder::from_tensors(w, DType::F32, &dev), 3).unwrap();
        // Snake's α must be positive (it divides).
        let mut block = block;
        for l in &mut block.layers {
            for s in [&mut l.snake1, &mut l.snake2] {
                s.alpha = s.alpha.iter().map(|a| a.abs() + 0.2).collect();
                s.alpha_t = Tensor::new(s.alpha.as_slice(), &dev).unwrap().reshape((1, 4, 1)).unwrap();
            }
        }
        block
    }

    fn max_abs(t: &Tensor) -> f32 {
        t.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn a_checkpointed_block_gives_the_layers_output_and_gradients() {
        let dev = Device::Cpu;
        let block = random_block();
        let x = Var::randn(0f32, 1.0, (1, 4, 300), &dev).unwrap();
        let style = Var::randn(0f32, 1.0, (1, 6), &dev).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (1, 4, 300), &dev).unwrap();
        let checkpointed = block.forward(&x, &style).unwrap();
        assert_eq!(CHECKPOINTED_RUNS.with(|c| c.get()), 1, "a frozen block under a gradient must be checkpointed");
        let layers = block.forward_layers(&x, &style).unwrap();
        assert!(max_abs(&(&checkpointed - &layers).unwrap()) < 1e-5);
        let g1 = checkpointed.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = layers.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &style] {
            let (a, b) = (g1.get(v).expect("gradient through the checkpoint"), g2.get(v).unwrap());
            assert!(max_abs(&(a - b).unwrap()) <= 1e-4 * max_abs(b).max(1.0), "gradients differ");
        }
    }

    #[test]
    fn a_block_with_a_trainable_style_projection_is_not_checkpointed() {
        // Speaker adaptation trains the projections' biases: a checkpoint
        // would return gradients for its inputs only and silently starve them.
        let dev = Device::Cpu;
        let mut block = random_block();
        let bias = Var::zeros(8, DType::F32, &dev).unwrap();
        block.layers[1].adain2.fc_mut().set_bias(bias.as_tensor().clone()).unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, 4, 100), &dev).unwrap();
        let style = Tensor::randn(0f32, 1.0, (1, 6), &dev).unwrap();
        let y = block.forward(&x, &style).unwrap();
        assert_eq!(CHECKPOINTED_RUNS.with(|c| c.get()), 0);
        let grads = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        assert!(max_abs(grads.get(&bias).expect("the trained bias gets its gradient")) > 0.0);
    }

    #[test]
    fn fused_snake_matches_its_formula_forward_and_backward() {
        let dev = Device::Cpu;
        let alpha_t = Tensor::new(&[0.5f32, 1.0, 3.0], &dev).unwrap().reshape((1, 3, 1)).unwrap();
        let snake = Snake { alpha: vec![0.5, 1.0, 3.0], alpha_t: alpha_t.clone() };
        let x = Var::randn(0f32, 2.0, (1, 3, 50), &dev).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (1, 3, 50), &dev).unwrap();
        let ours = snake.forward(&x).unwrap();
        let formula = (x.as_tensor() + x.broadcast_mul(&alpha_t).unwrap().sin().unwrap().sqr().unwrap().broadcast_div(&alpha_t).unwrap()).unwrap();
        let max = |t: Tensor| t.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(max((&ours - &formula).unwrap()) < 1e-5);
        let g1 = ours.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = formula.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(max((g1.get(&x).unwrap() - g2.get(&x).unwrap()).unwrap()) < 1e-4);
    }
}
