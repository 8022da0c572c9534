//! The embedder: whole-signal and streaming.

use crate::dsp::{masking_ratio, whiten, whitened_response, Analyzer, LoudnessGate, CLIP_DB, CLIP_LOW_DB};
use crate::layout::{codeword, Layout, BANDS, GROUPS, HOP, N, RATE, UNITS, UNIT_FRAMES};
use crate::{Key, WatermarkError};

/// Target of the per-cell mean statistic of a unit, in dB (before attacks).
/// Sets the mark's strength: robustness against SNR (see BENCHMARKS.md,
/// where the measured trade-off curve against segmental SNR is listed).
/// Higher than when every band got the same dB change (0.4), because the
/// energy weighting below makes each dB of statistic much cheaper, and
/// higher again (0.9 → 1.3) since quiet units carry no mark at all
/// ([`crate::dsp::GATE_DB`]).
const TARGET_DB: f32 = 1.3;
/// Minimum push even where the host already agrees with the symbol.
const MIN_PUSH_DB: f32 = 0.12;
/// Fraction of an intended band-level change that survives overlap-add and
/// re-analysis (measured on speech; see the `realised_shift` test).
const REALISED: f32 = 0.65;
/// Largest change of one band in one frame, in dB: bounds the mark where
/// the masking estimate allows a lot (sparse, synthetic spectra).
const MAX_BAND_DB: f32 = 3.0;
/// Largest multiple of the masking headroom a unit may use.
const MAX_SCALE: f32 = 6.0;
/// How a cell's change shrinks with its power: the dB change is weighted
/// by `(P_ref / P)^ENERGY_EXPONENT`, `P_ref` being the frame's mean band
/// power. The detector reads dB (a band's level against its neighbours)
/// while SNR pays for power, so a 1 dB change in a band 10 dB louder costs
/// 10× the error energy for the same statistic; with a flat dB change the
/// loud bands below 1.5 kHz held 73 % of the mark's energy. At 0.5 every
/// cell would cost the same energy per dB; above it quieter cells are
/// favoured further. Measured (BENCHMARKS.md): 0, 0.3, 0.5, 0.75 and 1.
const ENERGY_EXPONENT: f32 = 0.75;
/// Cap of that weight for cells quieter than the reference: quiet cells
/// are the first buried by added noise and codec quantization, so they
/// may take at most this multiple of the flat change (4 keeps more
/// robustness to 20 dB white noise, 16 more SNR; see BENCHMARKS.md).
const MAX_CELL_WEIGHT: f32 = 8.0;
/// A cell in a spectral valley (whitened level below the detector's lower
/// clip) is pushed up only if it lies within this many dB of the clip; the
/// detector reads nothing from deeper valleys, and pushing a valley cell
/// further down changes nothing, so those changes would be pure error energy.
const VALLEY_REACH_DB: f32 = 1.0;

/// Embeds one key's pattern carrying one 32-bit payload.
///
/// Works on mono `f32` audio at 24 kHz ([`crate::RATE`]); see
/// [`Watermarker::embed_at_rate`] for other rates. The mark is additive:
/// `output = input + mark`, with the mark a keyed, masking-shaped change of
/// the levels of 48 bands between 516 Hz and 5 kHz. Output may exceed ±1
/// where the input is already at full scale; writers clip.
#[derive(Clone)]
pub struct Watermarker {
    layout: Layout,
    /// Target symbol per unit position and band group.
    symbols: Vec<[f32; GROUPS]>,
    payload: u32,
}

impl Watermarker {
    /// Prepares the patterns for `key` and the symbols for `payload`.
    pub fn new(key: &Key, payload: u32) -> Self {
        let layout = Layout::new(key.bytes());
        let cw = codeword(payload);
        let symbols = (0..UNITS).map(|j| layout.symbols(j, &cw)).collect();
        Watermarker {
            layout,
            symbols,
            payload,
        }
    }

    /// The payload this marker embeds.
    pub fn payload(&self) -> u32 {
        self.payload
    }

