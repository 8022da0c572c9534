//! Short-time Fourier transforms with a periodic Hann window, matching
//! `torch.stft`/`torch.istft` with `center=True` and reflect padding.
//!
//! The inverse is a transposed convolution with an inverse-DFT basis, run as a
//! polyphase convolution so that candle can differentiate it (speaker
//! adaptation trains through it).

use candle_core::{Device, Result, Tensor};

use crate::layers::PolyphaseTransposedConv;

/// An STFT of fixed size and hop.
#[derive(Debug, Clone)]
pub struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    inverse_basis: PolyphaseTransposedConv,
}

impl Stft {
    /// Builds the window and the inverse basis.
    pub fn new(n_fft: usize, hop: usize, device: &Device) -> Result<Self> {
        let window: Vec<f32> = (0..n_fft)
            .map(|j| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * j as f64 / n_fft as f64).cos()) as f32)
            .collect();
        let bins = n_fft / 2 + 1;
        // Row k of the real half: c_k·cos(2πkj/n)/n·w[j]; of the imaginary half
        // −c_k·sin(2πkj/n)/n·w[j], with c_k = 1 at DC and Nyquist, 2 elsewhere.
        let mut basis = vec![0f32; 2 * bins * n_fft];
        for k in 0..bins {
            let c = if k == 0 || 2 * k == n_fft { 1.0 } else { 2.0 };
            for j in 0..n_fft {
                let angle = 2.0 * std::f64::consts::PI * (k * j) as f64 / n_fft as f64;
                basis[k * n_fft + j] = (c * angle.cos() / n_fft as f64) as f32 * window[j];
                basis[(bins + k) * n_fft + j] = (-c * angle.sin() / n_fft as f64) as f32 * window[j];
            }
        }
        let inverse_basis = PolyphaseTransposedConv::new(&Tensor::from_vec(basis, (2 * bins, 1, n_fft), device)?, hop)?;
        Ok(Self { n_fft, hop, window, inverse_basis })
    }

    /// Number of frequency bins (`n_fft / 2 + 1`).
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Magnitude and phase of `signal` `[1, L]` → `[1, 2·bins, L/hop + 1]`
    /// (magnitudes, then phases in (−π, π], `torch.angle` semantics). Bins whose
    /// true value is zero (silence) get a phase decided by rounding noise, and
    /// no two FFT implementations agree there. Not differentiable: the model
    /// only uses it on its F0-driven source, which PyTorch also runs without
    /// gradients.
    pub fn magnitude_phase(&self, signal: &Tensor) -> Result<Tensor> {
        let x: Vec<f32> = signal.squeeze(0)?.to_vec1()?;
        let pad = self.n_fft / 2;
        if x.len() <= pad {
            candle_core::bail!("signal of {} samples is too short for the STFT", x.len());
        }
        // Reflect padding without repeating the edge sample.
        let padded: Vec<f32> = (0..x.len() + 2 * pad)
            .map(|i| {
                let i = i as isize - pad as isize;
                let n = x.len() as isize;
                let j = if i < 0 { -i } else if i >= n { 2 * (n - 1) - i } else { i };
                x[j as usize]
            })
            .collect();
        let frames = (padded.len() - self.n_fft) / self.hop + 1;
        let bins = self.bins();
        let mut out = vec![0f32; 2 * bins * frames];
        for f in 0..frames {
            let seg = &padded[f * self.hop..f * self.hop + self.n_fft];
            for k in 0..bins {
                let (mut re, mut im) = (0f64, 0f64);
                for (j, &v) in seg.iter().enumerate() {
                    let angle = 2.0 * std::f64::consts::PI * (k * j) as f64 / self.n_fft as f64;
                    let v = (v * self.window[j]) as f64;
                    re += v * angle.cos();
                    im -= v * angle.sin();
                }
                out[k * frames + f] = (re * re + im * im).sqrt() as f32;
                out[(bins + k) * frames + f] = (im as f32).atan2(re as f32);
            }
        }
        Tensor::from_vec(out, (1, 2 * bins, frames), signal.device())
    }

    /// Inverse STFT from magnitude `[1, bins, N]` and phase `[1, bins, N]`
    /// → `[1, hop·(N − 1)]`: overlap-add, window-envelope normalization, and
    /// removal of the centre padding (`torch.istft` with `center=True`).
    pub fn inverse(&self, magnitude: &Tensor, phase: &Tensor) -> Result<Tensor> {
        let full = self.overlap_add_full(magnitude, phase)?;
        let len = full.dim(1)?;
        let mut envelope = vec![0f32; len];
        for f in 0..magnitude.dim(2)? {
            for (j, w) in self.window.iter().enumerate() {
                envelope[f * self.hop + j] += w * w;
            }
        }
        let inv: Vec<f32> = envelope.iter().map(|&e| if e > 1e-11 { 1.0 / e } else { 1.0 }).collect();
        let inv = Tensor::from_vec(inv, (1, len), full.device())?;
        let pad = self.n_fft / 2;
        full.mul(&inv)?.narrow(1, pad, len - 2 * pad)
    }

    /// Overlap-add of windowed inverse DFTs without envelope normalization,
    /// centre padding removed: what the published Kokoro ONNX graph computes
    /// (its window-sum division is ineffective), i.e. 1.5 × [`Self::inverse`]
    /// away from the first and last 15 samples for a Hann window at hop n/4.
    pub fn overlap_add(&self, magnitude: &Tensor, phase: &Tensor) -> Result<Tensor> {
        let full = self.overlap_add_full(magnitude, phase)?;
        let pad = self.n_fft / 2;
        full.narrow(1, pad, full.dim(1)? - 2 * pad)
    }

    fn overlap_add_full(&self, magnitude: &Tensor, phase: &Tensor) -> Result<Tensor> {
        let real = (magnitude * phase.cos()?)?;
        let imag = (magnitude * phase.sin()?)?;
        let spec = Tensor::cat(&[real, imag], 1)?;
        self.inverse_basis.forward(&spec)?.squeeze(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_forward_reconstructs_the_signal() {
        let stft = Stft::new(20, 5, &Device::Cpu).unwrap();
        let n = 400;
        let x: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).sin() * 0.5 + ((i as f32) * 0.05).cos() * 0.2).collect();
        let t = Tensor::from_vec(x.clone(), (1, n), &Device::Cpu).unwrap();
        let mp = stft.magnitude_phase(&t).unwrap();
        let mag = mp.narrow(1, 0, 11).unwrap();
        let phase = mp.narrow(1, 11, 11).unwrap();
        let y: Vec<f32> = stft.inverse(&mag, &phase).unwrap().squeeze(0).unwrap().to_vec1().unwrap();
        assert_eq!(y.len(), n);
        let err = x.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(err < 1e-4, "max reconstruction error {err}");
        let z: Vec<f32> = stft.overlap_add(&mag, &phase).unwrap().squeeze(0).unwrap().to_vec1().unwrap();
        let err = x[15..n - 15].iter().zip(&z[15..n - 15]).map(|(a, b)| (1.5 * a - b).abs()).fold(0f32, f32::max);
        assert!(err < 1e-4, "overlap-add is not 1.5x the signal: {err}");
    }
}
