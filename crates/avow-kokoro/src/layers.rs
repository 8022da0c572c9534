//! Building blocks shared by several Kokoro networks: convolutions in PyTorch
//! layout, linear layers, channel layer norm, AdaIN and a bidirectional LSTM.
//!
//! Every block is a plain struct of tensors with a `load(vb)` constructor and a
//! `forward`, built only from differentiable candle ops so that speaker
//! adaptation can backpropagate through the whole model.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use avow_frozen::FrozenMatmul;
use avow_kernels::Int8Conv1d;

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Module, Result, Shape, Tensor, D};
use candle_nn::VarBuilder;

static EMULATE_INT8: AtomicBool = AtomicBool::new(false);

/// Diagnostic switch (process-wide): quantize the inputs of every layer that
/// the published ONNX graph runs in int8 (`MatMulInteger`, `ConvInteger`,
/// `DynamicQuantizeLSTM`) the way onnxruntime's `DynamicQuantizeLinear` does
/// (per tensor, asymmetric uint8). With it on, the port reproduces the
/// reference's activation rounding, which is how the parity tests measure how
/// much of the remaining difference that rounding explains. Off by default:
/// f32 activations are the model as trained.
pub fn set_int8_activation_emulation(on: bool) {
    EMULATE_INT8.store(on, Ordering::Relaxed);
}

static INT8_KERNELS: AtomicBool = AtomicBool::new(true);

/// Process-wide switch for the int8 convolution kernels (on by default).
///
/// When on, and the CPU has AVX-512 VNNI, inference runs every stride-1
/// convolution that the published ONNX graph runs as `ConvInteger` in 8-bit
/// integers, as onnxruntime does: weights quantized per output channel,
/// activations per tensor with a zero point; likewise linear layers the
/// graph runs as `MatMulInteger`, on 16 rows or more. Each convolution runs
/// 5-7 times faster than in f32 (`examples/conv_bench.rs`), and on the
/// parity fixtures the audio is closer to the reference than f32's
/// (BENCHMARKS.md). Graphs being differentiated (cloning, banking) always
/// use f32. Off: f32 everywhere, the model as trained. Set it before loading
/// a model: convolutions quantize their weights at load while it is on.
pub fn set_int8_kernels(on: bool) {
    INT8_KERNELS.store(on, Ordering::Relaxed);
}

/// Whether inference convolutions run in int8 now: switched on and supported
/// by this CPU.
pub fn int8_kernels_active() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    INT8_KERNELS.load(Ordering::Relaxed) && *SUPPORTED.get_or_init(avow_kernels::vnni_available)
}

