//! Reconstruction losses on waveforms, differentiable with candle: a
//! multi-resolution STFT loss (spectral convergence plus log-magnitude L1 at
//! three resolutions) and a log-mel L1, the usual vocoder training
//! objectives. Both ignore phase, which a recording and a synthesis never
//! share.

use avow_audio::mel::slaney_filters;
use avow_kokoro::SAMPLE_RATE;
use candle_core::{DType, Device, Result, Tensor};

/// One STFT resolution: frames are gathered by index and multiplied by a
/// windowed DFT basis, so the whole transform is an `index_select` and a
/// `matmul`, both of which candle differentiates.
struct Resolution {
    n_fft: usize,
    hop: usize,
    /// `[n_fft, 2·bins]`: Hann-windowed cosines, then sines.
    basis: Tensor,
}

impl Resolution {
    fn new(n_fft: usize, hop: usize, device: &Device) -> Result<Self> {
        let bins = n_fft / 2 + 1;
        let mut basis = vec![0f32; n_fft * 2 * bins];
        for j in 0..n_fft {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * j as f64 / n_fft as f64).cos();
            for k in 0..bins {
                let angle = 2.0 * std::f64::consts::PI * (j * k) as f64 / n_fft as f64;
                basis[j * 2 * bins + k] = (w * angle.cos()) as f32;
                basis[j * 2 * bins + bins + k] = (-w * angle.sin()) as f32;
            }
        }
        Ok(Self { n_fft, hop, basis: Tensor::from_vec(basis, (n_fft, 2 * bins), device)? })
    }

    /// Magnitudes `[frames, bins]` of a `[L]` signal.
    fn magnitude(&self, signal: &Tensor) -> Result<Tensor> {
        let len = signal.dim(0)?;
        if len < self.n_fft {
            candle_core::bail!("{len} samples are shorter than one {}-point frame", self.n_fft);
        }
        let frames = 1 + (len - self.n_fft) / self.hop;
        let index: Vec<u32> = (0..frames).flat_map(|f| (0..self.n_fft).map(move |j| (f * self.hop + j) as u32)).collect();
        let index = Tensor::from_vec(index, frames * self.n_fft, signal.device())?;
        let framed = signal.index_select(&index, 0)?.reshape((frames, self.n_fft))?;
        let spec = framed.matmul(&self.basis)?;
        let bins = self.n_fft / 2 + 1;
        let (re, im) = (spec.narrow(1, 0, bins)?, spec.narrow(1, bins, bins)?);
        ((re.sqr()? + im.sqr()?)? + 1e-7)?.sqrt()
    }
}

/// Multi-resolution STFT plus log-mel reconstruction loss.
pub struct ReconstructionLoss {
    resolutions: Vec<Resolution>,
    /// Index into `resolutions` of the one the mel loss uses.
    mel_resolution: usize,
    /// `[bins, 80]` Slaney mel filters for that resolution.
    mel: Tensor,
}

impl ReconstructionLoss {
    /// Resolutions 512/128, 1024/256 and 2048/512 at 24 kHz; 80 mel bands on
    /// the 1024-point one.
    pub fn new(device: &Device) -> Result<Self> {
        let resolutions =
            vec![Resolution::new(512, 128, device)?, Resolution::new(1024, 256, device)?, Resolution::new(2048, 512, device)?];
        let bins = 1024 / 2 + 1;
        let filters = slaney_filters(SAMPLE_RATE, 1024, 80);
        let mel = Tensor::from_vec(filters, (80, bins), device)?.t()?.contiguous()?;
        Ok(Self { resolutions, mel_resolution: 1, mel })
    }

    /// Shortest signal the loss accepts (one frame of the largest resolution).
    pub fn min_samples(&self) -> usize {
        self.resolutions.iter().map(|r| r.n_fft).max().unwrap_or(0)
    }

