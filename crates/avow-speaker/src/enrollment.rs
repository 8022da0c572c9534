//! Reference recordings for enrollment: read any WAV/FLAC (any rate, any
//! channel count), produce mono 24 kHz (for the voice model) and 16 kHz (for
//! the speaker encoder and speech recognition), trim leading and trailing
//! silence, normalize loudness, and refuse, with a typed reason, audio that
//! would make a bad or a dishonest voice: silence, clipping, less than
//! [`MIN_SPEECH_SECS`] of speech in total, or recordings that do not come
//! from one speaker.
//!
//! Speech is found with an energy detector on 30 ms frames (not webrtcvad):
//! a frame is speech when it is well above the recording's noise floor and
//! within [`SPEECH_RANGE_DB`] of its loud frames, after resemblyzer-style
//! smoothing. Pauses inside a recording are kept (only the ends are
//! trimmed) but do not count as speech time.

use std::path::{Path, PathBuf};

use avow_audio::{read_audio, resample, AudioError};

use crate::calibration::ENROLL_AGREEMENT_THRESHOLD;
use crate::{Embedding, SpeakerEncoder, SpeakerError};

/// Rate of the voice model's audio.
pub const MODEL_RATE: u32 = 24_000;
/// Rate of the speaker encoder's (and speech recognition's) audio.
pub const ENCODER_RATE: u32 = 16_000;
/// Speech needed across all recordings, in seconds.
pub const MIN_SPEECH_SECS: f64 = 10.0;
/// Largest tolerated fraction of clipped samples (0.1%).
pub const MAX_CLIPPED_FRACTION: f64 = 0.001;
/// A recording whose loud frames stay below this level (dBFS) is silence.
pub const SILENCE_DBFS: f64 = crate::frontend::VAD_FLOOR_DBFS;
/// Speech frames lie within this many dB of the recording's loud frames.
pub const SPEECH_RANGE_DB: f64 = crate::frontend::VAD_RANGE_DB;
/// Speech is normalized to this RMS level (dBFS) ...
pub const TARGET_SPEECH_DBFS: f64 = -20.0;
/// ... unless that would push a peak above this level (dBFS).
pub const PEAK_LIMIT_DBFS: f64 = -1.0;
/// Silence kept before the first and after the last speech frame, seconds.
pub const TRIM_MARGIN_SECS: f64 = 0.15;

/// Frame of the speech detector: 30 ms at 16 kHz.
const FRAME: usize = crate::frontend::VAD_WINDOW;

/// Why enrollment audio was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// No recordings were given.
    #[error("no reference recordings were given")]
    NoRecordings,
    /// A file could not be read or decoded.
    #[error("{}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: AudioError,
    },
    /// No speech at all.
    #[error("{}: no speech found (the recording is silent: its loudest parts are at {level_dbfs:.0} dBFS)", path.display())]
    Silent {
        /// The file.
        path: PathBuf,
        /// Level of its loud frames.
        level_dbfs: f64,
    },
    /// Too many samples at the converter's limit.
    #[error(
        "{}: {:.2}% of samples are clipped (at most {:.2}% allowed); record again with lower input gain",
        path.display(), 100.0 * fraction, 100.0 * max_fraction
    )]
    Clipped {
        /// The file.
        path: PathBuf,
        /// Fraction of clipped samples.
        fraction: f64,
        /// Allowed fraction.
        max_fraction: f64,
    },
    /// Not enough speech across all recordings.
    #[error("only {seconds:.1} s of speech in total; at least {required:.0} s are needed")]
    TooLittleSpeech {
        /// Speech found.
        seconds: f64,
        /// Speech required.
        required: f64,
    },
    /// A recording does not sound like the others.
    #[error(
        "{} does not sound like the same speaker as the other recordings \
         (GE2E cosine {cosine:.3} against them, at least {threshold:.3} needed)",
        path.display()
    )]
    NotOneSpeaker {
        /// The least agreeing recording.
        path: PathBuf,
        /// Its cosine with the centroid of the others.
        cosine: f32,
        /// The threshold.
        threshold: f32,
    },
    /// The speaker encoder failed (boxed: it is much larger than the
    /// other reasons).
    #[error(transparent)]
    Encoder(Box<SpeakerError>),
    /// Resampling failed.
    #[error("{}: resampling failed: {source}", path.display())]
    Resample {
        /// The file.
        path: PathBuf,
        /// Why.
        source: AudioError,
    },
}

