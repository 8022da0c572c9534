//! Mixing speech over a background bed with ducking, and loudness
//! normalization with a soft ceiling.
//!
//! Ducking: wherever the speech is present (its 10 ms RMS above a
//! threshold), the bed's gain falls by `depth_db`; the gain moves with
//! separate attack and release times and starts falling `lookahead` before
//! the speech so the first syllable is never masked.

use crate::loudness::{integrated_loudness, SILENCE_LUFS};
use crate::AudioError;

/// How the bed gives way to the speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuckParams {
    /// Attenuation of the bed under speech, in dB (positive).
    pub depth_db: f32,
    /// Speech counts as present above this 10 ms RMS level, in dBFS.
    pub threshold_db: f32,
    /// Time for the bed to fall, in seconds.
    pub attack_secs: f32,
    /// Time for the bed to come back after speech, in seconds.
    pub release_secs: f32,
    /// How far ahead of speech the bed starts to fall, in seconds.
    pub lookahead_secs: f32,
}

impl Default for DuckParams {
    /// 12 dB under speech, 60 ms attack with 60 ms look-ahead, 400 ms release:
    /// usual broadcast dialogue ducking.
    fn default() -> Self {
        Self { depth_db: 12.0, threshold_db: -45.0, attack_secs: 0.06, release_secs: 0.4, lookahead_secs: 0.06 }
    }
}

/// Peak level loudness normalization keeps below (−1 dBFS); louder peaks
/// are bent under it by [`soft_ceiling`].
pub const CEILING: f32 = 0.891_250_9;

/// Mixes mono `speech` over mono `bed` (same rate), ducking the bed under
/// the speech. The result is as long as the longer input.
pub fn duck_mix(speech: &[f32], bed: &[f32], rate: u32, params: &DuckParams) -> Result<Vec<f32>, AudioError> {
    crate::check_finite(speech)?;
    crate::check_finite(bed)?;
    if rate == 0 || !(params.depth_db >= 0.0 && params.attack_secs > 0.0 && params.release_secs > 0.0 && params.lookahead_secs >= 0.0) {
        return Err(AudioError::InvalidParameter("ducking needs a positive rate, depth and times".into()));
    }
    let len = speech.len().max(bed.len());
    let gains = duck_gains(speech, len, rate, params);
    Ok((0..len)
        .map(|i| speech.get(i).copied().unwrap_or(0.0) + bed.get(i).copied().unwrap_or(0.0) * gains[i])
        .collect())
}

/// The bed gain per sample (1 = untouched).
pub fn duck_gains(speech: &[f32], len: usize, rate: u32, params: &DuckParams) -> Vec<f32> {
    let window = (rate as usize / 100).max(1);
    let threshold = 10f32.powf(params.threshold_db / 20.0);
    let floor = 10f32.powf(-params.depth_db / 20.0);
    let lookahead = (params.lookahead_secs * rate as f32) as usize;
    // Which 10 ms windows hold speech, widened backwards by the look-ahead.
    let windows = len.div_ceil(window);
    let mut active = vec![false; windows];
    for (w, chunk) in speech.chunks(window).enumerate() {
        let rms = (chunk.iter().map(|s| s * s).sum::<f32>() / chunk.len() as f32).sqrt();
        if rms > threshold {
            let first = (w * window).saturating_sub(lookahead) / window;
            active[first..=w].iter_mut().for_each(|a| *a = true);
        }
    }
    let attack = (-1.0 / (params.attack_secs * rate as f32)).exp();
    let release = (-1.0 / (params.release_secs * rate as f32)).exp();
    let mut gain = 1.0f32;
    (0..len)
        .map(|i| {
            let target = if active[i / window] { floor } else { 1.0 };
            let coeff = if target < gain { attack } else { release };
            gain = target + (gain - target) * coeff;
            gain
        })
        .collect()
}

/// What [`normalize_loudness`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalized {
    /// Integrated loudness before, in LUFS.
    pub input_lufs: f64,
    /// Gain applied, in dB.
    pub gain_db: f64,
    /// Samples that the soft ceiling bent (0 when the peaks had headroom).
    pub limited_samples: usize,
}

/// Scales `samples` in place to `target_lufs` integrated loudness; peaks
/// that would pass [`CEILING`] are bent under it smoothly. Silence is left
/// as it is (gain 0 dB).
pub fn normalize_loudness(samples: &mut [f32], rate: u32, target_lufs: f64) -> Result<Normalized, AudioError> {
    if !(target_lufs.is_finite() && (-70.0..=0.0).contains(&target_lufs)) {
        return Err(AudioError::InvalidParameter(format!("loudness target {target_lufs} LUFS is outside -70..=0")));
    }
    let input_lufs = integrated_loudness(samples, rate)?;
    if input_lufs == SILENCE_LUFS {
        return Ok(Normalized { input_lufs, gain_db: 0.0, limited_samples: 0 });
    }
    let gain_db = target_lufs - input_lufs;
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    let mut limited_samples = 0;
    for s in samples.iter_mut() {
        let v = *s * gain;
        if v.abs() > CEILING {
            limited_samples += 1;
        }
        *s = soft_ceiling(v);
    }
    Ok(Normalized { input_lufs, gain_db, limited_samples })
}

/// Identity below [`CEILING`]; above it, a tanh knee that approaches full
/// scale and never reaches it.
pub fn soft_ceiling(v: f32) -> f32 {
    let a = v.abs();
    if a <= CEILING {
        return v;
    }
    let room = 1.0 - CEILING;
    v.signum() * (CEILING + room * ((a - CEILING) / room).tanh())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bed_falls_under_speech_and_comes_back_after_it() {
        let rate = 24_000;
        let bed = vec![0.1f32; 4 * rate as usize];
        let mut speech = vec![0.0f32; 4 * rate as usize];
        // Speech from 1 s to 2 s.
        speech[rate as usize..2 * rate as usize].iter_mut().enumerate().for_each(|(i, s)| *s = 0.3 * ((i as f32) * 0.1).sin());
        let params = DuckParams::default();
        let gains = duck_gains(&speech, bed.len(), rate, &params);
        let at = |secs: f32| gains[(secs * rate as f32) as usize];
        assert!((at(0.5) - 1.0).abs() < 1e-3, "bed ducked before any speech");
        assert!(at(1.0) < 0.6, "bed not falling by the speech onset (look-ahead): {}", at(1.0));
        assert!((at(1.5) - 10f32.powf(-0.6)).abs() < 0.01, "bed not at −12 dB mid-speech: {}", at(1.5));
        assert!(at(3.9) > 0.9, "bed did not come back: {}", at(3.9));
        let mixed = duck_mix(&speech, &bed, rate, &params).unwrap();
        assert_eq!(mixed.len(), bed.len());
    }

    #[test]
    fn normalization_hits_the_target_and_never_clips() {
        let rate = 24_000;
        let mut x: Vec<f32> = (0..5 * rate).map(|i| 0.05 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin()).collect();
        let n = normalize_loudness(&mut x, rate, -23.0).unwrap();
        assert!((n.input_lufs + 29.03).abs() < 0.1, "{n:?}");
        let after = integrated_loudness(&x, rate).unwrap();
        assert!((after + 23.0).abs() < 0.05, "{after}");
        // A target far above what the peaks allow is bent, not clipped.
        let n = normalize_loudness(&mut x, rate, -1.0).unwrap();
        assert!(n.limited_samples > 0);
        assert!(x.iter().all(|s| s.abs() < 1.0));
        assert!(normalize_loudness(&mut x, rate, f64::NAN).is_err());
    }
}