thread_local! {
    /// Set while this thread recomputes part of a graph being differentiated
    /// outside candle's tape (see [`F32Scope`]).
    static F32_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While alive, layers on this thread run in f32 even on untracked inputs.
/// A checkpointed block computes its forward pass untracked and its backward
/// pass from a tracked recomputation; both must be the f32 model, or the
/// gradient would belong to a different (int8) function than the one whose
/// output the graph carries.
pub(crate) struct F32Scope {
    before: bool,
}

impl F32Scope {
    pub(crate) fn enter() -> Self {
        Self { before: F32_ONLY.with(|f| f.replace(true)) }
    }
}

impl Drop for F32Scope {
    fn drop(&mut self) {
        F32_ONLY.with(|f| f.set(self.before));
    }
}

/// Whether an int8 kernel may take `x`: a layer the reference runs in int8,
/// an f32 input that no gradient will flow through, kernels on and the
/// emulation diagnostic off.
fn int8_applies(x: &Tensor, int8_in_reference: bool) -> bool {
    int8_in_reference
        && !x.track_op()
        && !F32_ONLY.with(|f| f.get())
        && x.dtype() == DType::F32
        && !EMULATE_INT8.load(Ordering::Relaxed)
        && int8_kernels_active()
}

/// `DynamicQuantizeLinear` followed by dequantization, when emulation is on.
fn fake_quant(x: &Tensor) -> Result<Tensor> {
    if !EMULATE_INT8.load(Ordering::Relaxed) {
        return Ok(x.clone());
    }
    let min = x.min_all()?.to_scalar::<f32>()?.min(0.0);
    let max = x.max_all()?.to_scalar::<f32>()?.max(0.0);
    if max <= min {
        return Ok(x.clone());
    }
    let scale = ((max - min) / 255.0) as f64;
    let zero = (-(min as f64) / scale).round_ties_even().clamp(0.0, 255.0);
    let q = ((x / scale)?.round()? + zero)?.clamp(0f32, 255f32)?;
    (q - zero)? * scale
}

/// `nn.Conv1d` with PyTorch's padding/stride/dilation semantics.
#[derive(Debug, Clone)]
pub struct Conv1d {
    weight: Tensor,
    /// `weight[:, :, k]` for each tap, contiguous `[out, in]`.
    taps: Vec<Tensor>,
    bias: Option<Tensor>,
    padding: usize,
    stride: usize,
    dilation: usize,
    int8_in_reference: bool,
    input_grad: InputGradConv,
    /// The int8 form: quantized at load while the kernels are active, else
    /// on first inference use. Shared between clones of a model.
    int8: Arc<OnceLock<Option<Int8Conv1d>>>,
}

impl Conv1d {
    /// Loads `weight` `[out, in, k]` and, if `bias`, `bias` `[out]`.
    pub fn load(vb: VarBuilder, padding: usize, stride: usize, dilation: usize, bias: bool) -> Result<Self> {
        let weight = vb.get_unchecked_dtype("weight", DType::F32)?;
        let taps = (0..weight.dim(2)?)
            .map(|k| weight.narrow(2, k, 1)?.squeeze(2)?.contiguous())
            .collect::<Result<Vec<_>>>()?;
        let bias = if bias { Some(vb.get_unchecked_dtype("bias", DType::F32)?) } else { None };
        let input_grad = InputGradConv {
            weight: weight.clone(),
            taps_t: taps.iter().map(|t| t.t()?.contiguous()).collect::<Result<Vec<_>>>()?,
            taps: taps.clone(),
            padding,
            dilation,
        };
        let conv = Self {
            weight,
            taps,
            bias,
            padding,
            stride,
            dilation,
            int8_in_reference: true,
            input_grad,
            int8: Arc::new(OnceLock::new()),
        };
        // Quantize at load rather than in the first utterance, which would
        // otherwise take about 0.3 s longer (time to first audio).
        if stride == 1 && int8_kernels_active() {
            let _ = conv.int8.set(conv.quantized());
        }
        Ok(conv)
    }

    /// Marks a layer the reference graph runs in f32 (no int8 emulation).
    pub fn float_in_reference(mut self) -> Self {
        self.int8_in_reference = false;
        self
    }

    /// `[B, C_in, T]` → `[B, C_out, T']`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some(conv) = self.int8_form(x)? {
            let (_, c, t) = x.dims3()?;
            let y = {
                let (storage, layout) = x.storage_and_layout();
                match (&*storage, layout.contiguous_offsets()) {
                    (candle_core::Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) => conv.forward(&data[start..end], t),
                    _ => {
                        drop(storage);
                        conv.forward(&x.flatten_all()?.to_vec1::<f32>()?, t)
                    }
                }
            }
            .map_err(|e| candle_core::Error::Msg(format!("{e} (input {c}×{t})")))?;
            let out_len = y.len() / conv.out_channels();
            return Tensor::from_vec(y, (1, conv.out_channels(), out_len), x.device());
        }
        let quantized;
        let x = if self.int8_in_reference {
            quantized = fake_quant(x)?;
            &quantized
        } else {
            x
        };
        let y = if self.stride == 1 && x.dim(0)? == 1 && x.track_op() {
            // Part of a graph being differentiated (style search, adaptation):
            // candle's own conv backward takes its slow padded transposed-
            // convolution path and also computes the frozen weights' gradient.
            x.contiguous()?.apply_op1(self.input_grad.clone())?
        } else if self.stride == 1 && x.dim(0)? == 1 && x.dim(2)? >= LONG_SEQUENCE {
            forward_by_taps(&self.taps, x, self.padding, self.dilation)?
        } else {
            x.conv1d(&self.weight, self.padding, self.stride, self.dilation, 1)?
        };
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
            None => Ok(y),
        }
    }
}

impl Conv1d {
    /// The int8 kernel for this call, if it applies: inference (no graph
    /// being differentiated), one batch, stride 1, a layer the reference runs
    /// in int8, kernels switched on and the emulation diagnostic off.
    fn int8_form(&self, x: &Tensor) -> Result<Option<&Int8Conv1d>> {
        if self.stride != 1 || x.dim(0)? != 1 || !int8_applies(x, self.int8_in_reference) {
            return Ok(None);
        }
        Ok(self.int8.get_or_init(|| self.quantized()).as_ref())
    }

    /// The weights in int8; `None` for weights int8 refuses (non-finite),
    /// which then keep f32.
    fn quantized(&self) -> Option<Int8Conv1d> {
        let (o, c, k) = self.weight.dims3().ok()?;
        let w = self.weight.flatten_all().ok()?.to_vec1::<f32>().ok()?;
        let b = match &self.bias {
            Some(b) => Some(b.to_vec1::<f32>().ok()?),
            None => None,
        };
        Int8Conv1d::new(&w, (o, c, k), b.as_deref(), self.padding, self.dilation).ok()
    }
}

/// Length from which a convolution runs as one matrix product per tap: on
/// long inputs this beats candle's im2col (which materializes `k` copies of
/// the input) by 20–40% here (`examples/conv_bench.rs`); on short ones it loses.
const LONG_SEQUENCE: usize = 2048;

