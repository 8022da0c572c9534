//! Mel-cepstral distance (MCD) between two renditions of the same speech,
//! after dynamic time warping: a likeness measure that does not depend on
//! any learned speaker encoder.
//!
//! The cepstra here are computed from a Slaney mel filterbank (MFCC style)
//! rather than SPTK's all-pass mel-cepstral analysis, so absolute values are
//! not comparable with MCD figures from papers using SPTK or WORLD; they are
//! comparable with each other (before/after, clone A against clone B), which
//! is what avow reports. The zeroth coefficient (overall level) is left out,
//! so loudness differences do not count, and only 0–8 kHz is analysed, so a
//! 16 kHz recording and a 24 kHz synthesis are compared on the band both
//! carry.

use crate::dtw::dtw;
use crate::mel::slaney_filters_to;
use crate::AudioError;
use realfft::RealFftPlanner;

/// Mel bands analysed before the cosine transform.
const BANDS: usize = 40;
/// Cepstral coefficients compared, c1..=c24 (c0 is left out).
pub const COEFFICIENTS: usize = 24;
/// Frames quieter than this many dB under the loudest frame are pauses and
/// are not scored.
const SPEECH_RANGE_DB: f32 = 40.0;
/// Highest frequency analysed: 8 kHz, so that 16 kHz recordings and 24 kHz
/// synthesis are compared over the band both have.
const MAX_HZ: f64 = 8000.0;
/// Band energies are floored this far (80 dB) under the signal's loudest
/// band, so that empty bands compare as equally quiet instead of as
/// arbitrarily different rounding noise.
const FLOOR: f32 = 1e-8;

/// Mel-cepstral analysis with 25 ms Hann windows every 5 ms.
pub struct MelCepstrum {
    rate: u32,
    window: Vec<f32>,
    n_fft: usize,
    hop: usize,
    filters: Vec<f32>,
    dct: Vec<f32>,
}

/// The analysis of one signal: cepstra `c1..=c24` per frame and each frame's
/// log energy in dB.
pub struct Cepstra {
    /// One row of [`COEFFICIENTS`] values per frame.
    pub frames: Vec<[f32; COEFFICIENTS]>,
    /// Frame energy in dB (10·log10 of the mel power sum).
    pub energy_db: Vec<f32>,
}

impl MelCepstrum {
    /// An analyser for audio at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        let win_len = (rate as usize * 25).div_ceil(1000).max(16);
        let hop = (rate as usize * 5 / 1000).max(1);
        let n_fft = win_len.next_power_of_two();
        let window = (0..win_len)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / win_len as f32).cos())
            .collect();
        // Orthonormal DCT-II rows 1..=COEFFICIENTS.
        let mut dct = vec![0f32; COEFFICIENTS * BANDS];
        let scale = (2.0 / BANDS as f32).sqrt();
        for k in 0..COEFFICIENTS {
            for n in 0..BANDS {
                let angle = std::f32::consts::PI * (k + 1) as f32 * (n as f32 + 0.5) / BANDS as f32;
                dct[k * BANDS + n] = scale * angle.cos();
            }
        }
        Self { rate, window, n_fft, hop, filters: slaney_filters_to(rate, n_fft, BANDS, MAX_HZ), dct }
    }

    /// The sample rate this analyser expects.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Cepstra of `samples` (mono, at [`Self::rate`]).
    pub fn analyse(&self, samples: &[f32]) -> Cepstra {
        let win_len = self.window.len();
        let mut out = Cepstra { frames: Vec::new(), energy_db: Vec::new() };
        if samples.len() < win_len {
            return out;
        }
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(self.n_fft);
        let mut input = fft.make_input_vec();
        let mut spectrum = fft.make_output_vec();
        let bins = self.n_fft / 2 + 1;
        let mut power = vec![0f32; bins];
        let mut energies: Vec<[f32; BANDS]> = Vec::new();
        for start in (0..=samples.len() - win_len).step_by(self.hop) {
            input.iter_mut().for_each(|v| *v = 0.0);
            for (k, (v, w)) in samples[start..start + win_len].iter().zip(&self.window).enumerate() {
                input[k] = v * w;
            }
            if fft.process(&mut input, &mut spectrum).is_err() {
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            let mut e = [0f32; BANDS];
            for (b, eb) in e.iter_mut().enumerate() {
                *eb = self.filters[b * bins..(b + 1) * bins].iter().zip(&power).map(|(f, p)| f * p).sum();
            }
            energies.push(e);
        }
        let loudest = energies.iter().flat_map(|e| e.iter().copied()).fold(0f32, f32::max);
        let floor = (loudest * FLOOR).max(1e-20);
        for e in &energies {
            // Natural log of the amplitude (half the log power), the
            // convention the MCD constant 10·√2/ln 10 assumes.
            let log_mel: Vec<f32> = e.iter().map(|v| 0.5 * v.max(floor).ln()).collect();
            let mut c = [0f32; COEFFICIENTS];
            for (k, ck) in c.iter_mut().enumerate() {
                *ck = self.dct[k * BANDS..(k + 1) * BANDS].iter().zip(&log_mel).map(|(d, l)| d * l).sum();
            }
            out.frames.push(c);
            out.energy_db.push(10.0 * e.iter().sum::<f32>().max(1e-20).log10());
        }
        out
    }
}

