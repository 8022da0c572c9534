//! Pitch-preserving time stretching (WSOLA: waveform-similarity overlap-add).
//!
//! Speech is cut into overlapping 30 ms frames that are laid down at a fixed
//! output hop; each frame is read from the input near its nominal position
//! (`output position × tempo`), shifted by up to ±8 ms to the place whose
//! waveform best continues what the previous frame left off. Pitch periods
//! thus line up across the joins and the pitch is unchanged, while the
//! duration scales by `1 / tempo`. Good for the modest factors dubbing needs
//! (about 0.8–1.5×); beyond ±2× artifacts grow and the factor is refused.

use crate::AudioError;

/// Smallest tempo factor accepted (output twice as long as the input).
pub const MIN_TEMPO: f32 = 0.5;
/// Largest tempo factor accepted (output half as long as the input).
pub const MAX_TEMPO: f32 = 2.0;

/// Frame length in seconds (a few pitch periods of the lowest voices).
const FRAME_SECS: f64 = 0.030;
/// Search range either side of the nominal input position, in seconds
/// (longer than the longest pitch period, 1/60 Hz ≈ 17 ms, halved: a shift
/// of half a period either way always finds a matching phase).
const TOLERANCE_SECS: f64 = 0.008;

/// Length of the output [`time_stretch`] produces for `len` input samples.
pub fn stretched_len(len: usize, tempo: f32) -> usize {
    (len as f64 / f64::from(tempo)).round() as usize
}

/// Changes the duration of mono `samples` at `rate` Hz by `1 / tempo`
/// without changing the pitch: `tempo` 1.25 plays 25 % faster. The output has
/// exactly [`stretched_len`] samples; `tempo == 1.0` returns the input
/// unchanged.
pub fn time_stretch(samples: &[f32], rate: u32, tempo: f32) -> Result<Vec<f32>, AudioError> {
    if !(tempo.is_finite() && (MIN_TEMPO..=MAX_TEMPO).contains(&tempo)) {
        return Err(AudioError::InvalidParameter(format!("tempo {tempo} is outside {MIN_TEMPO}..={MAX_TEMPO}")));
    }
    if rate < 8_000 {
        return Err(AudioError::InvalidParameter(format!("sample rate {rate} Hz is too low for time stretching")));
    }
    crate::check_finite(samples)?;
    let want = stretched_len(samples.len(), tempo);
    if tempo == 1.0 {
        return Ok(samples.to_vec());
    }
    let frame = ((FRAME_SECS * f64::from(rate)) as usize).max(64) & !1;
    let hop = frame / 2;
    let tol = (TOLERANCE_SECS * f64::from(rate)) as usize;
    // Periodic Hann: at half overlap the windows sum to exactly one.
    let window: Vec<f32> = (0..frame)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / frame as f64).cos()) as f32)
        .collect();
    // Zero padding lets every frame and every search candidate read a full
    // frame without bounds checks at either end.
    let pad = tol + frame;
    let mut input = vec![0f32; pad];
    input.extend_from_slice(samples);
    input.resize(input.len() + pad + frame + tol, 0.0);

    let mut out = vec![0f32; want + frame];
    let mut prev: Option<usize> = None;
    let mut k = 0usize;
    while k * hop < want {
        let nominal = pad + (k as f64 * hop as f64 * f64::from(tempo)).round() as usize;
        let pos = match prev {
            None => nominal,
            Some(p) => best_match(&input, p + hop, nominal, tol, hop),
        };
        let at = k * hop;
        for i in 0..frame {
            // The first frame keeps its leading half at full level: no window
            // before it would complete the fade-in.
            let w = if k == 0 && i < hop { 1.0 } else { window[i] };
            out[at + i] += input[pos + i] * w;
        }
        prev = Some(pos);
        k += 1;
    }
    out.truncate(want);
    Ok(out)
}

/// The input position within `nominal ± tol` whose next `len` samples
/// correlate best with the natural continuation at `natural`.
fn best_match(input: &[f32], natural: usize, nominal: usize, tol: usize, len: usize) -> usize {
    let target = &input[natural..natural + len];
    let mut best = nominal;
    let mut best_score = f32::NEG_INFINITY;
    for cand in nominal - tol..=nominal + tol {
        let seg = &input[cand..cand + len];
        let mut dot = 0f32;
        let mut energy = 0f32;
        for (a, b) in target.iter().zip(seg) {
            dot += a * b;
            energy += b * b;
        }
        // Normalized by the candidate's energy so loud candidates do not win
        // on level alone; silence (energy 0) scores 0.
        let score = if energy > 0.0 { dot / energy.sqrt() } else { 0.0 };
        if score > best_score {
            best_score = score;
            best = cand;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, secs: f32, rate: u32) -> Vec<f32> {
        (0..(secs * rate as f32) as usize).map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()).collect()
    }

    /// Dominant frequency by counting upward zero crossings.
    fn zero_crossing_freq(x: &[f32], rate: u32) -> f32 {
        let crossings = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        crossings as f32 * rate as f32 / x.len() as f32
    }

    #[test]
    fn compression_shortens_to_the_exact_length_and_keeps_the_pitch() {
        let rate = 24_000;
        let x = sine(220.0, 2.0, rate);
        for tempo in [1.1f32, 1.25, 1.5, 0.8] {
            let y = time_stretch(&x, rate, tempo).unwrap();
            assert_eq!(y.len(), stretched_len(x.len(), tempo));
            let inner = &y[2_400..y.len() - 2_400];
            let f = zero_crossing_freq(inner, rate);
            assert!((f - 220.0).abs() < 3.0, "tempo {tempo}: pitch moved to {f} Hz");
            // Level is kept: no holes or doublings at the joins.
            let rms = (inner.iter().map(|v| v * v).sum::<f32>() / inner.len() as f32).sqrt();
            assert!((rms - 0.3536).abs() < 0.03, "tempo {tempo}: rms {rms}");
        }
    }

    #[test]
    fn unit_tempo_is_the_identity_and_bad_factors_are_refused() {
        let x = sine(300.0, 0.5, 24_000);
        assert_eq!(time_stretch(&x, 24_000, 1.0).unwrap(), x);
        for bad in [0.0, 0.3, 2.5, f32::NAN] {
            assert!(time_stretch(&x, 24_000, bad).is_err(), "{bad}");
        }
        assert!(time_stretch(&[f32::NAN; 10], 24_000, 1.2).is_err());
    }

    #[test]
    fn short_and_empty_inputs_do_not_panic() {
        assert!(time_stretch(&[], 24_000, 1.2).unwrap().is_empty());
        let y = time_stretch(&[0.1; 100], 24_000, 1.25).unwrap();
        assert_eq!(y.len(), 80);
    }
}
