//! A stride-1 1-D convolution that runs in 8-bit integers, for inference.
//!
//! Weights are quantized once, symmetrically per output channel, to int8.
//! Each call quantizes its input per tensor to uint8 with a zero point, the
//! way onnxruntime's `DynamicQuantizeLinear` does for the int8 Kokoro export,
//! multiplies in integers and rescales the int32 sums to f32. On CPUs with
//! AVX-512 VNNI one `vpdpbusd` does 64 multiply-adds, four times the f32 FMA
//! rate, which is what the iSTFTNet generator's convolutions need to keep up
//! with onnxruntime. Elsewhere [`Int8Conv1d::forward`] runs a portable integer
//! loop with the same result (slow; callers should check [`vnni_available`]
//! and keep their f32 path).
//!
//! There is no backward pass: training uses the f32 model.

use rayon::prelude::*;

/// Output rows computed together by the kernel (one weight broadcast feeds
/// `NR` outputs, one input load feeds `MR` rows).
const MR: usize = 8;
/// Output samples computed together: two 512-bit registers of int32.
const NR: usize = 32;

/// What a convolution refuses.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Int8ConvError {
    /// Weight, bias or input sizes disagree with the declared shape.
    #[error("int8 convolution: {0}")]
    Shape(String),
    /// A weight or bias is NaN or infinite.
    #[error("int8 convolution: non-finite {0}")]
    NonFinite(&'static str),
}

/// Whether this CPU runs the VNNI kernel (checked at run time).
pub fn vnni_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `y[o, t] = bias[o] + Σ_c Σ_k w[o, c, k] · x[c, t + k·dilation − padding]`
/// (zero padding, stride 1), with int8 weights and uint8 activations.
#[derive(Debug, Clone)]
pub struct Int8Conv1d {
    out_channels: usize,
    in_channels: usize,
    taps: usize,
    padding: usize,
    dilation: usize,
    /// `ceil(in_channels / 4)`: the kernel reduces four channels per step.
    groups4: usize,
    /// `[row block][tap][group of 4 channels][MR]`, four int8 weights per i32.
    packed: Vec<i32>,
    /// Per output row, padded to whole row blocks.
    weight_scale: Vec<f32>,
    /// `Σ_c Σ_k q[o, c, k]`: subtracting `zero_point · row_sum` removes the
    /// input's zero point from the integer sums.
    row_sum: Vec<i32>,
    bias: Vec<f32>,
}

/// An input quantized per tensor: `x ≈ scale · (q − zero_point)`.
struct QuantizedInput {
    scale: f32,
    zero_point: u8,
}

