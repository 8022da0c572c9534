//! The detector: synchronization search, calibrated p-value, payload and
//! localization.

use crate::code::INFO_BITS;
use crate::dsp::{whiten, Analyzer, LoudnessGate};
use crate::layout::{
    Layout, Role, BANDS, BLOCK_FRAMES, CODED_BITS, GROUPS, HOP, N, RATE, SYNC_UNITS, UNITS,
    UNIT_FRAMES,
};

/// Statistic terms per frame: one per unit position and band group.
const TERMS: usize = UNITS * GROUPS;
use crate::{Key, WatermarkError};

/// Default per-file false-positive bound: `detected` needs `p_value ≤` this.
pub const DEFAULT_THRESHOLD: f64 = 1e-6;
/// Share of the false-positive budget for the whole-signal test when
/// windows are searched too (the rest goes to the windows).
const WHOLE_SHARE: f64 = 0.9;
/// Frames per chunk of the window search: half a block.
const WINDOW_STRIDE: usize = BLOCK_FRAMES / 2;
/// Window lengths in chunks: one and two blocks (about 3 s and 6 s), so
/// that a marked excerpt spliced into unmarked audio is scored without
/// the unmarked remainder diluting it.
const WINDOW_CHUNKS: [usize; 2] = [2, 4];
/// Longest signal (in chunks, about 96 s) searched window by window.
const MAX_WINDOWED_CHUNKS: usize = 64;
/// Weight of the decision-feedback data terms relative to the sync terms:
/// their feedback sign is often wrong at low SNR, so at full weight they
/// would add more noise than signal. 0.8 since every coded bit is spread
/// over eight units (0.4 before, when a unit's cells shared one bit):
/// measured best on short phrases and on 20 dB noise alike (BENCHMARKS.md).
const DATA_WEIGHT: f64 = 0.8;
/// Share of the false-positive budget for the alignment of a mark whose
/// stream starts at the file's first sample, which is how every file avow
/// writes begins. One alignment instead of 560 lowers the score it needs
/// from 6.09 to 5.11 (the search's own rises to 6.20): a "Yes." of 0.7 s
/// marked on its own scores 5.5–6. The searched alignments keep the rest
/// of the budget.
const START_SHARE: f64 = 0.5;
/// Phases per search whose full presence score is computed (see
/// `Detector::best_of`).
const FULL_SCORE_PHASES: usize = 8;
/// Phases tried in each window (the best of the whole-signal sync ranking).
const WINDOW_PHASES: usize = 16;
/// Sub-hop offsets tried (samples at 24 kHz); together with the frame phase
/// they cover every alignment to within 64 samples.
const OFFSETS: [usize; 2] = [0, HOP / 2];
/// Longest input analysed in one call (memory grows with length: about
/// 200 bytes per 10 ms frame, plus the samples).
const MAX_SECONDS: f64 = 4.0 * 3600.0;
/// Noise floor percentile of a band: `1 / FLOOR_PERCENTILE_DIV` (10 %).
const FLOOR_PERCENTILE_DIV: usize = 10;
/// Result of looking for the mark in one signal.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Detection {
    /// Whether the mark is present at the chosen false-positive bound.
    pub detected: bool,
    /// Upper bound on the probability that unmarked audio scores at least
    /// this high (distribution-free; includes the search over alignments).
    pub p_value: f64,
    /// Presence score of the chosen alignment (self-normalized; `p_value`
    /// is its tail bound times the alignments of its family, divided by the
    /// family's share of the false-positive budget).
    pub score: f64,
    /// The decoded payload, when detected and its CRC-8 checks.
    pub payload: Option<u32>,
    /// The 32 decoded payload bits whether or not they check.
    pub raw_bits: u32,
    /// Whether the decoded CRC-8 matches the decoded payload bits. False
    /// also when the signal holds less than half of the coded bits (a
    /// marked excerpt shorter than about 1.5 s): the payload is then
    /// underdetermined and any CRC match would be chance.
    pub crc_ok: bool,
    /// Estimated probability that all 40 information bits (payload and
    /// CRC) are right, from the decoder's per-bit log-likelihood ratios.
    pub payload_confidence: f64,
    /// Time ranges (seconds) whose frames carry the mark.
    pub ranges: Vec<(f64, f64)>,
    /// Seconds of audio analysed.
    pub duration: f64,
}

/// Bands per group.
const PER_GROUP: usize = BANDS / GROUPS;
/// Most cells one coded bit has in a block (each group carries every coded
/// bit once per `CODED_BITS` data positions).
const MAX_BIT_TERMS: usize = (UNITS - SYNC_UNITS).div_ceil(CODED_BITS) * GROUPS;