    /// Starts an independent stream (the pattern restarts at its first unit).
    pub fn stream(&self) -> EmbedStream<'_> {
        self.clone().into_stream()
    }

    /// Like [`Watermarker::stream`], owning the marker (for streams that
    /// outlive the caller's borrow, such as an engine's speech iterator).
    pub fn into_stream(self) -> EmbedStream<'static> {
        EmbedStream {
            wm: std::sync::Arc::new(self),
            _borrow: std::marker::PhantomData,
            an: Analyzer::new(),
            gate: LoudnessGate::new(),
            input: Vec::new(),
            mark: Vec::new(),
            base: 0,
            unit: 0,
            emitted: 0,
            total: 0,
        }
    }

    /// Marks a whole 24 kHz mono signal; identical to streaming it in any
    /// chunking and calling [`EmbedStream::finish`].
    pub fn embed(&self, signal: &[f32]) -> Result<Vec<f32>, WatermarkError> {
        let mut s = self.stream();
        let mut out = s.push(signal)?;
        out.extend(s.finish());
        Ok(out)
    }

    /// Marks mono audio at any sample rate: the mark is computed at 24 kHz
    /// and resampled back, so the input passes through unchanged apart from
    /// the added mark (no resampling of the content itself).
    pub fn embed_at_rate(&self, signal: &[f32], rate: u32) -> Result<Vec<f32>, WatermarkError> {
        if rate == RATE {
            return self.embed(signal);
        }
        if rate < 12_000 {
            return Err(WatermarkError::Unsupported(format!(
                "sample rate {rate} Hz is below 12 kHz; the mark needs content up to 5 kHz"
            )));
        }
        // Both conversions only need the marked bands (516 Hz–5 kHz) intact:
        // the analysis reads nothing else and the mark holds nothing else, so
        // the detector's short filter serves (see `rate.rs`).
        let x24 = crate::rate::convert(signal, rate, RATE)?;
        let y24 = self.embed(&x24)?;
        let mark24: Vec<f32> = y24.iter().zip(&x24).map(|(y, x)| y - x).collect();
        let mark = crate::rate::convert(&mark24, RATE, rate)?;
        Ok(signal
            .iter()
            .enumerate()
            .map(|(i, &x)| x + mark.get(i).copied().unwrap_or(0.0))
            .collect())
    }
}

/// Streaming embedder: feed chunks of any size, get marked samples back.
///
/// The output is bit-identical to [`Watermarker::embed`] on the
/// concatenated input. Latency: a chunk's last 512–1024 samples (21–43 ms
/// at 24 kHz) are held back until the next unit of two STFT frames is
/// complete; [`EmbedStream::finish`] returns them.
pub struct EmbedStream<'a> {
    wm: std::sync::Arc<Watermarker>,
    _borrow: std::marker::PhantomData<&'a Watermarker>,
    an: Analyzer,
    gate: LoudnessGate,
    /// Input samples from absolute index `base`.
    input: Vec<f32>,
    /// Accumulated mark from absolute index `base`.
    mark: Vec<f32>,
    base: usize,
    /// Next unit (absolute) to process.
    unit: usize,
    /// Samples returned so far.
    emitted: usize,
    /// Samples received so far.
    total: usize,
}

