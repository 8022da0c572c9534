//! Fundamental frequency of speech with the YIN estimator (de Cheveigné and
//! Kawahara, 2002): the cumulative-mean-normalized difference function, an
//! absolute threshold, and parabolic interpolation of the chosen lag.
//!
//! Used on reference recordings to get a speaker's pitch median and range,
//! which the style search matches and the benchmark checks, and on the
//! search's own renderings, so that the pitch the search steers and the
//! pitch it is judged by are one statistic from one tracker.

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

    /// Longest lag, shortest lag, window and hop, in samples.
    fn geometry(&self) -> (usize, usize, usize, usize) {
        let sr = self.sample_rate as f32;
        let max_lag = (sr / self.min_hz).ceil() as usize;
        let min_lag = ((sr / self.max_hz).floor() as usize).max(2);
        // The window holds two periods of the lowest F0.
        let window = 2 * max_lag;
        let hop = ((self.hop_secs * sr) as usize).max(1);
        (max_lag, min_lag, window, hop)
    }

    /// Time in seconds of the centre of frame `k` of [`Self::track`]'s output.
    pub fn frame_centre_secs(&self, k: usize) -> f32 {
        let (_, _, window, hop) = self.geometry();
        (k * hop) as f32 / self.sample_rate as f32 + 0.5 * window as f32 / self.sample_rate as f32
    }

    /// F0 per frame in Hz, 0 where unvoiced or silent.
    pub fn track(&self, samples: &[f32]) -> Vec<f32> {
        let sr = self.sample_rate as f32;
        let (max_lag, min_lag, window, hop) = self.geometry();
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

    /// Which points of an F0 curve fall on frames that `track` (this
    /// tracker's output on audio rendered from that curve) found voiced.
    /// The curve has `curve_len` points, point `j` covering the audio from
    /// `j·curve_step_secs` to `(j + 1)·curve_step_secs`, as the prosody
    /// predictor's curve does.
    ///
    /// The predictor's curve is continuous through consonants and pauses,
    /// where the decoder renders noise or silence; a threshold on the curve
    /// itself therefore counts the low glides into and out of voicing, which
    /// a tracker on the audio never sees.
    pub fn voiced_points(&self, track: &[f32], curve_len: usize, curve_step_secs: f32) -> Vec<bool> {
        let hop_secs = self.geometry().3 as f32 / self.sample_rate as f32;
        let first = self.frame_centre_secs(0);
        (0..curve_len)
            .map(|j| {
                let t = (j as f32 + 0.5) * curve_step_secs;
                let k = ((t - first) / hop_secs).round();
                k >= 0.0 && track.get(k as usize).is_some_and(|&f| f > 0.0)
            })
            .collect()
    }
}

/// Mean log2 of the curve's values at the marked points (octaves), or `None`
/// when none is marked. With the marks from [`PitchTracker::voiced_points`]
/// this is the quantity whose gradient the style search follows.
pub fn masked_mean_log2(curve: &[f32], mask: &[bool]) -> Option<f32> {
    let (sum, count) = curve
        .iter()
        .zip(mask)
        .filter(|&(&f, &m)| m && f > 0.0)
        .fold((0f64, 0usize), |(s, n), (&f, _)| (s + f64::from(f.log2()), n + 1));
    (count > 0).then(|| (sum / count as f64) as f32)
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

    /// The median in octaves (log2 Hz), the pitch the style search matches:
    /// unlike the mean, octave errors of the tracker and a few excited
    /// syllables barely move it.
    pub fn median_log2(&self) -> f32 {
        self.median_hz.log2()
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

    /// A predictor-like F0 curve (12.5 ms points) and audio "rendered" from
    /// it the way Kokoro's decoder does: a harmonic tone where the syllable
    /// is voiced, noise where the curve glides down through a consonant.
    fn syllables(rate: u32) -> (Vec<f32>, Vec<f32>, f32) {
        let step = 0.0125f32;
        let mut curve = Vec::new();
        let mut voiced = Vec::new();
        for _ in 0..8 {
            for _ in 0..16 {
                curve.push(200.0);
                voiced.push(true);
            }
            // The glide through the consonant: 200 Hz down to 60 Hz and back.
            for g in [150.0, 110.0, 80.0, 60.0, 60.0, 80.0, 110.0, 150.0] {
                curve.push(g);
                voiced.push(false);
            }
        }
        let per_point = (step * rate as f32) as usize;
        let mut x = 987_654_321u32;
        let mut phase = 0f32;
        let mut audio = Vec::with_capacity(curve.len() * per_point);
        for (&f0, &v) in curve.iter().zip(&voiced) {
            for _ in 0..per_point {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = ((x >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.4;
                phase += 2.0 * std::f32::consts::PI * f0 / rate as f32;
                let tone: f32 = (1..8).map(|h| (h as f32 * phase).sin() / h as f32).sum::<f32>() * 0.2;
                audio.push(if v { tone } else { noise });
            }
        }
        (curve, audio, step)
    }

    #[test]
    fn the_voiced_mask_from_the_rendered_audio_removes_the_glide_bias_of_a_curve_threshold() {
        let rate = 16_000;
        let (curve, audio, step) = syllables(rate);
        // The old rule: every curve point above 50 Hz counts, glides included.
        let above_50: Vec<bool> = curve.iter().map(|&f| f > 50.0).collect();
        let old = masked_mean_log2(&curve, &above_50).unwrap();
        assert!(12.0 * (200f32.log2() - old) > 1.0, "the synthetic case must be biased under the old rule: {}", 2f32.powf(old));
        let tracker = PitchTracker::new(rate);
        let track = tracker.track(&audio);
        let mask = tracker.voiced_points(&track, curve.len(), step);
        let new = masked_mean_log2(&curve, &mask).unwrap();
        assert!(semitones(2f32.powf(new), 200.0) < 0.3, "masked mean {} Hz", 2f32.powf(new));
        // And the curve statistic now agrees with what the tracker hears.
        let heard = tracker.stats([audio.as_slice()]).unwrap();
        assert!(semitones(heard.median_hz, 200.0) < 0.2, "YIN median {}", heard.median_hz);
        assert!(mask.iter().filter(|&&m| m).count() > 64, "most voiced points are kept");
    }

    #[test]
    fn voiced_points_line_up_with_the_frames_that_cover_them() {
        let tracker = PitchTracker::new(16_000);
        // Frame k is centred at 20 ms + 10 ms·k (40 ms window, 10 ms hop).
        assert!((tracker.frame_centre_secs(0) - 0.02).abs() < 1e-6);
        assert!((tracker.frame_centre_secs(3) - 0.05).abs() < 1e-6);
        // Only frame 2 (centred at 40 ms) voiced: the one 12.5 ms point whose
        // centre is nearest to it (point 3, centred at 43.75 ms) is marked.
        let track = [0.0, 0.0, 120.0, 0.0, 0.0, 0.0, 0.0];
        let mask = tracker.voiced_points(&track, 10, 0.0125);
        assert_eq!(mask.iter().filter(|&&m| m).count(), 1);
        assert!(mask[3]);
        assert!(masked_mean_log2(&[100.0; 4], &[false; 4]).is_none());
    }

    #[test]
    fn short_input_gives_no_frames_instead_of_panicking() {
        assert!(PitchTracker::new(16_000).track(&[0.1; 100]).is_empty());
    }
}