/// Looks for one key's mark.
#[derive(Clone)]
pub struct Detector {
    layout: Layout,
    /// `grouped[(g * PER_GROUP + i) * UNITS + j]`: sign of band
    /// `i * GROUPS + g` in unit position `j` (unit positions contiguous, so
    /// a frame's statistics for all positions are a few long vector sums).
    grouped: Vec<f32>,
    /// Unit positions of the sync sequence.
    sync_positions: Vec<usize>,
    /// Terms (`j * GROUPS + g`) carrying each coded bit.
    bit_terms: Vec<Vec<usize>>,
    threshold: f64,
    speed_search: bool,
}

/// Speed factors tried by [`Detector::with_speed_search`]: 0.95 to 1.05 in
/// steps of 0.005, excluding 1.
fn speed_factors() -> impl Iterator<Item = f64> {
    (-10i32..=10)
        .filter(|&k| k != 0)
        .map(|k| 1.0 + 0.005 * f64::from(k))
}

fn grouped_signs(layout: &Layout) -> Vec<f32> {
    let mut out = vec![0.0f32; TERMS * PER_GROUP];
    for j in 0..UNITS {
        let s = layout.unit_signs(j);
        for b in 0..BANDS {
            out[((b % GROUPS) * PER_GROUP + b / GROUPS) * UNITS + j] = s[b];
        }
    }
    out
}

impl Detector {
    /// A detector for `key` with the default threshold ([`DEFAULT_THRESHOLD`]).
    pub fn new(key: &Key) -> Self {
        let layout = Layout::new(key.bytes());
        let mut bit_terms = vec![Vec::new(); CODED_BITS];
        let mut sync_positions = Vec::new();
        for (j, role) in layout.roles.iter().enumerate() {
            match *role {
                Role::Sync => sync_positions.push(j),
                Role::Data => {
                    for g in 0..GROUPS {
                        bit_terms[usize::from(layout.bits[j * GROUPS + g])].push(j * GROUPS + g);
                    }
                }
            }
        }
        Detector {
            grouped: grouped_signs(&layout),
            layout,
            sync_positions,
            bit_terms,
            threshold: DEFAULT_THRESHOLD,
            speed_search: false,
        }
    }

    /// Also searches time-stretch and resample-speed factors from 0.95 to
    /// 1.05 (40 more alignment searches) when the plain search finds
    /// nothing. Costs up to 40× the detection time on unmarked audio; the
    /// p-value bound then counts all 41 × 560 alignments, for every file.
    pub fn with_speed_search(mut self, on: bool) -> Self {
        self.speed_search = on;
        self
    }

    /// Sets the per-file p-value threshold.
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// Detects in decoded audio of any rate and channel count.
    pub fn detect_audio(&self, audio: &avow_audio::Audio) -> Result<Detection, WatermarkError> {
        self.detect(&audio.to_mono(), audio.sample_rate)
    }