impl From<SpeakerError> for EnrollError {
    fn from(e: SpeakerError) -> Self {
        EnrollError::Encoder(Box::new(e))
    }
}

/// Limits of [`prepare`]; [`Default`] gives the documented constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// See [`MIN_SPEECH_SECS`].
    pub min_speech_secs: f64,
    /// See [`MAX_CLIPPED_FRACTION`].
    pub max_clipped_fraction: f64,
    /// Cosine each recording needs against the centroid of the others
    /// ([`ENROLL_AGREEMENT_THRESHOLD`]).
    pub agreement_threshold: f32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            min_speech_secs: MIN_SPEECH_SECS,
            max_clipped_fraction: MAX_CLIPPED_FRACTION,
            agreement_threshold: ENROLL_AGREEMENT_THRESHOLD,
        }
    }
}

/// One recording after trimming and loudness normalization.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Where it came from (for messages).
    pub path: PathBuf,
    /// Mono samples at [`MODEL_RATE`].
    pub audio_24k: Vec<f32>,
    /// Mono samples at [`ENCODER_RATE`], aligned with `audio_24k`.
    pub audio_16k: Vec<f32>,
    /// Seconds of detected speech.
    pub speech_secs: f64,
    /// Gain applied by loudness normalization, dB.
    pub gain_db: f64,
    /// Fraction of clipped samples in the original.
    pub clipped_fraction: f64,
    /// Its GE2E embedding (of `audio_16k`).
    pub embedding: Embedding,
}

/// Recordings that passed every check.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The recordings, in the order given.
    pub recordings: Vec<Recording>,
    /// Speech across all recordings, seconds.
    pub speech_secs: f64,
    /// Normalized mean of the recordings' embeddings: the speaker.
    pub centroid: Embedding,
    /// For each recording, its cosine with the centroid of the others (empty
    /// with a single recording, which cannot be cross-checked).
    pub agreement: Vec<f32>,
}

/// Fraction of samples that sit within 0.1% of their channel's peak in runs
/// of at least [`CLIP_RUN`] consecutive samples: a waveform flattened at
/// the converter's limit (or flattened and then scaled), as opposed to a
/// natural crest, which touches its peak for a sample or two.
pub fn clipped_fraction(interleaved: &[f32], channels: u16) -> f64 {
    let c = usize::from(channels.max(1));
    let frames = interleaved.len() / c;
    if frames == 0 {
        return 0.0;
    }
    let mut clipped = 0usize;
    for ch in 0..c {
        let x = |i: usize| interleaved[i * c + ch].abs();
        let peak = (0..frames).map(x).fold(0f32, f32::max);
        if peak == 0.0 {
            continue;
        }
        let mut run = 0usize;
        for i in 0..=frames {
            if i < frames && x(i) >= 0.999 * peak {
                run += 1;
            } else {
                if run >= CLIP_RUN {
                    clipped += run;
                }
                run = 0;
            }
        }
    }
    clipped as f64 / (frames * c) as f64
}

/// Shortest run of peak-level samples that counts as clipping.
pub const CLIP_RUN: usize = 3;

/// Speech flags per 30 ms frame of 16 kHz audio (the energy detector of
/// [`crate::frontend::energy_voice_flags`] with resemblyzer's smoothing), and
/// the level of the loud frames (95th percentile, dBFS).
pub fn speech_frames(wav: &[f32]) -> (Vec<bool>, f64) {
    let (raw, loud) = crate::frontend::energy_voice_flags(wav);
    (crate::frontend::smooth_voice_flags(&raw), loud)
}