/// `y = Σ_k W_k · x[:, k·d .. k·d + T']` over the zero-padded input `[1, C, T]`.
fn forward_by_taps(taps: &[Tensor], x: &Tensor, padding: usize, dilation: usize) -> Result<Tensor> {
    let xp = x.squeeze(0)?.pad_with_zeros(1, padding, padding)?;
    let out_len = xp.dim(1)? - dilation * (taps.len() - 1);
    let mut acc = taps[0].matmul(&xp.narrow(1, 0, out_len)?)?;
    for (k, tap) in taps.iter().enumerate().skip(1) {
        acc = (acc + tap.matmul(&xp.narrow(1, k * dilation, out_len)?)?)?;
    }
    acc.unsqueeze(0)
}

/// A stride-1 convolution with frozen weights as one custom op whose
/// backward pass returns only the input's gradient, `Σ_k W_kᵀ · g` shifted
/// by each tap's offset: a few matrix products, where candle's generic conv
/// backward would run a padded transposed convolution (its slow path) and a
/// weight gradient nobody asked for. Cloning trains through dozens of these
/// layers, so this sets the cost of a training step.
/// A CPU tensor with the data of a custom op's contiguous f32 `storage`
/// (a copy), so that the op can run candle's own kernels on it.
pub(crate) fn cpu_tensor(op: &str, storage: &CpuStorage, layout: &Layout) -> Result<Tensor> {
    let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
        candle_core::bail!("{op} takes contiguous f32 tensors");
    };
    Tensor::from_slice(&data[start..end], layout.shape(), &Device::Cpu)
}

#[derive(Debug, Clone)]
struct InputGradConv {
    weight: Tensor,
    taps: Vec<Tensor>,
    taps_t: Vec<Tensor>,
    padding: usize,
    dilation: usize,
}

impl CustomOp1 for InputGradConv {
    fn name(&self) -> &'static str {
        "conv1d-input-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = cpu_tensor(self.name(), storage, layout)?;
        let y = if x.dim(2)? >= LONG_SEQUENCE {
            forward_by_taps(&self.taps, &x, self.padding, self.dilation)?
        } else {
            x.conv1d(&self.weight, self.padding, 1, self.dilation, 1)?
        };
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1()?), shape))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let t = arg.dim(2)?;
        let g = grad_res.detach().squeeze(0)?;
        let out_len = g.dim(1)?;
        let full = t + 2 * self.padding;
        let mut acc: Option<Tensor> = None;
        for (k, tap_t) in self.taps_t.iter().enumerate() {
            let offset = k * self.dilation;
            let part = tap_t.matmul(&g)?.pad_with_zeros(1, offset, full - offset - out_len)?;
            acc = Some(match acc {
                Some(a) => (a + part)?,
                None => part,
            });
        }
        let Some(acc) = acc else { candle_core::bail!("convolution without taps") };
        Ok(Some(acc.narrow(1, self.padding, t)?.unsqueeze(0)?))
    }
}

/// A transposed convolution (groups = 1, no padding) rewritten as one
/// ordinary convolution over `stride` interleaved output phases.
///
/// Output sample `n·s + r` of a transposed convolution with stride `s` only
/// sees kernel taps `r, r + s, r + 2s, …`, so each phase `r` is a plain
/// convolution of the input with those taps (reversed). Stacking the phases as
/// extra output channels gives one `conv1d` and a reshape. Unlike candle's
/// `conv_transpose1d` this has a backward pass, which speaker adaptation needs
/// (the generator's upsamplers and the inverse STFT are transposed
/// convolutions), and it costs the same multiply-adds.
#[derive(Debug, Clone)]
pub struct PolyphaseTransposedConv {
    /// `[s·C_out, C_in, m]` with `m = ceil(k / s)`.
    phases: Tensor,
    stride: usize,
    kernel: usize,
    out_channels: usize,
}

impl PolyphaseTransposedConv {
    /// Rearranges a PyTorch `ConvTranspose1d` weight `[C_in, C_out, k]`.
    pub fn new(weight: &Tensor, stride: usize) -> Result<Self> {
        let (c_in, c_out, k) = weight.dims3()?;
        let m = k.div_ceil(stride);
        let w: Vec<f32> = weight.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let mut phases = vec![0f32; stride * c_out * c_in * m];
        for r in 0..stride {
            for o in 0..c_out {
                for c in 0..c_in {
                    for j in 0..m {
                        let tap = (m - 1 - j) * stride + r;
                        if tap < k {
                            phases[((r * c_out + o) * c_in + c) * m + j] = w[(c * c_out + o) * k + tap];
                        }
                    }
                }
            }
        }
        let phases = Tensor::from_vec(phases, (stride * c_out, c_in, m), weight.device())?;
        Ok(Self { phases, stride, kernel: k, out_channels: c_out })
    }

    /// `[B, C_in, T]` → `[B, C_out, (T − 1)·stride + k]`, as `conv_transpose1d`
    /// with zero padding.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, t) = x.dims3()?;
        let m = self.phases.dim(2)?;
        let y = x.conv1d(&self.phases, m - 1, 1, 1, 1)?;
        let len = y.dim(2)?;
        let y = y
            .reshape((b, self.stride, self.out_channels, len))?
            .permute((0, 2, 3, 1))?
            .reshape((b, self.out_channels, len * self.stride))?;
        y.narrow(2, 0, (t - 1) * self.stride + self.kernel)
    }
}

