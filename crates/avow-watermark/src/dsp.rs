//! STFT band analysis shared by the embedder and the detector.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::layout::{BANDS, BAND_BINS, BIN_LO, GROUPS, N};

/// Whitened band values are clipped to this many dB above the local mean,
/// so that onsets and spectral peaks (heavy tails of speech) do not
/// dominate the statistic.
pub const CLIP_DB: f32 = 6.0;
/// ...and to this many dB below it. Valleys between harmonics and formants
/// are what added noise, echo tails, quantization and codecs fill in: with
/// a deep lower clip, filling a −6 dB valley moved the statistic by up to
/// 6 dB and undid the embedder's cancellation of the host (informed
/// embedding). Clipping just below the local mean keeps the statistic on
/// the spectral peaks, which survive those attacks. Measured on 24 clips
/// after white noise at 20 dB SNR: 71 % detected (median score 6.8) with a
/// 6 dB lower clip and a 0.5 dB target (SNR 18.9 dB), 96 % (7.6) with
/// 0.5 dB and a 0.4 dB target (SNR 18.0 dB).
pub const CLIP_LOW_DB: f32 = 0.5;
/// Bands on each side used as the local spectral mean.
const NEIGHBOURS: usize = 2;
/// Power floor (full-scale sine ≈ 1e4 in these units) below which a band is
/// treated as silent.
const POWER_FLOOR: f32 = 1e-7;

/// Reusable FFT plans, window and scratch buffers for one thread.
pub struct Analyzer {
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    /// Periodic sqrt-Hann window, used for analysis and synthesis.
    pub window: Vec<f32>,
    buf: Vec<f32>,
    /// Spectrum of the last analysed frame.
    pub spec: Vec<Complex32>,
    scratch_fwd: Vec<Complex32>,
    scratch_inv: Vec<Complex32>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    /// Plans the transforms.
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(N);
        let inv = planner.plan_fft_inverse(N);
        let window = (0..N)
            .map(|i| {
                let h = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N as f64).cos();
                h.sqrt() as f32
            })
            .collect();
        let spec = fwd.make_output_vec();
        let scratch_fwd = fwd.make_scratch_vec();
        let scratch_inv = inv.make_scratch_vec();
        Analyzer {
            fwd,
            inv,
            window,
            buf: vec![0.0; N],
            spec,
            scratch_fwd,
            scratch_inv,
        }
    }

    /// Windows `frame` (length N), transforms it into `self.spec` and writes
    /// the band levels in dB into `level`.
    pub fn analyse(&mut self, frame: &[f32], level: &mut [f32; BANDS]) {
        for ((b, &x), &w) in self.buf.iter_mut().zip(frame).zip(&self.window) {
            *b = x * w;
        }
        // Lengths are fixed by construction, so the transform cannot fail.
        let _ = self
            .fwd
            .process_with_scratch(&mut self.buf, &mut self.spec, &mut self.scratch_fwd);
        for (b, l) in level.iter_mut().enumerate() {
            let lo = BIN_LO + b * BAND_BINS;
            let p: f32 = self.spec[lo..lo + BAND_BINS]
                .iter()
                .map(|c| c.norm_sqr())
                .sum();
            *l = 10.0 * (p + POWER_FLOOR).log10();
        }
    }

    /// Adds the windowed inverse transform of `spec` with band `b` scaled by
    /// `gain_minus_one[b]` (everything else zero) into `out`.
    pub fn synthesize_mark(
        &mut self,
        spec: &[Complex32],
        gain_minus_one: &[f32; BANDS],
        out: &mut [f32],
    ) {
        let mut mark = vec![Complex32::new(0.0, 0.0); self.spec.len()];
        for (b, &g) in gain_minus_one.iter().enumerate() {
            let lo = BIN_LO + b * BAND_BINS;
            for k in lo..lo + BAND_BINS {
                mark[k] = spec[k] * g;
            }
        }
        let _ = self
            .inv
            .process_with_scratch(&mut mark, &mut self.buf, &mut self.scratch_inv);
        let scale = 1.0 / N as f32;
        for ((o, &x), &w) in out.iter_mut().zip(&self.buf).zip(&self.window) {
            *o += x * w * scale;
        }
    }
}

/// Whitens band levels across frequency: each band minus the mean of its
/// neighbours, clipped to [−[`CLIP_LOW_DB`], [`CLIP_DB`]]. Removes the spectral envelope, any
/// broadband gain and smooth filtering.
pub fn whiten(level: &[f32; BANDS], out: &mut [f32; BANDS]) {
    if level
        .iter()
        .all(|&l| l <= 10.0 * POWER_FLOOR.log10() + 0.01)
    {
        out.fill(0.0);
        return;
    }
    for b in 0..BANDS {
        let lo = b.saturating_sub(NEIGHBOURS);
        let hi = (b + NEIGHBOURS).min(BANDS - 1);
        let mut s = 0.0;
        for (i, &l) in level.iter().enumerate().take(hi + 1).skip(lo) {
            if i != b {
                s += l;
            }
        }
        let m = s / (hi - lo) as f32;
        out[b] = (level[b] - m).clamp(-CLIP_LOW_DB, CLIP_DB);
    }
}

/// How the per-group statistics `Σ_{b in g} p_b · whiten(level)_b` respond
/// to adding `shape[b]` dB to each band (ignoring clipping); added to `out`.
pub fn whitened_response(signs: &[f32], shape: &[f32; BANDS], out: &mut [f32; GROUPS]) {
    for b in 0..BANDS {
        let lo = b.saturating_sub(NEIGHBOURS);
        let hi = (b + NEIGHBOURS).min(BANDS - 1);
        let mut s = 0.0;
        for (i, &v) in shape.iter().enumerate().take(hi + 1).skip(lo) {
            if i != b {
                s += v;
            }
        }
        out[b % GROUPS] += signs[b] * (shape[b] - s / (hi - lo) as f32);
    }
}

/// Masking headroom per band, in dB relative to the band itself: how far
/// below the band's own level a change stays masked. A band is masked by
/// itself (offset `SELF_DB`, 18 dB) and by louder neighbours through a spreading
/// function that falls `SPREAD_DB` per band.
pub fn masking_ratio(level: &[f32; BANDS], out: &mut [f32; BANDS]) {
    const SELF_DB: f32 = 18.0;
    const SPREAD_DB: f32 = 8.0;
    const MAX_RATIO_DB: f32 = -14.0;
    for b in 0..BANDS {
        let mut t = f32::MIN;
        for (i, &l) in level.iter().enumerate() {
            let d = (i as f32 - b as f32).abs() * SPREAD_DB;
            t = t.max(l - d);
        }
        out[b] = (t - SELF_DB - level[b]).min(MAX_RATIO_DB);
    }
}
