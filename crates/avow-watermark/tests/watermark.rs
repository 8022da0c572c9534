//! Round trip, streaming equivalence, attacks at reduced size, false
//! positives and bad input for the avow watermark.

use avow_watermark::{parse_payload, Detector, Key, WatermarkError, Watermarker, RATE};
use rand::{Rng, SeedableRng};

const SHARED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/librispeech"
);

/// A speech-like test signal: voiced syllables (harmonics of a gliding F0
/// under a formant-ish envelope) separated by short pauses, plus a little
/// noise. Used when the shared LibriSpeech data is absent and for cases
/// that need exact control.
fn speechlike(secs: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = (secs * RATE as f32) as usize;
    let mut out = vec![0.0f32; n];
    let mut t = 0usize;
    while t < n {
        let syl = rng.gen_range(2400..6000);
        let gap = rng.gen_range(600..3000);
        let f0 = rng.gen_range(90.0f32..220.0);
        let glide = rng.gen_range(-0.3f32..0.3);
        let formant = rng.gen_range(500.0f32..2500.0);
        let mut phase = 0.0f32;
        for i in 0..syl.min(n - t) {
            let p = i as f32 / syl as f32;
            let f = f0 * (1.0 + glide * p);
            phase += 2.0 * std::f32::consts::PI * f / RATE as f32;
            let env = (std::f32::consts::PI * p).sin().powf(0.7);
            let mut s = 0.0;
            for h in 1..40 {
                let fh = f * h as f32;
                if fh > 10_000.0 {
                    break;
                }
                let a = 1.0 / (1.0 + ((fh - formant) / 400.0).powi(2)) + 0.15 / h as f32;
                s += a * (h as f32 * phase).sin();
            }
            out[t + i] = 0.08 * env * s;
        }
        t += syl + gap;
    }
    for v in &mut out {
        *v += 0.0005 * rng.gen_range(-1.0f32..1.0);
    }
    out
}

/// Real speech when the shared data is present (5 s at 24 kHz), else the
/// speech-like signal.
fn speech(index: usize) -> Vec<f32> {
    let dir = format!("{SHARED}/test-other/1688");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut paths: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths.iter().skip(index) {
            let a = avow_audio::read_audio(p).expect("shared FLAC decodes");
            let x = avow_audio::resample(&a.to_mono(), a.sample_rate, RATE).expect("resample");
            if x.len() >= 6 * RATE as usize {
                return x[RATE as usize / 2..RATE as usize / 2 + 5 * RATE as usize].to_vec();
            }
        }
    }
    eprintln!(
        "note: shared LibriSpeech data not found at {SHARED}; using a synthetic speech-like signal"
    );
    speechlike(5.0, index as u64)
}

fn key() -> Key {
    Key::default_public()
}

#[test]
fn round_trip_recovers_payload_with_tiny_p_value() {
    for (i, payload) in [(0usize, 0xdead_beefu32), (2, 0x0000_0001), (4, 0xffff_ffff)] {
        let x = speech(i);
        let y = Watermarker::new(&key(), payload).embed(&x).unwrap();
        assert_eq!(y.len(), x.len());
        let d = Detector::new(&key()).detect(&y, RATE).unwrap();
        assert!(d.detected, "clip {i}: p = {}", d.p_value);
        assert!(d.p_value < 1e-9, "clip {i}: p = {}", d.p_value);
        assert_eq!(d.payload, Some(payload), "clip {i}: raw {:08x}", d.raw_bits);
        assert!(d.crc_ok);
        // The whole clip is marked.
        let covered: f64 = d.ranges.iter().map(|r| r.1 - r.0).sum();
        assert!(covered > 0.8 * d.duration, "{:?}", d.ranges);
    }
}

#[test]
fn round_trip_on_synthetic_speechlike_signal() {
    let x = speechlike(6.0, 11);
    let y = Watermarker::new(&key(), 0x1234_5678).embed(&x).unwrap();
    let d = Detector::new(&key()).detect(&y, RATE).unwrap();
    assert!(d.detected, "p = {}", d.p_value);
    assert_eq!(d.payload, Some(0x1234_5678));
}