/// `nn.ConvTranspose1d` (groups = 1) with PyTorch's padding semantics.
#[derive(Debug, Clone)]
pub struct ConvTranspose1d {
    conv: PolyphaseTransposedConv,
    bias: Tensor,
    padding: usize,
}

impl ConvTranspose1d {
    /// Loads `weight` `[in, out, k]` and `bias` `[out]`.
    pub fn load(vb: VarBuilder, padding: usize, stride: usize) -> Result<Self> {
        let weight = vb.get_unchecked_dtype("weight", DType::F32)?;
        Ok(Self {
            conv: PolyphaseTransposedConv::new(&weight, stride)?,
            bias: vb.get_unchecked_dtype("bias", DType::F32)?,
            padding,
        })
    }

    /// `[B, C_in, T]` → `[B, C_out, (T-1)·stride − 2·padding + k]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let full = self.conv.forward(x)?;
        let len = full.dim(2)? - 2 * self.padding;
        full.narrow(2, self.padding, len)?.broadcast_add(&self.bias.reshape((1, (), 1))?)
    }
}

/// Depthwise `ConvTranspose1d(C, C, k=3, stride=2, groups=C, padding=1,
/// output_padding=1)`: the learned 2× upsampler of the up-sampling residual
/// blocks. Written out as two interleaved phases because candle's grouped
/// convolution loops over groups.
#[derive(Debug, Clone)]
pub struct DepthwiseUpsample {
    taps: [Tensor; 3],
    bias: Tensor,
}

impl DepthwiseUpsample {
    /// Loads `weight` `[C, 1, 3]` and `bias` `[C]`.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        let w = vb.get_unchecked_dtype("weight", DType::F32)?;
        let tap = |k: usize| w.narrow(2, k, 1)?.reshape((1, (), 1));
        Ok(Self { taps: [tap(0)?, tap(1)?, tap(2)?], bias: vb.get_unchecked_dtype("bias", DType::F32)?.reshape((1, (), 1))? })
    }

    /// `[B, C, T]` → `[B, C, 2T]`: `y[2m] = w1·x[m]`, `y[2m+1] = w2·x[m] + w0·x[m+1]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, t) = x.dims3()?;
        let next = Tensor::cat(&[x.narrow(2, 1, t - 1)?, Tensor::zeros((b, c, 1), x.dtype(), x.device())?], 2)?;
        let even = x.broadcast_mul(&self.taps[1])?;
        let odd = (x.broadcast_mul(&self.taps[2])? + next.broadcast_mul(&self.taps[0])?)?;
        Tensor::stack(&[even, odd], 3)?.reshape((b, c, 2 * t))?.broadcast_add(&self.bias)
    }
}

/// `nn.Linear` with PyTorch's `[out, in]` weight.
#[derive(Debug, Clone)]
pub struct Linear {
    /// The transposed weight `[in, out]` as a product that, under a
    /// gradient, leaves the weight without one (see `avow_frozen`): only the
    /// bias is ever trained.
    product: FrozenMatmul,
    bias: Option<Tensor>,
    int8_in_reference: bool,
    /// The weight in int8 (bias kept apart: adaptation replaces it), built
    /// on the first call that takes the kernel and shared between clones.
    int8: Arc<OnceLock<Option<Int8Conv1d>>>,
}

impl Linear {
    /// Loads `weight` and optionally `bias`.
    pub fn load(vb: VarBuilder, bias: bool) -> Result<Self> {
        let weight_t = vb.get_unchecked_dtype("weight", DType::F32)?.t()?.contiguous()?;
        let bias = if bias { Some(vb.get_unchecked_dtype("bias", DType::F32)?) } else { None };
        // Quantized on first use, not here: most linear layers are style
        // projections that only ever see one row and never take the kernel.
        Ok(Self { product: FrozenMatmul::new(&weight_t)?, bias, int8_in_reference: true, int8: Arc::new(OnceLock::new()) })
    }

    /// The weight (no bias) in int8, as a 1-tap convolution.
    fn quantized(&self) -> Option<Int8Conv1d> {
        let (c, o) = self.product.weight().dims2().ok()?;
        let w = self.product.weight().t().ok()?.flatten_all().ok()?.to_vec1::<f32>().ok()?;
        Int8Conv1d::new(&w, (o, c, 1), None, 0, 1).ok()
    }

    /// Marks a layer the reference graph runs in f32 (no int8 emulation).
    pub fn float_in_reference(mut self) -> Self {
        self.int8_in_reference = false;
        self
    }

    /// Whether no parameter of this layer is (or derives from) a trainable
    /// variable: the weight is frozen by construction, the bias may not be.
    pub(crate) fn is_frozen(&self) -> bool {
        !self.bias.as_ref().is_some_and(Tensor::track_op)
    }