    /// Detects in mono samples at `rate` Hz.
    pub fn detect(&self, samples: &[f32], rate: u32) -> Result<Detection, WatermarkError> {
        avow_audio::check_finite(samples)?;
        if rate < 8_000 {
            return Err(WatermarkError::Unsupported(format!(
                "sample rate {rate} Hz is below 8 kHz"
            )));
        }
        // Refused before any work: a huge input costs nothing to turn away.
        let input_seconds = samples.len() as f64 / f64::from(rate);
        if input_seconds > MAX_SECONDS {
            return Err(WatermarkError::Unsupported(format!(
                "{input_seconds:.0} s of audio; split inputs longer than {MAX_SECONDS:.0} s"
            )));
        }
        let x = if rate == RATE {
            std::borrow::Cow::Borrowed(samples)
        } else {
            std::borrow::Cow::Owned(crate::rate::to_mark_rate(samples, rate)?)
        };
        let duration = x.len() as f64 / f64::from(RATE);
        if x.len() < N + HOP * UNIT_FRAMES {
            return Err(WatermarkError::TooShort { seconds: duration });
        }
        let mut an = Analyzer::new();
        let base_hop = HOP as f64;
        let Some(found) = self.search(&mut an, &x, base_hop, true) else {
            return Err(WatermarkError::TooShort { seconds: duration });
        };
        let mut best = found.whole;
        // Where the chosen analysis grid lives: the input itself with a
        // stretched hop (tempo), or the input resampled (speed).
        let mut stretched: Option<(Vec<f32>, f64)> = None;
        let mut hop = base_hop;
        let alignments = (OFFSETS.len() * BLOCK_FRAMES) as f64;
        let mut trials = alignments;
        if self.speed_search {
            trials *= 1.0 + 2.0 * speed_factors().count() as f64;
            if tail_bound(best.score) * trials > self.threshold {
                for s in speed_factors() {
                    if let Some(c) = self.search(&mut an, &x, base_hop / s, false) {
                        if c.whole.score > best.score {
                            best = c.whole;
                            hop = base_hop / s;
                            stretched = None;
                        }
                    }
                    let to = (f64::from(RATE) * s).round() as u32;
                    let xs = crate::rate::convert(&x, RATE, to)?;
                    if let Some(c) = self.search(&mut an, &xs, base_hop, false) {
                        if c.whole.score > best.score {
                            best = c.whole;
                            hop = base_hop;
                            stretched = Some((xs, f64::from(to) / f64::from(RATE)));
                        }
                    }
                }
            }
        }
        // Bonferroni over three families: the stream-start alignment gets
        // START_SHARE of the false-positive budget; of the rest, the
        // whole-file search gets WHOLE_SHARE and the windows the remainder.
        let mut p_value = (trials * tail_bound(best.score)).min(1.0);
        if let Some(w) = found.window {
            p_value = (p_value / WHOLE_SHARE).min(1.0);
            let p_window =
                alignments * found.windows as f64 * tail_bound(w.score) / (1.0 - WHOLE_SHARE);
            if p_window < p_value {
                p_value = p_window;
                best = w;
                hop = base_hop;
                stretched = None;
            }
        }
        // The stream-start alignment is a third family with its own share.
        p_value = (p_value / (1.0 - START_SHARE)).min(1.0);
        if let Some(start) = found.start {
            let p_start = tail_bound(start.score) / START_SHARE;
            if p_start < p_value {
                p_value = p_start;
                best = start;
                hop = base_hop;
                stretched = None;
            }
        }
        let score = best.score;
        let detected = p_value <= self.threshold;
        let (raw, crc_ok, confidence, signs) = self.decode(&best.fold);
        let ranges = if detected {
            let (sig, time_scale): (&[f32], f64) = match &stretched {
                Some((xs, r)) => (xs, *r),
                None => (&x, 1.0),
            };
            let mut agree = Vec::new();
            self.correlations(&mut an, &sig[best.offset..], hop, |t, row| {
                let j = position(t, best.phase);
                agree.push(
                    (0..GROUPS)
                        .map(|g| signs[j * GROUPS + g] * row[j * GROUPS + g])
                        .sum::<f32>(),
                );
            });
            localize(&agree, best.offset, hop)
                .into_iter()
                .map(|(a, b)| (a / time_scale, (b / time_scale).min(duration)))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Detection {
            detected,
            p_value,
            score,
            payload: if detected && crc_ok { Some(raw) } else { None },
            raw_bits: raw,
            crc_ok,
            payload_confidence: if detected { confidence } else { 0.0 },
            ranges,
            duration,
        })
    }

