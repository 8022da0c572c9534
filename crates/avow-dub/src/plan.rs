//! Fitting each line's speech into its cue: the timing planner.
//!
//! Pure arithmetic on sample counts: the caller supplies, per cue, a
//! function giving the speech length at a model speed (from the engine's
//! duration predictor, exact), and the planner decides speed, tempo,
//! placement and how much to keep. The rule, in order:
//!
//! 1. Speech that fits the cue at natural speed is left alone ([`Fit::Natural`]).
//! 2. Otherwise the model speaks faster, up to `max_speed` (default 1.25×),
//!    just enough to fit ([`Fit::SpedUp`]).
//! 3. Otherwise the speech at `max_speed` is time-compressed without a pitch
//!    change, up to `max_stretch` (default 1.15×; together at most ≈1.44×
//!    natural rate, about where fast speech stays intelligible)
//!    ([`Fit::Stretched`]).
//! 4. Otherwise it runs over the cue's end into the gap before the next
//!    cue ([`Fit::Overran`]).
//! 5. If even that would reach the next cue's start, the speech is
//!    compressed further, up to [`SQUEEZE_LIMIT`] (1.5×), to end exactly
//!    there ([`Fit::Squeezed`]); if that is still too long, it is cut at
//!    the next cue's start with a short fade ([`Fit::Cut`]). Speech never
//!    overlaps the next cue's speech.
//!
//! The slot of a cue that overlaps the next one ends where the next starts.
//! Lines shorter than `center_below` of their cue are centred in it with
//! [`Align::Center`]; otherwise every line starts at its cue's start.

/// Hard limit of rule 5's compression.
pub const SQUEEZE_LIMIT: f32 = 1.5;
/// Length of the fade applied where speech is cut, in samples at 24 kHz (30 ms).
pub const CUT_FADE_SAMPLES: usize = 720;

/// Where a line that is shorter than its cue goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    /// At the cue's start.
    Start,
    /// In the middle of the cue (only lines below [`FitOptions::center_below`]).
    Center,
}

/// The planner's bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Fastest model speed used to fit a line (≥ 1).
    pub max_speed: f32,
    /// Strongest pitch-preserving compression used before overrunning (≥ 1).
    pub max_stretch: f32,
    /// Placement of short lines.
    pub align: Align,
    /// With [`Align::Center`], lines shorter than this fraction of the cue are centred.
    pub center_below: f32,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self { max_speed: 1.25, max_stretch: 1.15, align: Align::Start, center_below: 0.8 }
    }
}

impl FitOptions {
    /// Checks the bounds against what the engine accepts.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.max_speed.is_finite() && (1.0..=2.5).contains(&self.max_speed)) {
            return Err(format!("max speed {} is outside 1..=2.5", self.max_speed));
        }
        if !(self.max_stretch.is_finite() && (1.0..=SQUEEZE_LIMIT).contains(&self.max_stretch)) {
            return Err(format!("max stretch {} is outside 1..={SQUEEZE_LIMIT}", self.max_stretch));
        }
        if !(self.center_below.is_finite() && (0.0..=1.0).contains(&self.center_below)) {
            return Err(format!("center threshold {} is outside 0..=1", self.center_below));
        }
        Ok(())
    }
}

/// How a line was made to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Fits at natural speed.
    Natural,
    /// Fits after raising the model's speed.
    SpedUp,
    /// Fits after speed and time compression.
    Stretched,
    /// Runs past the cue's end into the gap (within bounds).
    Overran,
    /// Compressed past `max_stretch` to end at the next cue.
    Squeezed,
    /// Cut at the next cue's start.
    Cut,
}

impl Fit {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Fit::Natural => "fit",
            Fit::SpedUp => "sped up",
            Fit::Stretched => "stretched",
            Fit::Overran => "overran",
            Fit::Squeezed => "squeezed",
            Fit::Cut => "cut",
        }
    }
}

/// A cue's time slot in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Cue start.
    pub start: usize,
    /// Cue end.
    pub end: usize,
    /// Where the next cue's speech may start (the next cue's start), or
    /// `None` for the last cue.
    pub next_start: Option<usize>,
}

/// What the planner decided for one cue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CuePlan {
    /// Model speed.
    pub speed: f32,
    /// Pitch-preserving tempo factor applied after synthesis (1 = none).
    pub tempo: f32,
    /// Samples the speech should fit in: to the cue's end, or to the next
    /// cue's start when the cues overlap.
    pub target: usize,
    /// Speech length at natural speed.
    pub natural_len: usize,
    /// Speech length at the chosen speed, before the tempo change.
    pub spoken_len: usize,
    /// Speech length after speed and tempo.
    pub speech_len: usize,
    /// Samples of the speech placed in the track (less than `speech_len` when cut).
    pub keep: usize,
    /// First sample of the speech in the track.
    pub placement: usize,
    /// Samples the placed speech runs past the cue's end (0 if none).
    pub overrun: usize,
    /// Which rule applied.
    pub fit: Fit,
}