impl EmbedStream<'_> {
    /// Most samples this stream holds back at any time.
    pub const MAX_LATENCY: usize = UNIT_FRAMES * HOP + N;

    /// Feeds a chunk and returns the samples that are now final.
    ///
    /// Non-finite input is refused (and the stream is left unchanged).
    pub fn push(&mut self, chunk: &[f32]) -> Result<Vec<f32>, WatermarkError> {
        if let Some(i) = chunk.iter().position(|s| !s.is_finite()) {
            return Err(WatermarkError::Audio(avow_audio::AudioError::NonFinite {
                index: self.total + i,
            }));
        }
        self.input.extend_from_slice(chunk);
        self.mark.resize(self.input.len(), 0.0);
        self.total += chunk.len();
        self.run(self.total);
        Ok(self.drain(self.final_upto()))
    }

    /// Ends the stream and returns the held-back samples.
    pub fn finish(mut self) -> Vec<f32> {
        let total = self.total;
        // Zero-pad so every unit that starts inside the signal is processed.
        let pad_to = (self.unit_end_needed(self.units_covering(total))).max(total);
        self.input.resize(pad_to - self.base, 0.0);
        self.mark.resize(pad_to - self.base, 0.0);
        self.run(pad_to);
        self.drain(total)
    }

    fn units_covering(&self, len: usize) -> usize {
        // Units whose first frame starts before `len`.
        len.div_ceil(UNIT_FRAMES * HOP)
    }

    /// Input needed (absolute end) to process units `..u`.
    fn unit_end_needed(&self, u: usize) -> usize {
        if u == 0 {
            0
        } else {
            (u * UNIT_FRAMES - 1) * HOP + N
        }
    }

    fn final_upto(&self) -> usize {
        // Frames before the next unfinished one are all synthesized.
        (self.unit * UNIT_FRAMES * HOP).min(self.total)
    }

    fn run(&mut self, avail: usize) {
        while self.unit_end_needed(self.unit + 1) <= avail {
            self.process_unit();
            self.unit += 1;
        }
    }

    fn drain(&mut self, upto: usize) -> Vec<f32> {
        let upto = upto.min(self.total);
        if upto <= self.emitted {
            return Vec::new();
        }
        let (a, b) = (self.emitted - self.base, upto - self.base);
        let out: Vec<f32> = self.input[a..b]
            .iter()
            .zip(&self.mark[a..b])
            .map(|(x, m)| x + m)
            .collect();
        self.emitted = upto;
        // Drop what no future frame will touch.
        let keep_from = (self.unit * UNIT_FRAMES * HOP).min(self.emitted);
        if keep_from > self.base {
            let d = keep_from - self.base;
            self.input.drain(..d);
            self.mark.drain(..d);
            self.base = keep_from;
        }
        out
    }

    fn process_unit(&mut self) {
        let u = self.unit;
        let j = u % UNITS;
        // A handle of our own, so the marker's tables stay borrowed while `self` is mutated.
        let wm = std::sync::Arc::clone(&self.wm);
        let signs = wm.layout.unit_signs(j);
        let tau = wm.symbols[j];
        let mut level = [0.0f32; BANDS];
        let mut white = [0.0f32; BANDS];
        let mut ratio = [0.0f32; BANDS];
        let mut host = [0.0f32; GROUPS];
        let mut response = [0.0f32; GROUPS];
        let mut shapes = [[0.0f32; BANDS]; UNIT_FRAMES];
        let mut specs = Vec::with_capacity(UNIT_FRAMES);
        let mut power = 0.0f32;
        for (f, shape) in shapes.iter_mut().enumerate() {
            let start = (u * UNIT_FRAMES + f) * HOP - self.base;
            let frame = &self.input[start..start + N];
            self.an.analyse(frame, &mut level);
            power += self.an.band_power / UNIT_FRAMES as f32;
            specs.push(self.an.spec.clone());
            whiten(&level, &mut white);
            for b in 0..BANDS {
                host[b % GROUPS] += tau[b % GROUPS] * signs[b] * white[b];
            }
            masking_ratio(&level, &mut ratio);
            cell_shape(&level, &white, &ratio, signs, &tau, shape);
            let mut resp = [0.0f32; GROUPS];
            whitened_response(signs, shape, &mut resp);
            for g in 0..GROUPS {
                response[g] += tau[g] * resp[g];
            }
        }
        let seconds = (UNIT_FRAMES * HOP) as f32 / RATE as f32;
        if !self.gate.open(LoudnessGate::db(power), seconds) {
            return;
        }
        // Every band group is steered to its own symbol: a sync symbol, or
        // its own coded bit in a data unit.
        let cells = (UNIT_FRAMES * BANDS / GROUPS) as f32;
        let scale = scales(&host, &response, cells, None);
        self.add_mark(u, &shapes, &specs, &scale);
        // Closed loop: measure what the mark achieved on the re-analysed
        // output (overlap with neighbouring frames and clipping lose part of
        // it) and top it up once.
        let mut got = [0.0f32; GROUPS];
        let mut buf = vec![0.0f32; N];
        for f in 0..UNIT_FRAMES {
            let start = (u * UNIT_FRAMES + f) * HOP - self.base;
            for (o, (x, m)) in buf.iter_mut().zip(
                self.input[start..start + N]
                    .iter()
                    .zip(&self.mark[start..start + N]),
            ) {
                *o = x + m;
            }
            self.an.analyse(&buf, &mut level);
            whiten(&level, &mut white);
            for b in 0..BANDS {
                got[b % GROUPS] += tau[b % GROUPS] * signs[b] * white[b];
            }
        }
        let extra = scales(&host, &got, cells, Some(&scale));
        if extra.iter().any(|&s| s > 0.0) {
            self.add_mark(u, &shapes, &specs, &extra);
        }
    }

    fn add_mark(
        &mut self,
        u: usize,
        shapes: &[[f32; BANDS]; UNIT_FRAMES],
        specs: &[Vec<realfft::num_complex::Complex32>],
        scale: &[f32; GROUPS],
    ) {
        let mut gm1 = [0.0f32; BANDS];
        for (f, shape) in shapes.iter().enumerate() {
            let start = (u * UNIT_FRAMES + f) * HOP - self.base;
            for b in 0..BANDS {
                let db = (scale[b % GROUPS] * shape[b]).clamp(-MAX_BAND_DB, MAX_BAND_DB);
                gm1[b] = 10f32.powf(db / 20.0) - 1.0;
            }
            self.an
                .synthesize_mark(&specs[f], &gm1, &mut self.mark[start..start + N]);
        }
    }
}