#[test]
fn mark_is_small_relative_to_the_signal() {
    let x = speech(1);
    let y = Watermarker::new(&key(), 42).embed(&x).unwrap();
    let ps: f64 = x.iter().map(|v| f64::from(*v).powi(2)).sum();
    let pn: f64 = x
        .iter()
        .zip(&y)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum();
    let snr = 10.0 * (ps / pn).log10();
    assert!(snr > 15.0, "SNR {snr:.1} dB");
}

#[test]
fn energy_weighted_mark_keeps_segmental_snr_high() {
    // Protects the power-weighted cell shaping and the valley gating. With
    // a flat dB change per band these clips measured 25.8–30.7 dB segmental
    // SNR on the shared speech (17.7–19.1 dB on the synthetic fallback);
    // weighted, 34.0–37.1 dB (23.6–24.6 dB).
    let real = std::path::Path::new(SHARED)
        .join("test-other/1688")
        .is_dir();
    let floor = if real { 32.5 } else { 21.5 };
    for i in [0usize, 1, 4] {
        let x = speech(i);
        let y = Watermarker::new(&key(), 0x5eed_0000 + i as u32)
            .embed(&x)
            .unwrap();
        let seg = avow_audio::snr::segmental_snr(&x, &y, RATE).expect("speech frames");
        assert!(seg > floor, "clip {i}: segmental SNR {seg:.1} dB");
        let d = Detector::new(&key()).detect(&y, RATE).unwrap();
        assert_eq!(d.payload, Some(0x5eed_0000 + i as u32), "clip {i}");
    }
}

#[test]
fn short_utterances_marked_on_their_own_are_detected() {
    // An AAC user's "Yes." is 0.7-1 s of speech, marked as a stream of its
    // own. Presence must hold there even though the payload needs more
    // (1.5-2 s). Two things make it hold: eight band groups (with four, a
    // 1 s utterance has too few terms for the self-normalized score to
    // reach the threshold once quiet units are unmarked: 33 of 50 found)
    // and the stream-start alignment's own share of the false-positive
    // budget (without it, 46 of 50 at 1 s and 17 of 20 short phrases).
    let det = Detector::new(&key());
    for i in 0..6 {
        let x = speech(i);
        for secs in [0.7f32, 1.0, 1.5] {
            let short = &x[..(secs * RATE as f32) as usize];
            let y = Watermarker::new(&key(), 0x5407_0000 + i as u32).embed(short).unwrap();
            let d = det.detect(&y, RATE).unwrap();
            assert!(d.detected, "clip {i}, {secs} s: p = {:.1e}", d.p_value);
        }
    }
}

#[test]
fn quiet_stretches_are_left_unmarked_but_quiet_recordings_are_not() {
    // The loudness gate is relative to the speech around it: a passage 30 dB
    // under the speech before it carries no mark at all, while the same
    // passage on its own (a quiet recording) is marked and detected.
    let x = speech(0);
    let payload = 0x9a7e_0001;
    let wm = Watermarker::new(&key(), payload);
    let quiet: Vec<f32> = x.iter().map(|v| v * 0.0316).collect();
    let mut both = x.clone();
    both.extend(&quiet);
    let y = wm.embed(&both).unwrap();
    // After the loud part, apart from the overlap of its last unit, and
    // within the peak's memory (3 s), the mark is exactly absent.
    let from = x.len() + 2048;
    let to = x.len() + 2 * RATE as usize;
    assert!(
        y[from..to].iter().zip(&both[from..to]).all(|(a, b)| a == b),
        "quiet passage after loud speech was marked"
    );
    let alone = wm.embed(&quiet).unwrap();
    let d = Detector::new(&key()).detect(&alone, RATE).unwrap();
    assert!(d.detected, "quiet recording: p = {}", d.p_value);
    assert_eq!(d.payload, Some(payload));
}

