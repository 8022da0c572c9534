//! Enrollment audio checks with real shared recordings and synthetic bad
//! input: what is accepted, what is refused and with which reason.

mod common;

use std::path::{Path, PathBuf};

use avow_audio::{write_wav_channels, WavFormat};
use avow_speaker::enrollment::{
    check, prepare, prepare_file, EnrollError, Limits, ENCODER_RATE, MIN_SPEECH_SECS, MODEL_RATE,
    TARGET_SPEECH_DBFS,
};
use avow_speaker::frontend::dbfs;
use avow_speaker::SpeakerEncoder;

struct Setup {
    enc: SpeakerEncoder,
    data: PathBuf,
    tmp: tempfile::TempDir,
}

fn setup() -> Option<Setup> {
    let data = common::librispeech()?;
    let enc = common::encoder()?;
    Some(Setup {
        enc,
        data,
        tmp: tempfile::tempdir().unwrap(),
    })
}

impl Setup {
    fn file(&self, rel: &str) -> PathBuf {
        self.data.join(rel)
    }
    fn write(&self, name: &str, samples: &[f32], rate: u32, channels: u16) -> PathBuf {
        let p = self.tmp.path().join(name);
        write_wav_channels(&p, samples, rate, channels, WavFormat::Float32).unwrap();
        p
    }
}

const A1: &str = "test-other/1688/1688-142285-0000.flac";
const A2: &str = "test-other/1688/1688-142285-0001.flac";
const A_SHORT: &str = "test-other/1688/1688-142285-0002.flac";
const B1: &str = "test-other/1998/1998-15444-0000.flac";
const C1: &str = "test-other/3080/3080-5032-0000.flac";

#[test]
fn recordings_of_one_speaker_are_accepted_trimmed_and_normalized() {
    let Some(s) = setup() else { return };
    let e = prepare(&[s.file(A1), s.file(A2)], &s.enc, &Limits::default()).unwrap();
    assert!(e.speech_secs >= MIN_SPEECH_SECS, "{}", e.speech_secs);
    assert_eq!(e.agreement.len(), 2);
    eprintln!("agreement {:?}, speech {:.1} s", e.agreement, e.speech_secs);
    for r in &e.recordings {
        let ratio = r.audio_24k.len() as f64 / r.audio_16k.len() as f64;
        assert!((ratio - 1.5).abs() < 0.01, "24k/16k length ratio {ratio}");
        // Normalized loudness: overall RMS near the speech target (pauses
        // pull it a little below), peaks within the limit.
        let level = dbfs(&r.audio_16k);
        assert!((level - TARGET_SPEECH_DBFS).abs() < 4.0, "level {level}");
        assert!(r.audio_24k.iter().all(|x| x.abs() <= 0.9));
        assert!(r.clipped_fraction < 0.001);
    }
}

#[test]
fn leading_and_trailing_silence_is_trimmed() {
    let Some(s) = setup() else { return };
    let speech = common::read_16k(&s.file(A1));
    let mut padded = vec![0.0f32; 3 * 16_000];
    padded.extend(&speech);
    padded.extend(vec![0.0f32; 4 * 16_000]);
    let p = s.write("padded.wav", &padded, 16_000, 1);
    let r = prepare_file(&p, &s.enc, &Limits::default()).unwrap();
    let secs = r.audio_16k.len() as f64 / f64::from(ENCODER_RATE);
    let original = speech.len() as f64 / 16_000.0;
    assert!(
        secs <= original + 0.4,
        "kept {secs:.2} s of {original:.2} s speech + 7 s silence"
    );
    assert!(
        secs >= original - 1.0,
        "cut into speech: {secs:.2} of {original:.2} s"
    );
}

#[test]
fn any_rate_and_channel_count_give_the_same_speaker() {
    let Some(s) = setup() else { return };
    let mono16 = common::read_16k(&s.file(A1));
    let up = avow_audio::resample(&mono16, 16_000, 44_100).unwrap();
    // Stereo with the channels at different levels.
    let stereo: Vec<f32> = up.iter().flat_map(|x| [0.6 * x, 0.3 * x]).collect();
    let p = s.write("stereo44k.wav", &stereo, 44_100, 2);
    let limits = Limits::default();
    let from_stereo = prepare_file(&p, &s.enc, &limits).unwrap();
    let from_flac = prepare_file(&s.file(A1), &s.enc, &limits).unwrap();
    let cos = from_stereo.embedding.cosine(&from_flac.embedding);
    assert!(cos > 0.98, "cosine {cos}");
    let ratio = from_stereo.audio_24k.len() as f64 / f64::from(MODEL_RATE);
    let ratio16 = from_flac.audio_24k.len() as f64 / f64::from(MODEL_RATE);
    assert!((ratio - ratio16).abs() < 0.1, "{ratio} vs {ratio16} s");
}