    /// Best alignment (sub-hop offset and block phase) for frames spaced
    /// `hop` samples apart, over the whole signal and, with `windows` and
    /// a signal long enough, over windows of one and two blocks.
    fn search(&self, an: &mut Analyzer, x: &[f32], hop: f64, windows: bool) -> Option<Search> {
        let mut out: Option<Search> = None;
        for k in 0..OFFSETS.len() {
            let off = (hop * k as f64 / OFFSETS.len() as f64).round() as usize;
            if off >= x.len() {
                continue;
            }
            // Per-position sums of each chunk of half a block.
            // Past MAX_WINDOWED_CHUNKS they are merged into `whole` and
            // only the whole-signal sums are kept (bounded memory).
            let mut chunks: Vec<Positions> = Vec::new();
            let mut whole = Positions::new();
            let mut overflow = !windows;
            self.correlations(an, &x[off..], hop, |t, row| {
                if overflow {
                    whole.add(t, row);
                    return;
                }
                let c = t / WINDOW_STRIDE;
                if c >= MAX_WINDOWED_CHUNKS {
                    for ch in chunks.drain(..) {
                        whole.merge(&ch);
                    }
                    overflow = true;
                    whole.add(t, row);
                    return;
                }
                while chunks.len() <= c {
                    chunks.push(Positions::chunk(chunks.len()));
                }
                chunks[c].add(t, row);
            });
            for c in &chunks {
                whole.merge(c);
            }
            let ranking = self.phase_ranking(&whole);
            let cand = self.best_of(&whole, off, &ranking[..FULL_SCORE_PHASES]);
            let res = out.get_or_insert_with(|| Search {
                whole: cand.clone(),
                window: None,
                windows: 0,
                start: None,
            });
            if off == 0 {
                res.start = Some(self.best_of(&whole, off, &[0]));
            }
            if cand.score > res.whole.score {
                res.whole = cand;
            }
            // Windows pay off only when the signal is clearly longer than
            // the longest window; the cap bounds time and memory.
            let n = chunks.len();
            if overflow || n < 2 * WINDOW_CHUNKS[1] {
                continue;
            }
            // Only the phases that lead the whole-signal sync ranking are
            // tried in windows (a spliced mark keeps its phase, and its sync
            // part stands out over the whole signal too); the p-value still
            // counts every phase of every window. Folding each chunk once
            // per phase makes a window's fold a sum of its chunks' folds.
            let phases = &ranking[..WINDOW_PHASES];
            let folds: Vec<Vec<Fold>> = chunks
                .iter()
                .map(|c| phases.iter().map(|&ph| fold(c, ph)).collect())
                .collect();
            for &len in &WINDOW_CHUNKS {
                for start in 0..=(n - len) {
                    res.windows += 1;
                    for (i, &phase) in phases.iter().enumerate() {
                        let mut f = folds[start][i].clone();
                        for c in &folds[start + 1..start + len] {
                            f.add(&c[i]);
                        }
                        let score = self.sync_score(&f);
                        if res.window.as_ref().is_none_or(|b| score > b.score) {
                            res.window = Some(Candidate {
                                score,
                                offset: off,
                                phase,
                                fold: f,
                            });
                        }
                    }
                }
            }
        }
        // `windows` counted every window of every offset; the alignment
        // count already includes the offsets.
        if let Some(r) = out.as_mut() {
            r.windows /= OFFSETS.len();
        }
        out
    }

    /// Block phases ordered by the sync part of the presence score, best
    /// first.
    fn phase_ranking(&self, p: &Positions) -> Vec<usize> {
        let mut sync: Vec<(f64, usize)> = (0..BLOCK_FRAMES)
            .map(|phase| {
                let (num, den) = self.sync_part(&fold(p, phase));
                (if den > 0.0 { num / den.sqrt() } else { 0.0 }, phase)
            })
            .collect();
        sync.sort_by(|a, b| b.0.total_cmp(&a.0));
        sync.into_iter().map(|(_, phase)| phase).collect()
    }

    /// Best of the given block phases by the full presence score.
    ///
    /// The full score (with the costlier decision-feedback data terms) is
    /// computed only for the phases whose sync part ranks highest. The
    /// p-value still counts every alignment: whichever alignment is
    /// reported, the chance that some alignment of unmarked audio scores
    /// that high is at most the union bound over all of them.
    fn best_of(&self, p: &Positions, offset: usize, phases: &[usize]) -> Candidate {
        let mut best: Option<Candidate> = None;
        for &phase in phases {
            let fold = fold(p, phase);
            let score = self.sync_score(&fold);
            if best.as_ref().is_none_or(|b| score > b.score) {
                best = Some(Candidate {
                    score,
                    offset,
                    phase,
                    fold,
                });
            }
        }
        // Callers pass at least one phase.
        best.unwrap_or(Candidate {
            score: 0.0,
            offset,
            phase: 0,
            fold: fold(p, 0),
        })
    }