impl Int8Conv1d {
    /// Quantizes `weight` (`[out, in, taps]`, row-major, PyTorch's layout)
    /// and keeps `bias` (`[out]`).
    pub fn new(
        weight: &[f32],
        (out_channels, in_channels, taps): (usize, usize, usize),
        bias: Option<&[f32]>,
        padding: usize,
        dilation: usize,
    ) -> Result<Self, Int8ConvError> {
        if out_channels == 0 || in_channels == 0 || taps == 0 || dilation == 0 {
            return Err(Int8ConvError::Shape(format!("empty shape {out_channels}×{in_channels}×{taps}, dilation {dilation}")));
        }
        if weight.len() != out_channels * in_channels * taps {
            return Err(Int8ConvError::Shape(format!("{} weights for {out_channels}×{in_channels}×{taps}", weight.len())));
        }
        if weight.iter().any(|w| !w.is_finite()) {
            return Err(Int8ConvError::NonFinite("weight"));
        }
        if let Some(b) = bias {
            if b.len() != out_channels {
                return Err(Int8ConvError::Shape(format!("{} biases for {out_channels} outputs", b.len())));
            }
            if b.iter().any(|v| !v.is_finite()) {
                return Err(Int8ConvError::NonFinite("bias"));
            }
        }
        let groups4 = in_channels.div_ceil(4);
        let row_blocks = out_channels.div_ceil(MR);
        let rows = row_blocks * MR;
        // Bytes in the kernel's order, `[block][tap][group][MR][4]`.
        let mut bytes = vec![0u8; row_blocks * taps * groups4 * MR * 4];
        let mut weight_scale = vec![0f32; rows];
        let mut row_sum = vec![0i32; rows];
        let mut bias_padded = vec![0f32; rows];
        for (o, row) in weight.chunks_exact(in_channels * taps).enumerate() {
            let max = row.iter().fold(0f32, |m, w| m.max(w.abs()));
            let scale = max / 127.0;
            weight_scale[o] = scale;
            bias_padded[o] = bias.map_or(0.0, |b| b[o]);
            if scale == 0.0 {
                continue;
            }
            let inv = 1.0 / scale;
            let (block, r) = (o / MR, o % MR);
            for (c, channel) in row.chunks_exact(taps).enumerate() {
                for (k, &w) in channel.iter().enumerate() {
                    // Round half away from zero, as `f32::round`, without a libm call.
                    let v = (w * inv).clamp(-127.0, 127.0);
                    let q = (v + 0.5f32.copysign(v)) as i8;
                    row_sum[o] += i32::from(q);
                    bytes[(((block * taps + k) * groups4 + c / 4) * MR + r) * 4 + c % 4] = q as u8;
                }
            }
        }
        let packed = bytes.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Ok(Self { out_channels, in_channels, taps, padding, dilation, groups4, packed, weight_scale, row_sum, bias: bias_padded })
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Output length for an input of `len` samples, or `None` if the input is
    /// shorter than the kernel's reach.
    pub fn output_len(&self, len: usize) -> Option<usize> {
        (len + 2 * self.padding).checked_sub(self.dilation * (self.taps - 1)).filter(|&n| n > 0)
    }

    /// `x`: `[in, len]` row-major. Returns `[out, output_len(len)]` row-major.
    /// Uses the VNNI kernel when the CPU has it, else the portable loop.
    pub fn forward(&self, x: &[f32], len: usize) -> Result<Vec<f32>, Int8ConvError> {
        #[cfg(target_arch = "x86_64")]
        if vnni_available() {
            return self.run(x, len, Kernel::Vnni);
        }
        self.run(x, len, Kernel::Portable)
    }

    /// The portable integer loop, whatever the CPU. Same result as
    /// [`Int8Conv1d::forward`], bit for bit; for tests and other CPUs.
    pub fn forward_portable(&self, x: &[f32], len: usize) -> Result<Vec<f32>, Int8ConvError> {
        self.run(x, len, Kernel::Portable)
    }

    fn run(&self, x: &[f32], len: usize, kernel: Kernel) -> Result<Vec<f32>, Int8ConvError> {
        if x.len() != self.in_channels * len {
            return Err(Int8ConvError::Shape(format!("{} inputs for {} channels × {len}", x.len(), self.in_channels)));
        }
        let Some(out_len) = self.output_len(len) else {
            return Err(Int8ConvError::Shape(format!("input of {len} samples is shorter than the kernel")));
        };
        let blocks = out_len.div_ceil(NR);
        // Every kernel read, up to the last block's last tap, stays inside a row.
        let row_len = blocks * NR + self.dilation * (self.taps - 1);
        let row_bytes = row_len * 4;
        let (input, xq) = self.quantize_input(x, len, row_bytes, kernel);
        let row_blocks = self.weight_scale.len() / MR;
        let mut y = vec![0f32; row_blocks * MR * out_len];
        let per_block = self.taps * self.groups4 * MR;
        let shape = BlockShape { row_bytes, groups4: self.groups4, taps: self.taps, dilation: self.dilation, out_len };
        y.par_chunks_mut(MR * out_len).enumerate().for_each(|(b, out)| {
            let rows = MR.min(self.out_channels - b * MR);
            let epilogue = Epilogue::new(self, &input, b, rows);
            let w = &self.packed[b * per_block..(b + 1) * per_block];
            match kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Kernel::Vnni` is only chosen after `vnni_available()`;
                // `row_block` checks every slice length it indexes against `shape`.
                Kernel::Vnni => unsafe { vnni::row_block(&xq, w, out, &shape, &epilogue) },
                Kernel::Portable => portable_row_block(&xq, w, out, &shape, &epilogue),
            }
        });
        y.truncate(self.out_channels * out_len);
        Ok(y)
    }

    /// Quantizes `x` per tensor and lays it out as `[group of 4 channels]
    /// [time][4]` bytes, with `padding` zero samples (the zero point) before
    /// the data and as many after as the last block reads.
    fn quantize_input(&self, x: &[f32], len: usize, row_bytes: usize, kernel: Kernel) -> (QuantizedInput, Vec<u8>) {
        let (min, max) = match kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: chosen only after `vnni_available()`, which implies AVX-512 F.
            Kernel::Vnni => unsafe { vnni::min_max(x) },
            // NaN would make every sample look like the zero point; min/max skip it.
            Kernel::Portable => x.iter().fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v))),
        };
        let span = max - min;
        let input = if span > 0.0 && span.is_finite() {
            let scale = span / 255.0;
            let zero_point = (-min / scale).round_ties_even().clamp(0.0, 255.0) as u8;
            QuantizedInput { scale, zero_point }
        } else {
            QuantizedInput { scale: 0.0, zero_point: 0 }
        };
        let mut xq = vec![input.zero_point; self.groups4 * row_bytes];
        if input.scale > 0.0 {
            let inv = 1.0 / input.scale;
            let layout = InputLayout { channels: self.in_channels, len, row_bytes, padding: self.padding };
            match kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above; `quantize` checks the slice sizes it writes.
                Kernel::Vnni => unsafe { vnni::quantize(x, &mut xq, &layout, inv, input.zero_point) },
                Kernel::Portable => {
                    let zero = f32::from(input.zero_point);
                    for (c, row) in x.chunks_exact(len).enumerate() {
                        let base = (c / 4) * row_bytes + self.padding * 4 + c % 4;
                        for (t, &v) in row.iter().enumerate() {
                            // NaN lands on 0, as the vector path's conversion does.
                            xq[base + t * 4] = ((v * inv).round_ties_even() + zero).clamp(0.0, 255.0) as u8;
                        }
                    }
                }
            }
        }
        (input, xq)
    }
}