/// Prepares one recording from samples in memory: see the module docs.
/// `path` only names it in messages.
pub fn prepare_samples(
    path: &Path,
    interleaved: &[f32],
    sample_rate: u32,
    channels: u16,
    encoder: &SpeakerEncoder,
    limits: &Limits,
) -> Result<Recording, EnrollError> {
    let clipped = clipped_fraction(interleaved, channels);
    let mono = avow_audio::downmix(interleaved, channels);
    let rs = |to: u32| {
        resample(&mono, sample_rate, to).map_err(|source| EnrollError::Resample {
            path: path.to_path_buf(),
            source,
        })
    };
    let wav16 = rs(ENCODER_RATE)?;
    let (flags, loud) = speech_frames(&wav16);
    let (Some(first), Some(last)) = (
        flags.iter().position(|&f| f),
        flags.iter().rposition(|&f| f),
    ) else {
        return Err(EnrollError::Silent {
            path: path.to_path_buf(),
            level_dbfs: loud,
        });
    };
    if loud < SILENCE_DBFS {
        return Err(EnrollError::Silent {
            path: path.to_path_buf(),
            level_dbfs: loud,
        });
    }
    // Clipping is judged only on audio that has speech in it, so that a
    // silent file is reported as silent.
    if clipped > limits.max_clipped_fraction {
        return Err(EnrollError::Clipped {
            path: path.to_path_buf(),
            fraction: clipped,
            max_fraction: limits.max_clipped_fraction,
        });
    }
    let speech_secs =
        flags.iter().filter(|&&f| f).count() as f64 * FRAME as f64 / f64::from(ENCODER_RATE);
    let start_s =
        (first as f64 * FRAME as f64 / f64::from(ENCODER_RATE) - TRIM_MARGIN_SECS).max(0.0);
    let end_s = (last + 1) as f64 * FRAME as f64 / f64::from(ENCODER_RATE) + TRIM_MARGIN_SECS;
    let cut = |wav: &[f32], rate: u32| {
        let a = ((start_s * f64::from(rate)) as usize).min(wav.len());
        let b = ((end_s * f64::from(rate)).ceil() as usize).clamp(a, wav.len());
        wav[a..b].to_vec()
    };
    let mut audio_16k = cut(&wav16, ENCODER_RATE);
    let mut audio_24k = cut(&rs(MODEL_RATE)?, MODEL_RATE);

    // Loudness: RMS over speech frames to the target, peak-limited.
    let speech_ms = {
        let (mut sum, mut count) = (0f64, 0usize);
        for (i, f) in wav16.chunks(FRAME).enumerate() {
            if flags.get(i).copied().unwrap_or(false) {
                sum += f.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
                count += f.len();
            }
        }
        sum / count.max(1) as f64
    };
    let speech_db = 10.0 * (speech_ms + 1e-12).log10();
    let peak = audio_16k
        .iter()
        .chain(&audio_24k)
        .fold(0f32, |m, x| m.max(x.abs()));
    let peak_db = 20.0 * f64::from(peak).max(1e-9).log10();
    let gain_db = (TARGET_SPEECH_DBFS - speech_db).min(PEAK_LIMIT_DBFS - peak_db);
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    for x in audio_16k.iter_mut().chain(audio_24k.iter_mut()) {
        *x *= gain;
    }
    // As resemblyzer embeds: long pauses shortened, quiet audio raised.
    let embedding = encoder.embed(&crate::frontend::preprocess(&audio_16k))?;
    Ok(Recording {
        path: path.to_path_buf(),
        audio_24k,
        audio_16k,
        speech_secs,
        gain_db,
        clipped_fraction: clipped,
        embedding,
    })
}