    /// `corr[t][j * GROUPS + g]`: the statistic of band group `g` of frame
    /// `t` under the pattern of unit position `j`.
    fn correlations(
        &self,
        an: &mut Analyzer,
        x: &[f32],
        hop: f64,
        mut sink: impl FnMut(usize, &[f32; TERMS]),
    ) {
        let frames = if x.len() >= N {
            ((x.len() - N) as f64 / hop).floor() as usize + 1
        } else {
            0
        };
        let mut levels = Vec::with_capacity(frames);
        let mut power = Vec::with_capacity(frames);
        let mut level = [0.0f32; BANDS];
        for t in 0..frames {
            let s = ((t as f64 * hop).round() as usize).min(x.len() - N);
            an.analyse(&x[s..s + N], &mut level);
            levels.push(level);
            power.push(an.band_power);
        }
        // Each band's noise floor: a low percentile of its level over time.
        // Cells near the floor (pauses, or anything buried by added noise,
        // echo tails or quantization) carry no mark, only noise, so they are
        // down-weighted. The weights depend on the audio alone, never on
        // the key, so the p-value bound still holds.
        let mut floor = [0.0f32; BANDS];
        let mut col = Vec::with_capacity(frames);
        for (b, fl) in floor.iter_mut().enumerate() {
            col.clear();
            col.extend(levels.iter().map(|l| l[b]));
            let k = col.len() / FLOOR_PERCENTILE_DIV;
            *fl = if k < col.len() {
                *col.select_nth_unstable_by(k, f32::total_cmp).1
            } else {
                0.0
            };
        }
        let mut white = [0.0f32; BANDS];
        let frame_seconds = (hop / f64::from(RATE)) as f32;
        // The embedder gates units of two frames on their mean power; the
        // detector does not know where units start, so each frame is gated
        // on its mean with the next.
        let loudness: Vec<f32> = (0..levels.len())
            .map(|t| {
                let pair = match power.get(t + 1) {
                    Some(next) => 0.5 * (power[t] + next),
                    None => power[t],
                };
                LoudnessGate::db(pair)
            })
            .collect();
        let mut gate = LoudnessGate::new();
        let open: Vec<bool> = loudness.iter().map(|&l| gate.open(l, frame_seconds)).collect();
        for (t, level) in levels.iter().enumerate() {
            whiten(level, &mut white);
            if !open[t] {
                // Left unmarked by the embedder: only host, no mark.
                white.fill(0.0);
            }
            for b in 0..BANDS {
                // The share of the cell's power above the floor is how much
                // of the mark survives there (additive noise compresses a
                // level change by that factor); its square weighs the cell
                // by signal over noise.
                let above = (1.0 - 10f32.powf(-(level[b] - floor[b]) / 10.0)).max(0.0);
                let w = above * above;
                white[b] *= w;
            }
            // Group-major copy so each term is a contiguous dot product.
            let mut wg = [0.0f32; BANDS];
            for b in 0..BANDS {
                wg[(b % GROUPS) * PER_GROUP + b / GROUPS] = white[b];
            }
            // Summed band by band in the same order as a per-position dot
            // product would, so the result is the same to the last bit.
            let mut acc = [[0.0f32; UNITS]; GROUPS];
            for (g, acc) in acc.iter_mut().enumerate() {
                for i in 0..PER_GROUP {
                    let w = wg[g * PER_GROUP + i];
                    let signs = &self.grouped[(g * PER_GROUP + i) * UNITS..(g * PER_GROUP + i + 1) * UNITS];
                    for (a, s) in acc.iter_mut().zip(signs) {
                        *a += s * w;
                    }
                }
            }
            let mut row = [0.0f32; TERMS];
            for (k, r) in row.iter_mut().enumerate() {
                *r = acc[k % GROUPS][k / GROUPS];
            }
            sink(t, &row);
        }
    }

    /// Self-normalized presence score `Σ d_k / sqrt(Σ d_k²)`.
    ///
    /// Terms: every group of every sync position times its known symbol,
    /// and every group of every data position times the sign of the sum of
    /// the *earlier* terms of the same coded bit (decision feedback; cells
    /// are visited in order of decreasing magnitude, the first one only
    /// seeds the reference). Under "no mark" the key's signs make each
    /// cell's sign a fair coin independent of all magnitudes, and each
    /// feedback sign depends only on earlier coins, so the terms are
    /// Rademacher signs times fixed magnitudes: Hoeffding's bound
    /// `P(W ≥ w) ≤ e^{-w²/2}` holds exactly as for known symbols, while
    /// every data cell contributes to detection.
    fn sync_score(&self, fold: &Fold) -> f64 {
        let (mut num, mut den) = self.sync_part(fold);
        // A bit's observed cells, largest magnitude first (insertion into a
        // small array: this runs for every bit of every alignment scored).
        let mut cells = [0.0f64; MAX_BIT_TERMS];
        for terms in &self.bit_terms {
            let mut n = 0;
            for &k in terms {
                if fold.frames[k / GROUPS] == 0 {
                    continue;
                }
                let v = f64::from(fold.sum[k]);
                let mut i = n;
                while i > 0 && cells[i - 1].abs() < v.abs() {
                    cells[i] = cells[i - 1];
                    i -= 1;
                }
                cells[i] = v;
                n += 1;
            }
            let mut reference = 0.0f64;
            for &v in &cells[..n] {
                if reference != 0.0 {
                    num += DATA_WEIGHT * reference.signum() * v;
                    den += DATA_WEIGHT * DATA_WEIGHT * v * v;
                }
                reference += v;
            }
        }
        if den > 0.0 {
            num / den.sqrt()
        } else {
            0.0
        }
    }