    /// The bias `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Replaces the bias with `bias` of the same shape: how speaker
    /// adaptation offsets a layer (or swaps in a trainable `Var`'s tensor).
    pub fn set_bias(&mut self, bias: Tensor) -> Result<()> {
        let expected = self.product.weight().dim(1)?;
        if bias.dims() != [expected] {
            candle_core::bail!("bias of shape {:?} for a layer with {expected} outputs", bias.dims());
        }
        self.bias = Some(bias);
        Ok(())
    }
}

/// Fewest rows for which a linear layer runs in int8: the kernel computes 32
/// rows at a time, and style projections (one row) gain nothing.
const INT8_MIN_ROWS: usize = 16;

impl Linear {
    /// `x` `[rows, in]` through the int8 kernel, as a 1-tap convolution over
    /// the transposed input, if it applies (see [`Conv1d`]'s rules).
    fn forward_int8(&self, x: &Tensor) -> Result<Option<Tensor>> {
        let (rows, _) = x.dims2()?;
        if rows < INT8_MIN_ROWS || !int8_applies(x, self.int8_in_reference) {
            return Ok(None);
        }
        let Some(conv) = self.int8.get_or_init(|| self.quantized()) else { return Ok(None) };
        let xt = x.t()?.flatten_all()?.to_vec1::<f32>()?;
        let y = conv.forward(&xt, rows).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Ok(Some(Tensor::from_vec(y, (conv.out_channels(), rows), x.device())?.t()?.contiguous()?))
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = if self.int8_in_reference { fake_quant(x)? } else { x.clone() };
        let y = match x.rank() {
            // Rows of `[rows, in]` or `[b, t, in]`, as one matrix product.
            rank @ (2 | 3) => {
                let flat = x.flatten_to(rank - 2)?;
                let y = match self.forward_int8(&flat)? {
                    Some(y) => y,
                    None => self.product.forward(&flat)?,
                };
                let mut dims = x.dims().to_vec();
                dims[rank - 1] = y.dim(1)?;
                y.reshape(dims)?
            }
            _ => self.product.forward(&x)?,
        };
        match &self.bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }
}

/// Layer norm over the last dimension.
pub fn layer_norm(x: &Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centered = x.broadcast_sub(&mean)?;
    let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
    let mut y = centered.broadcast_div(&(var + eps)?.sqrt()?)?;
    if let Some(w) = weight {
        y = y.broadcast_mul(w)?;
    }
    if let Some(b) = bias {
        y = y.broadcast_add(b)?;
    }
    Ok(y)
}

/// Instance norm over time (no affine): `[B, C, T]`, biased variance.
pub fn instance_norm(x: &Tensor, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(2)?;
    let centered = x.broadcast_sub(&mean)?;
    let var = centered.sqr()?.mean_keepdim(2)?;
    centered.broadcast_div(&(var + eps)?.sqrt()?)
}

/// Leaky ReLU.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    // max(x, slope·x) for 0 < slope < 1; stays differentiable.
    x.maximum(&(x * slope)?)
}

/// Adaptive instance norm: the style picks a per-channel gain and bias.
#[derive(Debug, Clone)]
pub struct AdaIn1d {
    fc: Linear,
}

impl AdaIn1d {
    /// Loads `fc` (style → 2·C).
    pub fn load(vb: VarBuilder) -> Result<Self> {
        Ok(Self { fc: Linear::load(vb.pp("fc"), true)? })
    }

    /// The style projection (style → per-channel gain and bias).
    pub fn fc_mut(&mut self) -> &mut Linear {
        &mut self.fc
    }

    /// Whether the style projection holds no trainable variable.
    pub(crate) fn is_frozen(&self) -> bool {
        self.fc.is_frozen()
    }

    /// `x` `[B, C, T]`, `style` `[B, S]`.
    pub fn forward(&self, x: &Tensor, style: &Tensor) -> Result<Tensor> {
        let h = self.fc.forward(style)?;
        let c = x.dim(1)?;
        let gain = (h.narrow(1, 0, c)?.unsqueeze(2)? + 1.0)?;
        let beta = h.narrow(1, c, c)?.unsqueeze(2)?;
        if x.dim(0)? != 1 {
            return instance_norm(x, 1e-5)?.broadcast_mul(&gain)?.broadcast_add(&beta);
        }
        let (x, gain, beta) = (x.contiguous()?, gain.contiguous()?, beta.contiguous()?);
        if x.track_op() || gain.track_op() || beta.track_op() {
            x.apply_op3(&gain, &beta, AffineInstanceNorm)
        } else {
            x.apply_op3_no_bwd(&gain, &beta, &AffineInstanceNorm)
        }
    }
}

/// `(x − mean_t x) / sqrt(var_t x + 1e-5) · gain + bias` per channel of a
/// `[1, C, T]` tensor, with `gain` and `bias` `[1, C, 1]`, in two passes over
/// the data. As separate candle ops it takes seven and, when differentiated,
/// keeps four full-size intermediates; the backward pass here recomputes
/// the normalized input from `x` instead.
#[derive(Debug, Clone, Copy)]
struct AffineInstanceNorm;

