//! Conversion of the detector's input to the mark's 24 kHz grid.
//!
//! The detector reads only the bands between 516 Hz and 5 kHz, so its
//! resampler needs a flat passband up to 5.5 kHz and a deep stopband only
//! where a component would land in those bands after the rate change. For
//! the common rates that leaves a wide transition band and a short filter:
//! 16 taps per output sample from 16 kHz and 20 from 48 kHz, against the
//! 4 × 128 multiply-adds of the general-purpose sinc resampler in
//! `avow-audio`, which used to take 40 % of detection time on 16 kHz files.
//! Content passes unaltered up to 5.5 kHz (error below 1e-4 of full scale in the test); what lies
//! above is not what this output is for, so it must not be used to play or
//! store audio.

use crate::layout::RATE;

/// Stopband attenuation of the filter, dB.
const ATTENUATION_DB: f64 = 80.0;
/// Highest frequency that must pass unaltered (the mark's top band ends at
/// 5.02 kHz; the margin keeps the filter's edge out of it).
const PASS_HZ: f64 = 5_500.0;
/// Above this many filter phases (rates with no small common factor with
/// 24 kHz, such as 23 999 Hz) the general resampler is used instead of a
/// phase table.
const MAX_PHASES: usize = 4_096;

/// Resamples mono `x` from `from` Hz to the mark's rate, aligned like
/// [`avow_audio::resample`]: output sample `n` is the input at time
/// `n / 24000` s, and the output has `round(len · 24000 / from)` samples.
pub(crate) fn to_mark_rate(x: &[f32], from: u32) -> Result<Vec<f32>, avow_audio::AudioError> {
    convert(x, from, RATE)
}

/// Resamples mono `x` from `from` to `to` Hz with the detector's filter
/// (see the module documentation for what that filter keeps).
/// Non-finite input is refused with its index, as [`avow_audio::resample`]
/// does (a NaN would otherwise smear across the filter's taps).
pub(crate) fn convert(x: &[f32], from: u32, to: u32) -> Result<Vec<f32>, avow_audio::AudioError> {
    avow_audio::check_finite(x)?;
    if from == to || x.is_empty() {
        return Ok(x.to_vec());
    }
    match Polyphase::new(from, to) {
        Some(p) => Ok(p.process(x)),
        None => avow_audio::resample(x, from, to),
    }
}

/// A rational rate change `to / from = up / down` with one Kaiser-windowed
/// sinc filter per output phase.
struct Polyphase {
    up: usize,
    down: usize,
    /// Taps per phase, `2 · half`: input samples `k0 − half + 1 ..= k0 + half`
    /// around the output's position `k0 + phase / up`.
    half: usize,
    /// `taps[phase * 2 * half + i]`.
    taps: Vec<f32>,
}

impl Polyphase {
    fn new(from: u32, to: u32) -> Option<Self> {
        if from == 0 || to == 0 {
            return None;
        }
        let g = gcd(from, to);
        let (up, down) = ((to / g) as usize, (from / g) as usize);
        if up > MAX_PHASES {
            return None;
        }
        let (from_hz, to_hz) = (f64::from(from), f64::from(to));
        let nyquist = from_hz.min(to_hz) / 2.0;
        let pass = PASS_HZ.min(0.85 * nyquist);
        // Components must be rejected from where they would fold into the
        // analysed bands (a rate change by `r` maps `r·k ± f` onto `f`) or,
        // for low rates, from the lower Nyquist frequency on.
        let stop = (2.0 * nyquist - PASS_HZ).max(nyquist).max(pass + 0.1 * nyquist);
        let cutoff = (pass + stop) / 2.0 / from_hz; // cycles per input sample
        // Kaiser's estimate of the filter length for this transition width.
        let width = (stop - pass) / from_hz;
        let length = (ATTENUATION_DB - 7.95) / (14.36 * width);
        let half = ((length / 2.0).ceil() as usize).max(2);
        let beta = 0.1102 * (ATTENUATION_DB - 8.7);
        let i0_beta = bessel_i0(beta);
        let mut taps = vec![0.0f32; up * 2 * half];
        for (phase, row) in taps.chunks_exact_mut(2 * half).enumerate() {
            let frac = phase as f64 / up as f64;
            let mut sum = 0.0f64;
            let mut coef = vec![0.0f64; 2 * half];
            for (i, c) in coef.iter_mut().enumerate() {
                // Distance in input samples from tap `i` to the output's position.
                let dt = frac + (half - 1) as f64 - i as f64;
                let r = dt / half as f64;
                if r.abs() >= 1.0 {
                    continue;
                }
                let arg = 2.0 * cutoff * dt;
                let sinc = if arg.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
                };
                *c = 2.0 * cutoff * sinc * bessel_i0(beta * (1.0 - r * r).sqrt()) / i0_beta;
                sum += *c;
            }
            // Unit gain at DC in every phase: no ripple at the phase rate.
            for (t, c) in row.iter_mut().zip(&coef) {
                *t = (c / sum) as f32;
            }
        }
        Some(Polyphase {
            up,
            down,
            half,
            taps,
        })
    }

    fn process(&self, x: &[f32]) -> Vec<f32> {
        let len = ((x.len() as u128 * self.up as u128 + self.down as u128 / 2) / self.down as u128) as usize;
        let width = 2 * self.half;
        // Zero-padded copy so every output reads a full window.
        let mut padded = vec![0.0f32; x.len() + 2 * width];
        padded[width..width + x.len()].copy_from_slice(x);
        let mut out = Vec::with_capacity(len);
        // Output n sits at input position n·down/up = k0 + phase/up.
        let (step, carry) = (self.down / self.up, self.down % self.up);
        let (mut k0, mut phase) = (0usize, 0usize);
        for _ in 0..len {
            // First tap at input k0 − half + 1, i.e. padded index k0 − half + 1 + width.
            let start = k0 + width + 1 - self.half;
            let window = &padded[start..start + width];
            let taps = &self.taps[phase * width..(phase + 1) * width];
            out.push(dot(window, taps));
            k0 += step;
            phase += carry;
            if phase >= self.up {
                phase -= self.up;
                k0 += 1;
            }
        }
        out
    }
}

