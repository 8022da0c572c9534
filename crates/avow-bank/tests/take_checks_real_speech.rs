//! The take checks on real read speech (LibriSpeech test-other, the shared
//! data): every utterance, recorded with a little room tone before and after,
//! is accepted, even when it is counted as a fast reading (4 words a second);
//! the same take started or stopped in the middle of a word is refused as
//! cut off, and at a hot input gain it is refused as clipped.
//!
//! Reads the shared LibriSpeech folder ($AVOW_SHARED_DATA, else
//! shared/data/librispeech beside an ancestor of this crate); CI does not
//! install it, so the test skips with a message when it is absent.

use std::path::PathBuf;

use avow_bank::session::{check_take, Rejection, Take, TakeLimits};

fn utterances() -> Option<Vec<PathBuf>> {
    let root = std::env::var_os("AVOW_SHARED_DATA")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).ancestors().map(|a| a.join("shared/data/librispeech")).find(|p| p.is_dir()))
        .map(|p| p.join("test-other"));
    let Some(speakers) = root.as_ref().and_then(|r| std::fs::read_dir(r).ok()) else {
        eprintln!("skipping: no shared LibriSpeech data (set AVOW_SHARED_DATA)");
        return None;
    };
    let root = root.unwrap_or_default();
    let mut files = Vec::new();
    for speaker in speakers {
        for f in std::fs::read_dir(speaker.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "flac") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no FLAC files under {}", root.display());
    Some(files)
}

/// Deterministic faint noise (about -66 dBFS RMS), a quiet room.
fn room(n: usize, seed: &mut u32) -> impl Iterator<Item = f32> + '_ {
    (0..n).map(move |_| {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 17;
        *seed ^= *seed << 5;
        (*seed as f32 / u32::MAX as f32 - 0.5) * 0.0017
    })
}

#[test]
fn real_read_speech_is_accepted_and_its_cut_or_clipped_versions_are_not() {
    let Some(files) = utterances() else { return };
    let limits = TakeLimits::default();
    let mut seed = 0x9e37_79b9;
    let mut fewest_speech_fraction = f64::MAX;
    for path in &files {
        let audio = avow_audio::read_audio(path).unwrap();
        let speech = audio.to_mono();
        let rate = audio.sample_rate;
        let pad = (0.4 * f64::from(rate)) as usize;
        let mut samples: Vec<f32> = room(pad, &mut seed).collect();
        samples.extend(&speech);
        samples.extend(room(pad, &mut seed));
        let take = Take { samples, sample_rate: rate };
        let fast_words = (4.0 * take.secs()).ceil() as usize;
        let check = check_take(&take, fast_words, &limits).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        fewest_speech_fraction = fewest_speech_fraction.min(check.speech_secs / take.secs());

        // Cut at the loudest 10 ms of the middle half (inside a vowel): a
        // take stopped there ends mid-speech, one started there begins so.
        let hop = rate as usize / 100;
        let energy = |k: usize| speech[k * hop..(k + 1) * hop].iter().map(|x| x * x).sum::<f32>();
        let frames = speech.len() / hop;
        let loudest = (frames / 4..3 * frames / 4).max_by(|&a, &b| energy(a).total_cmp(&energy(b))).unwrap() * hop;
        let stopped = Take { samples: take.samples[..pad + loudest].to_vec(), sample_rate: rate };
        assert_eq!(check_take(&stopped, 1, &limits), Err(Rejection::CutAtEnd), "{}", path.display());
        let started = Take { samples: take.samples[pad + loudest..].to_vec(), sample_rate: rate };
        assert_eq!(check_take(&started, 1, &limits), Err(Rejection::CutAtStart), "{}", path.display());

        let peak = take.samples.iter().fold(0f32, |m, x| m.max(x.abs()));
        let hot: Vec<f32> = take.samples.iter().map(|x| (x * 4.0 / peak).clamp(-1.0, 1.0)).collect();
        assert!(matches!(check_take(&Take { samples: hot, sample_rate: rate }, 1, &limits), Err(Rejection::Clipped { .. })), "{}", path.display());
    }
    eprintln!("{} utterances accepted; least speech: {:.0}% of a take", files.len(), 100.0 * fewest_speech_fraction);
}
