//! resemblyzer's front end: volume normalization, mel frames of the power
//! spectrum, and the slicing of an utterance into partials.
//!
//! The mel frames follow `librosa.feature.melspectrogram` as resemblyzer
//! calls it under librosa 0.10/0.11 (the version the reference fixtures were
//! made with): `n_fft = 400` (25 ms), hop 160 (10 ms), periodic Hann window,
//! `center=True` with ZERO padding of `n_fft / 2` on both sides (librosa's
//! default `pad_mode="constant"` since 0.10; older librosa padded by
//! reflection, which only changes the first and last two frames), power 2,
//! and librosa's default mel filterbank (Slaney mel scale, Slaney area
//! normalization, 0 Hz to 8 kHz, 40 bands).

use realfft::RealFftPlanner;

/// Sample rate the encoder works at.
pub const SAMPLE_RATE: u32 = 16_000;
/// FFT size and window length (25 ms).
pub const N_FFT: usize = 400;
/// Hop between frames (10 ms).
pub const HOP: usize = 160;
/// Mel bands.
pub const N_MELS: usize = 40;
/// Frames in one partial utterance (1.6 s).
pub const PARTIAL_FRAMES: usize = 160;
/// Partials per second of audio in resemblyzer's `embed_utterance` (its
/// default `rate=1.3`): consecutive partials start 77 frames apart, so they
/// overlap by a little more than half.
pub const PARTIAL_RATE: f64 = 1.3;
/// A trailing partial is kept only if audio covers at least this fraction of
/// it (resemblyzer's default `min_coverage`).
pub const MIN_COVERAGE: f64 = 0.75;
/// Level `preprocess` raises quiet audio to (never lowers loud audio).
pub const TARGET_DBFS: f64 = -30.0;

const N_BINS: usize = N_FFT / 2 + 1;

/// The mel filterbank, `[N_MELS][N_BINS]` row-major, as
/// `librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)` (computed in f64,
/// stored as f32 like librosa's default dtype).
pub fn mel_filterbank() -> Vec<f32> {
    avow_audio::mel::slaney_filters(SAMPLE_RATE, N_FFT, N_MELS)
}

/// The periodic Hann window of length `N_FFT` (`scipy.signal.get_window("hann", 400)`).
pub fn hann_window() -> Vec<f32> {
    (0..N_FFT)
        .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
        .collect()
}

/// Number of mel frames of `n_samples` samples (`1 + n / hop`, centred frames).
pub fn frame_count(n_samples: usize) -> usize {
    1 + n_samples / HOP
}

/// Mel frames of the power spectrum, `[frame_count(len)][N_MELS]` row-major.
pub fn mel_frames(wav: &[f32]) -> Vec<f32> {
    let n_frames = frame_count(wav.len());
    let pad = N_FFT / 2;
    let window = hann_window();
    let fb = mel_filterbank();
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(N_FFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0f32; N_BINS];
    let mut out = vec![0f32; n_frames * N_MELS];
    for t in 0..n_frames {
        // Frame t covers padded samples [t*hop, t*hop + n_fft), i.e. signal
        // samples starting at t*hop - pad; outside the signal is zero.
        let start = (t * HOP) as isize - pad as isize;
        for (i, x) in input.iter_mut().enumerate() {
            let s = start + i as isize;
            let v = if s >= 0 && (s as usize) < wav.len() {
                wav[s as usize]
            } else {
                0.0
            };
            *x = f64::from(v) * f64::from(window[i]);
        }
        // Lengths match the plan, so this cannot fail.
        if fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .is_err()
        {
            unreachable!("FFT buffers are made by the plan itself");
        }
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.norm_sqr() as f32;
        }
        for m in 0..N_MELS {
            let row = &fb[m * N_BINS..(m + 1) * N_BINS];
            out[t * N_MELS + m] = row.iter().zip(&power).map(|(w, p)| w * p).sum();
        }
    }
    out
}