    /// Numerator and squared denominator of the sync terms alone.
    fn sync_part(&self, fold: &Fold) -> (f64, f64) {
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for &j in &self.sync_positions {
            if fold.frames[j] == 0 {
                continue;
            }
            for g in 0..GROUPS {
                let v = f64::from(fold.sum[j * GROUPS + g]);
                num += f64::from(self.layout.sync[j * GROUPS + g]) * v;
                den += v * v;
            }
        }
        (num, den)
    }

    /// Decodes the payload; returns payload bits, CRC check, confidence
    /// and the expected sign of every unit position.
    fn decode(&self, fold: &Fold) -> (u32, bool, f64, [f32; TERMS]) {
        // Per-frame signal level `mu` and noise `sigma²` of one term (a band
        // group of a unit), from the sync terms (whose symbols are known).
        let (mut mu_n, mut mu_d) = (0.0f64, 0.0f64);
        for &j in &self.sync_positions {
            for g in 0..GROUPS {
                mu_n += f64::from(self.layout.sync[j * GROUPS + g]) * f64::from(fold.sum[j * GROUPS + g]);
            }
            mu_d += (GROUPS as u32 * fold.frames[j]) as f64;
        }
        let mu = if mu_d > 0.0 { mu_n / mu_d } else { 0.0 };
        let mut var = 0.0f64;
        for &j in &self.sync_positions {
            let n = fold.frames[j] as f64;
            if n > 0.0 {
                for g in 0..GROUPS {
                    let y = f64::from(self.layout.sync[j * GROUPS + g]) * f64::from(fold.sum[j * GROUPS + g]) / n;
                    var += n * (y - mu) * (y - mu);
                }
            }
        }
        let sigma_sync = var / mu_d.max(1.0);
        // Data terms can vary more than the sync terms (their symbols are
        // unknown to the feedback, and attacks differ between units): estimate
        // their noise from their own spread too (`E[y²] = mu²n² + sigma²n` for a
        // term of n frames, whatever its bit), and use the larger estimate.
        let (mut e2, mut n1) = (0.0f64, 0.0f64);
        for terms in &self.bit_terms {
            for &k in terms {
                let n = fold.frames[k / GROUPS] as f64;
                let y = f64::from(fold.sum[k]);
                e2 += y * y - mu * mu * n * n;
                n1 += n;
            }
        }
        let sigma_data = if n1 > 0.0 { e2 / n1 } else { 0.0 };
        let sigma2 = sigma_sync.max(sigma_data).max(1e-12);
        // Gaussian channel: a coded bit's summed statistic is `±mu·n` plus
        // noise of variance `sigma²·n`, so its LLR is `2·mu·sum / sigma²`.
        let gain = 2.0 * mu.max(0.0) / sigma2;
        let mut llr = [0.0f64; CODED_BITS];
        for (i, terms) in self.bit_terms.iter().enumerate() {
            let s: f64 = terms.iter().map(|&k| f64::from(fold.sum[k])).sum();
            llr[i] = gain * s;
        }
        let info = crate::code::decode(&llr);
        // Below half of the data terms of a block observed (clips shorter
        // than about 1.5 s, a half block), the rate-1/2 code cannot
        // determine the 40 information bits: with one coded bit per unit,
        // unobserved bits decoded to ties that read as 0, and a mostly-zero
        // word passes CRC-8 far more often than 1 in 256 (measured: 2 wrong
        // payloads in 50 marked 1 s crops). Each coded bit is now spread
        // over eight units, so a 1 s excerpt touches most bits, each with a
        // share of its evidence; the rule counts terms, not bits, so that
        // the same amount of audio is needed as before.
        let observed = self
            .bit_terms
            .iter()
            .flatten()
            .filter(|&&k| fold.frames[k / GROUPS] > 0)
            .count();
        let data_terms: usize = self.bit_terms.iter().map(Vec::len).sum();
        let determined = 2 * observed >= data_terms && info.iter().all(|l| l.abs() > 1e-9);
        let mut confidence = 1.0f64;
        for l in &info {
            confidence *= 1.0 / (1.0 + (-l.abs()).exp());
        }
        let bits: [bool; INFO_BITS] = std::array::from_fn(|i| info[i] > 0.0);
        let mut raw = 0u32;
        for &b in &bits[..32] {
            raw = (raw << 1) | u32::from(b);
        }
        let mut crc = 0u8;
        for &b in &bits[32..] {
            crc = (crc << 1) | u8::from(b);
        }
        let crc_ok = determined && crate::layout::crc8(raw) == crc;
        let coded = crate::code::encode(&bits);
        let mut signs = [0.0f32; TERMS];
        for j in 0..UNITS {
            signs[j * GROUPS..(j + 1) * GROUPS].copy_from_slice(&self.layout.symbols(j, &coded));
        }
        (raw, crc_ok, confidence, signs)
    }
}