/// Scale per band group for the masking-shaped change. Without `first`,
/// `resp` is the predicted response per unit scale; with it, `resp` is the
/// statistic measured after applying `first`, and the result is the
/// additional scale still needed.
fn scales(
    host: &[f32; GROUPS],
    resp: &[f32; GROUPS],
    cells: f32,
    first: Option<&[f32; GROUPS]>,
) -> [f32; GROUPS] {
    std::array::from_fn(|g| {
        let (h, r) = (host[g] / cells, resp[g] / cells);
        match first.map(|f| f[g]) {
            None => group_scale(h, r),
            Some(s0) => {
                let need = (TARGET_DB - h).max(MIN_PUSH_DB);
                let achieved = r - h;
                if s0 <= 0.0 || achieved <= 0.05 * need || r >= TARGET_DB.min(h + need) {
                    return 0.0;
                }
                let want = s0 * need / achieved;
                (want.min(MAX_SCALE) - s0).max(0.0)
            }
        }
    })
}

/// Multiple of the masking-shaped change that moves a statistic whose host
/// value is `host` (already times the symbol) past the target.
fn group_scale(host: f32, response: f32) -> f32 {
    if response <= 1e-6 {
        return 0.0;
    }
    let need = (TARGET_DB - host).max(MIN_PUSH_DB);
    (need / (REALISED * response)).min(MAX_SCALE)
}

