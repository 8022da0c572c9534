//! What happened to every cue: the JSON report and the terminal table.

use crate::plan::Fit;
use crate::subs::{Format, Skipped};

/// One cue's outcome. Times in seconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CueReport {
    /// Position in the subtitle file (from 1).
    pub number: usize,
    /// The cue's identifier, if any.
    pub id: Option<String>,
    /// Cue start.
    pub start: f64,
    /// Cue end.
    pub end: f64,
    /// Time the speech should fit in (up to the next cue when they overlap).
    pub target: f64,
    /// Speech length at natural speed.
    pub natural: f64,
    /// Speech length after speed and stretch (before any cut).
    pub speech: f64,
    /// Model speed used.
    pub speed: f32,
    /// Pitch-preserving compression used (1 = none).
    pub stretch: f32,
    /// Time the speech runs past the cue's end.
    pub overrun: f64,
    /// Where the speech starts in the track.
    pub placement: f64,
    /// The same, in samples at the track's rate.
    pub placement_sample: u64,
    /// Samples of speech in the track at the track's rate.
    pub placed_samples: u64,
    /// Which rule made it fit.
    pub fit: Fit,
    /// The words spoken.
    pub text: String,
}

/// How many cues each rule handled.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// At natural speed.
    pub fit: usize,
    /// Faster model speed only.
    pub sped_up: usize,
    /// Speed and time compression.
    pub stretched: usize,
    /// Ran into the gap after the cue.
    pub overran: usize,
    /// Compressed past the bound to reach the next cue.
    pub squeezed: usize,
    /// Cut at the next cue.
    pub cut: usize,
    /// Left out (see `skipped`).
    pub skipped: usize,
}

/// Loudness handling of the mix.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoudnessReport {
    /// Background track mixed under the speech, if any.
    pub bed: Option<String>,
    /// Integrated loudness before normalization (LUFS).
    pub input_lufs: f64,
    /// Target (LUFS).
    pub target_lufs: f64,
    /// Gain applied (dB).
    pub gain_db: f64,
    /// Samples bent under the −1 dBFS ceiling.
    pub limited_samples: usize,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// Subtitle file format.
    pub format: Format,
    /// Language spoken.
    pub language: String,
    /// Consent record the voice was verified with.
    pub record_id: String,
    /// Watermark payload every cue carries (hex).
    pub watermark: String,
    /// Sample rate of the track.
    pub rate: u32,
    /// Length of the track, seconds.
    pub duration: f64,
    /// Seconds of speech in the track.
    pub speech_seconds: f64,
    /// Cues whose synthesized length differed from the planned one (padded
    /// or cut to plan; expected 0, since the timing mirrors the model).
    pub length_mismatches: usize,
    /// Bounds used.
    pub max_speed: f32,
    /// Bounds used.
    pub max_stretch: f32,
    /// Placement of short lines.
    pub align: crate::plan::Align,
    /// Counts per rule.
    pub counts: Counts,
    /// Cues synthesized in this run.
    pub synthesized: usize,
    /// Cues taken from the work directory.
    pub reused: usize,
    /// Cues that started before the cue preceding them in the file.
    pub out_of_order: usize,
    /// Overlapping cue pairs (cue numbers).
    pub overlaps: Vec<(usize, usize)>,
    /// Cues left out, with reasons.
    pub skipped: Vec<Skipped>,
    /// Loudness normalization, when done.
    pub loudness: Option<LoudnessReport>,
    /// Per cue, in time order.
    pub cues: Vec<CueReport>,
}

impl Counts {
    /// Tallies fits.
    pub fn from_fits(fits: impl IntoIterator<Item = Fit>, skipped: usize) -> Self {
        let mut c = Counts { skipped, ..Default::default() };
        for f in fits {
            match f {
                Fit::Natural => c.fit += 1,
                Fit::SpedUp => c.sped_up += 1,
                Fit::Stretched => c.stretched += 1,
                Fit::Overran => c.overran += 1,
                Fit::Squeezed => c.squeezed += 1,
                Fit::Cut => c.cut += 1,
            }
        }
        c
    }

    /// One line: `12 cues: 8 fit, 2 sped up, 1 stretched, 1 overran, 0 squeezed, 0 cut; 0 skipped`.
    pub fn summary(&self) -> String {
        let spoken = self.fit + self.sped_up + self.stretched + self.overran + self.squeezed + self.cut;
        format!(
            "{spoken} cues: {} fit, {} sped up, {} stretched, {} overran, {} squeezed, {} cut; {} skipped",
            self.fit, self.sped_up, self.stretched, self.overran, self.squeezed, self.cut, self.skipped
        )
    }
}

impl Report {
    /// The per-cue table for a terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str("    #     start  target  speech  speed  stretch  overrun  fit\n");
        for c in &self.cues {
            out.push_str(&format!(
                "{:>5}  {:>8}  {:>6.2}  {:>6.2}  {:>5.3}  {:>7.3}  {:>7.2}  {}\n",
                c.number,
                clock(c.start),
                c.target,
                c.speech,
                c.speed,
                c.stretch,
                c.overrun,
                c.fit.label()
            ));
        }
        for s in &self.skipped {
            out.push_str(&format!("skipped (line {}): {}\n", s.line, s.reason));
        }
        out
    }
}

/// `m:ss.cc` for a table column.
fn clock(secs: f64) -> String {
    let m = (secs / 60.0).floor();
    format!("{}:{:05.2}", m as u64, secs - m * 60.0)
}