#[test]
fn a_loud_click_does_not_switch_the_mark_off_for_long() {
    // A transient 40 dB above the speech (in a file marked with `avow
    // watermark embed`) gates at most the peak's memory (3 s) after it; the
    // 5 s of speech that follow are marked again and carry the payload.
    let x = speech(1);
    let payload = 0xc11c_0002;
    let mut input: Vec<f32> = x[..RATE as usize].to_vec();
    let click_at = input.len();
    // 20 ms of two full-scale tones inside the marked bands.
    input.extend((0..480).map(|i| {
        let t = i as f32 / RATE as f32;
        0.49 * (2.0 * std::f32::consts::PI * 1500.0 * t).sin() + 0.49 * (2.0 * std::f32::consts::PI * 3100.0 * t).sin()
    }));
    let speech_at = input.len();
    input.extend(&x);
    let y = Watermarker::new(&key(), payload).embed(&input).unwrap();
    let d = Detector::new(&key()).detect(&y[click_at..], RATE).unwrap();
    assert!(d.detected, "p = {}", d.p_value);
    assert_eq!(d.payload, Some(payload));
    let after = speech_at + 4 * RATE as usize;
    let changed = y[after..].iter().zip(&input[after..]).filter(|(a, b)| a != b).count();
    assert!(changed > (y.len() - after) / 2, "{changed} samples marked after the memory");
}

#[test]
fn streaming_in_any_chunking_equals_whole_signal() {
    let x = speech(3);
    let wm = Watermarker::new(&key(), 0xcafe_f00d);
    let whole = wm.embed(&x).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for sizes in [
        vec![1usize],
        vec![7, 0, 1000],
        vec![24_000],
        vec![255, 256, 257],
        vec![],
    ] {
        let mut s = wm.stream();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < x.len() {
            let n = if sizes.is_empty() {
                rng.gen_range(0..5000)
            } else {
                sizes[k % sizes.len()]
            };
            k += 1;
            let end = (pos + n).min(x.len());
            let chunk = s.push(&x[pos..end]).unwrap();
            out.extend(chunk);
            pos = end;
            assert!(
                pos - out.len() <= avow_watermark::EmbedStream::MAX_LATENCY,
                "held back {}",
                pos - out.len()
            );
        }
        out.extend(s.finish());
        assert_eq!(out.len(), whole.len());
        assert!(
            out == whole,
            "chunking {sizes:?} differs from whole-signal embedding"
        );
    }
}

#[test]
fn independent_streams_do_not_share_state() {
    let a = speech(0);
    let b = speechlike(5.0, 3);
    let wm = Watermarker::new(&key(), 7);
    let (wa, wb) = (wm.embed(&a).unwrap(), wm.embed(&b).unwrap());
    let mut sa = wm.stream();
    let mut sb = wm.stream();
    let (mut oa, mut ob) = (Vec::new(), Vec::new());
    for i in (0..a.len().max(b.len())).step_by(3000) {
        if i < a.len() {
            oa.extend(sa.push(&a[i..(i + 3000).min(a.len())]).unwrap());
        }
        if i < b.len() {
            ob.extend(sb.push(&b[i..(i + 3000).min(b.len())]).unwrap());
        }
    }
    oa.extend(sa.finish());
    ob.extend(sb.finish());
    assert!(oa == wa && ob == wb);
}

#[test]
fn unmarked_and_wrong_key_are_not_detected() {
    let x = speech(0);
    let det = Detector::new(&key());
    let d = det.detect(&x, RATE).unwrap();
    assert!(!d.detected && d.payload.is_none(), "p = {}", d.p_value);
    let other = Key::from_secret(&[9u8; 32]).unwrap();
    let y = Watermarker::new(&other, 5).embed(&x).unwrap();
    let d = det.detect(&y, RATE).unwrap();
    assert!(
        !d.detected,
        "public detector found a secret-key mark: p = {}",
        d.p_value
    );
    let d = Detector::new(&other).detect(&y, RATE).unwrap();
    assert!(d.detected && d.payload == Some(5));
}

