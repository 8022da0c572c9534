//! Laying planned cue audio into one track.

use crate::plan::{CuePlan, CUT_FADE_SAMPLES};

/// One cue's marked speech and where it goes.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    /// The plan (placement and how much to keep).
    pub plan: &'a CuePlan,
    /// The speech, at least `plan.keep` samples long.
    pub audio: &'a [f32],
}

/// Mixes the cues into a silent track of at least `min_len` samples,
/// cutting each to `plan.keep` samples (with a short fade where speech is
/// cut). Plans never overlap, so samples are added, not averaged.
pub fn assemble(cues: &[Placed<'_>], min_len: usize) -> Vec<f32> {
    let len = cues.iter().map(|c| c.plan.placement + c.plan.keep.min(c.audio.len())).max().unwrap_or(0).max(min_len);
    let mut track = vec![0f32; len];
    for cue in cues {
        let keep = cue.plan.keep.min(cue.audio.len());
        let cut = keep < cue.audio.len();
        let fade = if cut { CUT_FADE_SAMPLES.min(keep) } else { 0 };
        let out = &mut track[cue.plan.placement..cue.plan.placement + keep];
        for (i, (o, &s)) in out.iter_mut().zip(&cue.audio[..keep]).enumerate() {
            let to_end = keep - i;
            let gain = if to_end <= fade { (to_end - 1) as f32 / fade as f32 } else { 1.0 };
            *o += s * gain;
        }
    }
    track
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Fit;

    fn plan(placement: usize, len: usize, keep: usize) -> CuePlan {
        CuePlan { speed: 1.0, tempo: 1.0, target: len, natural_len: len, spoken_len: len, speech_len: len, keep, placement, overrun: 0, fit: Fit::Natural }
    }

    #[test]
    fn cues_land_at_their_placement_and_cuts_fade_to_silence() {
        let a = vec![0.5f32; 1000];
        let b = vec![0.25f32; 2000];
        let pa = plan(100, 1000, 1000);
        let pb = plan(1500, 2000, 1200);
        let track = assemble(&[Placed { plan: &pa, audio: &a }, Placed { plan: &pb, audio: &b }], 5000);
        assert_eq!(track.len(), 5000);
        assert_eq!(track[99], 0.0);
        assert_eq!(track[100], 0.5);
        assert_eq!(track[1099], 0.5, "uncut speech keeps its last sample");
        assert_eq!(track[1100], 0.0);
        assert_eq!(track[1500], 0.25);
        assert_eq!(track[1500 + 1199], 0.0, "a cut ends in silence");
        assert!(track[1500 + 1199 - CUT_FADE_SAMPLES / 2] < 0.2);
        assert_eq!(track[1500 + 1200], 0.0);
    }
}