/// Plans one cue. `len_at(speed)` is the speech length at a model speed
/// (non-increasing in speed); `stretched(len, tempo)` the length after a
/// tempo change.
pub fn plan_cue(slot: Slot, options: &FitOptions, len_at: impl Fn(f32) -> usize, stretched: impl Fn(usize, f32) -> usize) -> CuePlan {
    // Overlapping cues: this slot ends where the next one starts.
    let limit = slot.next_start.map(|n| n.max(slot.start));
    let end = limit.map_or(slot.end, |l| slot.end.min(l));
    let target = end.saturating_sub(slot.start);
    let natural_len = len_at(1.0);
    let mut plan = CuePlan {
        speed: 1.0,
        tempo: 1.0,
        target,
        natural_len,
        spoken_len: natural_len,
        speech_len: natural_len,
        keep: natural_len,
        placement: slot.start,
        overrun: 0,
        fit: Fit::Natural,
    };
    if natural_len > target {
        fit_long(&mut plan, target, limit.map(|l| l - slot.start), options, &len_at, &stretched);
    }
    if options.align == Align::Center && (plan.keep as f64) < f64::from(options.center_below) * target as f64 {
        plan.placement = slot.start + (target - plan.keep) / 2;
    }
    plan.overrun = (plan.placement + plan.keep).saturating_sub(slot.end);
    plan
}

/// Rules 2–5 for speech longer than its `target`; `window` is the room up
/// to the next cue (unbounded for the last cue).
fn fit_long(plan: &mut CuePlan, target: usize, window: Option<usize>, options: &FitOptions, len_at: &impl Fn(f32) -> usize, stretched: &impl Fn(usize, f32) -> usize) {
    // Rule 2: the slowest speed, in steps of 0.005, that fits.
    let needed = plan.natural_len as f64 / target.max(1) as f64;
    let mut speed = ((needed / 0.005).ceil() * 0.005).min(f64::from(options.max_speed)) as f32;
    while len_at(speed) > target && speed < options.max_speed {
        speed = (speed + 0.005).min(options.max_speed);
    }
    plan.speed = speed;
    plan.spoken_len = len_at(speed);
    plan.speech_len = plan.spoken_len;
    plan.keep = plan.speech_len;
    if plan.speech_len <= target {
        plan.fit = Fit::SpedUp;
        return;
    }
    let spoken = plan.speech_len;
    // Rule 3: the smallest tempo that fits, up to max_stretch.
    if let Some(tempo) = tempo_to_fit(spoken, target, options.max_stretch, stretched) {
        set_tempo(plan, tempo, stretched);
        plan.fit = Fit::Stretched;
        return;
    }
    set_tempo(plan, options.max_stretch, stretched);
    // Rule 4: overrun into the gap.
    let Some(window) = window else {
        plan.fit = Fit::Overran;
        return;
    };
    if plan.speech_len <= window {
        plan.fit = Fit::Overran;
        return;
    }
    // Rule 5: squeeze to end at the next cue, or cut there.
    if let Some(tempo) = tempo_to_fit(spoken, window, SQUEEZE_LIMIT, stretched) {
        set_tempo(plan, tempo, stretched);
        plan.fit = Fit::Squeezed;
    } else {
        set_tempo(plan, SQUEEZE_LIMIT, stretched);
        plan.keep = window;
        plan.fit = Fit::Cut;
    }
}

fn set_tempo(plan: &mut CuePlan, tempo: f32, stretched: &impl Fn(usize, f32) -> usize) {
    plan.tempo = tempo;
    plan.speech_len = stretched(plan.spoken_len, tempo);
    plan.keep = plan.speech_len;
}

/// The smallest tempo in `1..=limit`, in steps of 0.001, that brings
/// `len` within `room`.
fn tempo_to_fit(len: usize, room: usize, limit: f32, stretched: &impl Fn(usize, f32) -> usize) -> Option<f32> {
    if room == 0 {
        return None;
    }
    let mut tempo = ((len as f64 / room as f64 / 0.001).ceil() * 0.001) as f32;
    tempo = tempo.max(1.0);
    // Rounding of the stretched length can leave a sample over; step up.
    for _ in 0..4 {
        if tempo > limit {
            return None;
        }
        if stretched(len, tempo) <= room {
            return Some(tempo);
        }
        tempo += 0.001;
    }
    None
}

/// Plans every cue of a sorted list: `slots[i]` with its length function.
pub fn plan_all(slots: &[Slot], options: &FitOptions, len_at: impl Fn(usize, f32) -> usize, stretched: impl Fn(usize, f32) -> usize) -> Vec<CuePlan> {
    slots.iter().enumerate().map(|(i, &slot)| plan_cue(slot, options, |s| len_at(i, s), &stretched)).collect()
}

/// Slots for cues given as `(start, end)` sample pairs sorted by start.
pub fn slots_from(times: &[(usize, usize)]) -> Vec<Slot> {
    times
        .iter()
        .enumerate()
        .map(|(i, &(start, end))| Slot { start, end, next_start: times.get(i + 1).map(|t| t.0) })
        .collect()
}