fn assert_survives(name: &str, y: &[f32], rate: u32, payload: u32) {
    let d = Detector::new(&key()).detect(y, rate).unwrap();
    assert!(d.detected, "{name}: not detected, p = {}", d.p_value);
    let wrong = (d.raw_bits ^ payload).count_ones();
    assert!(wrong <= 2, "{name}: {wrong} payload bits wrong");
}

#[test]
fn survives_resampling_gain_filtering_and_crop() {
    let x = speech(5);
    let payload = 0x5a5a_1234;
    let y = Watermarker::new(&key(), payload).embed(&x).unwrap();
    let down = avow_audio::resample(&y, RATE, 16_000).unwrap();
    assert_survives("16 kHz", &down, 16_000, payload);
    let up = avow_audio::resample(&y, RATE, 44_100).unwrap();
    assert_survives("44.1 kHz", &up, 44_100, payload);
    let quiet: Vec<f32> = y.iter().map(|v| v * 0.316).collect();
    assert_survives("-10 dB", &quiet, RATE, payload);
    let loud: Vec<f32> = y.iter().map(|v| (v * 2.0).clamp(-1.0, 1.0)).collect();
    assert_survives("+6 dB clipped", &loud, RATE, payload);
    // One-pole high-pass around 500 Hz and low-pass around 5 kHz.
    let mut hp = vec![0.0f32; y.len()];
    let a = (-2.0 * std::f32::consts::PI * 500.0 / RATE as f32).exp();
    for i in 1..y.len() {
        hp[i] = a * (hp[i - 1] + y[i] - y[i - 1]);
    }
    assert_survives("highpass", &hp, RATE, payload);
    let b = (-2.0 * std::f32::consts::PI * 5000.0 / RATE as f32).exp();
    let mut lp = vec![0.0f32; y.len()];
    for i in 1..y.len() {
        lp[i] = (1.0 - b) * y[i] + b * lp[i - 1];
    }
    assert_survives("lowpass", &lp, RATE, payload);
    let crop = &y[RATE as usize * 3 / 2..RATE as usize * 9 / 2];
    assert_survives("3 s crop", crop, RATE, payload);
}

#[test]
fn survives_noise_quantization_and_stereo() {
    let x = speech(6);
    let payload = 0x0bad_cafe;
    let y = Watermarker::new(&key(), payload).embed(&x).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let ps: f32 = y.iter().map(|v| v * v).sum::<f32>() / y.len() as f32;
    let g = (ps / 1000.0 * 3.0).sqrt(); // 30 dB SNR, uniform noise
    let noisy: Vec<f32> = y
        .iter()
        .map(|v| v + g * rng.gen_range(-1.0f32..1.0))
        .collect();
    assert_survives("white noise 30 dB", &noisy, RATE, payload);
    let q16: Vec<f32> = y.iter().map(|v| (v * 32768.0).round() / 32768.0).collect();
    assert_survives("16-bit", &q16, RATE, payload);
    let stereo: Vec<f32> = y.iter().flat_map(|&v| [v, v * 0.5]).collect();
    let audio = avow_audio::Audio {
        samples: stereo,
        sample_rate: RATE,
        channels: 2,
    };
    let d = Detector::new(&key()).detect_audio(&audio).unwrap();
    assert_eq!(d.payload, Some(payload));
}

#[test]
fn splice_is_detected_and_localized() {
    let marked = Watermarker::new(&key(), 99).embed(&speech(7)).unwrap();
    let mut s = speechlike(4.0, 21);
    let start = s.len();
    s.extend_from_slice(&marked);
    let end = s.len();
    s.extend(speechlike(4.0, 22));
    let d = Detector::new(&key()).detect(&s, RATE).unwrap();
    assert!(d.detected, "p = {}", d.p_value);
    let secs = |i: usize| i as f64 / f64::from(RATE);
    let covers = |t: f64| d.ranges.iter().any(|r| r.0 <= t && t <= r.1);
    assert!(covers((secs(start) + secs(end)) / 2.0), "{:?}", d.ranges);
    assert!(!covers(1.0) && !covers(secs(end) + 3.0), "{:?}", d.ranges);
}