/// Where the quantized input goes: `[group of 4 channels][time][4]` bytes,
/// `row_bytes` per group, the data starting `padding` samples in.
struct InputLayout {
    channels: usize,
    len: usize,
    row_bytes: usize,
    padding: usize,
}

#[derive(Clone, Copy)]
enum Kernel {
    #[cfg(target_arch = "x86_64")]
    Vnni,
    Portable,
}

/// Where one row block reads and writes.
struct BlockShape {
    row_bytes: usize,
    groups4: usize,
    taps: usize,
    dilation: usize,
    out_len: usize,
}

/// Per-row rescaling of one row block's int32 sums:
/// `y = (acc − zero_point·row_sum) · x_scale·w_scale + bias`.
struct Epilogue {
    rows: usize,
    offset: [i32; MR],
    scale: [f32; MR],
    bias: [f32; MR],
}

impl Epilogue {
    fn new(conv: &Int8Conv1d, input: &QuantizedInput, block: usize, rows: usize) -> Self {
        let mut e = Self { rows, offset: [0; MR], scale: [0.0; MR], bias: [0.0; MR] };
        for r in 0..MR {
            let o = block * MR + r;
            e.offset[r] = i32::from(input.zero_point) * conv.row_sum[o];
            e.scale[r] = input.scale * conv.weight_scale[o];
            e.bias[r] = conv.bias[o];
        }
        e
    }

    fn apply(&self, r: usize, acc: i32) -> f32 {
        ((acc - self.offset[r]) as f32).mul_add(self.scale[r], self.bias[r])
    }
}