const INSTANCE_NORM_EPS: f64 = 1e-5;

/// Per-row mean and reciprocal standard deviation (biased variance).
fn row_stats(row: &[f32]) -> (f32, f32) {
    let n = row.len() as f64;
    let mean = lane_sum(row, |v| v) / n;
    let m = mean as f32;
    let var = lane_sum(row, |v| (v - m) * (v - m)) / n;
    (m, (1.0 / (var + INSTANCE_NORM_EPS).sqrt()) as f32)
}

/// `Σ f(v)` over a row: each 64-sample block is summed in 16 independent f32
/// lanes (4 values each), and the blocks are added up in f64. The compiler
/// vectorizes the lanes (a single f64 running sum it cannot), and f32 never
/// adds more than 4 values before the f64 total takes over.
fn lane_sum(row: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    const LANES: usize = 16;
    let mut total = 0f64;
    let blocks = row.chunks_exact(4 * LANES);
    let tail = blocks.remainder();
    for block in blocks {
        let mut acc = [0f32; LANES];
        for quarter in block.chunks_exact(LANES) {
            for (a, &v) in acc.iter_mut().zip(quarter) {
                *a += f(v);
            }
        }
        total += acc.iter().map(|&a| f64::from(a)).sum::<f64>();
    }
    total + tail.iter().map(|&v| f64::from(f(v))).sum::<f64>()
}

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(data), Some((start, end))) => Ok(&data[start..end]),
        _ => candle_core::bail!("expected a contiguous f32 tensor"),
    }
}

impl candle_core::CustomOp3 for AffineInstanceNorm {
    fn name(&self) -> &'static str {
        "affine-instance-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, gain, bias) = (contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?, contiguous_f32(s3, l3)?);
        let (_, c, t) = l1.shape().dims3()?;
        if gain.len() != c || bias.len() != c {
            candle_core::bail!("instance norm: {c} channels, {} gains, {} biases", gain.len(), bias.len());
        }
        let mut y = Vec::with_capacity(x.len());
        for (ch, row) in x.chunks_exact(t).enumerate() {
            let (mean, inv) = row_stats(row);
            let (g, b) = (gain[ch] * inv, bias[ch]);
            y.extend(row.iter().map(|&v| (v - mean) * g + b));
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gain: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, c, t) = x.dims3()?;
        let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let gs: Vec<f32> = gain.flatten_all()?.to_vec1()?;
        let dy: Vec<f32> = grad.contiguous()?.flatten_all()?.to_vec1()?;
        let mut dx = Vec::with_capacity(xs.len());
        let mut dgain = Vec::with_capacity(c);
        let mut dbias = Vec::with_capacity(c);
        for ch in 0..c {
            let row = &xs[ch * t..(ch + 1) * t];
            let g = &dy[ch * t..(ch + 1) * t];
            let (mean, inv) = row_stats(row);
            let sum_g: f64 = g.iter().map(|&v| v as f64).sum();
            let sum_gx: f64 = g.iter().zip(row).map(|(&gv, &xv)| gv as f64 * ((xv - mean) * inv) as f64).sum();
            dbias.push(sum_g as f32);
            dgain.push(sum_gx as f32);
            let (mg, mgx) = ((sum_g / t as f64) as f32, (sum_gx / t as f64) as f32);
            let scale = gs[ch] * inv;
            dx.extend(g.iter().zip(row).map(|(&gv, &xv)| scale * (gv - mg - (xv - mean) * inv * mgx)));
        }
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (1, c, t), dev)?),
            Some(Tensor::from_vec(dgain, (1, c, 1), dev)?),
            Some(Tensor::from_vec(dbias, (1, c, 1), dev)?),
        ))
    }
}

/// Adaptive layer norm over channels, for `[B, T, C]` inputs.
#[derive(Debug, Clone)]
pub struct AdaLayerNorm {
    fc: Linear,
}

impl AdaLayerNorm {
    /// Loads `fc` (style → 2·C).
    pub fn load(vb: VarBuilder) -> Result<Self> {
        Ok(Self { fc: Linear::load(vb.pp("fc"), true)? })
    }

    /// The style projection (style → per-channel gain and bias).
    pub fn fc_mut(&mut self) -> &mut Linear {
        &mut self.fc
    }

    /// `x` `[B, T, C]`, `style` `[B, S]`.
    pub fn forward(&self, x: &Tensor, style: &Tensor) -> Result<Tensor> {
        let h = self.fc.forward(style)?;
        let c = x.dim(2)?;
        let gamma = h.narrow(1, 0, c)?.unsqueeze(1)?;
        let beta = h.narrow(1, c, c)?.unsqueeze(1)?;
        layer_norm(x, None, None, 1e-5)?.broadcast_mul(&(gamma + 1.0)?)?.broadcast_add(&beta)
    }
}