#[test]
fn silence_is_refused_as_silent() {
    let Some(s) = setup() else { return };
    let zeros = s.write("zeros.wav", &vec![0.0; 5 * 48_000], 48_000, 1);
    let hiss: Vec<f32> = (0..5 * 16_000u32)
        .map(|i| 3e-4 * (((i.wrapping_mul(2_654_435_761)) >> 16) as f32 / 32_768.0 - 1.0))
        .collect();
    let hiss = s.write("hiss.wav", &hiss, 16_000, 1);
    for p in [zeros, hiss] {
        match prepare_file(&p, &s.enc, &Limits::default()) {
            Err(EnrollError::Silent { path, .. }) => assert_eq!(path, p),
            other => panic!("{}: expected Silent, got {other:?}", p.display()),
        }
    }
}

#[test]
fn clipped_audio_is_refused_and_a_loud_clean_one_is_not() {
    let Some(s) = setup() else { return };
    let speech = common::read_16k(&s.file(A1));
    let peak = speech.iter().fold(0f32, |m, x| m.max(x.abs()));
    let clipped: Vec<f32> = speech.iter().map(|x| (x * 8.0).clamp(-1.0, 1.0)).collect();
    let p = s.write("clipped.wav", &clipped, 16_000, 1);
    match prepare_file(&p, &s.enc, &Limits::default()) {
        Err(EnrollError::Clipped { fraction, .. }) => assert!(fraction > 0.001),
        other => panic!("expected Clipped, got {other:?}"),
    }
    // Scaled so its peak is exactly full scale, but not flattened.
    let loud: Vec<f32> = speech.iter().map(|x| x / peak).collect();
    let p = s.write("loud.wav", &loud, 16_000, 1);
    prepare_file(&p, &s.enc, &Limits::default()).unwrap();
}

#[test]
fn less_than_ten_seconds_of_speech_is_refused() {
    let Some(s) = setup() else { return };
    match prepare(&[s.file(A_SHORT)], &s.enc, &Limits::default()) {
        Err(EnrollError::TooLittleSpeech { seconds, required }) => {
            assert!(seconds < 3.0, "{seconds}");
            assert_eq!(required, MIN_SPEECH_SECS);
        }
        other => panic!("expected TooLittleSpeech, got {other:?}"),
    }
}

#[test]
fn a_recording_of_another_speaker_among_them_is_refused_by_name() {
    let Some(s) = setup() else { return };
    let limits = Limits::default();
    let a1 = prepare_file(&s.file(A1), &s.enc, &limits).unwrap();
    let a2 = prepare_file(&s.file(A2), &s.enc, &limits).unwrap();
    for intruder in [B1, C1] {
        let b = prepare_file(&s.file(intruder), &s.enc, &limits).unwrap();
        match check(vec![a1.clone(), a2.clone(), b], &limits) {
            Err(EnrollError::NotOneSpeaker {
                path,
                cosine,
                threshold,
            }) => {
                eprintln!("{intruder}: cosine {cosine:.3} < {threshold}");
                assert_eq!(path, s.file(intruder));
                assert!(cosine < threshold);
            }
            other => panic!("{intruder}: expected NotOneSpeaker, got {other:?}"),
        }
    }
    // Two recordings of two different speakers.
    let b = prepare_file(&s.file(B1), &s.enc, &limits).unwrap();
    assert!(matches!(
        check(vec![a1, b], &limits),
        Err(EnrollError::NotOneSpeaker { .. })
    ));
}

#[test]
fn unreadable_and_missing_input_is_a_typed_error() {
    let Some(s) = setup() else { return };
    let junk = s.tmp.path().join("junk.wav");
    std::fs::write(&junk, b"RIFF\0\0\0\0WAVEjunk").unwrap();
    let missing = Path::new("/nonexistent/x.flac").to_path_buf();
    for p in [junk, missing] {
        assert!(
            matches!(
                prepare(&[p.clone()], &s.enc, &Limits::default()),
                Err(EnrollError::Unreadable { .. })
            ),
            "{}",
            p.display()
        );
    }
    assert!(matches!(
        prepare(&[], &s.enc, &Limits::default()),
        Err(EnrollError::NoRecordings)
    ));
}
