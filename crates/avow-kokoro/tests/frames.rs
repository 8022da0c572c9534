//! Rendering a prepared utterance by windows of frames (`KModel::prepare`,
//! `KModel::render_frames`), which streaming uses to start playing before
//! a sentence is fully rendered.
//!
//! Needs the converted weights (see `parity.rs` for how they are found and
//! when their absence fails).

mod common;

use common::{fixtures, log_mel_distance, model};

const FRAME: usize = 600;

#[test]
fn rendering_every_frame_at_once_is_exactly_synthesize() {
    let Some(model) = model() else { return };
    let case = &fixtures()[0];
    let whole = model.synthesize(&case.tokens, &case.style, case.speed).unwrap();
    let prepared = model.prepare(&case.tokens, &case.style, case.speed).unwrap();
    assert_eq!(prepared.durations(), whole.durations.as_slice());
    let audio = model.render_frames(&prepared, 0..prepared.frames()).unwrap();
    assert_eq!(audio.len(), whole.audio.len());
    let max = audio.iter().zip(&whole.audio).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max <= 1e-6, "the full range must be the plain synthesis (max diff {max})");
}

#[test]
fn windows_rendered_apart_sound_like_the_whole_utterance() {
    let Some(model) = model() else { return };
    for case in fixtures() {
        let prepared = model.prepare(&case.tokens, &case.style, case.speed).unwrap();
        let whole = model.render_frames(&prepared, 0..prepared.frames()).unwrap();
        let frames = prepared.frames();
        let cut = frames / 3;
        let context = 4;
        let head = model.render_frames(&prepared, 0..cut + context).unwrap();
        let tail = model.render_frames(&prepared, cut - context..frames).unwrap();
        assert_eq!(head.len(), (cut + context) * FRAME);
        assert_eq!(tail.len(), (frames - cut + context) * FRAME);
        // Joined at the cut without any smoothing: each side is compared
        // where it stands in the whole rendering.
        let mut joined = head[..cut * FRAME].to_vec();
        joined.extend_from_slice(&tail[context * FRAME..]);
        let dist = log_mel_distance(&joined, &whole);
        let head_dist = log_mel_distance(&head[..cut * FRAME], &whole[..cut * FRAME]);
        let tail_dist = log_mel_distance(&tail[context * FRAME..], &whole[cut * FRAME..]);
        eprintln!("{}: {frames} frames cut at {cut}: log-mel L1 to the whole {dist:.3} (head {head_dist:.3}, tail {tail_dist:.3})", case.name);
        // Measured 0.61 on the short case: each window normalizes with its
        // own instance-norm statistics (unrelated audio: 4.6 to 5.0; a
        // window off by one frame or a source out of phase is far above).
        assert!(dist < 0.9, "{}: windows drift from the whole rendering (log-mel L1 {dist})", case.name);
        assert!(
            model.render_frames(&prepared, frames - 1..frames + 1).is_err() && model.render_frames(&prepared, 3..3).is_err(),
            "out-of-range or empty windows are refused"
        );
    }
}
