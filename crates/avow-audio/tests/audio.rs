//! Round trips, format coverage, bad input and resampling accuracy.

use std::io::Cursor;

use avow_audio::*;

fn sine(freq: f32, rate: u32, n: usize, amp: f32) -> Vec<f32> {
    (0..n)
        .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
        .collect()
}

fn wav_bytes(spec: hound::WavSpec, ints: &[i32]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for &s in ints {
            match spec.bits_per_sample {
                8 => w.write_sample(s as i8).unwrap(),
                16 => w.write_sample(s as i16).unwrap(),
                _ => w.write_sample(s).unwrap(),
            }
        }
        w.finalize().unwrap();
    }
    buf.into_inner()
}

#[test]
fn reads_every_integer_depth_to_the_same_scale() {
    for bits in [8u16, 16, 24, 32] {
        let full = (1i64 << (bits - 1)) as f64;
        let half = (full / 2.0) as i32;
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 22050,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let bytes = wav_bytes(spec, &[half, -half, 0, half]);
        let a = read_audio_from(Cursor::new(bytes)).unwrap();
        assert_eq!((a.sample_rate, a.channels, a.frames()), (22050, 2, 2));
        assert!((a.samples[0] - 0.5).abs() < 1e-6, "{bits}: {:?}", a.samples);
        assert!((a.samples[1] + 0.5).abs() < 1e-6);
        assert_eq!(a.to_mono(), vec![0.0, 0.25]);
    }
}

#[test]
fn float_wav_round_trips_exactly_and_pcm16_within_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let x = sine(440.0, 24000, 2400, 0.7);
    let p = dir.path().join("f.wav");
    write_wav(&p, &x, 24000, WavFormat::Float32).unwrap();
    let a = read_wav(&p).unwrap();
    assert_eq!(a.samples, x);
    let p16 = dir.path().join("i.wav");
    write_wav(&p16, &x, 24000, WavFormat::Pcm16).unwrap();
    let b = read_audio(&p16).unwrap();
    assert_eq!(b.sample_rate, 24000);
    let err = x
        .iter()
        .zip(&b.samples)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err <= 0.5 / 32768.0 + 1e-7, "{err}");
    // Only the final file remains in the directory: no temp leftovers.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn writing_nan_fails_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.wav");
    let mut x = vec![0.1f32; 100];
    x[37] = f32::NAN;
    match write_wav(&p, &x, 24000, WavFormat::Pcm16) {
        Err(AudioError::NonFinite { index: 37 }) => {}
        other => panic!("{other:?}"),
    }
    assert!(!p.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(to_s16le(&x).is_err());
}

#[test]
fn writing_into_missing_directory_is_an_io_error() {
    let r = write_wav(
        "/nonexistent-dir-avow/x.wav",
        &[0.0; 10],
        24000,
        WavFormat::Pcm16,
    );
    assert!(matches!(r, Err(AudioError::Io { .. })), "{r:?}");
}

#[test]
fn float_wav_with_nan_is_refused_on_read() {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for s in [0.0f32, 0.5, f32::INFINITY] {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }
    let r = read_audio_from(Cursor::new(buf.into_inner()));
    assert!(
        matches!(r, Err(AudioError::NonFinite { index: 2 })),
        "{r:?}"
    );
}

#[test]
fn malformed_empty_and_truncated_inputs_give_errors() {
    assert!(matches!(
        read_audio_from(Cursor::new(Vec::new())),
        Err(AudioError::Malformed(_))
    ));
    assert!(matches!(
        read_audio_from(Cursor::new(b"hello world, not audio".to_vec())),
        Err(AudioError::Malformed(_))
    ));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let empty = wav_bytes(spec, &[]);
    assert!(matches!(
        read_audio_from(Cursor::new(empty)),
        Err(AudioError::Empty)
    ));
    let mut trunc = wav_bytes(spec, &[1; 1000]);
    trunc.truncate(30);
    assert!(read_audio_from(Cursor::new(trunc)).is_err());
    assert!(matches!(
        read_audio("/nonexistent/file.wav"),
        Err(AudioError::Io { .. })
    ));
}

#[test]
fn s16le_encoding_clips_and_is_little_endian() {
    let b = to_s16le(&[0.0, 1.0, -1.0, 2.0, 0.5]).unwrap();
    assert_eq!(b.len(), 10);
    assert_eq!(i16::from_le_bytes([b[2], b[3]]), 32767);
    assert_eq!(i16::from_le_bytes([b[4], b[5]]), -32768);
    assert_eq!(i16::from_le_bytes([b[6], b[7]]), 32767);
    assert_eq!(i16::from_le_bytes([b[8], b[9]]), 16384);
}

