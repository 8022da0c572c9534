//! The timing planner on synthetic lengths (no model): the order of the
//! rules, the bounds, and that speech never reaches the next cue.

use avow_dub::plan::{plan_all, plan_cue, slots_from, Align, Fit, FitOptions, Slot, SQUEEZE_LIMIT};

const RATE: usize = 24_000;

/// A line that takes `natural` seconds at speed 1 and scales as 1/speed
/// (rounded to 600-sample frames, like the model).
fn line(natural: f64) -> impl Fn(f32) -> usize {
    move |speed| ((natural * RATE as f64 / 600.0 / f64::from(speed)).round() as usize) * 600
}

fn stretched(len: usize, tempo: f32) -> usize {
    (len as f64 / f64::from(tempo)).round() as usize
}

fn slot(start: f64, end: f64, next: Option<f64>) -> Slot {
    let s = |t: f64| (t * RATE as f64) as usize;
    Slot { start: s(start), end: s(end), next_start: next.map(s) }
}

#[test]
fn a_line_that_fits_is_left_alone() {
    let p = plan_cue(slot(1.0, 3.0, Some(4.0)), &FitOptions::default(), line(1.5), stretched);
    assert_eq!(p.fit, Fit::Natural);
    assert_eq!((p.speed, p.tempo), (1.0, 1.0));
    assert_eq!(p.placement, RATE);
    assert_eq!(p.overrun, 0);
}

#[test]
fn a_slightly_long_line_is_sped_up_just_enough() {
    let opts = FitOptions::default();
    let p = plan_cue(slot(0.0, 2.0, Some(3.0)), &opts, line(2.2), stretched);
    assert_eq!(p.fit, Fit::SpedUp);
    assert!(p.speed > 1.09 && p.speed <= 1.105, "speed {}", p.speed);
    assert_eq!(p.tempo, 1.0);
    assert!(p.speech_len <= p.target);
}

#[test]
fn speed_is_used_up_before_stretching() {
    let opts = FitOptions::default();
    // 2.7 s into 2 s: 1.25× speed gives 2.16 s, then a 1.08 stretch.
    let p = plan_cue(slot(0.0, 2.0, Some(3.0)), &opts, line(2.7), stretched);
    assert_eq!(p.fit, Fit::Stretched);
    assert_eq!(p.speed, 1.25);
    assert!(p.tempo > 1.07 && p.tempo < 1.09, "tempo {}", p.tempo);
    assert!(p.speech_len <= p.target);
}

#[test]
fn past_both_bounds_the_line_overruns_into_the_gap() {
    let opts = FitOptions::default();
    // 3.2 s into 2 s with a 2 s gap: 3.2/1.25/1.15 = 2.226 s, overrun 0.226 s.
    let p = plan_cue(slot(0.0, 2.0, Some(4.0)), &opts, line(3.2), stretched);
    assert_eq!(p.fit, Fit::Overran);
    assert_eq!((p.speed, p.tempo), (1.25, 1.15));
    assert!((p.overrun as f64 / RATE as f64 - 0.226).abs() < 0.01, "overrun {}", p.overrun);
    assert!(p.placement + p.keep <= 4 * RATE);
}

#[test]
fn the_last_cue_may_overrun_without_limit() {
    let p = plan_cue(slot(0.0, 1.0, None), &FitOptions::default(), line(5.0), stretched);
    assert_eq!(p.fit, Fit::Overran);
    assert_eq!(p.keep, p.speech_len);
}

#[test]
fn without_room_the_line_is_squeezed_to_end_at_the_next_cue() {
    // 3.2 s into 2 s, next cue at 2.1 s: needs 3.2/1.25/2.1 = 1.219 stretch.
    let p = plan_cue(slot(0.0, 2.0, Some(2.1)), &FitOptions::default(), line(3.2), stretched);
    assert_eq!(p.fit, Fit::Squeezed);
    assert!(p.tempo > 1.15 && p.tempo <= SQUEEZE_LIMIT);
    assert!(p.placement + p.keep <= (2.1 * RATE as f64) as usize);
}

#[test]
fn beyond_the_squeeze_limit_the_line_is_cut_at_the_next_cue() {
    let p = plan_cue(slot(0.0, 1.0, Some(1.0)), &FitOptions::default(), line(4.0), stretched);
    assert_eq!(p.fit, Fit::Cut);
    assert_eq!(p.tempo, SQUEEZE_LIMIT);
    assert_eq!(p.keep, RATE);
    assert!(p.keep < p.speech_len);
}

#[test]
fn overlapping_cues_end_where_the_next_starts() {
    // Cue 0 runs to 3 s but cue 1 starts at 2 s.
    let times = [(0, 3 * RATE), (2 * RATE, 4 * RATE)];
    let plans = plan_all(&slots_from(&times), &FitOptions::default(), |i, s| if i == 0 { line(2.4)(s) } else { line(1.0)(s) }, stretched);
    assert_eq!(plans[0].target, 2 * RATE);
    assert_eq!(plans[0].fit, Fit::SpedUp);
    assert!(plans[0].placement + plans[0].keep <= plans[1].placement);
}

#[test]
fn no_plan_ever_reaches_the_next_cue_whatever_the_lengths() {
    let opts = FitOptions { align: Align::Center, ..FitOptions::default() };
    let mut state = 12345u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    for _ in 0..200 {
        let mut t = 0.0;
        let mut times = Vec::new();
        let mut lens = Vec::new();
        for _ in 0..20 {
            t += next() * 3.0;
            let dur = 0.3 + next() * 4.0;
            times.push(((t * RATE as f64) as usize, ((t + dur) * RATE as f64) as usize));
            lens.push(0.2 + next() * 6.0);
        }
        times.sort();
        let plans = plan_all(&slots_from(&times), &opts, |i, s| line(lens[i])(s), stretched);
        for (i, p) in plans.iter().enumerate() {
            assert!(p.placement >= times[i].0, "speech before its cue");
            if let Some(n) = times.get(i + 1) {
                assert!(p.placement + p.keep <= n.0, "cue {i} reaches the next cue: {p:?}");
            }
            assert!(p.speed >= 1.0 && p.speed <= opts.max_speed);
            assert!(p.tempo >= 1.0 && p.tempo <= SQUEEZE_LIMIT);
            if p.fit <= Fit::Stretched {
                assert!(p.speech_len <= p.target, "{p:?}");
            }
        }
    }
}

#[test]
fn short_lines_are_centred_only_when_asked() {
    let s = slot(10.0, 14.0, Some(20.0));
    let start = plan_cue(s, &FitOptions::default(), line(1.0), stretched);
    assert_eq!(start.placement, 10 * RATE);
    let centre = plan_cue(s, &FitOptions { align: Align::Center, ..FitOptions::default() }, line(1.0), stretched);
    assert_eq!(centre.placement, 10 * RATE + (4 * RATE - RATE) / 2);
    // A line filling most of its cue stays at the start.
    let full = plan_cue(s, &FitOptions { align: Align::Center, ..FitOptions::default() }, line(3.6), stretched);
    assert_eq!(full.placement, 10 * RATE);
}

#[test]
fn bounds_are_validated() {
    assert!(FitOptions { max_speed: 0.9, ..FitOptions::default() }.validate().is_err());
    assert!(FitOptions { max_stretch: 2.0, ..FitOptions::default() }.validate().is_err());
    assert!(FitOptions { max_speed: f32::NAN, ..FitOptions::default() }.validate().is_err());
    assert!(FitOptions::default().validate().is_ok());
}
