//! Places a recording's phonemes on its audio.
//!
//! The model speaks the same tokens with the starting voice; both signals are
//! analysed into mel-cepstra (c1..c24, so level does not count) every 5 ms,
//! which is exactly five analysis frames per model frame (600 samples at
//! 24 kHz); DTW aligns them; each token boundary of the synthesis is carried
//! through the warping path onto the recording. This works because the
//! synthesis says the same phonemes in the same order: only timing and
//! voice differ, and DTW absorbs timing.

use avow_audio::cepstrum::MelCepstrum;
use avow_audio::dtw::dtw;
use avow_clone::PitchTracker;
use avow_kokoro::{KModel, SAMPLE_RATE};

use crate::BankError;

/// Samples per model frame (one duration unit).
pub const FRAME: usize = 600;
/// Cepstral frames (5 ms) per model frame.
const CEPSTRA_PER_FRAME: usize = 5;

/// A recording ready for training: tokens with pads, durations measured on
/// the recording, the audio cut to whole frames, and its F0.
#[derive(Debug, Clone)]
pub struct AlignedRecording {
    /// Token ids including the leading and trailing pad (0).
    pub ids: Vec<u32>,
    /// Frames per token (pads included), each at least 1; they sum to `frames()`.
    pub durations: Vec<u32>,
    /// Mono 24 kHz audio, `600 · frames()` samples, at the level of the
    /// model's own synthesis of the same text.
    pub audio: Vec<f32>,
    /// F0 in Hz, two values per frame, 0 where unvoiced.
    pub f0: Vec<f32>,
}

impl AlignedRecording {
    /// Length in model frames.
    pub fn frames(&self) -> usize {
        self.durations.iter().map(|&d| d as usize).sum()
    }

    /// Seconds of audio.
    pub fn secs(&self) -> f32 {
        self.audio.len() as f32 / SAMPLE_RATE as f32
    }
}

/// Aligns `audio` (mono, 24 kHz, trimmed) to `tokens` (ids without pads)
/// using the model's synthesis with `style` (256 values).
pub fn align(model: &KModel, tokens: &[u32], style: &[f32], audio: &[f32]) -> Result<AlignedRecording, BankError> {
    let frames = audio.len() / FRAME;
    if frames < tokens.len() + 2 {
        return Err(BankError::Input(format!(
            "{:.2} s of audio is too short for {} phonemes",
            audio.len() as f32 / SAMPLE_RATE as f32,
            tokens.len()
        )));
    }
    let synth = model.synthesize(tokens, style, 1.0)?;
    let analyser = MelCepstrum::new(SAMPLE_RATE);
    let (a, b) = (analyser.analyse(&synth.audio), analyser.analyse(&audio[..frames * FRAME]));
    if a.frames.is_empty() || b.frames.is_empty() {
        return Err(BankError::Input("recording too short to analyse".into()));
    }
    let dist = |i: usize, j: usize| -> f32 {
        a.frames[i].iter().zip(&b.frames[j]).map(|(p, q)| (p - q) * (p - q)).sum::<f32>().sqrt()
    };
    let (path, _) = dtw(a.frames.len(), b.frames.len(), dist);
    // First recording frame aligned to each synthesis frame.
    let mut first_match = vec![usize::MAX; a.frames.len()];
    for &(i, j) in &path {
        first_match[i] = first_match[i].min(j);
    }
    let n = synth.durations.len();
    let mut bounds = Vec::with_capacity(n + 1);
    bounds.push(0usize);
    let mut synth_frame = 0usize;
    for &d in &synth.durations[..n - 1] {
        synth_frame += d as usize;
        let i = (synth_frame * CEPSTRA_PER_FRAME).min(a.frames.len() - 1);
        let j = first_match[i];
        bounds.push(((j as f32) / CEPSTRA_PER_FRAME as f32).round() as usize);
    }
    bounds.push(frames);
    let durations = spread_bounds(&mut bounds, frames);
    let audio = level_matched(&audio[..frames * FRAME], &synth.audio);
    let f0 = f0_on_frame_grid(&audio, frames);
    let mut ids = Vec::with_capacity(n);
    ids.push(0);
    ids.extend_from_slice(tokens);
    ids.push(0);
    Ok(AlignedRecording { ids, durations, audio, f0 })
}

