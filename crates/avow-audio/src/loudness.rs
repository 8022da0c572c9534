//! Integrated loudness after EBU R128 / ITU-R BS.1770-4, for mono signals.
//!
//! The signal is K-weighted (a high shelf for the head's acoustic effect and
//! a high-pass), cut into 400 ms blocks every 100 ms, and the block powers
//! are averaged twice gated: first blocks below −70 LUFS are dropped, then
//! blocks more than 10 LU below the mean of the rest. A full-scale 1 kHz
//! sine reads −3.01 LUFS. Filter coefficients are derived for any sample
//! rate from the analogue prototype (bilinear transform with pre-warping),
//! which reproduces the standard's 48 kHz table.

use crate::AudioError;

/// Loudness of gated silence: returned when no block passes the gates.
pub const SILENCE_LUFS: f64 = f64::NEG_INFINITY;

const ABSOLUTE_GATE_LUFS: f64 = -70.0;
const RELATIVE_GATE_LU: f64 = -10.0;
const BLOCK_SECS: f64 = 0.4;
const STEP_SECS: f64 = 0.1;

/// A biquad in direct form I, coefficients normalized by `a0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    /// Feed-forward coefficients.
    pub b: [f64; 3],
    /// Feedback coefficients `a1`, `a2`.
    pub a: [f64; 2],
}

impl Biquad {
    fn run(&self, x: &[f64]) -> Vec<f64> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&x0| {
                let y0 = self.b[0] * x0 + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
                (x2, x1, y2, y1) = (x1, x0, y1, y0);
                y0
            })
            .collect()
    }
}

/// The two K-weighting stages (shelf, then high-pass) at `rate` Hz.
pub fn k_weighting(rate: u32) -> [Biquad; 2] {
    let fs = f64::from(rate);
    // Stage 1: high shelf, +4 dB above ~1.7 kHz (analogue prototype of BS.1770).
    let (f0, gain_db, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    // Stage 2: second-order high-pass at ~38 Hz (RLB weighting).
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = Biquad { b: [1.0, -2.0, 1.0], a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0] };
    [shelf, highpass]
}

/// Integrated loudness (LUFS) of mono `samples` at `rate` Hz;
/// [`SILENCE_LUFS`] when nothing passes the gates (silence, or shorter than
/// one 400 ms block).
pub fn integrated_loudness(samples: &[f32], rate: u32) -> Result<f64, AudioError> {
    if rate < 8_000 {
        return Err(AudioError::InvalidParameter(format!("sample rate {rate} Hz is too low for a loudness measurement")));
    }
    crate::check_finite(samples)?;
    let [shelf, highpass] = k_weighting(rate);
    let x: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
    let weighted = highpass.run(&shelf.run(&x));
    let block = (BLOCK_SECS * f64::from(rate)).round() as usize;
    let step = (STEP_SECS * f64::from(rate)).round() as usize;
    if weighted.len() < block {
        return Ok(SILENCE_LUFS);
    }
    // Running sum of squares makes every block O(1).
    let mut prefix = Vec::with_capacity(weighted.len() + 1);
    prefix.push(0.0);
    let mut acc = 0.0;
    for v in &weighted {
        acc += v * v;
        prefix.push(acc);
    }
    let powers: Vec<f64> = (0..=(weighted.len() - block) / step)
        .map(|j| (prefix[j * step + block] - prefix[j * step]) / block as f64)
        .collect();
    let lufs = |p: f64| -0.691 + 10.0 * p.log10();
    let mean_above = |gate: f64| {
        let kept: Vec<f64> = powers.iter().copied().filter(|&p| p > 0.0 && lufs(p) > gate).collect();
        (!kept.is_empty()).then(|| kept.iter().sum::<f64>() / kept.len() as f64)
    };
    let Some(ungated) = mean_above(ABSOLUTE_GATE_LUFS) else { return Ok(SILENCE_LUFS) };
    let relative_gate = lufs(ungated) + RELATIVE_GATE_LU;
    Ok(mean_above(relative_gate.max(ABSOLUTE_GATE_LUFS)).map(lufs).unwrap_or(SILENCE_LUFS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(amplitude: f32, freq: f32, secs: f32, rate: u32) -> Vec<f32> {
        (0..(secs * rate as f32) as usize).map(|i| amplitude * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()).collect()
    }

    #[test]
    fn coefficients_at_48k_match_the_bs1770_table() {
        let [shelf, hp] = k_weighting(48_000);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-8;
        assert!(close(shelf.b[0], 1.53512485958697) && close(shelf.b[1], -2.69169618940638) && close(shelf.b[2], 1.19839281085285), "{shelf:?}");
        assert!(close(shelf.a[0], -1.69065929318241) && close(shelf.a[1], 0.73248077421585), "{shelf:?}");
        assert!(close(hp.a[0], -1.99004745483398) && close(hp.a[1], 0.99007225036621), "{hp:?}");
    }

    #[test]
    fn a_1khz_sine_reads_its_reference_level_at_any_rate() {
        for rate in [24_000, 44_100, 48_000] {
            let full = integrated_loudness(&sine(1.0, 1000.0, 5.0, rate), rate).unwrap();
            assert!((full + 3.01).abs() < 0.05, "{rate} Hz: full scale read {full}");
            let quiet = integrated_loudness(&sine(0.1, 1000.0, 5.0, rate), rate).unwrap();
            assert!((quiet + 23.01).abs() < 0.05, "{rate} Hz: −20 dB read {quiet}");
        }
    }

    #[test]
    fn gating_ignores_silence_and_quiet_stretches() {
        let rate = 24_000;
        let mut x = sine(0.1, 1000.0, 3.0, rate);
        x.extend(vec![0.0; 10 * rate as usize]);
        x.extend(sine(0.001, 1000.0, 3.0, rate));
        let l = integrated_loudness(&x, rate).unwrap();
        // Blocks straddling the end of the tone pass the gate partly filled,
        // which the standard accepts: a fraction of a dB, not the 10+ dB an
        // ungated mean over the silence would lose.
        assert!((l + 23.01).abs() < 0.3, "silence and a −60 dB tail changed the reading: {l}");
        assert_eq!(integrated_loudness(&vec![0.0; 48_000], rate).unwrap(), SILENCE_LUFS);
        assert_eq!(integrated_loudness(&[0.5; 100], rate).unwrap(), SILENCE_LUFS);
    }
}