#[test]
fn short_marked_excerpt_in_long_unmarked_audio_is_found_by_the_window_search() {
    // 5 s of marked speech between 15 s of unmarked audio on each side: the
    // whole-signal score is diluted by the 30 s of unmarked audio, so this
    // protects the detector's one- and two-block window search.
    let payload = 0x1357_9bdf;
    let marked = Watermarker::new(&key(), payload).embed(&speech(3)).unwrap();
    let mut s = speechlike(15.0, 31);
    let start = s.len();
    s.extend_from_slice(&marked);
    s.extend(speechlike(15.0, 32));
    let d = Detector::new(&key()).detect(&s, RATE).unwrap();
    assert!(d.detected, "p = {}, score {}", d.p_value, d.score);
    assert_eq!(d.payload, Some(payload));
    let mid = (start + marked.len() / 2) as f64 / f64::from(RATE);
    assert!(
        d.ranges.iter().any(|r| r.0 <= mid && mid <= r.1),
        "{:?}",
        d.ranges
    );
}

#[test]
fn survives_echo_and_pink_noise() {
    let x = speech(9);
    let payload = 0x2468_ace0;
    let y = Watermarker::new(&key(), payload).embed(&x).unwrap();
    // Echo: 0.3 s delay, volume 0.4 (the benchmark's setting).
    let d = (0.3 * f64::from(RATE)) as usize;
    let echo: Vec<f32> = (0..y.len())
        .map(|i| y[i] + if i >= d { 0.4 * y[i - d] } else { 0.0 })
        .collect();
    assert_survives("echo", &echo, RATE, payload);
    // Pink-ish noise (integrated white noise, leaky) at 30 dB SNR.
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let mut acc = 0.0f32;
    let noise: Vec<f32> = (0..y.len())
        .map(|_| {
            acc = 0.98 * acc + rng.gen_range(-1.0f32..1.0);
            acc
        })
        .collect();
    let ps: f32 = y.iter().map(|v| v * v).sum();
    let pn: f32 = noise.iter().map(|v| v * v).sum();
    let g = (ps / pn / 1000.0).sqrt();
    let noisy: Vec<f32> = y.iter().zip(&noise).map(|(a, b)| a + g * b).collect();
    assert_survives("pink noise 30 dB", &noisy, RATE, payload);
}