/// Where resemblyzer cuts an utterance of `n_samples` samples into partials:
/// the first mel frame of each (every partial is [`PARTIAL_FRAMES`] long), and
/// the number of samples the waveform must be zero-padded to so that the
/// last partial lies inside it.
///
/// Same rule as `VoiceEncoder.compute_partial_slices(n, rate=1.3,
/// min_coverage=0.75)`: start frames step by `round(16000 / 1.3 / 160) = 77`
/// up to `n_frames - 160 + 77`, and a final partial covered less than 75% by
/// audio is dropped unless it is the only one.
pub fn partial_starts(n_samples: usize) -> (Vec<usize>, usize) {
    let n_frames = (n_samples + 1).div_ceil(HOP);
    let frame_step = ((f64::from(SAMPLE_RATE) / PARTIAL_RATE) / HOP as f64).round() as usize;
    let steps = (n_frames + frame_step + 1)
        .saturating_sub(PARTIAL_FRAMES)
        .max(1);
    let mut starts: Vec<usize> = (0..steps).step_by(frame_step).collect();
    if starts.len() > 1 {
        if let Some(&last) = starts.last() {
            let wav_start = last * HOP;
            let coverage = (n_samples as f64 - wav_start as f64) / (PARTIAL_FRAMES * HOP) as f64;
            if coverage < MIN_COVERAGE {
                starts.pop();
            }
        }
    }
    let padded = starts
        .last()
        .map_or(0, |&s| (s + PARTIAL_FRAMES) * HOP)
        .max(n_samples);
    (starts, padded)
}

/// RMS level in dBFS (full scale = 1.0); `-inf` for silence.
pub fn dbfs(wav: &[f32]) -> f64 {
    if wav.is_empty() {
        return f64::NEG_INFINITY;
    }
    let ms = wav
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / wav.len() as f64;
    10.0 * ms.log10()
}

/// resemblyzer's `normalize_volume(wav, -30, increase_only=True)`: audio
/// quieter than -30 dBFS RMS is amplified to it; louder audio is unchanged.
pub fn normalize_volume(wav: &[f32]) -> Vec<f32> {
    let level = dbfs(wav);
    let change = TARGET_DBFS - level;
    if !change.is_finite() || change <= 0.0 {
        return wav.to_vec();
    }
    let gain = 10f64.powf(change / 20.0) as f32;
    wav.iter().map(|&x| x * gain).collect()
}

/// Window of the voice detector: 30 ms at 16 kHz (resemblyzer's VAD window).
pub const VAD_WINDOW: usize = 480;
/// Voice flags are smoothed over this many windows (resemblyzer's
/// `vad_moving_average_width`).
const VAD_AVERAGE_WIDTH: usize = 8;
/// Silent runs up to this many windows are kept (resemblyzer's
/// `vad_max_silence_length`).
const VAD_MAX_SILENCE: usize = 6;
/// Windows within this many dB of the loud windows may be voice.
pub const VAD_RANGE_DB: f64 = 30.0;
/// Windows below this level (dBFS) are never voice.
pub const VAD_FLOOR_DBFS: f64 = -50.0;

/// Raw per-window voice decisions of an energy detector on 16 kHz audio
/// (one per full [`VAD_WINDOW`]; a trailing partial window is dropped, as
/// resemblyzer does): a window is voice when its level is within 30 dB of the
/// recording's loud windows (95th percentile), at least 6 dB above its noise
/// floor (10th percentile) and above -50 dBFS. Also returns the loud level.
///
/// This stands in for webrtcvad (mode 3), which resemblyzer uses; it is
/// cruder (no spectral model) and keeps more of quiet, breathy speech.
pub fn energy_voice_flags(wav: &[f32]) -> (Vec<bool>, f64) {
    let levels: Vec<f64> = wav
        .chunks_exact(VAD_WINDOW)
        .map(|w| {
            let ms = w.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / w.len() as f64;
            10.0 * (ms + 1e-12).log10()
        })
        .collect();
    if levels.is_empty() {
        return (Vec::new(), f64::NEG_INFINITY);
    }
    let mut sorted = levels.clone();
    sorted.sort_by(f64::total_cmp);
    let pick = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let loud = pick(0.95);
    let threshold = (loud - VAD_RANGE_DB)
        .max(pick(0.10) + 6.0)
        .max(VAD_FLOOR_DBFS);
    (levels.iter().map(|&l| l >= threshold).collect(), loud)
}

/// resemblyzer's smoothing of voice flags: a moving average over 8 windows
/// (3 before, 4 after), rounded half to even, so a window needs at least 5
/// voiced windows of 8 around it.
pub fn smooth_voice_flags(raw: &[bool]) -> Vec<bool> {
    let n = raw.len();
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub((VAD_AVERAGE_WIDTH - 1) / 2);
            let hi = (i + VAD_AVERAGE_WIDTH / 2 + 1).min(n);
            let count = raw[lo..hi].iter().filter(|&&f| f).count();
            // np.round(count / 8): 4/8 = 0.5 rounds to 0.
            2 * count > VAD_AVERAGE_WIDTH
        })
        .collect()
}