/// Per-band change of one frame, in dB at unit scale (sign included):
/// masking headroom times the energy weight, zero where the detector's
/// clipped statistic would not respond.
fn cell_shape(
    level: &[f32; BANDS],
    white: &[f32; BANDS],
    ratio: &[f32; BANDS],
    signs: &[f32],
    tau: &[f32; GROUPS],
    shape: &mut [f32; BANDS],
) {
    let mean_power = level.iter().map(|l| 10f32.powf(l / 10.0)).sum::<f32>() / BANDS as f32;
    let reference_db = 10.0 * mean_power.max(1e-12).log10();
    for b in 0..BANDS {
        let direction = tau[b % GROUPS] * signs[b];
        let responds = if direction > 0.0 {
            white[b] > -CLIP_LOW_DB - VALLEY_REACH_DB && white[b] < CLIP_DB
        } else {
            white[b] > -CLIP_LOW_DB
        };
        if !responds {
            shape[b] = 0.0;
            continue;
        }
        let weight = 10f32
            .powf(-ENERGY_EXPONENT * (level[b] - reference_db) / 10.0)
            .min(MAX_CELL_WEIGHT);
        let headroom = 10f32.powf(ratio[b] / 20.0);
        shape[b] = weight * direction * 20.0 * (1.0 + headroom).log10();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One frame's inputs to `cell_shape`.
    struct Frame {
        level: [f32; BANDS],
        white: [f32; BANDS],
        ratio: [f32; BANDS],
        signs: Vec<f32>,
        tau: [f32; GROUPS],
    }

    impl Frame {
        fn shape(&self) -> [f32; BANDS] {
            let mut shape = [0.0f32; BANDS];
            cell_shape(
                &self.level,
                &self.white,
                &self.ratio,
                &self.signs,
                &self.tau,
                &mut shape,
            );
            shape
        }
    }

    /// Every band inside the detector's linear range, bands 0..4, 8..12,
    /// ... pushed up and the others down.
    fn frame() -> Frame {
        Frame {
            level: [-30.0; BANDS],
            white: [1.0; BANDS],
            ratio: [-18.0; BANDS],
            signs: (0..BANDS)
                .map(|b| {
                    if (b / GROUPS).is_multiple_of(2) {
                        1.0
                    } else {
                        -1.0
                    }
                })
                .collect(),
            tau: [1.0; GROUPS],
        }
    }

    #[test]
    fn loud_cells_get_smaller_level_changes_than_quiet_ones() {
        // SNR pays for power: a band 10 dB above the others must get a
        // much smaller dB change, one 10 dB below a larger one (up to the
        // cap).
        let mut f = frame();
        f.level[20] = -20.0;
        f.level[30] = -40.0;
        let shape = f.shape();
        let flat = shape[10].abs();
        assert!(flat > 0.0);
        assert!(shape[20].abs() < 0.3 * flat, "{} vs {flat}", shape[20]);
        assert!(shape[30].abs() > 3.0 * flat, "{} vs {flat}", shape[30]);
        assert!(shape[30].abs() <= MAX_CELL_WEIGHT * flat * 1.5);
        // Signs follow the pattern.
        for (b, (s, p)) in shape.iter().zip(&f.signs).enumerate() {
            assert_eq!(*s > 0.0, *p > 0.0, "band {b}");
        }
    }

    #[test]
    fn cells_the_detector_cannot_read_are_left_alone() {
        // The detector clips whitened levels to [-CLIP_LOW_DB, CLIP_DB]:
        // changes it cannot see are pure error energy.
        let mut f = frame();
        let (up, down, peak) = (0, GROUPS, 2 * GROUPS);
        assert!(f.signs[up] > 0.0 && f.signs[up + 1] > 0.0 && f.signs[peak] > 0.0);
        assert!(f.signs[down] < 0.0 && f.signs[down + 1] < 0.0);
        f.white[up] = -CLIP_LOW_DB - VALLEY_REACH_DB - 0.5; // deep valley, up: out of reach
        f.white[up + 1] = -CLIP_LOW_DB - 0.5 * VALLEY_REACH_DB; // shallow valley, up: within reach
        f.white[down] = -CLIP_LOW_DB - 0.1; // valley, down: already clipped
        f.white[peak] = CLIP_DB + 0.1; // clipped peak, up
        let shape = f.shape();
        assert_eq!(shape[up], 0.0);
        assert_eq!(shape[down], 0.0);
        assert_eq!(shape[peak], 0.0);
        assert!(shape[up + 1] > 0.0);
        assert!(shape[down + 1] < 0.0);
    }
}
