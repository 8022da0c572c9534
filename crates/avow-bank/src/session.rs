//! A recording session: one folder, one prompt list, one take per prompt,
//! written in exactly the layout `avow bank train --recordings DIR` reads
//! (`NNN.wav` with its transcript `NNN.txt` beside it).
//!
//! No audio device here: takes arrive as samples, so the session can be
//! driven by a microphone, a file or a test.
//!
//! **State is the folder itself.** Prompt `k` (counted from 1) is recorded
//! when both `k.wav` and `k.txt` (zero-padded) exist; there is no separate
//! state file. A state file would be a second truth that can disagree with
//! the files `bank train` actually reads (after a crash between the two
//! writes, or when the speaker deletes a bad take by hand to record it again
//! later); deriving the state makes both of those just work, and resuming is
//! opening the same folder again.
//!
//! **Never a half-written take.** Each file is written to a temporary file
//! in the folder, fsync'd and renamed into place. The transcript goes first
//! and the audio second: `bank train` only picks up audio files, so a crash
//! between the two leaves a transcript with no audio, which train ignores and
//! this session records again; never audio without its transcript (which
//! train would send to speech recognition instead).
//!
//! Audio is written as it was captured: mono, at the take's own sample rate
//! (train resamples to the model's 24 kHz itself, so a 48 kHz microphone
//! keeps its bandwidth), 16-bit PCM (far below a microphone's noise floor,
//! half the size of float). Takes are checked before they are written, with
//! the thresholds of enrollment where they apply
//! ([`avow_speaker::enrollment`]): silence, clipping, too little speech for
//! the prompt, and speech cut off at either end.

use std::io::Write;
use std::path::{Path, PathBuf};

use avow_audio::{AudioError, WavFormat};
use avow_speaker::enrollment::{self, ENCODER_RATE, MAX_CLIPPED_FRACTION, SILENCE_DBFS, SPEECH_RANGE_DB};
use avow_speaker::frontend::VAD_WINDOW;

/// One captured take: mono samples in `[-1, 1]` at `sample_rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Take {
    /// Mono samples.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl Take {
    /// Length in seconds.
    pub fn secs(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// What a take must satisfy to be kept; [`Default`] gives the documented values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TakeLimits {
    /// Speech needed in any take, seconds (0.3 s: a one-word prompt).
    pub min_speech_secs: f64,
    /// Speech needed per written word of the prompt, seconds. 0.1 s is a
    /// third of a fast speaker's rate, so it only catches takes stopped
    /// early, never slow or effortful speech.
    pub min_speech_secs_per_word: f64,
    /// Longest take, seconds: past this, recording was most likely left
    /// running by mistake.
    pub max_secs: f64,
    /// Largest tolerated fraction of clipped samples (enrollment's limit).
    pub max_clipped_fraction: f64,
    /// Lowest accepted sample rate: the model is 24 kHz and the speaker
    /// encoder 16 kHz; telephone-band audio would train a muffled voice.
    pub min_sample_rate: u32,
    /// Speech through most of the first or last this many seconds of the
    /// take means it was cut off (recording started after the speaker
    /// began, or stopped before they finished).
    pub edge_secs: f64,
}

impl Default for TakeLimits {
    fn default() -> Self {
        Self {
            min_speech_secs: 0.3,
            min_speech_secs_per_word: 0.1,
            max_secs: 120.0,
            max_clipped_fraction: MAX_CLIPPED_FRACTION,
            min_sample_rate: ENCODER_RATE,
            edge_secs: 0.1,
        }
    }
}

/// Measurements of a take that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TakeCheck {
    /// Length of the take, seconds.
    pub secs: f64,
    /// Seconds of detected speech.
    pub speech_secs: f64,
    /// Level of its loud parts, dBFS.
    pub level_dbfs: f64,
}

