//! 24 kHz → 16 kHz resampling as a candle convolution, so that gradients flow
//! from a 16 kHz speaker encoder back into the 24 kHz synthesizer.
//!
//! Output sample `n` sits at input position `1.5·n`: even outputs fall on
//! input samples, odd ones halfway between. Each parity is a stride-3
//! convolution with its own taps of one windowed-sinc low-pass (cutoff 7.2
//! kHz, below the new Nyquist of 8 kHz); the two results interleave.

use candle_core::{Device, Result, Tensor};

/// Input samples on each side of an output sample that the filter reads.
const HALF_WIDTH: usize = 24;
/// Low-pass cutoff as a fraction of the input rate (7.2 kHz at 24 kHz).
const CUTOFF: f64 = 7_200.0 / 24_000.0;

/// The 24 → 16 kHz resampler.
#[derive(Debug, Clone)]
pub struct Downsample24To16 {
    /// `[2, 1, 2·HALF_WIDTH + 2]`: even-output taps, then odd-output taps.
    taps: Tensor,
}

impl Downsample24To16 {
    /// Builds the filter taps.
    pub fn new(device: &Device) -> Result<Self> {
        let len = 2 * HALF_WIDTH + 2;
        let reach = (HALF_WIDTH + 2) as f64;
        let h = |tau: f64| -> f64 {
            if tau.abs() >= reach {
                return 0.0;
            }
            let x = 2.0 * CUTOFF * tau;
            let sinc = if x.abs() < 1e-12 { 1.0 } else { (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x) };
            // Blackman window over (−reach, reach).
            let p = (tau + reach) / (2.0 * reach);
            let w = 0.42 - 0.5 * (2.0 * std::f64::consts::PI * p).cos() + 0.08 * (4.0 * std::f64::consts::PI * p).cos();
            2.0 * CUTOFF * sinc * w
        };
        let r = HALF_WIDTH as f64;
        let mut taps = Vec::with_capacity(2 * len);
        taps.extend((0..len).map(|j| h(r - j as f64) as f32));
        taps.extend((0..len).map(|j| h(r + 1.5 - j as f64) as f32));
        Ok(Self { taps: Tensor::from_vec(taps, (2, 1, len), device)? })
    }

    /// `[T]` at 24 kHz → `[⌊2T/3⌋]` at 16 kHz.
    pub fn forward(&self, audio: &Tensor) -> Result<Tensor> {
        let t = audio.dim(0)?;
        let padded = audio.pad_with_zeros(0, HALF_WIDTH, HALF_WIDTH + 2)?.reshape((1, 1, ()))?;
        let y = padded.conv1d(&self.taps, 0, 3, 1, 1)?; // [1, 2, M]
        let m = y.dim(2)?;
        let interleaved = y.squeeze(0)?.t()?.reshape(2 * m)?;
        interleaved.narrow(0, 0, (2 * t / 3).min(2 * m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_keeps_its_frequency_and_level_and_an_alias_is_removed() {
        let dev = Device::Cpu;
        let rs = Downsample24To16::new(&dev).unwrap();
        let tone = |f: f32, sr: f32, n: usize| (0..n).map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / sr).sin()).collect::<Vec<f32>>();
        let x = Tensor::new(tone(1000.0, 24_000.0, 24_000).as_slice(), &dev).unwrap();
        let y: Vec<f32> = rs.forward(&x).unwrap().to_vec1().unwrap();
        assert_eq!(y.len(), 16_000);
        let want = tone(1000.0, 16_000.0, 16_000);
        let err = y[100..15_900].iter().zip(&want[100..15_900]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(err < 0.01, "1 kHz tone off by {err}");
        // 10 kHz is above the new Nyquist: it must not fold back to 6 kHz.
        let x = Tensor::new(tone(10_000.0, 24_000.0, 24_000).as_slice(), &dev).unwrap();
        let y: Vec<f32> = rs.forward(&x).unwrap().to_vec1().unwrap();
        let rms = (y[100..15_900].iter().map(|v| v * v).sum::<f32>() / 15_800.0).sqrt();
        assert!(rms < 0.01, "10 kHz leaks with rms {rms}");
    }

    #[test]
    fn gradient_flows_to_the_input() {
        let dev = Device::Cpu;
        let rs = Downsample24To16::new(&dev).unwrap();
        let x = candle_core::Var::randn(0f32, 1.0, 3000, &dev).unwrap();
        let grads = rs.forward(&x).unwrap().sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(&x).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(g.is_finite() && g > 0.0);
    }
}