/// Result of one alignment search.
struct Search {
    /// Best alignment over the whole signal.
    whole: Candidate,
    /// Best alignment over any window, when windows were searched.
    window: Option<Candidate>,
    /// Windows searched per sub-hop offset.
    windows: usize,
    /// The alignment of a mark whose stream starts at the first sample
    /// (offset 0, phase 0).
    start: Option<Candidate>,
}

#[derive(Clone)]
struct Candidate {
    score: f64,
    offset: usize,
    phase: usize,
    fold: Fold,
}

/// Per unit position and group: summed statistic; per unit position:
/// number of frames summed.
#[derive(Clone)]
struct Fold {
    sum: [f32; TERMS],
    frames: [u32; UNITS],
}

/// Unit position of frame `t` when the block starts `phase` frames before
/// frame 0.
fn position(t: usize, phase: usize) -> usize {
    ((t + phase) % BLOCK_FRAMES) / UNIT_FRAMES
}

/// Frames summed by their index modulo the block length, with counts; the
/// fold for any phase is then a permutation of these. A chunk of half a
/// block holds only the frame positions its frames fall on.
struct Positions {
    /// `sum[i]`: frame position `first + i`.
    sum: Vec<[f32; TERMS]>,
    frames: Vec<u32>,
    first: usize,
}

impl Fold {
    fn add(&mut self, other: &Fold) {
        for (a, b) in self.sum.iter_mut().zip(&other.sum) {
            *a += b;
        }
        for (a, b) in self.frames.iter_mut().zip(&other.frames) {
            *a += b;
        }
    }
}

impl Positions {
    /// Every frame position (the whole signal).
    fn new() -> Self {
        Positions {
            sum: vec![[0.0; TERMS]; BLOCK_FRAMES],
            frames: vec![0; BLOCK_FRAMES],
            first: 0,
        }
    }

    /// The frame positions of chunk `c` (frames `c·S .. (c+1)·S`, `S` =
    /// [`WINDOW_STRIDE`]): half the memory, which the search allocates and
    /// clears once per chunk.
    fn chunk(c: usize) -> Self {
        Positions {
            sum: vec![[0.0; TERMS]; WINDOW_STRIDE],
            frames: vec![0; WINDOW_STRIDE],
            first: (c * WINDOW_STRIDE) % BLOCK_FRAMES,
        }
    }

    /// Adds `other`, whose positions must lie within this one's.
    fn merge(&mut self, other: &Positions) {
        let at = other.first - self.first;
        for (a, b) in self.sum[at..].iter_mut().zip(&other.sum) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (a, b) in self.frames[at..].iter_mut().zip(&other.frames) {
            *a += b;
        }
    }

    fn add(&mut self, t: usize, row: &[f32; TERMS]) {
        let q = t % BLOCK_FRAMES - self.first;
        for (s, r) in self.sum[q].iter_mut().zip(row) {
            *s += r;
        }
        self.frames[q] += 1;
    }

    /// Sums of frame position `q`, if this holds it.
    fn at(&self, q: usize) -> Option<(&[f32; TERMS], u32)> {
        let i = q.checked_sub(self.first)?;
        Some((self.sum.get(i)?, *self.frames.get(i)?))
    }
}

fn fold(p: &Positions, phase: usize) -> Fold {
    let mut f = Fold {
        sum: [0.0; TERMS],
        frames: [0; UNITS],
    };
    for j in 0..UNITS {
        for k in 0..UNIT_FRAMES {
            // Frames t with (t + phase) % BLOCK_FRAMES == UNIT_FRAMES*j + k.
            let q = (UNIT_FRAMES * j + k + BLOCK_FRAMES - phase) % BLOCK_FRAMES;
            let Some((sum, frames)) = p.at(q) else {
                continue;
            };
            for g in 0..GROUPS {
                f.sum[j * GROUPS + g] += sum[j * GROUPS + g];
            }
            f.frames[j] += frames;
        }
    }
    f
}

