//! Whisper's log-mel front end: 16 kHz audio → 80 mel bands every 10 ms.
//!
//! n_fft 400 with a periodic Hann window, hop 160, centred frames (reflect
//! padding), power spectrum, Slaney-scale mel filterbank (Slaney area
//! normalization), `log10` floored at 1e-10, clamped to (max − 8), then
//! `(x + 4) / 4`.
//!
//! Padding follows faster-whisper (whose transcripts are our reference)
//! rather than the original `whisper` package: the waveform gets 160 zero
//! samples, not 30 s, before the spectrogram, so the (max − 8) floor is taken
//! over the speech itself; 30 s windows are then filled up with zeros in the
//! log-mel domain ([`pad_or_trim`]).

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Sample rate the front end expects.
pub const SAMPLE_RATE: u32 = 16_000;
/// FFT size (25 ms).
pub const N_FFT: usize = 400;
/// Hop between frames (10 ms).
pub const HOP: usize = 160;
/// Frames in one 30 s window.
pub const WINDOW_FRAMES: usize = 3000;

/// A log-mel spectrogram, band-major: `data[band * frames + frame]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    /// Number of mel bands.
    pub bands: usize,
    /// Number of frames.
    pub frames: usize,
    /// Values, band-major.
    pub data: Vec<f32>,
}

impl LogMel {
    /// Frames `start..start + len` padded with zeros (or cut) to `target`
    /// frames: one decoder window.
    pub fn window(&self, start: usize, len: usize, target: usize) -> LogMel {
        let mut data = vec![0.0f32; self.bands * target];
        let len = len.min(target).min(self.frames.saturating_sub(start));
        for b in 0..self.bands {
            let src = &self.data[b * self.frames + start..b * self.frames + start + len];
            data[b * target..b * target + len].copy_from_slice(src);
        }
        LogMel { bands: self.bands, frames: target, data }
    }
}

/// The log-mel front end with its filterbank and FFT plan.
pub struct MelFrontEnd {
    bands: usize,
    filters: Vec<f32>,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl std::fmt::Debug for MelFrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelFrontEnd").field("bands", &self.bands).finish()
    }
}

/// Index into a signal of length `n` for a position that may lie outside
/// it, mirroring at the ends without repeating the edge sample (numpy's
/// `reflect`), repeatedly for short signals.
fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let j = i.rem_euclid(period);
    (if j < n as isize { j } else { period - j }) as usize
}

impl MelFrontEnd {
    /// The 80-band front end of Whisper.
    pub fn new(bands: usize) -> Self {
        let window = (0..N_FFT)
            .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        Self {
            bands,
            filters: avow_audio::mel::slaney_filters(SAMPLE_RATE, N_FFT, bands),
            window,
            fft: RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT),
        }
    }

    /// Log-mel spectrogram of 16 kHz mono `samples`: `samples.len() / 160 + 1`
    /// frames. Empty input gives one frame of silence.
    pub fn compute(&self, samples: &[f32]) -> LogMel {
        let mut padded = samples.to_vec();
        padded.extend(std::iter::repeat_n(0.0, HOP));
        let n = padded.len();
        // Centred frames: 1 + n / HOP of them; the last is dropped, as
        // Whisper does.
        let frames = n / HOP;
        let bins = N_FFT / 2 + 1;
        let half = (N_FFT / 2) as isize;
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; bins];
        let mut mel = vec![0f32; self.bands * frames];
        for t in 0..frames {
            let start = (t * HOP) as isize - half;
            for (k, x) in input.iter_mut().enumerate() {
                *x = f64::from(padded[reflect(start + k as isize, n)] * self.window[k]);
            }
            // Lengths come from the plan, so this cannot fail.
            if self.fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).is_err() {
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr() as f32;
            }
            for b in 0..self.bands {
                let row = &self.filters[b * bins..(b + 1) * bins];
                mel[b * frames + t] = row.iter().zip(&power).map(|(w, p)| w * p).sum();
            }
        }
        let mut peak = f32::NEG_INFINITY;
        for v in mel.iter_mut() {
            *v = v.max(1e-10).log10();
            peak = peak.max(*v);
        }
        for v in mel.iter_mut() {
            *v = (v.max(peak - 8.0) + 4.0) / 4.0;
        }
        LogMel { bands: self.bands, frames, data: mel }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_follows_whisper() {
        let fe = MelFrontEnd::new(80);
        assert_eq!(fe.compute(&vec![0.0; 16_000]).frames, 101);
        assert_eq!(fe.compute(&vec![0.0; 16_159]).frames, 101);
        assert_eq!(fe.compute(&[]).frames, 1);
    }

    #[test]
    fn filterbank_is_slaney_normalized() {
        let w = avow_audio::mel::slaney_filters(16_000, 400, 80);
        // Each triangle has area ~1 in Hz (2 / width × width / 2), so the
        // sum over bins × bin spacing (40 Hz) is close to 1 for wide filters.
        let area: f32 = w[79 * 201..80 * 201].iter().sum::<f32>() * 40.0;
        assert!((area - 1.0).abs() < 0.05, "area of the top band {area}");
        assert!(w[0] == 0.0, "no energy at DC in the first band");
    }

    #[test]
    fn tone_peaks_in_the_right_band() {
        let fe = MelFrontEnd::new(80);
        let tone: Vec<f32> = (0..16_000).map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin()).collect();
        let m = fe.compute(&tone);
        let t = 50;
        let best = (0..80).max_by(|&a, &b| m.data[a * m.frames + t].total_cmp(&m.data[b * m.frames + t])).unwrap_or(0);
        let centres: Vec<f64> = (0..82).map(|i| avow_audio::mel::mel_to_hz(avow_audio::mel::hz_to_mel(8000.0) * i as f64 / 81.0)).collect();
        assert!(centres[best] < 440.0 && centres[best + 2] > 440.0, "band {best} does not cover 440 Hz");
        let max = m.data.iter().cloned().fold(f32::MIN, f32::max);
        let min = m.data.iter().cloned().fold(f32::MAX, f32::min);
        assert!((max - min - 2.0).abs() < 1e-5, "dynamic range is clamped to 8 decades → 2.0 after scaling");
    }

    #[test]
    fn reflect_matches_numpy() {
        // np.pad([0,1,2,3], 5, mode='reflect') == [1,2,3,2,1,0,1,2,3,2,1,0,1,2]
        let got: Vec<usize> = (-5..9).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2]);
    }
}