    /// Scalar loss between `prediction` and `target`, both `[L]` or `[1, L]`;
    /// gradients flow into `prediction` only.
    pub fn forward(&self, prediction: &Tensor, target: &Tensor) -> Result<Tensor> {
        let p = prediction.flatten_all()?;
        let t = target.flatten_all()?.detach();
        let n = p.dim(0)?.min(t.dim(0)?);
        let (p, t) = (p.narrow(0, 0, n)?, t.narrow(0, 0, n)?);
        let mut total = Tensor::zeros((), DType::F32, p.device())?;
        for (i, r) in self.resolutions.iter().enumerate() {
            let (mp, mt) = (r.magnitude(&p)?, r.magnitude(&t)?);
            // Spectral convergence, normalized by the larger of the two
            // norms rather than the target's alone: a crop that falls on a
            // pause has a near-zero target norm, and the usual form then
            // explodes (a 20× loss spike was measured on such a crop).
            let norm_t = mt.sqr()?.sum_all()?.sqrt()?;
            let norm_p = mp.sqr()?.sum_all()?.sqrt()?;
            let convergence = ((&mt - &mp)?.sqr()?.sum_all()?.sqrt()? / norm_t.maximum(&norm_p)?)?;
            let log_mag = (mt.log()? - mp.log()?)?.abs()?.mean_all()?;
            total = (total + convergence + log_mag)?;
            if i == self.mel_resolution {
                let mel = |m: &Tensor| -> Result<Tensor> { m.sqr()?.matmul(&self.mel)?.clamp(1e-5f32, f32::MAX)?.log() };
                total = (total + (mel(&mt)? - mel(&mp)?)?.abs()?.mean_all()?)?;
            }
        }
        total / self.resolutions.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    fn tone(f: f32, n: usize) -> Vec<f32> {
        (0..n).map(|i| 0.3 * (2.0 * std::f32::consts::PI * f * i as f32 / SAMPLE_RATE as f32).sin()).collect()
    }

    #[test]
    fn identical_signals_score_zero_and_different_ones_do_not() {
        let loss = ReconstructionLoss::new(&Device::Cpu).unwrap();
        let a = Tensor::new(tone(220.0, 6000).as_slice(), &Device::Cpu).unwrap();
        let b = Tensor::new(tone(330.0, 6000).as_slice(), &Device::Cpu).unwrap();
        let same: f32 = loss.forward(&a, &a).unwrap().to_scalar().unwrap();
        let diff: f32 = loss.forward(&a, &b).unwrap().to_scalar().unwrap();
        assert!(same.abs() < 1e-4, "{same}");
        assert!(diff > 0.5, "{diff}");
    }

    #[test]
    fn the_loss_ignores_phase() {
        let loss = ReconstructionLoss::new(&Device::Cpu).unwrap();
        let a = tone(440.0, 8000);
        let shifted: Vec<f32> = (0..8000).map(|i| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / SAMPLE_RATE as f32 + 1.3).sin()).collect();
        let v: f32 = loss
            .forward(&Tensor::new(a.as_slice(), &Device::Cpu).unwrap(), &Tensor::new(shifted.as_slice(), &Device::Cpu).unwrap())
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(v < 0.05, "a phase shift should cost almost nothing: {v}");
    }

    #[test]
    fn gradient_descent_on_a_gain_finds_the_target_level() {
        let loss = ReconstructionLoss::new(&Device::Cpu).unwrap();
        let target = Tensor::new(tone(300.0, 4096).as_slice(), &Device::Cpu).unwrap();
        let source = (target.clone() * 0.25).unwrap();
        let gain = Var::new(1.0f32, &Device::Cpu).unwrap();
        for _ in 0..60 {
            let l = loss.forward(&source.broadcast_mul(gain.as_tensor()).unwrap(), &target).unwrap();
            let g = l.backward().unwrap();
            let step = (g.get(&gain).unwrap() * 0.5).unwrap();
            gain.set(&(gain.as_tensor() - step).unwrap()).unwrap();
        }
        let found: f32 = gain.as_tensor().to_scalar().unwrap();
        assert!((found - 4.0).abs() < 0.4, "gain {found}, expected 4");
    }

    #[test]
    fn a_silent_target_gives_a_bounded_loss() {
        let loss = ReconstructionLoss::new(&Device::Cpu).unwrap();
        let speech = Tensor::new(tone(200.0, 8000).as_slice(), &Device::Cpu).unwrap();
        let silence = Tensor::zeros(8000, DType::F32, &Device::Cpu).unwrap();
        let v: f32 = loss.forward(&speech, &silence).unwrap().to_scalar().unwrap();
        assert!(v.is_finite() && v < 30.0, "{v}");
    }

    #[test]
    fn too_short_signals_are_an_error() {
        let loss = ReconstructionLoss::new(&Device::Cpu).unwrap();
        let a = Tensor::new(tone(220.0, 1000).as_slice(), &Device::Cpu).unwrap();
        assert!(loss.forward(&a, &a).is_err());
    }
}