fn portable_row_block(xq: &[u8], w: &[i32], out: &mut [f32], s: &BlockShape, e: &Epilogue) {
    for t in 0..s.out_len {
        let mut acc = [0i32; MR];
        for k in 0..s.taps {
            for g in 0..s.groups4 {
                let at = g * s.row_bytes + (t + k * s.dilation) * 4;
                let xs = &xq[at..at + 4];
                for (r, a) in acc.iter_mut().enumerate() {
                    let ws = w[(k * s.groups4 + g) * MR + r].to_le_bytes();
                    *a += (0..4).map(|j| i32::from(xs[j]) * i32::from(ws[j] as i8)).sum::<i32>();
                }
            }
        }
        for (r, &a) in acc.iter().enumerate().take(e.rows) {
            out[r * s.out_len + t] = e.apply(r, a);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{BlockShape, Epilogue, InputLayout, MR, NR};

    /// `(min(x, 0), max(x, 0))`, skipping NaN.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn min_max(x: &[f32]) -> (f32, f32) {
        let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let chunks = x.chunks_exact(16);
        let tail = chunks.remainder();
        for c in chunks {
            let v = _mm512_loadu_ps(c.as_ptr());
            // With a NaN operand min/max return the second one: the running value.
            lo = _mm512_min_ps(v, lo);
            hi = _mm512_max_ps(v, hi);
        }
        let (lo, hi) = (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
        tail.iter().fold((lo, hi), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    }

    /// Quantizes `x` (`[channels, len]`) into `xq` laid out as `layout` says:
    /// for four channels at a time, sixteen samples become one 64-byte store.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn quantize(x: &[f32], xq: &mut [u8], layout: &InputLayout, inv_scale: f32, zero_point: u8) {
        let InputLayout { channels, len, row_bytes, padding } = *layout;
        assert!(x.len() >= channels * len);
        assert!(xq.len() >= channels.div_ceil(4) * row_bytes && row_bytes >= 4 * (padding + len));
        let inv = _mm512_set1_ps(inv_scale);
        let zero = _mm512_set1_epi32(i32::from(zero_point));
        let (lo, hi) = (_mm512_setzero_si512(), _mm512_set1_epi32(255));
        for g in 0..channels.div_ceil(4) {
            let dst = xq.as_mut_ptr().add(g * row_bytes + padding * 4);
            let mut t = 0;
            while t < len {
                let n = (len - t).min(16);
                let mask = if n == 16 { u16::MAX } else { ((1u32 << n) - 1) as u16 };
                let mut word = _mm512_setzero_si512();
                for j in 0..4 {
                    let c = g * 4 + j;
                    let q = if c < channels {
                        let v = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(c * len + t));
                        // Round to nearest even (the default rounding mode), as
                        // `DynamicQuantizeLinear`; NaN converts to i32::MIN → 0.
                        let q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, inv)), zero);
                        _mm512_min_epi32(_mm512_max_epi32(q, lo), hi)
                    } else {
                        zero
                    };
                    word = _mm512_or_si512(word, _mm512_sllv_epi32(q, _mm512_set1_epi32(8 * j as i32)));
                }
                _mm512_mask_storeu_epi32(dst.add(t * 4).cast(), mask, word);
                t += n;
            }
        }
    }

    /// One row block over all output samples, `NR` at a time.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VNNI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn row_block(xq: &[u8], w: &[i32], out: &mut [f32], s: &BlockShape, e: &Epilogue) {
        let blocks = s.out_len.div_ceil(NR);
        // The loads below are unchecked; these bounds cover the furthest one
        // (last group, last block, last tap, second register).
        assert!(xq.len() >= s.groups4 * s.row_bytes);
        assert!(s.row_bytes >= 4 * (blocks * NR + s.dilation * (s.taps - 1)));
        assert!(w.len() >= s.taps * s.groups4 * MR);
        assert!(out.len() >= e.rows * s.out_len && e.rows <= MR);
        let x = xq.as_ptr();
        let w = w.as_ptr();
        for block in 0..blocks {
            let t0 = block * NR;
            let mut acc = [[_mm512_setzero_si512(); 2]; MR];
            for k in 0..s.taps {
                let xk = x.add((t0 + k * s.dilation) * 4);
                let wk = w.add(k * s.groups4 * MR);
                for g in 0..s.groups4 {
                    let p = xk.add(g * s.row_bytes);
                    let b0 = _mm512_loadu_si512(p.cast());
                    let b1 = _mm512_loadu_si512(p.add(64).cast());
                    let wg = wk.add(g * MR);
                    for (r, a) in acc.iter_mut().enumerate() {
                        let weights = _mm512_set1_epi32(*wg.add(r));
                        a[0] = _mm512_dpbusd_epi32(a[0], b0, weights);
                        a[1] = _mm512_dpbusd_epi32(a[1], b1, weights);
                    }
                }
            }
            for (r, a) in acc.iter().enumerate().take(e.rows) {
                let offset = _mm512_set1_epi32(e.offset[r]);
                let scale = _mm512_set1_ps(e.scale[r]);
                let bias = _mm512_set1_ps(e.bias[r]);
                for (h, &sums) in a.iter().enumerate() {
                    let t = t0 + h * 16;
                    if t >= s.out_len {
                        break;
                    }
                    let v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sums, offset)), scale, bias);
                    let dst = out.as_mut_ptr().add(r * s.out_len + t);
                    let left = s.out_len - t;
                    if left >= 16 {
                        _mm512_storeu_ps(dst, v);
                    } else {
                        _mm512_mask_storeu_ps(dst, ((1u32 << left) - 1) as u16, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, rng: &mut rand::rngs::StdRng, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(lo..hi)).collect()
    }

    /// The f32 convolution the int8 one approximates.
    fn reference(w: &[f32], (o, c, k): (usize, usize, usize), b: &[f32], x: &[f32], len: usize, pad: usize, dil: usize) -> Vec<f32> {
        let out_len = len + 2 * pad - dil * (k - 1);
        let mut y = vec![0f32; o * out_len];
        for oo in 0..o {
            for t in 0..out_len {
                let mut s = b[oo];
                for cc in 0..c {
                    for kk in 0..k {
                        let i = (t + kk * dil) as isize - pad as isize;
                        if i >= 0 && (i as usize) < len {
                            s += w[(oo * c + cc) * k + kk] * x[cc * len + i as usize];
                        }
                    }
                }
                y[oo * out_len + t] = s;
            }
        }
        y
    }

    #[test]
    fn vnni_kernel_equals_the_portable_integer_loop_bit_for_bit() {
        if !vnni_available() {
            eprintln!("no AVX-512 VNNI here: nothing to compare");
            return;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Odd channel counts, a partial last block, dilation and padding.
        for &(o, c, k, len, pad, dil) in &[(13, 22, 1, 5, 0, 1), (8, 4, 3, 40, 1, 1), (20, 37, 7, 129, 15, 5), (128, 128, 11, 300, 5, 1)] {
            let w = random(o * c * k, &mut rng, -0.3, 0.3);
            let b = random(o, &mut rng, -1.0, 1.0);
            let mut x = random(c * len, &mut rng, -2.0, 3.0);
            // A NaN quantizes to 0 on both paths (and does not end the run).
            x[len / 2] = f32::NAN;
            let conv = Int8Conv1d::new(&w, (o, c, k), Some(&b), pad, dil).unwrap();
            assert_eq!(conv.forward(&x, len).unwrap(), conv.forward_portable(&x, len).unwrap(), "{o}×{c}×{k}");
        }
    }

    #[test]
    fn int8_convolution_is_within_quantization_error_of_f32() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (o, c, k, len, pad, dil) = (24, 64, 7, 200, 9, 3);
        let w = random(o * c * k, &mut rng, -0.1, 0.1);
        let b = random(o, &mut rng, -0.5, 0.5);
        let x = random(c * len, &mut rng, -1.0, 2.0);
        let conv = Int8Conv1d::new(&w, (o, c, k), Some(&b), pad, dil).unwrap();
        let got = conv.forward(&x, len).unwrap();
        let want = reference(&w, (o, c, k), &b, &x, len, pad, dil);
        assert_eq!(got.len(), want.len());
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
        let norm = want.iter().map(|v| v * v).sum::<f32>().sqrt();
        // 8-bit rounding of both operands over 448 products: ~1 % relative.
        assert!(err / norm < 0.02, "relative error {}", err / norm);
        // and not trivially small: the output really went through int8
        assert!(err / norm > 1e-4, "relative error {} looks like f32", err / norm);
    }

    #[test]
    fn zero_and_constant_inputs_give_the_bias_or_the_exact_dc_response() {
        let w = vec![0.5f32, -0.25, 1.0, 0.125, 0.0, -1.0];
        let conv = Int8Conv1d::new(&w, (2, 1, 3), Some(&[1.0, -2.0]), 1, 1).unwrap();
        assert_eq!(conv.forward(&[0.0; 10], 10).unwrap(), [vec![1.0f32; 10], vec![-2.0f32; 10]].concat());
        // A constant input is quantized exactly (its value is the range's end).
        let y = conv.forward(&[2.0; 10], 10).unwrap();
        assert!((y[5] - (1.0 + 2.0 * 1.25)).abs() < 0.02, "{}", y[5]);
        assert!((y[10 + 5] - (-2.0 + 2.0 * -0.875)).abs() < 0.02, "{}", y[15]);
    }

    #[test]
    fn bad_shapes_and_values_are_refused() {
        assert!(matches!(Int8Conv1d::new(&[1.0; 5], (2, 1, 3), None, 0, 1), Err(Int8ConvError::Shape(_))));
        assert!(matches!(Int8Conv1d::new(&[f32::NAN; 6], (2, 1, 3), None, 0, 1), Err(Int8ConvError::NonFinite(_))));
        assert!(matches!(Int8Conv1d::new(&[1.0; 6], (2, 1, 3), Some(&[1.0]), 0, 1), Err(Int8ConvError::Shape(_))));
        let conv = Int8Conv1d::new(&[1.0; 6], (2, 1, 3), None, 0, 2).unwrap();
        assert!(matches!(conv.forward(&[1.0; 4], 4), Err(Int8ConvError::Shape(_))), "shorter than the dilated kernel");
        assert!(matches!(conv.forward(&[1.0; 4], 5), Err(Int8ConvError::Shape(_))), "wrong input size");
        assert_eq!(conv.forward(&[1.0; 5], 5).unwrap().len(), 2);
    }
}