/// One direction of an LSTM with PyTorch weights (gates i, f, g, o).
#[derive(Debug, Clone)]
struct LstmDirection {
    /// Input weights `[I, 4H]`.
    w_ih: FrozenMatmul,
    /// Recurrent weights `[H, 4H]`: used at every step, so under a gradient
    /// candle would keep a weight gradient per step (see `avow_frozen`).
    w_hh: FrozenMatmul,
    bias: Tensor,
}

impl LstmDirection {
    fn load(vb: &VarBuilder, suffix: &str) -> Result<Self> {
        let get = |n: &str| vb.get_unchecked_dtype(&format!("{n}{suffix}"), DType::F32);
        Ok(Self {
            w_ih: FrozenMatmul::new(&get("weight_ih_l0")?.t()?.contiguous()?)?,
            w_hh: FrozenMatmul::new(&get("weight_hh_l0")?.t()?.contiguous()?)?,
            bias: (get("bias_ih_l0")? + get("bias_hh_l0")?)?,
        })
    }

    /// `x` `[T, I]` → `[T, H]`, running backwards in time when `reverse`.
    fn run(&self, x: &Tensor, reverse: bool) -> Result<Tensor> {
        let t = x.dim(0)?;
        let hidden = self.w_hh.weight().dim(0)?;
        // Input projections for all steps in one matmul; only the recurrent
        // product remains inside the loop.
        let xw = self.w_ih.forward(&fake_quant(x)?)?.broadcast_add(&self.bias)?;
        let mut h = Tensor::zeros((1, hidden), x.dtype(), x.device())?;
        let mut c = h.clone();
        let mut outs = vec![h.clone(); t];
        for step in 0..t {
            let i = if reverse { t - 1 - step } else { step };
            let gates = (xw.narrow(0, i, 1)? + self.w_hh.forward(&fake_quant(&h)?)?)?;
            let ig = candle_nn::ops::sigmoid(&gates.narrow(1, 0, hidden)?)?;
            let fg = candle_nn::ops::sigmoid(&gates.narrow(1, hidden, hidden)?)?;
            let gg = gates.narrow(1, 2 * hidden, hidden)?.tanh()?;
            let og = candle_nn::ops::sigmoid(&gates.narrow(1, 3 * hidden, hidden)?)?;
            c = ((fg * &c)? + (ig * gg)?)?;
            h = (og * c.tanh()?)?;
            outs[i] = h.clone();
        }
        Tensor::cat(&outs, 0)
    }
}

/// Bidirectional single-layer LSTM, batch-first `[1, T, I]` → `[1, T, 2H]`.
#[derive(Debug, Clone)]
pub struct BiLstm {
    forward: LstmDirection,
    backward: LstmDirection,
}

impl BiLstm {
    /// Loads `weight_ih_l0`, `weight_hh_l0`, biases, and their `_reverse` twins.
    pub fn load(vb: VarBuilder) -> Result<Self> {
        Ok(Self { forward: LstmDirection::load(&vb, "")?, backward: LstmDirection::load(&vb, "_reverse")? })
    }

    /// Runs both directions and concatenates their hidden states.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.squeeze(0)?;
        let f = self.forward.run(&x, false)?;
        let b = self.backward.run(&x, true)?;
        Tensor::cat(&[f, b], 1)?.unsqueeze(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn relative_error(a: &Tensor, b: &Tensor) -> f32 {
        let d = (a - b).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt();
        d / b.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt()
    }

    #[test]
    fn inference_convolutions_and_linear_layers_run_in_int8_and_training_in_f32() {
        if !int8_kernels_active() {
            eprintln!("no int8 kernels on this CPU: nothing to check");
            return;
        }
        let dev = Device::Cpu;
        let mut tensors = std::collections::HashMap::new();
        tensors.insert("conv.weight".to_string(), Tensor::randn(0f32, 0.2, (24, 16, 5), &dev).unwrap());
        tensors.insert("conv.bias".to_string(), Tensor::randn(0f32, 1.0, 24, &dev).unwrap());
        tensors.insert("fc.weight".to_string(), Tensor::randn(0f32, 0.2, (40, 64), &dev).unwrap());
        tensors.insert("fc.bias".to_string(), Tensor::randn(0f32, 1.0, 40, &dev).unwrap());
        let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &dev);
        let conv = Conv1d::load(vb.pp("conv"), 2, 1, 3, true).unwrap();
        let fc = Linear::load(vb.pp("fc"), true).unwrap();

        let x = Tensor::randn(0f32, 1.0, (1, 16, 300), &dev).unwrap();
        let exact = x.conv1d(&tensors["conv.weight"], 2, 1, 3, 1).unwrap().broadcast_add(&tensors["conv.bias"].reshape((1, (), 1)).unwrap()).unwrap();
        let err = relative_error(&conv.forward(&x).unwrap(), &exact);
        // int8 rounding of both operands: about 1 %; exactly f32 would be ~1e-7.
        assert!(err > 1e-4 && err < 0.03, "convolution: relative error {err}");
        let tracked = candle_core::Var::from_tensor(&x).unwrap();
        let err = relative_error(&conv.forward(&tracked).unwrap(), &exact);
        assert!(err < 1e-5, "a graph being differentiated must stay f32: relative error {err}");

        let h = Tensor::randn(0f32, 1.0, (1, 50, 64), &dev).unwrap();
        let exact = h.broadcast_matmul(&tensors["fc.weight"].t().unwrap()).unwrap().broadcast_add(&tensors["fc.bias"]).unwrap();
        let got = fc.forward(&h).unwrap();
        assert_eq!(got.dims(), [1, 50, 40]);
        let err = relative_error(&got, &exact);
        assert!(err > 1e-4 && err < 0.03, "linear: relative error {err}");
        // One row (a style projection) stays f32.
        let row = h.narrow(1, 0, 1).unwrap().squeeze(0).unwrap();
        let err = relative_error(&fc.forward(&row).unwrap(), &exact.narrow(1, 0, 1).unwrap().squeeze(0).unwrap());
        assert!(err < 1e-5, "one row: relative error {err}");
    }