/// Reads and prepares one recording file.
pub fn prepare_file(
    path: &Path,
    encoder: &SpeakerEncoder,
    limits: &Limits,
) -> Result<Recording, EnrollError> {
    let audio = read_audio(path).map_err(|source| EnrollError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    prepare_samples(
        path,
        &audio.samples,
        audio.sample_rate,
        audio.channels,
        encoder,
        limits,
    )
}

/// Checks prepared recordings together: enough speech in total and, with
/// two or more, each one close enough to the centroid of the others.
pub fn check(recordings: Vec<Recording>, limits: &Limits) -> Result<Enrollment, EnrollError> {
    if recordings.is_empty() {
        return Err(EnrollError::NoRecordings);
    }
    let speech_secs: f64 = recordings.iter().map(|r| r.speech_secs).sum();
    if speech_secs < limits.min_speech_secs {
        return Err(EnrollError::TooLittleSpeech {
            seconds: speech_secs,
            required: limits.min_speech_secs,
        });
    }
    let mut agreement = Vec::new();
    if recordings.len() > 1 {
        for i in 0..recordings.len() {
            let others: Vec<Embedding> = recordings
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, r)| r.embedding.clone())
                .collect();
            let cos =
                Embedding::centroid(&others).map_or(0.0, |c| recordings[i].embedding.cosine(&c));
            agreement.push(cos);
        }
        let (worst, &cosine) = agreement
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((0, &1.0));
        if cosine < limits.agreement_threshold {
            return Err(EnrollError::NotOneSpeaker {
                path: recordings[worst].path.clone(),
                cosine,
                threshold: limits.agreement_threshold,
            });
        }
    }
    let all: Vec<Embedding> = recordings.iter().map(|r| r.embedding.clone()).collect();
    let centroid = Embedding::centroid(&all)
        .ok_or_else(|| SpeakerError::BadAudio("the recordings' embeddings cancel out".into()))?;
    Ok(Enrollment {
        recordings,
        speech_secs,
        centroid,
        agreement,
    })
}

/// Reads, prepares and checks enrollment recordings: the whole front door.
pub fn prepare(
    paths: &[PathBuf],
    encoder: &SpeakerEncoder,
    limits: &Limits,
) -> Result<Enrollment, EnrollError> {
    if paths.is_empty() {
        return Err(EnrollError::NoRecordings);
    }
    let recordings = paths
        .iter()
        .map(|p| prepare_file(p, encoder, limits))
        .collect::<Result<Vec<_>, _>>()?;
    check(recordings, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flattened_waveform_counts_as_clipped_and_a_clean_one_does_not() {
        let clean: Vec<f32> = (0..16_000)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                0.5 * (t * 4.0).sin().abs() * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
            })
            .collect();
        assert!(clipped_fraction(&clean, 1) < MAX_CLIPPED_FRACTION);
        let hot: Vec<f32> = clean.iter().map(|x| (x * 6.0).clamp(-1.0, 1.0)).collect();
        assert!(clipped_fraction(&hot, 1) > 0.05);
        // Stereo with only the right channel clipped still counts.
        let stereo: Vec<f32> = clean.iter().zip(&hot).flat_map(|(l, r)| [*l, *r]).collect();
        assert!(clipped_fraction(&stereo, 2) > 0.02);
        assert_eq!(clipped_fraction(&[], 1), 0.0);
    }

    #[test]
    fn speech_detector_finds_a_burst_in_silence() {
        let mut wav = vec![0.0f32; 16_000 * 3];
        for (i, x) in wav.iter_mut().enumerate().skip(16_000).take(16_000) {
            *x = 0.3 * (i as f32 * 0.07).sin();
        }
        let (flags, loud) = speech_frames(&wav);
        let first = flags.iter().position(|&f| f).unwrap();
        let last = flags.iter().rposition(|&f| f).unwrap();
        // The burst spans frames 33..=66 (30 ms frames); smoothing moves the
        // edges by at most half its width.
        assert!((29..=37).contains(&first), "{first}");
        assert!((62..=70).contains(&last), "{last}");
        assert!(loud > -20.0);
        let (flags, _) = speech_frames(&vec![0.0; 16_000]);
        assert!(flags.iter().all(|&f| !f));
    }
}