#[test]
fn mp3_round_trip_when_ffmpeg_is_present() {
    let dir = std::env::temp_dir().join(format!("avow-wm-mp3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let payload = 0x600d_f00d;
    let y = Watermarker::new(&key(), payload).embed(&speech(8)).unwrap();
    let wav = dir.join("m.wav");
    avow_audio::write_wav(&wav, &y, RATE, avow_audio::WavFormat::Pcm16).unwrap();
    let mp3 = dir.join("m.mp3");
    let back = dir.join("back.wav");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-i"])
        .arg(&wav)
        .args(["-c:a", "libmp3lame", "-b:a", "64k"])
        .arg(&mp3)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        && std::process::Command::new("ffmpeg")
            .args(["-y", "-loglevel", "error", "-i"])
            .arg(&mp3)
            .arg(&back)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !ok {
        eprintln!("skipping: ffmpeg with libmp3lame not available");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let a = avow_audio::read_audio(&back).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let d = Detector::new(&key()).detect_audio(&a).unwrap();
    assert!(d.detected, "p = {}", d.p_value);
    assert!((d.raw_bits ^ payload).count_ones() <= 2);
}

#[test]
fn no_false_positive_on_shared_speech() {
    let mut files = Vec::new();
    for sub in ["test-other", "train-clean-100"] {
        let Ok(rd) = std::fs::read_dir(format!("{SHARED}/{sub}")) else {
            eprintln!("skipping: shared LibriSpeech data not found at {SHARED}");
            return;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                if let Ok(r2) = std::fs::read_dir(&p) {
                    files.extend(r2.flatten().map(|e| e.path()));
                }
            } else {
                files.push(p);
            }
        }
    }
    files.retain(|p| p.extension().is_some_and(|e| e == "flac"));
    assert!(files.len() >= 100, "{} files", files.len());
    let det = Detector::new(&key());
    for p in &files {
        let a = avow_audio::read_audio(p).unwrap();
        let d = det.detect_audio(&a).unwrap();
        assert!(
            !d.detected,
            "false positive on {}: p = {}",
            p.display(),
            d.p_value
        );
        assert!(
            d.p_value > 1e-3,
            "{}: suspiciously low p = {}",
            p.display(),
            d.p_value
        );
    }
}

#[test]
fn bad_inputs_give_errors_or_honest_negatives() {
    let det = Detector::new(&key());
    let wm = Watermarker::new(&key(), 1);
    // Empty and too short.
    assert!(matches!(
        det.detect(&[], RATE),
        Err(WatermarkError::TooShort { .. })
    ));
    assert!(matches!(
        det.detect(&[0.1; 300], RATE),
        Err(WatermarkError::TooShort { .. })
    ));
    assert_eq!(wm.embed(&[]).unwrap(), Vec::<f32>::new());
    assert_eq!(wm.embed(&[0.25; 100]).unwrap().len(), 100);
    // Silence: embedding leaves it silent; detection says no.
    let silence = vec![0.0f32; 5 * RATE as usize];
    assert!(wm.embed(&silence).unwrap().iter().all(|&v| v == 0.0));
    let d = det.detect(&silence, RATE).unwrap();
    assert!(!d.detected && d.p_value >= 1e-3);
    // Full-scale square wave (clipped audio).
    let square: Vec<f32> = (0..5 * RATE as usize)
        .map(|i| if (i / 60) % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let y = wm.embed(&square).unwrap();
    assert!(y.iter().all(|v| v.is_finite()));
    assert!(!det.detect(&square, RATE).unwrap().detected);
    // NaN and infinity are refused, with the position.
    let mut x = speechlike(2.0, 1);
    x[1234] = f32::NAN;
    assert!(matches!(
        det.detect(&x, RATE),
        Err(WatermarkError::Audio(avow_audio::AudioError::NonFinite {
            index: 1234
        }))
    ));
    assert!(wm.embed(&x).is_err());
    x[1234] = f32::INFINITY;
    assert!(wm.stream().push(&x).is_err());
    // Odd sample rates.
    assert!(det.detect(&[0.0; 48_000], 4_000).is_err());
    assert!(wm.embed_at_rate(&[0.0; 48_000], 8_000).is_err());
    // At other rates too, a non-finite sample is refused with its own index
    // (not one of the converted signal).
    let mut x48 = vec![0.0f32; 48_000];
    x48[777] = f32::NAN;
    assert!(matches!(
        wm.embed_at_rate(&x48, 48_000),
        Err(WatermarkError::Audio(avow_audio::AudioError::NonFinite { index: 777 }))
    ));
}

#[test]
fn long_input_is_handled() {
    // Two minutes of unmarked speech-like audio: an honest "no", no panic.
    let x = speechlike(120.0, 77);
    let d = Detector::new(&key()).detect(&x, RATE).unwrap();
    assert!(!d.detected);
    // And a marked one at 48 kHz via embed_at_rate.
    let x48 = avow_audio::resample(&speech(9), RATE, 48_000).unwrap();
    let y48 = Watermarker::new(&key(), 0xabc)
        .embed_at_rate(&x48, 48_000)
        .unwrap();
    assert_eq!(y48.len(), x48.len());
    let d = Detector::new(&key()).detect(&y48, 48_000).unwrap();
    assert_eq!(d.payload, Some(0xabc));
}

#[test]
fn keys_and_payloads_parse() {
    assert_eq!(parse_payload("deadbeef").unwrap(), 0xdead_beef);
    assert_eq!(parse_payload("0x1").unwrap(), 1);
    assert!(parse_payload("").is_err());
    assert!(parse_payload("123456789").is_err());
    assert!(parse_payload("xyz").is_err());
    assert_eq!(Key::parse("").unwrap(), Key::default_public());
    assert_eq!(Key::parse("avow-public-v1").unwrap().id(), "avow-public-v1");
    assert!(Key::parse("00ff").is_err(), "short secret keys are refused");
    let k = Key::parse(&"ab".repeat(16)).unwrap();
    assert!(k.id().starts_with("secret-"));
    assert!(
        !format!("{k:?}").contains("abab"),
        "Debug must not print key material"
    );
}

#[test]
fn speed_search_finds_speed_changed_audio() {
    let x = speech(4);
    let payload = 0x7e57_5eed;
    let y = Watermarker::new(&key(), payload).embed(&x).unwrap();
    // Played 4.5 % fast (pitch up too): read the samples as if recorded at
    // 24 kHz * 1.045 and resample to 24 kHz.
    let fast = avow_audio::resample(&y, 25_080, RATE).unwrap();
    let plain = Detector::new(&key()).detect(&fast, RATE).unwrap();
    assert!(
        !plain.detected,
        "plain search should not align: p = {}",
        plain.p_value
    );
    let d = Detector::new(&key())
        .with_speed_search(true)
        .detect(&fast, RATE)
        .unwrap();
    assert!(d.detected, "p = {}", d.p_value);
    assert_eq!(d.payload, Some(payload));
    // Unmarked audio stays unmarked under the wider search.
    let d = Detector::new(&key())
        .with_speed_search(true)
        .detect(&x, RATE)
        .unwrap();
    assert!(!d.detected, "p = {}", d.p_value);
}

#[test]
fn excerpts_too_short_for_the_payload_report_none_and_three_second_excerpts_are_detected() {
    // A 1 s excerpt carries a third of the coded bits: the presence test
    // may still fire, but the payload is underdetermined (unobserved bits
    // decode as zeros, which pass CRC-8 far too often), so none is reported.
    // Quiet stretches carry no mark (the loudness gate), so how much of an
    // excerpt carries the payload depends on its speech.
    let det = Detector::new(&key());
    // Payload 0 is the case the zero ties would "confirm" by chance.
    for (i, payload) in [(0usize, 0u32), (1, 0x8000_0000), (4, 0x1234_5678)] {
        let y = Watermarker::new(&key(), payload).embed(&speech(i)).unwrap();
        for start in [0usize, RATE as usize, 2 * RATE as usize] {
            let short = &y[start..start + RATE as usize];
            let d = det.detect(short, RATE).unwrap();
            assert_eq!(d.payload, None, "clip {i} at {start}: {:08x}", d.raw_bits);
            assert!(!d.crc_ok, "clip {i} at {start}");
        }
        // Every 3 s excerpt is detected and never reports a wrong payload;
        // most decode exactly (one of these nine, 1688 from 1 s to 4 s, has
        // too little loud speech for the payload: see BENCHMARKS.md).
        let mut exact = 0;
        for st in 0..3 {
            let three = &y[st * RATE as usize..(st + 3) * RATE as usize];
            let d = det.detect(three, RATE).unwrap();
            assert!(d.detected, "clip {i} at {st} s: p = {}", d.p_value);
            assert!(d.payload.is_none_or(|p| p == payload), "clip {i} at {st} s");
            exact += usize::from(d.payload == Some(payload));
        }
        assert!(exact >= 2, "clip {i}: {exact} of 3 excerpts decoded");
        let d = det.detect(&y, RATE).unwrap();
        assert_eq!(d.payload, Some(payload), "clip {i}");
    }
}