/// Why a take was not kept. Each message tells the speaker what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// No samples at all.
    #[error("the take is empty")]
    Empty,
    /// The sample rate is below [`TakeLimits::min_sample_rate`].
    #[error("the take's sample rate is {rate} Hz; at least {min} Hz is needed")]
    RateTooLow {
        /// The take's rate.
        rate: u32,
        /// The limit.
        min: u32,
    },
    /// A sample is NaN or infinite (a broken capture).
    #[error("the take holds invalid samples (not finite numbers)")]
    NotFinite,
    /// Longer than [`TakeLimits::max_secs`].
    #[error("the take is {secs:.0} s long; at most {max:.0} s per prompt (was recording left running?)")]
    TooLong {
        /// Its length.
        secs: f64,
        /// The limit.
        max: f64,
    },
    /// No speech found.
    #[error("no speech heard (the loudest parts are at {level_dbfs:.0} dBFS): check that the microphone is on and close enough")]
    Silent {
        /// Level of its loud frames, dBFS.
        level_dbfs: f64,
    },
    /// Too many samples at the converter's limit.
    #[error("{:.2}% of samples are clipped (at most {:.2}%): lower the input gain or move back from the microphone", 100.0 * fraction, 100.0 * max)]
    Clipped {
        /// Fraction of clipped samples.
        fraction: f64,
        /// The limit.
        max: f64,
    },
    /// Less speech than the prompt needs.
    #[error("only {speech_secs:.1} s of speech for a prompt of {words} words (at least {needed:.1} s): was the take stopped too early?")]
    TooShort {
        /// Speech found, seconds.
        speech_secs: f64,
        /// Words in the prompt.
        words: usize,
        /// Speech required, seconds.
        needed: f64,
    },
    /// Speech right at the start of the take.
    #[error("speech starts right at the beginning of the take: start recording, then wait a moment before speaking")]
    CutAtStart,
    /// Speech right at the end of the take.
    #[error("speech runs to the very end of the take: stop recording only after you have finished speaking")]
    CutAtEnd,
}

/// Errors of a recording session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The take failed a check and was not written.
    #[error("take not kept: {0}")]
    Rejected(#[from] Rejection),
    /// The prompt list is empty.
    #[error("the prompt list is empty")]
    NoPrompts,
    /// A prompt index outside the list.
    #[error("there is no prompt {number}: the list has {count} prompts")]
    NoSuchPrompt {
        /// The requested prompt, counted from 1.
        number: usize,
        /// Prompts in the list.
        count: usize,
    },
    /// The output path exists and is not a folder.
    #[error("{} is not a folder", .0.display())]
    NotAFolder(PathBuf),
    /// A file or folder operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Resampling or writing audio failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SessionError + '_ {
    move |source| SessionError::Io { path: path.to_path_buf(), source }
}

/// A folder of takes for a prompt list; see the module docs.
#[derive(Debug)]
pub struct RecordingSession {
    dir: PathBuf,
    prompts: Vec<String>,
    recorded: Vec<bool>,
    differing: Vec<usize>,
    foreign_audio: Vec<PathBuf>,
    width: usize,
    limits: TakeLimits,
}

impl RecordingSession {
    /// Opens (creating it if needed) the folder `dir` for `prompts`, and
    /// finds which prompts already have a take there.
    pub fn open(dir: impl Into<PathBuf>, prompts: Vec<String>) -> Result<Self, SessionError> {
        let dir = dir.into();
        if prompts.is_empty() {
            return Err(SessionError::NoPrompts);
        }
        if dir.exists() && !dir.is_dir() {
            return Err(SessionError::NotAFolder(dir));
        }
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let width = prompts.len().to_string().len().max(3);
        let mut session = Self {
            dir,
            recorded: vec![false; prompts.len()],
            prompts,
            differing: Vec::new(),
            foreign_audio: Vec::new(),
            width,
            limits: TakeLimits::default(),
        };
        session.scan()?;
        Ok(session)
    }