/// Mel-cepstral distance in dB between `a` and `b`, two mono signals at
/// `rate` Hz saying the same thing: cepstra aligned by DTW, averaged over
/// aligned pairs where either frame is speech (within 40 dB of its signal's
/// loudest frame). Lower is closer; identical signals give 0.
pub fn mel_cepstral_distance(a: &[f32], b: &[f32], rate: u32) -> Result<f32, AudioError> {
    let analyser = MelCepstrum::new(rate);
    let (ca, cb) = (analyser.analyse(a), analyser.analyse(b));
    if ca.frames.is_empty() || cb.frames.is_empty() {
        return Err(AudioError::Empty);
    }
    let dist = |x: &[f32; COEFFICIENTS], y: &[f32; COEFFICIENTS]| -> f32 {
        x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f32>().sqrt()
    };
    let (path, _) = dtw(ca.frames.len(), cb.frames.len(), |i, j| dist(&ca.frames[i], &cb.frames[j]));
    let loud = |e: &[f32]| e.iter().copied().fold(f32::NEG_INFINITY, f32::max) - SPEECH_RANGE_DB;
    let (floor_a, floor_b) = (loud(&ca.energy_db), loud(&cb.energy_db));
    let (mut sum, mut count) = (0f64, 0usize);
    for (i, j) in path {
        if ca.energy_db[i] >= floor_a || cb.energy_db[j] >= floor_b {
            sum += f64::from(dist(&ca.frames[i], &cb.frames[j]));
            count += 1;
        }
    }
    if count == 0 {
        return Err(AudioError::Empty);
    }
    let k = 10.0 * std::f64::consts::SQRT_2 / std::f64::consts::LN_10;
    Ok((k * sum / count as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vowel-like buzz: harmonics of `f0` shaped by two formant peaks.
    fn vowel(f0: f32, formants: (f32, f32), secs: f32, rate: u32) -> Vec<f32> {
        let n = (secs * rate as f32) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                let mut s = 0.0;
                let mut h = 1.0;
                while h * f0 < rate as f32 / 2.0 - 200.0 {
                    let f = h * f0;
                    let g = (-((f - formants.0) / 150.0).powi(2)).exp() + 0.6 * (-((f - formants.1) / 200.0).powi(2)).exp();
                    s += (g + 0.01) * (2.0 * std::f32::consts::PI * f * t).sin();
                    h += 1.0;
                }
                0.1 * s
            })
            .collect()
    }

    #[test]
    fn identical_signals_are_at_zero_distance() {
        let a = vowel(120.0, (700.0, 1200.0), 0.5, 16_000);
        assert_eq!(mel_cepstral_distance(&a, &a, 16_000).unwrap(), 0.0);
    }

    #[test]
    fn a_louder_or_time_shifted_copy_stays_close_and_another_vowel_is_far() {
        let rate = 16_000;
        let a = vowel(120.0, (700.0, 1200.0), 0.6, rate);
        let louder: Vec<f32> = a.iter().map(|v| v * 3.0).collect();
        let mut delayed = vec![0.0; 800];
        delayed.extend_from_slice(&a);
        let other = vowel(120.0, (300.0, 2300.0), 0.6, rate);
        let d_louder = mel_cepstral_distance(&a, &louder, rate).unwrap();
        let d_delayed = mel_cepstral_distance(&a, &delayed, rate).unwrap();
        let d_other = mel_cepstral_distance(&a, &other, rate).unwrap();
        assert!(d_louder < 0.01, "gain must not count: {d_louder}");
        assert!(d_delayed < 0.5 * d_other, "a delay is aligned away: {d_delayed} vs {d_other}");
        assert!(d_other > 1.0, "different formants must be far apart: {d_other}");
    }

    #[test]
    fn a_band_limited_copy_is_close_to_its_full_band_original() {
        // What the benchmark compares: 16 kHz recordings upsampled to 24 kHz
        // against 24 kHz synthesis. Empty bands above 8 kHz must not count.
        let rate = 24_000;
        let a = vowel(140.0, (600.0, 1700.0), 0.6, rate);
        let narrow = crate::resample(&crate::resample(&a, rate, 16_000).unwrap(), 16_000, rate).unwrap();
        let other = vowel(140.0, (300.0, 2300.0), 0.6, rate);
        let d_narrow = mel_cepstral_distance(&a, &narrow, rate).unwrap();
        let d_other = mel_cepstral_distance(&a, &other, rate).unwrap();
        assert!(d_narrow < 0.25 * d_other, "band limiting {d_narrow} vs another vowel {d_other}");
    }

    #[test]
    fn too_short_input_is_an_error_not_a_panic() {
        assert!(mel_cepstral_distance(&[0.0; 10], &[0.0; 10], 24_000).is_err());
    }
}