/// resemblyzer's `trim_long_silences` with [`energy_voice_flags`] in place of
/// webrtcvad: the length is cut to whole 30 ms windows, voice flags are
/// smoothed, dilated by 3 windows each way (so silences up to 6 windows stay),
/// and only flagged windows are kept.
pub fn trim_long_silences(wav: &[f32]) -> Vec<f32> {
    let (raw, _) = energy_voice_flags(wav);
    let smooth = smooth_voice_flags(&raw);
    let n = smooth.len();
    let reach = VAD_MAX_SILENCE / 2;
    let mut out = Vec::with_capacity(n * VAD_WINDOW);
    for i in 0..n {
        let lo = i.saturating_sub(reach);
        let hi = (i + reach + 1).min(n);
        if smooth[lo..hi].iter().any(|&f| f) {
            out.extend_from_slice(&wav[i * VAD_WINDOW..(i + 1) * VAD_WINDOW]);
        }
    }
    out
}

/// resemblyzer's `preprocess_wav` for 16 kHz samples, with the energy
/// detector instead of webrtcvad: [`normalize_volume`] then
/// [`trim_long_silences`]. Embeddings of its output agree closely but not
/// exactly with resemblyzer's (BENCHMARKS.md, "Speaker encoder").
pub fn preprocess(wav: &[f32]) -> Vec<f32> {
    trim_long_silences(&normalize_volume(wav))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slicing_matches_resemblyzer_for_known_lengths() {
        // Values from VoiceEncoder.compute_partial_slices(n, 1.3, 0.75).
        // 1 s: one (padded) partial.
        assert_eq!(partial_starts(16_000), (vec![0], 25_600));
        // 2.835 s (45 360 samples): starts 0, 77, 154; the last covers
        // (45360 - 24640) / 25600 = 0.81 ≥ 0.75 and is kept.
        assert_eq!(partial_starts(45_360), (vec![0, 77, 154], 50_240));
        // 2.6 s: the third partial covers 0.66 and is dropped.
        assert_eq!(partial_starts(41_600).0, vec![0, 77]);
        // Empty input still yields one partial of silence.
        assert_eq!(partial_starts(0), (vec![0], 25_600));
    }

    #[test]
    fn filterbank_rows_peak_at_rising_frequencies() {
        let fb = mel_filterbank();
        let peaks: Vec<usize> = (0..N_MELS)
            .map(|m| {
                let row = &fb[m * N_BINS..(m + 1) * N_BINS];
                (0..N_BINS)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(0)
            })
            .collect();
        assert!(peaks.windows(2).all(|w| w[0] <= w[1]), "{peaks:?}");
        assert!(fb.iter().all(|&w| w >= 0.0));
    }

    #[test]
    fn long_silences_are_shortened_and_short_pauses_kept() {
        let tone = |n: usize| {
            (0..n)
                .map(|i| 0.2 * (i as f32 * 0.07).sin())
                .collect::<Vec<f32>>()
        };
        let mut wav = tone(16_000);
        wav.extend(vec![0.0; 16_000]); // 1 s pause: shortened
        wav.extend(tone(16_000));
        wav.extend(vec![0.0; 2_400]); // 150 ms pause: kept
        wav.extend(tone(16_000));
        let out = trim_long_silences(&wav);
        let n = out.len() as f64 / 16_000.0;
        // 3 s of tone, plus at most ~3 windows of hang-over on each side of
        // each pause, plus the short pause.
        assert!(n > 3.1 && n < 3.6, "{n} s kept");
        assert!(trim_long_silences(&[0.0; 16_000]).is_empty());
        assert!(trim_long_silences(&[]).is_empty());
    }

    #[test]
    fn smoothing_rounds_half_down_like_numpy() {
        // Exactly 4 voiced of 8 around window 3 → 0.5 → not voiced.
        let raw = [true, true, true, true, false, false, false, false];
        assert!(!smooth_voice_flags(&raw)[3]);
        let raw = [true, true, true, true, true, false, false, false];
        assert!(smooth_voice_flags(&raw)[3]);
    }

    #[test]
    fn volume_is_only_ever_raised() {
        let quiet: Vec<f32> = (0..1600)
            .map(|i| 0.001 * ((i as f32) * 0.1).sin())
            .collect();
        let raised = normalize_volume(&quiet);
        assert!((dbfs(&raised) - TARGET_DBFS).abs() < 1e-3);
        let loud: Vec<f32> = quiet.iter().map(|x| x * 300.0).collect();
        assert_eq!(normalize_volume(&loud), loud);
        assert_eq!(normalize_volume(&[0.0; 10]), vec![0.0; 10]);
    }
}