/// Dot product in eight independent lanes, which the compiler turns into
/// vector code (a single running sum would force sequential adds).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tones(rate: u32, secs: f64, freqs: &[f64]) -> Vec<f32> {
        let n = (f64::from(rate) * secs).round() as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                freqs
                    .iter()
                    .enumerate()
                    .map(|(k, f)| 0.2 * (2.0 * std::f64::consts::PI * f * t + k as f64).sin())
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// Largest error against the exact signal, away from the zero-padded ends.
    fn worst_error(from: u32, to: u32, freqs: &[f64]) -> f32 {
        let x = tones(from, 1.0, freqs);
        let y = convert(&x, from, to).expect("converts");
        let want = tones(to, 1.0, freqs);
        assert_eq!(y.len(), want.len(), "{from} → {to}");
        let edge = to as usize / 100;
        y[edge..y.len() - edge]
            .iter()
            .zip(&want[edge..want.len() - edge])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn the_analysed_band_passes_unaltered_and_aligned_from_common_rates() {
        // Tones across the mark's bands, in phase with the exact signal:
        // any gain error, ripple or misalignment shows as a large error.
        let band = [600.0, 1_700.0, 3_100.0, 4_400.0, 5_000.0];
        for from in [16_000, 22_050, 32_000, 44_100, 48_000, 96_000] {
            let e = worst_error(from, RATE, &band);
            assert!(e < 5e-4, "{from} Hz: error {e}");
        }
        // The detector's speed search converts 24 kHz to ±5 %.
        for to in [22_800, 23_880, 24_120, 25_200] {
            let e = worst_error(RATE, to, &band);
            assert!(e < 5e-4, "24000 → {to} Hz: error {e}");
        }
        // 8 kHz input holds the lower bands only.
        let e = worst_error(8_000, RATE, &[600.0, 1_700.0, 3_100.0]);
        assert!(e < 5e-4, "8000 Hz: error {e}");
    }

    #[test]
    fn content_that_would_fold_into_the_analysed_band_is_rejected() {
        // From 48 kHz, a 21 kHz tone folds onto 3 kHz at 24 kHz.
        let x = tones(48_000, 1.0, &[21_000.0]);
        let y = convert(&x, 48_000, RATE).expect("converts");
        let edge = 240;
        let peak = y[edge..y.len() - edge].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak < 0.2 * 1e-3, "leak {peak}");
    }

    #[test]
    fn rates_without_a_small_common_factor_fall_back_to_the_general_resampler() {
        assert!(Polyphase::new(23_999, RATE).is_none());
        // The general resampler's cubic interpolation between filter
        // phases is a little less exact than a phase table.
        let e = worst_error(23_999, RATE, &[1_000.0, 4_000.0]);
        assert!(e < 5e-3, "error {e}");
    }
}