    /// Replaces the checks' thresholds.
    pub fn with_limits(mut self, limits: TakeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Reads the folder: which prompts have both files, which transcripts
    /// differ from their prompt, and which audio files are not ours.
    fn scan(&mut self) -> Result<(), SessionError> {
        let mut wav = vec![false; self.prompts.len()];
        let mut txt = vec![false; self.prompts.len()];
        self.foreign_audio.clear();
        for entry in std::fs::read_dir(&self.dir).map_err(io_error(&self.dir))? {
            let path = entry.map_err(io_error(&self.dir))?.path();
            let (Some(stem), Some(ext)) = (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|e| e.to_str())) else {
                continue;
            };
            let index = self.index_of_stem(stem);
            let non_empty = std::fs::metadata(&path).map(|m| m.is_file() && m.len() > 0).unwrap_or(false);
            match (index, ext) {
                (Some(i), "wav") => wav[i] = non_empty,
                (Some(i), "txt") => txt[i] = non_empty,
                // What `bank train` would also read as a recording.
                _ if ext.eq_ignore_ascii_case("wav") || ext.eq_ignore_ascii_case("flac") => self.foreign_audio.push(path),
                _ => {}
            }
        }
        self.foreign_audio.sort();
        self.differing.clear();
        for i in 0..self.prompts.len() {
            self.recorded[i] = wav[i] && txt[i];
            if self.recorded[i] {
                let path = self.txt_path(i);
                let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
                if text.trim() != self.prompts[i].trim() {
                    self.differing.push(i);
                }
            }
        }
        Ok(())
    }

    /// The prompt index a file stem names (`"007"` → 6), if it is one of ours.
    fn index_of_stem(&self, stem: &str) -> Option<usize> {
        if stem.len() != self.width || !stem.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number: usize = stem.parse().ok()?;
        (1..=self.prompts.len()).contains(&number).then(|| number - 1)
    }

    /// The session's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The prompts, in order.
    pub fn prompts(&self) -> &[String] {
        &self.prompts
    }

    /// Number of prompts.
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// Always false: a session has at least one prompt.
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }

    /// Whether prompt `index` (from 0) has a take in the folder.
    pub fn is_recorded(&self, index: usize) -> bool {
        self.recorded.get(index).copied().unwrap_or(false)
    }

    /// How many prompts have a take.
    pub fn recorded_count(&self) -> usize {
        self.recorded.iter().filter(|&&r| r).count()
    }

    /// The first prompt without a take at or after `from`, else the first
    /// one before it; `None` when every prompt is recorded.
    pub fn next_unrecorded(&self, from: usize) -> Option<usize> {
        let n = self.prompts.len();
        (0..n).map(|k| (from + k) % n).find(|&i| !self.recorded[i])
    }

    /// Recorded prompts whose transcript file no longer matches the prompt
    /// text (edited by hand to match what was said, or written from another
    /// prompt list). They stay recorded: the transcript is what train uses.
    pub fn differing_transcripts(&self) -> &[usize] {
        &self.differing
    }

    /// Audio files in the folder that are not this session's takes; `bank
    /// train` reads them too.
    pub fn foreign_audio(&self) -> &[PathBuf] {
        &self.foreign_audio
    }

    /// Where prompt `index`'s audio goes.
    pub fn wav_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("{:0w$}.wav", index + 1, w = self.width))
    }

    /// Where prompt `index`'s transcript goes.
    pub fn txt_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("{:0w$}.txt", index + 1, w = self.width))
    }

    fn prompt(&self, index: usize) -> Result<&str, SessionError> {
        self.prompts
            .get(index)
            .map(String::as_str)
            .ok_or(SessionError::NoSuchPrompt { number: index + 1, count: self.prompts.len() })
    }

    /// Checks a take for prompt `index` without writing anything.
    pub fn check(&self, index: usize, take: &Take) -> Result<TakeCheck, SessionError> {
        let prompt = self.prompt(index)?;
        Ok(check_take(take, prompt.split_whitespace().count(), &self.limits)?)
    }

    /// Checks a take and, when it passes, writes it as prompt `index`'s
    /// take (transcript, then audio; each atomically), replacing any earlier
    /// take of that prompt. A rejected take leaves the folder untouched.
    pub fn keep(&mut self, index: usize, take: &Take) -> Result<TakeCheck, SessionError> {
        let check = self.check(index, take)?;
        let text = format!("{}\n", self.prompt(index)?.trim());
        let txt = self.txt_path(index);
        write_file_atomically(&txt, text.as_bytes())?;
        avow_audio::write_wav(self.wav_path(index), &take.samples, take.sample_rate, WavFormat::Pcm16)?;
        self.recorded[index] = true;
        self.differing.retain(|&i| i != index);
        Ok(check)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder
/// (fsync'd, then renamed), so `path` holds either its old content or all
/// of the new.
fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), SessionError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".avow-txt-").suffix(".tmp").tempfile_in(dir).map_err(io_error(dir))?;
    tmp.write_all(bytes).map_err(io_error(path))?;
    tmp.as_file().sync_all().map_err(io_error(path))?;
    tmp.persist(path).map_err(|e| SessionError::Io { path: path.to_path_buf(), source: e.error })?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// RMS level of `frame`, dBFS.