/// Makes boundaries strictly increasing with every token at least one frame
/// and the last at `frames`, then returns the durations.
fn spread_bounds(bounds: &mut [usize], frames: usize) -> Vec<u32> {
    let n = bounds.len() - 1;
    bounds[0] = 0;
    bounds[n] = frames;
    for k in 1..n {
        bounds[k] = bounds[k].max(bounds[k - 1] + 1);
    }
    for k in (1..n).rev() {
        bounds[k] = bounds[k].min(bounds[k + 1] - 1);
    }
    bounds.windows(2).map(|w| (w[1] - w[0]) as u32).collect()
}

/// Scales `audio` so that its RMS over loud frames matches `reference`'s:
/// the model's level is what the decoder is trained to produce.
fn level_matched(audio: &[f32], reference: &[f32]) -> Vec<f32> {
    let active_rms = |x: &[f32]| -> f32 {
        let frames: Vec<f32> = x.chunks(FRAME).map(|c| c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).collect();
        let peak = frames.iter().copied().fold(0f32, f32::max);
        let loud: Vec<f32> = frames.into_iter().filter(|&e| e > peak * 1e-3).collect();
        if loud.is_empty() {
            0.0
        } else {
            (loud.iter().sum::<f32>() / loud.len() as f32).sqrt()
        }
    };
    let (have, want) = (active_rms(audio), active_rms(reference));
    let gain = if have > 1e-6 { want / have } else { 1.0 };
    audio.iter().map(|v| (v * gain).clamp(-1.0, 1.0)).collect()
}

/// YIN F0 at two values per model frame (12.5 ms), centred like the model's
/// F0 frames (frame k covers samples 300k..300k+300).
fn f0_on_frame_grid(audio: &[f32], frames: usize) -> Vec<f32> {
    let mut tracker = PitchTracker::new(SAMPLE_RATE);
    tracker.hop_secs = 0.0125;
    // A looser aperiodicity threshold than for pitch statistics: here a
    // voiced frame read as unvoiced removes the harmonic source the decoder
    // is trained with, which costs more than a slightly noisy F0 value.
    tracker.threshold = 0.35;
    // YIN's frame k is centred one analysis window (2 periods of 50 Hz) after
    // its start; pad so that centre lands on the model frame's centre.
    let window_centre = (2.0 * SAMPLE_RATE as f32 / tracker.min_hz).ceil() as usize;
    let lead = window_centre.saturating_sub(150);
    let mut padded = vec![0f32; lead];
    padded.extend_from_slice(audio);
    padded.extend(std::iter::repeat(0.0).take(2 * window_centre));
    let mut f0 = tracker.track(&padded);
    f0.resize(2 * frames, 0.0);
    f0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_become_strictly_increasing_and_end_at_the_frame_count() {
        let mut b = vec![0, 3, 3, 2, 9, 40];
        let d = spread_bounds(&mut b, 12);
        assert_eq!(d.iter().sum::<u32>(), 12);
        assert!(d.iter().all(|&x| x >= 1), "{d:?}");
        assert_eq!(d, vec![3, 1, 1, 4, 3]);
    }

    #[test]
    fn level_matching_follows_the_reference_rms() {
        let reference: Vec<f32> = (0..6000).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
        let quiet: Vec<f32> = reference.iter().map(|v| v * 0.1).collect();
        let matched = level_matched(&quiet, &reference);
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        assert!((rms(&matched) / rms(&reference) - 1.0).abs() < 1e-3);
    }

    #[test]
    fn f0_lands_on_the_model_grid() {
        let frames = 40;
        let audio: Vec<f32> = (0..frames * FRAME)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                (1..6).map(|h| (2.0 * std::f32::consts::PI * 150.0 * h as f32 * t).sin() / h as f32).sum::<f32>() * 0.2
            })
            .collect();
        let f0 = f0_on_frame_grid(&audio, frames);
        assert_eq!(f0.len(), 2 * frames);
        let mid = &f0[10..70];
        assert!(mid.iter().all(|&f| (f - 150.0).abs() < 3.0), "{mid:?}");
    }
}
