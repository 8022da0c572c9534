//! Same-speaker / different-speaker decision thresholds on GE2E cosine, and
//! the arithmetic used to calibrate them (equal error rate, threshold at a
//! target false-accept rate).
//!
//! Scores are cosines between embeddings of audio preprocessed with
//! [`crate::frontend::preprocess`] (as [`crate::enrollment`] does). The
//! constants were measured with `examples/calibrate.rs` on the shared
//! LibriSpeech data (test-other: 5 speakers × 10 utterances; train-clean-100:
//! 125 other speakers × 1); BENCHMARKS.md ("Speaker encoder") has the
//! figures and the command. They hold for this encoder and clean read
//! speech; noisy or very short recordings score lower for the same speaker.

/// Cosine at the equal error rate for one utterance against the centroid of
/// four other utterances of the claimed speaker (EER 0.01%: the two
/// distributions barely overlap; 600 same-speaker trials, lowest 0.820;
/// 16,500 different-speaker trials, highest 0.840).
pub const CENTROID_EER_THRESHOLD: f32 = 0.818;

/// Recommended threshold for the spoken-consent check (a statement
/// recording against the centroid of the reference recordings): the
/// centroid EER point, rounded up. It is above the 0.1% false-accept point
/// (0.803) and 3.9 standard deviations above the different-speaker mean
/// (0.568), while 3.5 below the same-speaker mean (0.923): a genuine speaker
/// on a different microphone may need to re-record, a stranger should not
/// pass.
pub const CONSENT_THRESHOLD: f32 = 0.82;

/// Threshold for "these enrollment recordings come from one speaker": each
/// recording against the centroid of the others must reach it. It sits at
/// the 1% false-accept point of single utterance pairs (0.756), rounded
/// down, because with two recordings the "centroid of the others" is a
/// single utterance, and because a wrong rejection here only asks for better
/// recordings, while the consent check, not this one, guards against a
/// stranger.
pub const ENROLL_AGREEMENT_THRESHOLD: f32 = 0.75;

/// Cosine at the equal error rate of single utterance pairs (EER 0.53%:
/// 225 same-speaker pairs, 15,000 different-speaker pairs).
pub const PAIR_EER_THRESHOLD: f32 = 0.7708;

// The consent check is at least as strict as the centroid EER point, and the
// enrollment agreement check is the most lenient: checked at compile time.
const _: () = assert!(CONSENT_THRESHOLD >= CENTROID_EER_THRESHOLD);
const _: () = assert!(ENROLL_AGREEMENT_THRESHOLD < PAIR_EER_THRESHOLD);
const _: () = assert!(PAIR_EER_THRESHOLD < CENTROID_EER_THRESHOLD);

/// An operating point of a same/different decision `cosine ≥ threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    /// The cosine threshold.
    pub threshold: f32,
    /// Fraction of different-speaker trials accepted.
    pub false_accept: f64,
    /// Fraction of same-speaker trials rejected.
    pub false_reject: f64,
}

fn rates(same: &[f32], different: &[f32], t: f32) -> (f64, f64) {
    let fa = different.iter().filter(|&&s| s >= t).count() as f64 / different.len() as f64;
    let fr = same.iter().filter(|&&s| s < t).count() as f64 / same.len() as f64;
    (fa, fr)
}

/// The equal error rate point: among thresholds at every observed score, the
/// one where false accepts and false rejects are closest; the EER reported
/// is their mean there. Every threshold between the previous observed score
/// (exclusive) and that one gives the same rates, so the midpoint of that
/// interval is returned (when the scores separate perfectly, the middle of
/// the gap). `None` if either list is empty or holds a NaN.
pub fn equal_error_rate(same: &[f32], different: &[f32]) -> Option<OperatingPoint> {
    if same.is_empty() || different.is_empty() {
        return None;
    }
    if same.iter().chain(different).any(|s| s.is_nan()) {
        return None;
    }
    let mut candidates: Vec<f32> = same.iter().chain(different).copied().collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let mut best: Option<(f64, OperatingPoint)> = None;
    for (k, &t) in candidates.iter().enumerate() {
        let (fa, fr) = rates(same, different, t);
        let gap = (fa - fr).abs();
        if best.as_ref().is_none_or(|(g, _)| gap < *g) {
            let eer = (fa + fr) / 2.0;
            let threshold = match k.checked_sub(1) {
                Some(prev) => (candidates[prev] + t) / 2.0,
                None => t,
            };
            best = Some((
                gap,
                OperatingPoint {
                    threshold,
                    false_accept: eer,
                    false_reject: eer,
                },
            ));
        }
    }
    best.map(|(_, p)| p)
}

/// The lowest threshold whose false-accept rate is at most `max_false_accept`,
/// with the false-reject rate it costs. `None` if either list is empty or
/// holds a NaN.
pub fn threshold_at_false_accept(
    same: &[f32],
    different: &[f32],
    max_false_accept: f64,
) -> Option<OperatingPoint> {
    if same.is_empty() || different.is_empty() {
        return None;
    }
    if same.iter().chain(different).any(|s| s.is_nan()) {
        return None;
    }
    let mut diff = different.to_vec();
    diff.sort_by(f32::total_cmp);
    // Accepting strictly above the k-th highest different score lets at
    // most k of them through.
    let allowed = (max_false_accept * diff.len() as f64).floor() as usize;
    let threshold = if allowed >= diff.len() {
        f32::NEG_INFINITY
    } else {
        diff[diff.len() - 1 - allowed].next_up()
    };
    let (fa, fr) = rates(same, different, threshold);
    Some(OperatingPoint {
        threshold,
        false_accept: fa,
        false_reject: fr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eer_of_separable_scores_is_zero() {
        let p = equal_error_rate(&[0.8, 0.9, 0.85], &[0.1, 0.3, 0.5]).unwrap();
        assert_eq!(p.false_accept, 0.0);
        // The middle of the gap between 0.5 and 0.8.
        assert!((p.threshold - 0.65).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn eer_of_overlapping_scores() {
        // One same score below one different score: at t = 0.6, one of four
        // same is rejected (0.25) and one of four different accepted (0.25).
        let same = [0.5, 0.7, 0.8, 0.9];
        let diff = [0.1, 0.2, 0.3, 0.6];
        let p = equal_error_rate(&same, &diff).unwrap();
        assert!((p.false_accept - 0.25).abs() < 1e-9, "{p:?}");
    }

    #[test]
    fn threshold_at_false_accept_lets_through_at_most_the_budget() {
        let diff: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let same = [0.9995f32, 0.5];
        let p = threshold_at_false_accept(&same, &diff, 0.001).unwrap();
        assert!(p.false_accept <= 0.001, "{p:?}");
        assert!(p.threshold > 0.998 && p.threshold <= 0.999 + 1e-6, "{p:?}");
        assert_eq!(p.false_reject, 0.5);
        let zero = threshold_at_false_accept(&same, &diff, 0.0).unwrap();
        assert_eq!(zero.false_accept, 0.0);
    }

    #[test]
    fn empty_or_nan_inputs_give_none() {
        assert!(equal_error_rate(&[], &[0.1]).is_none());
        assert!(equal_error_rate(&[f32::NAN], &[0.1]).is_none());
        assert!(threshold_at_false_accept(&[0.5], &[], 0.01).is_none());
    }
}