fn level_db(frame: &[f32]) -> f64 {
    let ms = frame.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / frame.len().max(1) as f64;
    10.0 * (ms + 1e-12).log10()
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The level above which the speech detector counts a 30 ms window as
/// speech (the rule of `avow_speaker::frontend::energy_voice_flags`):
/// within [`SPEECH_RANGE_DB`] of the loud windows, 6 dB over the noise
/// floor (10th percentile), and above [`SILENCE_DBFS`].
fn speech_threshold(wav16: &[f32], loud_dbfs: f64) -> f64 {
    let mut levels: Vec<f64> = wav16.chunks_exact(VAD_WINDOW).map(level_db).collect();
    if levels.is_empty() {
        return loud_dbfs;
    }
    levels.sort_by(f64::total_cmp);
    let floor = levels[((levels.len() - 1) as f64 * 0.10).round() as usize];
    (loud_dbfs - SPEECH_RANGE_DB).max(floor + 6.0).max(SILENCE_DBFS)
}

/// Checks one take for a prompt of `words` words; see [`TakeLimits`].
pub fn check_take(take: &Take, words: usize, limits: &TakeLimits) -> Result<TakeCheck, Rejection> {
    if take.samples.is_empty() {
        return Err(Rejection::Empty);
    }
    if take.sample_rate < limits.min_sample_rate {
        return Err(Rejection::RateTooLow { rate: take.sample_rate, min: limits.min_sample_rate });
    }
    if take.samples.iter().any(|x| !x.is_finite()) {
        return Err(Rejection::NotFinite);
    }
    let secs = take.secs();
    if secs > limits.max_secs {
        return Err(Rejection::TooLong { secs, max: limits.max_secs });
    }
    // The speech detector of enrollment, on 30 ms frames at 16 kHz.
    // Resampling only fails on a zero rate or non-finite input, both refused above.
    let wav16 = avow_audio::resample(&take.samples, take.sample_rate, ENCODER_RATE).map_err(|_| Rejection::NotFinite)?;
    let (flags, level_dbfs) = enrollment::speech_frames(&wav16);
    let speech_frames = flags.iter().filter(|&&f| f).count();
    if speech_frames == 0 || level_dbfs < SILENCE_DBFS {
        return Err(Rejection::Silent { level_dbfs });
    }
    // Judged only once there is speech, so silence is reported as silence.
    let fraction = enrollment::clipped_fraction(&take.samples, 1);
    if fraction > limits.max_clipped_fraction {
        return Err(Rejection::Clipped { fraction, max: limits.max_clipped_fraction });
    }
    let frame_secs = VAD_WINDOW as f64 / f64::from(ENCODER_RATE);
    let speech_secs = speech_frames as f64 * frame_secs;
    let needed = limits.min_speech_secs.max(limits.min_speech_secs_per_word * words as f64);
    if speech_secs < needed {
        return Err(Rejection::TooShort { speech_secs, words, needed });
    }
    // Cut-offs: the detector's smoothed flags cannot see the ends (its
    // 8-window average is lopsided there), so the ends are judged on their
    // own: speech-level sound through most of the first or last
    // `edge_secs`. The median over 10 ms frames ignores a key click, which
    // is shorter than that.
    let threshold = speech_threshold(&wav16, level_dbfs);
    let edge_frames = ((limits.edge_secs * 100.0).round() as usize).max(1);
    let tens: Vec<f64> = wav16.chunks_exact(ENCODER_RATE as usize / 100).map(level_db).collect();
    if tens.len() > 2 * edge_frames {
        if median(&tens[..edge_frames]) >= threshold {
            return Err(Rejection::CutAtStart);
        }
        if median(&tens[tens.len() - edge_frames..]) >= threshold {
            return Err(Rejection::CutAtEnd);
        }
    }
    Ok(TakeCheck { secs, speech_secs, level_dbfs })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    /// Voiced-speech stand-in: a 140 Hz harmonic buzz under a 4 Hz
    /// syllable envelope, `speech` seconds long, with `pad` seconds of faint
    /// noise before and after (as a room would give).
    fn take(speech: f64, pad: f64, gain: f32) -> Take {
        let n_pad = (pad * f64::from(RATE)) as usize;
        let n_speech = (speech * f64::from(RATE)) as usize;
        let mut state = 0x2545_f491_u32;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32 - 0.5) * 2e-4
        };
        let mut samples: Vec<f32> = (0..n_pad).map(|_| noise()).collect();
        for i in 0..n_speech {
            let t = i as f32 / RATE as f32;
            let envelope = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
            let buzz: f32 = (1..=6).map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32).sum();
            samples.push(gain * 0.2 * envelope * buzz + noise());
        }
        samples.extend((0..n_pad).map(|_| noise()));
        Take { samples, sample_rate: RATE }
    }

    fn good_take() -> Take {
        take(2.0, 0.5, 1.0)
    }

    fn prompts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("This is prompt number {i} of the test list.")).collect()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_clean_take_passes_and_is_measured() {
        let c = check_take(&good_take(), 8, &TakeLimits::default()).unwrap();
        assert!((c.secs - 3.0).abs() < 0.01);
        assert!((1.6..=2.4).contains(&c.speech_secs), "{c:?}");
        assert!(c.level_dbfs > -30.0, "{c:?}");
    }

    #[test]
    fn the_clicks_of_the_enter_key_at_either_end_are_not_cut_offs() {
        let mut t = good_take();
        let click: Vec<f32> = (0..RATE as usize * 15 / 1000).map(|i| if i % 2 == 0 { 0.3 } else { -0.3 }).collect();
        t.samples[..click.len()].copy_from_slice(&click);
        let n = t.samples.len();
        t.samples[n - click.len()..].copy_from_slice(&click);
        assert!(check_take(&t, 8, &TakeLimits::default()).is_ok(), "{:?}", check_take(&t, 8, &TakeLimits::default()));
    }

    #[test]
    fn silent_clipped_short_cut_and_broken_takes_are_rejected_with_their_reason() {
        let limits = TakeLimits::default();
        let silent = Take { samples: vec![0.0; RATE as usize * 2], sample_rate: RATE };
        assert!(matches!(check_take(&silent, 8, &limits), Err(Rejection::Silent { .. })));
        let faint = take(2.0, 0.5, 0.0005);
        assert!(matches!(check_take(&faint, 8, &limits), Err(Rejection::Silent { .. })), "{:?}", check_take(&faint, 8, &limits));
        let mut hot = good_take();
        hot.samples.iter_mut().for_each(|x| *x = (*x * 8.0).clamp(-1.0, 1.0));
        assert!(matches!(check_take(&hot, 8, &limits), Err(Rejection::Clipped { .. })));
        // 0.4 s of speech cannot be a reading of a 12-word prompt ...
        let short = take(0.4, 0.5, 1.0);
        assert!(matches!(check_take(&short, 12, &limits), Err(Rejection::TooShort { words: 12, .. })));
        // ... but is a fine "Yes."
        assert!(check_take(&short, 1, &limits).is_ok());
        let started_late = Take { samples: good_take().samples[RATE as usize / 2..].to_vec(), sample_rate: RATE };
        assert_eq!(check_take(&started_late, 8, &limits), Err(Rejection::CutAtStart));
        let g = good_take();
        let stopped_early = Take { samples: g.samples[..g.samples.len() - RATE as usize * 3 / 4].to_vec(), sample_rate: RATE };
        assert_eq!(check_take(&stopped_early, 8, &limits), Err(Rejection::CutAtEnd));
        let phone = Take { samples: avow_audio::resample(&g.samples, RATE, 8_000).unwrap(), sample_rate: 8_000 };
        assert_eq!(check_take(&phone, 8, &limits), Err(Rejection::RateTooLow { rate: 8_000, min: 16_000 }));
        let mut broken = good_take();
        broken.samples[100] = f32::NAN;
        assert_eq!(check_take(&broken, 8, &limits), Err(Rejection::NotFinite));
        assert_eq!(check_take(&Take { samples: vec![], sample_rate: RATE }, 8, &limits), Err(Rejection::Empty));
        let left_running = take(2.0, 61.0, 1.0);
        assert!(matches!(check_take(&left_running, 8, &limits), Err(Rejection::TooLong { .. })));
    }

    #[test]
    fn kept_takes_are_numbered_wav_and_txt_pairs_that_train_can_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("bank");
        let mut s = RecordingSession::open(&dir, prompts(3)).unwrap();
        assert_eq!((s.recorded_count(), s.next_unrecorded(0)), (0, Some(0)));
        let t = good_take();
        s.keep(0, &t).unwrap();
        s.keep(2, &t).unwrap();
        assert_eq!(files(&dir), ["001.txt", "001.wav", "003.txt", "003.wav"]);
        assert_eq!(std::fs::read_to_string(dir.join("003.txt")).unwrap(), "This is prompt number 3 of the test list.\n");
        let audio = avow_audio::read_audio(dir.join("001.wav")).unwrap();
        assert_eq!((audio.sample_rate, audio.channels, audio.samples.len()), (RATE, 1, t.samples.len()));
        // 16-bit: equal to half a step.
        let worst = audio.samples.iter().zip(&t.samples).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst <= 0.5 / 32768.0 + 1e-7, "{worst}");
        assert_eq!(s.next_unrecorded(0), Some(1));
        assert_eq!(s.next_unrecorded(2), Some(1), "wraps around to the gap");
        s.keep(1, &t).unwrap();
        assert_eq!(s.next_unrecorded(0), None);
        assert!(matches!(s.keep(3, &t), Err(SessionError::NoSuchPrompt { number: 4, count: 3 })));
    }

    #[test]
    fn a_rejected_take_writes_nothing_and_a_redo_replaces_the_take() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = RecordingSession::open(tmp.path(), prompts(2)).unwrap();
        let silent = Take { samples: vec![0.0; RATE as usize], sample_rate: RATE };
        assert!(matches!(s.keep(0, &silent), Err(SessionError::Rejected(Rejection::Silent { .. }))));
        assert!(files(tmp.path()).is_empty());
        assert!(!s.is_recorded(0));
        s.keep(0, &take(2.0, 0.5, 1.0)).unwrap();
        let louder = take(2.5, 0.5, 2.0);
        s.keep(0, &louder).unwrap();
        assert_eq!(s.recorded_count(), 1);
        assert_eq!(files(tmp.path()), ["001.txt", "001.wav"], "no second file, no temporary left behind");
        assert_eq!(avow_audio::read_audio(tmp.path().join("001.wav")).unwrap().samples.len(), louder.samples.len());
    }

    #[test]
    fn reopening_resumes_and_a_crash_between_the_two_files_means_record_again() {
        let tmp = tempfile::tempdir().unwrap();
        let t = good_take();
        {
            let mut s = RecordingSession::open(tmp.path(), prompts(4)).unwrap();
            s.keep(0, &t).unwrap();
            s.keep(1, &t).unwrap();
        }
        // A crash after the transcript of prompt 3 and before its audio (the
        // order `keep` writes in) ...
        std::fs::write(tmp.path().join("003.txt"), "This is prompt number 3 of the test list.\n").unwrap();
        // ... and audio whose transcript was lost (deleted by hand, say).
        std::fs::copy(tmp.path().join("001.wav"), tmp.path().join("004.wav")).unwrap();
        let mut s = RecordingSession::open(tmp.path(), prompts(4)).unwrap();
        assert_eq!(s.recorded_count(), 2);
        assert!(s.is_recorded(0) && s.is_recorded(1) && !s.is_recorded(2) && !s.is_recorded(3));
        assert_eq!(s.next_unrecorded(0), Some(2), "resumes at the first prompt without both files");
        s.keep(2, &t).unwrap();
        s.keep(3, &t).unwrap();
        assert_eq!(RecordingSession::open(tmp.path(), prompts(4)).unwrap().next_unrecorded(0), None);
        // Deleting a take's audio by hand marks it for recording again.
        std::fs::remove_file(tmp.path().join("002.wav")).unwrap();
        assert_eq!(RecordingSession::open(tmp.path(), prompts(4)).unwrap().next_unrecorded(0), Some(1));
    }

    #[test]
    fn foreign_files_are_left_alone_and_foreign_audio_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for name in ["notes.txt", "README", "01.wav", "0001.wav", "005.wav", "002.flac", "interview.WAV"] {
            std::fs::write(d.join(name), b"not ours").unwrap();
        }
        std::fs::create_dir(d.join("003.wav")).unwrap();
        let mut s = RecordingSession::open(d, prompts(4)).unwrap();
        assert_eq!(s.recorded_count(), 0, "a folder named like a take is not a take");
        let foreign: Vec<String> = s.foreign_audio().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(foreign, ["0001.wav", "002.flac", "005.wav", "01.wav", "interview.WAV"]);
        s.keep(0, &good_take()).unwrap();
        for name in ["notes.txt", "README", "01.wav", "0001.wav", "005.wav", "002.flac", "interview.WAV"] {
            assert_eq!(std::fs::read(d.join(name)).unwrap(), b"not ours", "{name} was touched");
        }
    }

    #[test]
    fn edited_transcripts_stay_recorded_and_are_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = RecordingSession::open(tmp.path(), prompts(2)).unwrap();
        s.keep(0, &good_take()).unwrap();
        std::fs::write(tmp.path().join("001.txt"), "This was prompt one, said a little differently.\n").unwrap();
        let s = RecordingSession::open(tmp.path(), prompts(2)).unwrap();
        assert!(s.is_recorded(0));
        assert_eq!(s.differing_transcripts(), [0]);
    }

    #[test]
    fn bad_folders_and_empty_lists_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(RecordingSession::open(tmp.path(), vec![]), Err(SessionError::NoPrompts)));
        let file = tmp.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(RecordingSession::open(&file, prompts(1)), Err(SessionError::NotAFolder(_))));
        // More than 999 prompts: four-digit names, still in order.
        let s = RecordingSession::open(tmp.path().join("long"), prompts(1200)).unwrap();
        assert_eq!(s.wav_path(0).file_name().unwrap(), "0001.wav");
    }
}
