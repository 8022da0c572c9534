//! Mel filterbanks on the Slaney scale with Slaney area normalization, as
//! `librosa.filters.mel` computes them by default (used by the GE2E speaker
//! encoder's and Whisper's front ends).

/// Slaney mel scale: linear below 1 kHz, logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// Triangular Slaney-normalized filters, `[bands, n_fft/2 + 1]` row-major,
/// spanning 0 Hz to Nyquist.
pub fn slaney_filters(sample_rate: u32, n_fft: usize, bands: usize) -> Vec<f32> {
    slaney_filters_to(sample_rate, n_fft, bands, f64::from(sample_rate) / 2.0)
}

/// Like [`slaney_filters`], spanning 0 Hz to `max_hz` (at most Nyquist).
pub fn slaney_filters_to(sample_rate: u32, n_fft: usize, bands: usize, max_hz: f64) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let sr = f64::from(sample_rate);
    let max_mel = hz_to_mel(max_hz.min(sr / 2.0));
    let freqs: Vec<f64> = (0..bands + 2).map(|i| mel_to_hz(max_mel * i as f64 / (bands + 1) as f64)).collect();
    let mut w = vec![0f32; bands * bins];
    for m in 0..bands {
        let (lo, centre, hi) = (freqs[m], freqs[m + 1], freqs[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for k in 0..bins {
            let f = k as f64 * sr / n_fft as f64;
            let rising = (f - lo) / (centre - lo);
            let falling = (hi - f) / (hi - centre);
            w[m * bins + k] = (rising.min(falling).max(0.0) * enorm) as f32;
        }
    }
    w
}