#[test]
fn resampling_keeps_length_alignment_and_tone() {
    for (from, to) in [
        (24000u32, 16000u32),
        (16000, 24000),
        (24000, 44100),
        (44100, 24000),
        (48000, 24000),
    ] {
        let f = 1000.0f64;
        let x = sine(f as f32, from, from as usize, 0.5);
        let y = resample(&x, from, to).unwrap();
        assert_eq!(y.len(), to as usize, "{from}->{to}");
        // Fit amplitude and phase of the 1 kHz tone away from the edges; the
        // residual after the fit measures distortion and aliasing.
        let m = to as usize / 10;
        let w = 2.0 * std::f64::consts::PI * f / f64::from(to);
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for (i, &v) in y.iter().enumerate().take(y.len() - m).skip(m) {
            s += f64::from(v) * (w * i as f64).sin();
            c += f64::from(v) * (w * i as f64).cos();
        }
        let n = (y.len() - 2 * m) as f64;
        let amp = 2.0 * (s * s + c * c).sqrt() / n;
        let phase = c.atan2(s);
        assert!((amp - 0.5).abs() < 0.005, "{from}->{to}: amplitude {amp}");
        // Within one output sample of the ideal position.
        assert!(
            (phase / w).abs() < 1.0,
            "{from}->{to}: delay {} samples",
            phase / w
        );
        let resid: f64 = (m..y.len() - m)
            .map(|i| (f64::from(y[i]) - amp * (w * i as f64 + phase).sin()).powi(2))
            .sum::<f64>()
            / n;
        assert!(
            resid.sqrt() < 1e-3,
            "{from}->{to}: residual {}",
            resid.sqrt()
        );
    }
}

#[test]
fn resampling_removes_content_above_the_new_nyquist() {
    let x = sine(10000.0, 24000, 24000, 0.5);
    let y = resample(&x, 24000, 16000).unwrap();
    let m = 1000;
    let rms =
        (y[m..y.len() - m].iter().map(|v| v * v).sum::<f32>() / (y.len() - 2 * m) as f32).sqrt();
    assert!(rms < 0.01, "{rms}");
}

#[test]
fn resampling_rejects_bad_parameters() {
    assert!(resample(&[0.0; 10], 0, 16000).is_err());
    assert!(resample(&[0.0, f32::NAN], 16000, 24000).is_err());
    assert_eq!(resample(&[], 16000, 24000).unwrap(), Vec::<f32>::new());
}

#[test]
fn reads_shared_flac_when_present() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/librispeech/test-other/1688"
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipping: shared LibriSpeech data not found at {dir}");
        return;
    };
    let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    let a = read_audio(&paths[0]).unwrap();
    assert_eq!((a.sample_rate, a.channels), (16000, 1));
    assert!(a.duration_secs() > 1.0);
    let peak = a.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak > 0.01 && peak <= 1.0, "{peak}");
}

#[test]
fn resampling_keeps_an_impulse_in_place() {
    for (from, to) in [
        (24000u32, 16000u32),
        (16000, 24000),
        (24000, 44100),
        (44100, 24000),
    ] {
        let mut x = vec![0.0f32; from as usize];
        let p = from as usize / 2 + 3;
        x[p] = 1.0;
        let y = resample(&x, from, to).unwrap();
        let peak = (0..y.len())
            .max_by(|&a, &b| y[a].abs().total_cmp(&y[b].abs()))
            .unwrap();
        let want = p as f64 * f64::from(to) / f64::from(from);
        assert!(
            (peak as f64 - want).abs() <= 1.0,
            "{from}->{to}: {peak} vs {want}"
        );
    }
}

/// A WAV as a streaming writer sends it: the header is written before the
/// length is known, so the RIFF and `data` sizes carry a placeholder.
fn streamed_wav(spec: hound::WavSpec, ints: &[i32], placeholder: u32) -> Vec<u8> {
    let mut bytes = wav_bytes(spec, ints);
    bytes[4..8].copy_from_slice(&placeholder.to_le_bytes());
    assert_eq!(&bytes[36..40], b"data", "hound writes a 44-byte header");
    bytes[40..44].copy_from_slice(&placeholder.to_le_bytes());
    bytes
}

#[test]
fn a_streamed_wav_with_unknown_sizes_is_read_to_the_end() {
    let mono = hound::WavSpec { channels: 1, sample_rate: 24_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let ints: Vec<i32> = (0..4800).map(|i| (i * 7 % 2000) - 1000).collect();
    let whole = read_audio_from(Cursor::new(wav_bytes(mono, &ints))).unwrap();
    for placeholder in [u32::MAX, 0] {
        // Through a file, as `avow detect` reads it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("streamed.wav");
        std::fs::write(&path, streamed_wav(mono, &ints, placeholder)).unwrap();
        let streamed = read_audio(&path).unwrap_or_else(|e| panic!("size {placeholder:#x}: {e}"));
        assert_eq!(streamed, whole, "size {placeholder:#x}: every sample, nothing more");
    }
    // A stream cut in the middle of a stereo frame: the partial frame is dropped.
    let stereo = hound::WavSpec { channels: 2, ..mono };
    let mut cut = streamed_wav(stereo, &ints, u32::MAX);
    cut.truncate(cut.len() - 3);
    let audio = read_audio_from(Cursor::new(cut)).unwrap();
    assert_eq!((audio.channels, audio.frames()), (2, ints.len() / 2 - 1));
    assert_eq!(audio.samples[..], whole.samples[..ints.len() - 2]);
    // A real size that runs past the end is still a truncated file, not a stream.
    let mut truncated = wav_bytes(mono, &ints);
    truncated.truncate(1000);
    assert!(read_audio_from(Cursor::new(truncated)).is_err());
}

