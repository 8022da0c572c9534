//! Fundamental frequency of speech with the YIN estimator (de Cheveigné and
//! Kawahara, 2002): the cumulative-mean-normalized difference function, an
//! absolute threshold, and parabolic interpolation of the chosen lag.
//!
//! Used on reference recordings to get a speaker's pitch median and range,
//! which the style search matches and the benchmark checks.

/// Frame hop and analysis parameters.
#[derive(Debug, Clone, Copy)]
pub struct PitchTracker {
    sample_rate: u32,
    /// Lowest F0 searched, Hz.
    pub min_hz: f32,
    /// Highest F0 searched, Hz.
    pub max_hz: f32,
    /// YIN's aperiodicity threshold: frames whose best normalized difference
    /// stays above it are unvoiced.
    pub threshold: f32,
    /// Frame hop in seconds.
    pub hop_secs: f32,
}

/// Summary of a pitch track's voiced frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchStats {
    /// Median F0 in Hz.
    pub median_hz: f32,
    /// 10th percentile, Hz.
    pub p10_hz: f32,
    /// 90th percentile, Hz.
    pub p90_hz: f32,
    /// Mean of log2 F0 (octaves), the quantity the style search matches.
    pub mean_log2: f32,
    /// Voiced frames the statistics come from.
    pub voiced_frames: usize,
}

impl PitchTracker {
    /// A tracker for speech at `sample_rate` (50–500 Hz, threshold 0.15, 10 ms hop).
    pub fn new(sample_rate: u32) -> Self {
        Self { sample_rate, min_hz: 50.0, max_hz: 500.0, threshold: 0.15, hop_secs: 0.01 }
    }

    /// F0 per frame in Hz, 0 where unvoiced or silent.
    pub fn track(&self, samples: &[f32]) -> Vec<f32> {
        let sr = self.sample_rate as f32;
        let max_lag = (sr / self.min_hz).ceil() as usize;
        let min_lag = ((sr / self.max_hz).floor() as usize).max(2);
        // The window holds two periods of the lowest F0.
        let window = 2 * max_lag;
        let hop = ((self.hop_secs * sr) as usize).max(1);
        if samples.len() < window + max_lag {
            return Vec::new();
        }
        let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        let silence = (peak * 0.03).powi(2);
        let mut out = Vec::new();
        let mut diff = vec![0f32; max_lag + 1];
        let mut start = 0;
        while start + window + max_lag <= samples.len() {
            let frame = &samples[start..start + window + max_lag];
            let energy = frame[..window].iter().map(|s| s * s).sum::<f32>() / window as f32;
            if energy < silence {
                out.push(0.0);
                start += hop;
                continue;
            }
            for (lag, d) in diff.iter_mut().enumerate().skip(1) {
                *d = (0..window).map(|i| (frame[i] - frame[i + lag]).powi(2)).sum();
            }
            // Cumulative mean normalization.
            let mut running = 0f32;
            let mut cmnd = vec![1f32; max_lag + 1];
            for lag in 1..=max_lag {
                running += diff[lag];
                cmnd[lag] = if running > 0.0 { diff[lag] * lag as f32 / running } else { 1.0 };
            }
            let mut chosen = None;
            let mut lag = min_lag;
            while lag < max_lag {
                if cmnd[lag] < self.threshold {
                    // Walk down to the local minimum.
                    while lag + 1 < max_lag && cmnd[lag + 1] < cmnd[lag] {
                        lag += 1;
                    }
                    chosen = Some(lag);
                    break;
                }
                lag += 1;
            }
            let f0 = match chosen {
                Some(l) => {
                    let (a, b, c) = (cmnd[l - 1], cmnd[l], cmnd[l + 1]);
                    let denom = a - 2.0 * b + c;
                    let shift = if denom.abs() > 1e-12 { 0.5 * (a - c) / denom } else { 0.0 };
                    sr / (l as f32 + shift.clamp(-1.0, 1.0))
                }
                None => 0.0,
            };
            out.push(f0);
            start += hop;
        }
        out
    }

    /// Statistics over the voiced frames of several recordings, or `None`
    /// when fewer than 20 frames are voiced.
    pub fn stats<'a>(&self, recordings: impl IntoIterator<Item = &'a [f32]>) -> Option<PitchStats> {
        let voiced: Vec<f32> = recordings.into_iter().flat_map(|r| self.track(r)).filter(|&f| f > 0.0).collect();
        PitchStats::from_voiced(voiced)
    }
}

impl PitchStats {
    /// Statistics of voiced F0 values (Hz, all > 0), or `None` when fewer than 20.
    pub fn from_voiced(mut voiced: Vec<f32>) -> Option<Self> {
        if voiced.len() < 20 {
            return None;
        }
        voiced.sort_by(f32::total_cmp);
        let q = |p: f32| voiced[((voiced.len() - 1) as f32 * p).round() as usize];
        let mean_log2 = voiced.iter().map(|f| f.log2()).sum::<f32>() / voiced.len() as f32;
        Some(Self { median_hz: q(0.5), p10_hz: q(0.1), p90_hz: q(0.9), mean_log2, voiced_frames: voiced.len() })
    }
}

/// Distance between two frequencies in semitones (absolute).
pub fn semitones(a_hz: f32, b_hz: f32) -> f32 {
    (12.0 * (a_hz / b_hz).log2()).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(f0: f32, secs: f32, sr: u32) -> Vec<f32> {
        // A glottal-like harmonic series, so the test is not a pure sine.
        (0..(secs * sr as f32) as usize)
            .map(|i| {
                let t = i as f32 / sr as f32;
                (1..8).map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32).sum::<f32>() * 0.2
            })
            .collect()
    }

    #[test]
    fn finds_the_fundamental_of_harmonic_tones_across_the_speech_range() {
        let tracker = PitchTracker::new(16_000);
        for f0 in [85.0f32, 120.0, 210.0, 330.0] {
            let stats = tracker.stats([tone(f0, 1.0, 16_000).as_slice()]).expect("voiced");
            assert!(semitones(stats.median_hz, f0) < 0.1, "{f0} Hz tracked as {}", stats.median_hz);
        }
    }

    #[test]
    fn silence_and_noise_are_unvoiced() {
        let tracker = PitchTracker::new(16_000);
        assert!(tracker.stats([vec![0f32; 16_000].as_slice()]).is_none());
        // Deterministic white-ish noise from a linear congruential generator.
        let mut x = 12345u32;
        let noise: Vec<f32> = (0..16_000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let voiced = tracker.track(&noise).iter().filter(|&&f| f > 0.0).count();
        assert!(voiced * 10 < tracker.track(&noise).len(), "noise voiced in {voiced} frames");
    }

    #[test]
    fn short_input_gives_no_frames_instead_of_panicking() {
        assert!(PitchTracker::new(16_000).track(&[0.1; 100]).is_empty());
    }
}