/// Marked time ranges: frames whose agreement with the decoded symbols,
/// averaged over about a second, is clearly positive.
fn localize(agree: &[f32], offset: usize, hop: f64) -> Vec<(f64, f64)> {
    if agree.is_empty() {
        return Vec::new();
    }
    // Frames without any statistic (gated as too quiet to carry the mark,
    // or digital silence) are evidence neither way: they count in no mean.
    let evidence: Vec<f32> = agree.iter().map(|&a| if a != 0.0 { 1.0 } else { 0.0 }).collect();
    let frames: f32 = evidence.iter().sum();
    if frames == 0.0 {
        return Vec::new();
    }
    let total: f32 = agree.iter().sum::<f32>() / frames;
    let scale: f32 = (agree.iter().map(|a| a * a).sum::<f32>() / frames).sqrt();
    if total <= 0.0 || scale <= 0.0 {
        return Vec::new();
    }
    // Half a second either side.
    let half = (RATE as usize / 2) / HOP;
    let mut prefix = vec![0.0f32; agree.len() + 1];
    let mut counted = vec![0.0f32; agree.len() + 1];
    for (i, a) in agree.iter().enumerate() {
        prefix[i + 1] = prefix[i] + a;
        counted[i + 1] = counted[i] + evidence[i];
    }
    let mut ranges: Vec<(f64, f64)> = Vec::new();
    let secs = |samples: usize| samples as f64 / f64::from(RATE);
    for t in 0..agree.len() {
        let lo = t.saturating_sub(half);
        let hi = (t + half + 1).min(agree.len());
        let n = counted[hi] - counted[lo];
        if n == 0.0 {
            continue;
        }
        let mean = (prefix[hi] - prefix[lo]) / n;
        // A window is marked when its mean agreement is 4 standard errors
        // above zero (standard error from the file's own agreement spread).
        if mean > 4.0 * scale / n.sqrt() {
            let at = offset + (t as f64 * hop).round() as usize;
            let start = secs(at);
            let end = secs(at + N);
            match ranges.last_mut() {
                Some(last) if start <= last.1 => last.1 = end,
                _ => ranges.push((start, end)),
            }
        }
    }
    ranges
}

/// Bound on `P(W ≥ w)` for a self-normalized sum of Rademacher signs
/// with fixed weights: the smaller of Hoeffding's `e^{-w²/2}` and
/// Bentkus and Dzindzalieta's `c·P(Z ≥ w)` with `c = 1 / (4 P(Z ≥ √2))`
/// ≈ 3.178 (Bernoulli 21(2), 2015), which is about 2 w times tighter in
/// the tail the detector works in.
pub(crate) fn tail_bound(w: f64) -> f64 {
    if w <= 0.0 {
        return 1.0;
    }
    let c = 1.0 / (4.0 * normal_tail(std::f64::consts::SQRT_2));
    (-w * w / 2.0).exp().min(c * normal_tail(w)).min(1.0)
}

/// Upper tail of the standard normal distribution, `P(Z > z)`.
pub(crate) fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    // Numerical Recipes' erfc approximation (relative error < 1.2e-7).
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Development aid: per unit of a stream-aligned signal, `τ·U` (the unit's
/// per-cell mean statistic times its symbol) for the host and the marked
/// signal.
#[doc(hidden)]
pub fn diag_units(key: &Key, payload: u32, host: &[f32], marked: &[f32]) -> Vec<(f32, f32)> {
    let layout = Layout::new(key.bytes());
    let cw = crate::layout::codeword(payload);
    let det = Detector::new(key);
    let mut an = Analyzer::new();
    let mut ch = Vec::new();
    det.correlations(&mut an, host, HOP as f64, |_, r| ch.push(*r));
    let mut cm = Vec::new();
    det.correlations(&mut an, marked, HOP as f64, |_, r| cm.push(*r));
    let mut out = Vec::new();
    let cells = (UNIT_FRAMES * BANDS) as f32;
    for u in 0..ch.len().min(cm.len()) / UNIT_FRAMES {
        let j = u % UNITS;
        let tau = layout.symbols(j, &cw);
        let (mut h, mut m) = (0.0, 0.0);
        for f in 0..UNIT_FRAMES {
            for g in 0..GROUPS {
                h += tau[g] * ch[u * UNIT_FRAMES + f][j * GROUPS + g];
                m += tau[g] * cm[u * UNIT_FRAMES + f][j * GROUPS + g];
            }
        }
        out.push((h / cells, m / cells));
    }
    out
}