    #[test]
    fn convolution_input_gradient_matches_candles_own() {
        let dev = Device::Cpu;
        for &(c_in, c_out, k, pad, dil, t) in &[(3usize, 4usize, 3usize, 1usize, 1usize, 50usize), (2, 2, 7, 9, 3, 40), (4, 3, 11, 5, 1, 2100)] {
            let w = Tensor::randn(0f32, 1.0, (c_out, c_in, k), &dev).unwrap();
            let taps: Vec<Tensor> = (0..k).map(|j| w.narrow(2, j, 1).unwrap().squeeze(2).unwrap().contiguous().unwrap()).collect();
            let op = InputGradConv {
                weight: w.clone(),
                taps_t: taps.iter().map(|t| t.t().unwrap().contiguous().unwrap()).collect(),
                taps,
                padding: pad,
                dilation: dil,
            };
            let x = candle_core::Var::randn(0f32, 1.0, (1, c_in, t), &dev).unwrap();
            let probe = Tensor::randn(0f32, 1.0, (1, c_out, t + 2 * pad - dil * (k - 1)), &dev).unwrap();
            let ours = x.apply_op1(op).unwrap();
            let theirs = x.conv1d(&w, pad, 1, dil, 1).unwrap();
            let err = (ours.clone() - &theirs).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(err < 1e-3, "forward differs by {err}");
            let g_ours = ours.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap().get(&x).unwrap().clone();
            let g_theirs = theirs.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap().get(&x).unwrap().clone();
            let err = (g_ours - g_theirs).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(err < 1e-3, "k={k} d={dil}: input gradient differs by {err}");
        }
    }

    #[test]
    fn fused_adaptive_instance_norm_matches_candle_ops_forward_and_backward() {
        let dev = Device::Cpu;
        let x = candle_core::Var::randn(0.3f32, 2.0, (1, 5, 37), &dev).unwrap();
        let gain = candle_core::Var::randn(1f32, 0.5, (1, 5, 1), &dev).unwrap();
        let bias = candle_core::Var::randn(0f32, 0.5, (1, 5, 1), &dev).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (1, 5, 37), &dev).unwrap();
        let ours = x.apply_op3(&gain, &bias, AffineInstanceNorm).unwrap();
        let theirs = instance_norm(&x, 1e-5).unwrap().broadcast_mul(&gain).unwrap().broadcast_add(&bias).unwrap();
        let max = |t: Tensor| t.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(max((&ours - &theirs).unwrap()) < 1e-4);
        let g1 = ours.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = theirs.mul(&probe).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &gain, &bias] {
            let err = max((g1.get(v).unwrap() - g2.get(v).unwrap()).unwrap());
            assert!(err < 1e-3, "gradient differs by {err}");
        }
    }

    #[test]
    fn polyphase_transposed_conv_equals_candles_and_has_a_gradient() {
        let dev = Device::Cpu;
        for &(c_in, c_out, k, stride, t) in &[(3usize, 2usize, 20usize, 10usize, 7usize), (4, 3, 12, 6, 5), (22, 1, 20, 5, 9), (2, 2, 3, 2, 4)] {
            let w = Tensor::randn(0f32, 1.0, (c_in, c_out, k), &dev).unwrap();
            let x = candle_core::Var::randn(0f32, 1.0, (1, c_in, t), &dev).unwrap();
            let want = x.conv_transpose1d(&w, 0, 0, stride, 1, 1).unwrap();
            let conv = PolyphaseTransposedConv::new(&w, stride).unwrap();
            let got = conv.forward(&x).unwrap();
            assert_eq!(got.dims(), want.dims());
            let err = (got.clone() - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(err < 1e-4, "k={k} s={stride}: max error {err}");
            let grads = got.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            let g = grads.get(&x).expect("gradient w.r.t. the input");
            assert!(g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
        }
    }
}
