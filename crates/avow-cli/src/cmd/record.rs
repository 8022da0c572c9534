//! `avow bank record`: reads prompts to the speaker one by one, records each
//! from the microphone, and keeps the good takes in a folder that `avow bank
//! train --recordings` reads as it is (see [`avow_bank::session`]).
//!
//! The interaction is line-based: Enter starts a take, Enter stops it, then
//! one letter decides (keep, redo, play back, skip, quit). It is written
//! against two small traits, [`AudioInput`] and [`AudioOutput`], and a
//! `BufRead` of command lines, so the whole loop runs in tests with a fake
//! microphone and a script. The real microphone (cpal) exists only with the
//! `audio-device` feature; without it the command explains how to get it.

// Without the feature only the tests drive the loop.
#![cfg_attr(not(feature = "audio-device"), allow(dead_code))]

use std::io::{BufRead, Write};

use anyhow::Context;
use avow_bank::{RecordingSession, SessionError, Take, TakeCheck};

/// Somewhere takes come from (a microphone; a script in tests).
pub trait AudioInput {
    /// Starts capturing a take.
    fn start(&mut self) -> anyhow::Result<()>;
    /// Stops capturing and returns everything since [`start`](Self::start).
    fn stop(&mut self) -> anyhow::Result<Take>;
}

/// Somewhere a take can be played back to the speaker.
pub trait AudioOutput {
    /// Plays `take` and returns when it has been heard.
    fn play(&mut self, take: &Take) -> anyhow::Result<()>;
}

/// How a recording loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every prompt has a take.
    AllRecorded,
    /// The speaker quit (or the commands ran out); opening the folder again resumes.
    Quit,
}

/// Reads one command line: `None` at end of input, else the trimmed,
/// lower-cased line ("" for a bare Enter).
fn read_command(commands: &mut impl BufRead) -> anyhow::Result<Option<String>> {
    let mut line = String::new();
    if commands.read_line(&mut line).context("cannot read the keyboard")? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim().to_lowercase()))
}

fn describe(check: &TakeCheck) -> String {
    format!("{:.1} s, {:.1} s of speech, loud parts at {:.0} dBFS", check.secs, check.speech_secs, check.level_dbfs)
}

/// What the speaker decided about one prompt.
enum Decision {
    /// Go to this prompt next (`None`: none left).
    Goto(Option<usize>),
    Quit,
}

/// Runs the prompt-record-decide loop over `session`, beginning at prompt
/// `start` (from 0; default: the first without a take), reading command
/// lines from `commands` and writing the dialogue to `ui`.
pub fn record_loop(
    session: &mut RecordingSession,
    input: &mut dyn AudioInput,
    mut output: Option<&mut dyn AudioOutput>,
    commands: &mut impl BufRead,
    ui: &mut impl Write,
    start: Option<usize>,
) -> anyhow::Result<Ended> {
    let total = session.len();
    let mut current = match start {
        Some(i) if i < total => Some(i),
        Some(i) => anyhow::bail!("there is no prompt {}: the list has {total}", i + 1),
        None => session.next_unrecorded(0),
    };
    while let Some(index) = current {
        writeln!(ui)?;
        let note = if session.is_recorded(index) { "; this one is recorded, a kept take replaces it" } else { "" };
        writeln!(ui, "Prompt {} of {total} ({} recorded{note}):", index + 1, session.recorded_count())?;
        writeln!(ui)?;
        writeln!(ui, "    {}", session.prompts()[index])?;
        writeln!(ui)?;
        writeln!(ui, "[Enter] record   [s]kip   [b]ack to the previous prompt   [q]uit")?;
        ui.flush()?;
        let Some(command) = read_command(commands)? else { return finish(session, ui, Ended::Quit) };
        current = match command.as_str() {
            "" | "r" => match take_prompt(session, index, input, &mut output, commands, ui)? {
                Decision::Goto(next) => next,
                Decision::Quit => return finish(session, ui, Ended::Quit),
            },
            // The next prompt without a take (None: all are recorded, the loop ends).
            "s" => session.next_unrecorded(index + 1),
            "b" if index == 0 => {
                writeln!(ui, "This is the first prompt.")?;
                Some(index)
            }
            "b" => Some(index - 1),
            "q" => return finish(session, ui, Ended::Quit),
            other => {
                writeln!(ui, "Unknown command {other:?}.")?;
                Some(index)
            }
        };
    }
    finish(session, ui, Ended::AllRecorded)
}

/// Records takes of prompt `index` until one is kept or the speaker moves on.
fn take_prompt(
    session: &mut RecordingSession,
    index: usize,
    input: &mut dyn AudioInput,
    output: &mut Option<&mut dyn AudioOutput>,
    commands: &mut impl BufRead,
    ui: &mut impl Write,
) -> anyhow::Result<Decision> {
    let after = |s: &RecordingSession| s.next_unrecorded(index + 1);
    loop {
        input.start()?;
        writeln!(ui, "Recording... read the prompt, then press Enter.")?;
        ui.flush()?;
        let stop = read_command(commands)?;
        let take = input.stop()?;
        if stop.is_none() {
            writeln!(ui, "Input ended: the take was not kept.")?;
            return Ok(Decision::Quit);
        }
        let verdict = match session.check(index, &take) {
            Ok(check) => Ok(check),
            Err(SessionError::Rejected(why)) => Err(why),
            Err(e) => return Err(e.into()),
        };
        match &verdict {
            Ok(check) => {
                writeln!(ui, "Take: {}.", describe(check))?;
                writeln!(ui, "[k]eep (Enter)   [r]edo   [p]lay back   [s]kip   [q]uit")?;
            }
            Err(why) => {
                writeln!(ui, "Not usable: {why}.")?;
                writeln!(ui, "[r]ecord again (Enter)   [p]lay back   [s]kip   [q]uit")?;
            }
        }
        // Decide about this take; playing it back asks again.
        loop {
            ui.flush()?;
            let Some(command) = read_command(commands)? else {
                writeln!(ui, "Input ended: the take was not kept.")?;
                return Ok(Decision::Quit);
            };
            match (command.as_str(), verdict.is_ok()) {
                ("k" | "", true) => {
                    session.keep(index, &take)?;
                    writeln!(ui, "Kept as {}.", session.wav_path(index).display())?;
                    return Ok(Decision::Goto(after(session)));
                }
                ("k", false) => writeln!(ui, "This take cannot be kept; record it again.")?,
                ("r" | "", _) => break,
                ("p", _) => match output.as_deref_mut() {
                    // A playback problem must not end the session.
                    Some(out) => {
                        if let Err(e) = out.play(&take) {
                            writeln!(ui, "Playback failed: {e:#}")?;
                        }
                    }
                    None => writeln!(ui, "Playback is not available.")?,
                },
                ("s", _) => return Ok(Decision::Goto(after(session))),
                ("q", _) => {
                    writeln!(ui, "The take was not kept.")?;
                    return Ok(Decision::Quit);
                }
                (other, _) => writeln!(ui, "Unknown command {other:?}.")?,
            }
        }
    }
}

fn finish(session: &RecordingSession, ui: &mut impl Write, ended: Ended) -> anyhow::Result<Ended> {
    let dir = session.dir().display();
    writeln!(ui)?;
    match ended {
        Ended::AllRecorded => {
            writeln!(ui, "All {} prompts are recorded in {dir}.", session.len())?;
            writeln!(ui, "Next: avow bank train --voice PACK --consent RECORD --recordings {dir} --out OUT")?;
        }
        Ended::Quit => {
            writeln!(ui, "{} of {} prompts recorded in {dir}.", session.recorded_count(), session.len())?;
            writeln!(ui, "To continue later: avow bank record --out {dir} (with the same --prompts, if any)")?;
        }
    }
    ui.flush()?;
    Ok(ended)
}

/// Warnings about what is already in the folder, before recording starts.
pub fn describe_folder(session: &RecordingSession, ui: &mut impl Write) -> anyhow::Result<()> {
    if !session.foreign_audio().is_empty() {
        writeln!(ui, "Note: {} also holds audio that is not a take of this list; `avow bank train` will use it too:", session.dir().display())?;
        for p in session.foreign_audio().iter().take(10) {
            writeln!(ui, "    {}", p.display())?;
        }
    }
    if !session.differing_transcripts().is_empty() {
        let numbers: Vec<String> = session.differing_transcripts().iter().map(|i| (i + 1).to_string()).collect();
        writeln!(
            ui,
            "Note: the transcripts of prompts {} differ from the prompt text (edited, or from another prompt list); they are kept as written.",
            numbers.join(", ")
        )?;
    }
    Ok(())
}

#[cfg(feature = "audio-device")]
pub use device::{Microphone, Speaker};

#[cfg(feature = "audio-device")]
mod device {
    use std::sync::{Arc, Mutex, MutexGuard};

    use anyhow::{bail, Context};
    use avow_bank::Take;
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

    use super::{AudioInput, AudioOutput};

    /// Capture rates in order of preference: a microphone's native rate
    /// first (no resampling in the driver), the model's rate after.
    const RATES: [u32; 5] = [48_000, 44_100, 24_000, 32_000, 16_000];

    #[derive(Default)]
    struct Captured {
        samples: Vec<f32>,
        /// Samples beyond this are dropped (a take left running).
        limit: usize,
        error: Option<String>,
    }

    fn lock(m: &Mutex<Captured>) -> MutexGuard<'_, Captured> {
        // A panic elsewhere while holding the lock leaves plain data behind.
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The default input device, captured as mono (channels averaged).
    pub struct Microphone {
        device: cpal::Device,
        config: cpal::SupportedStreamConfig,
        captured: Arc<Mutex<Captured>>,
        stream: Option<cpal::Stream>,
    }

    impl Microphone {
        /// Opens the default input device; fails clearly when there is none.
        pub fn open() -> anyhow::Result<Self> {
            let device = cpal::default_host()
                .default_input_device()
                .context("no default audio input device (is a microphone connected, and a sound card or sound server available?)")?;
            let config = choose_config(&device)?;
            Ok(Self { device, config, captured: Arc::default(), stream: None })
        }

        /// The capture rate.
        pub fn sample_rate(&self) -> u32 {
            self.config.sample_rate()
        }
    }

    impl AudioInput for Microphone {
        fn start(&mut self) -> anyhow::Result<()> {
            self.stream = None;
            let config: StreamConfig = self.config.config();
            {
                let mut c = lock(&self.captured);
                *c = Captured::default();
                // A second past the longest take the session accepts, so a
                // take left running is reported as too long.
                let max = avow_bank::TakeLimits::default().max_secs + 1.0;
                c.limit = (max * f64::from(config.sample_rate)) as usize;
            }
            let stream = match self.config.sample_format() {
                SampleFormat::F32 => build::<f32>(&self.device, &config, &self.captured),
                SampleFormat::I16 => build::<i16>(&self.device, &config, &self.captured),
                SampleFormat::I32 => build::<i32>(&self.device, &config, &self.captured),
                SampleFormat::U16 => build::<u16>(&self.device, &config, &self.captured),
                SampleFormat::U8 => build::<u8>(&self.device, &config, &self.captured),
                SampleFormat::F64 => build::<f64>(&self.device, &config, &self.captured),
                other => bail!("the microphone delivers {other} samples, which avow cannot read"),
            }?;
            stream.play().context("cannot start recording")?;
            self.stream = Some(stream);
            Ok(())
        }

        fn stop(&mut self) -> anyhow::Result<Take> {
            // Dropping the stream stops the device.
            self.stream = None;
            let mut c = lock(&self.captured);
            if let Some(e) = c.error.take() {
                bail!("recording failed: {e}");
            }
            Ok(Take { samples: std::mem::take(&mut c.samples), sample_rate: self.config.sample_rate() })
        }
    }

    /// Prefers a supported configuration at one of [`RATES`] with the fewest
    /// channels (float first); otherwise the device's default.
    fn choose_config(device: &cpal::Device) -> anyhow::Result<cpal::SupportedStreamConfig> {
        let readable = |f: SampleFormat| {
            matches!(f, SampleFormat::F32 | SampleFormat::I16 | SampleFormat::I32 | SampleFormat::U16 | SampleFormat::U8 | SampleFormat::F64)
        };
        if let Ok(ranges) = device.supported_input_configs() {
            let ranges: Vec<_> = ranges.filter(|r| readable(r.sample_format())).collect();
            for rate in RATES {
                let mut fits: Vec<_> = ranges.iter().filter_map(|r| r.try_with_sample_rate(rate)).collect();
                fits.sort_by_key(|c| (c.channels(), c.sample_format() != SampleFormat::F32));
                if let Some(c) = fits.into_iter().next() {
                    return Ok(c);
                }
            }
        }
        device.default_input_config().context("the microphone reports no usable input configuration")
    }

    fn build<T: SizedSample>(device: &cpal::Device, config: &StreamConfig, captured: &Arc<Mutex<Captured>>) -> anyhow::Result<cpal::Stream>
    where
        f32: FromSample<T>,
    {
        let channels = usize::from(config.channels.max(1));
        let feed = Arc::clone(captured);
        let errors = Arc::clone(captured);
        device
            .build_input_stream(
                *config,
                move |data: &[T], _: &cpal::InputCallbackInfo| {
                    let mut c = lock(&feed);
                    for frame in data.chunks(channels) {
                        if c.samples.len() >= c.limit {
                            break;
                        }
                        let sum: f32 = frame.iter().map(|s| s.to_sample::<f32>()).sum();
                        c.samples.push(sum / frame.len() as f32);
                    }
                },
                move |err: cpal::Error| {
                    // Overruns lose a few milliseconds, which the checks tolerate.
                    if matches!(err.kind(), cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::RealtimeDenied) {
                        return;
                    }
                    lock(&errors).error.get_or_insert_with(|| err.to_string());
                },
                None,
            )
            .context("cannot open an input stream on the microphone")
    }

    /// Plays takes back on the default output device.
    pub struct Speaker;

    impl AudioOutput for Speaker {
        fn play(&mut self, take: &Take) -> anyhow::Result<()> {
            crate::cmd::play::Player::open(take.sample_rate)?.speak(std::iter::once(Ok(take.samples.clone())))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::path::Path;

    use super::*;

    const RATE: u32 = 48_000;

    /// A voiced-speech stand-in (harmonic buzz under a syllable envelope)
    /// with half a second of quiet on each side; `gain` 0 gives silence.
    fn spoken(seconds: f64, gain: f32) -> Take {
        let pad = RATE as usize / 2;
        let n = (seconds * f64::from(RATE)) as usize;
        let mut samples = vec![0.0f32; pad];
        samples.extend((0..n).map(|i| {
            let t = i as f32 / RATE as f32;
            let envelope = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
            let buzz: f32 = (1..=6).map(|h| (2.0 * std::f32::consts::PI * 130.0 * h as f32 * t).sin() / h as f32).sum();
            gain * 0.2 * envelope * buzz
        }));
        samples.extend(vec![0.0f32; pad]);
        Take { samples, sample_rate: RATE }
    }

    /// Hands out scripted takes and checks start/stop alternate.
    struct FakeMic {
        takes: VecDeque<Take>,
        running: bool,
    }

    impl FakeMic {
        fn new(takes: Vec<Take>) -> Self {
            Self { takes: takes.into(), running: false }
        }
    }

    impl AudioInput for FakeMic {
        fn start(&mut self) -> anyhow::Result<()> {
            assert!(!self.running, "started twice");
            self.running = true;
            Ok(())
        }
        fn stop(&mut self) -> anyhow::Result<Take> {
            assert!(self.running, "stopped without a start");
            self.running = false;
            self.takes.pop_front().context("the script ran out of takes")
        }
    }

    #[derive(Default)]
    struct FakeSpeaker {
        played: Vec<usize>,
    }

    impl AudioOutput for FakeSpeaker {
        fn play(&mut self, take: &Take) -> anyhow::Result<()> {
            self.played.push(take.samples.len());
            Ok(())
        }
    }

    fn prompts() -> Vec<String> {
        ["The first prompt has six words.", "Second prompt, five words here.", "Third and last one."].map(String::from).to_vec()
    }

    /// Runs the loop over `dir` with a script; returns the outcome and the dialogue.
    fn run(dir: &Path, takes: Vec<Take>, script: &str, start: Option<usize>, speaker: &mut FakeSpeaker) -> (Ended, String) {
        let mut session = RecordingSession::open(dir, prompts()).unwrap();
        let mut mic = FakeMic::new(takes);
        let mut ui = Vec::new();
        let ended = record_loop(&mut session, &mut mic, Some(speaker), &mut script.as_bytes(), &mut ui, start).unwrap();
        assert!(mic.takes.is_empty(), "the script left takes unused");
        assert!(!mic.running, "the microphone was left running");
        (ended, String::from_utf8(ui).unwrap())
    }

    #[test]
    fn a_scripted_session_records_redoes_rejects_keeps_and_resumes_into_a_folder_train_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("takes");
        let first = spoken(2.0, 1.0);
        let redo = spoken(2.5, 1.5);
        let silent = spoken(2.0, 0.0);
        let second = spoken(2.2, 1.0);
        let mut speaker = FakeSpeaker::default();
        // Prompt 1: record, stop, redo; record, stop, play back, keep.
        // Prompt 2: a silent take is refused; record again, keep with Enter.
        // Prompt 3: quit.
        let script = "\n\nr\n\np\nk\n\n\n\n\n\nq\n";
        let (ended, ui) = run(&dir, vec![first, redo.clone(), silent, second.clone()], script, None, &mut speaker);
        assert_eq!(ended, Ended::Quit);
        assert!(ui.contains("Prompt 1 of 3 (0 recorded)") && ui.contains("Prompt 3 of 3 (2 recorded)"), "{ui}");
        assert!(ui.contains("Not usable: no speech heard"), "{ui}");
        assert!(ui.contains("2 of 3 prompts recorded"), "{ui}");
        assert_eq!(speaker.played, [redo.samples.len()], "played back the take being decided on");
        let read = |name: &str| avow_audio::read_audio(dir.join(name)).unwrap().samples.len();
        assert_eq!(read("001.wav"), redo.samples.len(), "the redo was kept, not the first take");
        assert_eq!(read("002.wav"), second.samples.len());
        assert!(!dir.join("003.wav").exists() && !dir.join("003.txt").exists());

        // Reopening resumes at prompt 3; keeping it finishes the list.
        let last = spoken(1.5, 1.0);
        let (ended, ui) = run(&dir, vec![last], "\n\nk\n", None, &mut speaker);
        assert_eq!(ended, Ended::AllRecorded);
        assert!(ui.contains("Prompt 3 of 3 (2 recorded)") && !ui.contains("Prompt 1 of 3"), "{ui}");
        assert!(ui.contains("All 3 prompts are recorded"), "{ui}");

        // What `avow bank train --recordings` reads: every take with its prompt as transcript, in order.
        let found = crate::cmd::bank::recordings_in(&dir).unwrap();
        let names: Vec<String> = found.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["001.wav", "002.wav", "003.wav"]);
        let texts: Vec<String> = found.into_iter().map(|(_, t)| t.unwrap()).collect();
        assert_eq!(texts, prompts());
    }

    #[test]
    fn start_skip_back_and_end_of_input_move_through_the_list_without_keeping_anything_unasked() {
        let tmp = tempfile::tempdir().unwrap();
        let mut speaker = FakeSpeaker::default();
        // Start at prompt 2, skip it (to 3), go back (to 2), begin a take and
        // let the input end while recording: nothing is kept.
        let (ended, ui) = run(tmp.path(), vec![spoken(2.0, 1.0)], "s\nb\n\n", Some(1), &mut speaker);
        assert_eq!(ended, Ended::Quit);
        let order: Vec<&str> = ui.lines().filter(|l| l.starts_with("Prompt ")).collect();
        assert_eq!(order, ["Prompt 2 of 3 (0 recorded):", "Prompt 3 of 3 (0 recorded):", "Prompt 2 of 3 (0 recorded):"]);
        assert!(ui.contains("the take was not kept"), "{ui}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

        // A recorded prompt chosen with --start says a new take replaces it;
        // a rejected take cannot be kept.
        let (_, _) = run(tmp.path(), vec![spoken(2.0, 1.0)], "\n\nk\nq\n", None, &mut speaker);
        let (_, ui) = run(tmp.path(), vec![spoken(2.0, 0.0)], "\n\nk\nq\n", Some(0), &mut speaker);
        assert!(ui.contains("this one is recorded, a kept take replaces it"), "{ui}");
        assert!(ui.contains("This take cannot be kept"), "{ui}");
        let mut session = RecordingSession::open(tmp.path(), prompts()).unwrap();
        let mut ui = Vec::new();
        let err = record_loop(&mut session, &mut FakeMic::new(vec![]), None, &mut "".as_bytes(), &mut ui, Some(3)).unwrap_err();
        assert!(err.to_string().contains("no prompt 4"), "{err}");
    }

    struct BrokenSpeaker;

    impl AudioOutput for BrokenSpeaker {
        fn play(&mut self, _: &Take) -> anyhow::Result<()> {
            anyhow::bail!("no output device")
        }
    }

    #[test]
    fn a_failed_playback_is_reported_and_the_take_can_still_be_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let mut session = RecordingSession::open(tmp.path(), prompts()).unwrap();
        let mut mic = FakeMic::new(vec![spoken(2.0, 1.0)]);
        let mut ui = Vec::new();
        let ended = record_loop(&mut session, &mut mic, Some(&mut BrokenSpeaker), &mut "\n\np\nk\nq\n".as_bytes(), &mut ui, None).unwrap();
        let ui = String::from_utf8(ui).unwrap();
        assert_eq!(ended, Ended::Quit);
        assert!(ui.contains("Playback failed: no output device"), "{ui}");
        assert!(session.is_recorded(0) && tmp.path().join("001.wav").is_file());
        // Skipping the last prompt without a take while all others are
        // recorded stays on it; once everything is recorded, skip ends the loop.
        let mut ui = Vec::new();
        let mut mic = FakeMic::new(vec![spoken(2.0, 1.0), spoken(2.0, 1.0)]);
        let ended = record_loop(&mut session, &mut mic, None, &mut "\n\nk\ns\n\n\nk\n".as_bytes(), &mut ui, None).unwrap();
        let ui = String::from_utf8(ui).unwrap();
        let order: Vec<&str> = ui.lines().filter(|l| l.starts_with("Prompt ")).collect();
        assert_eq!(order, ["Prompt 2 of 3 (1 recorded):", "Prompt 3 of 3 (2 recorded):", "Prompt 3 of 3 (2 recorded):"]);
        assert_eq!(ended, Ended::AllRecorded);
        let ended = record_loop(&mut session, &mut FakeMic::new(vec![]), None, &mut "s\n".as_bytes(), &mut Vec::new(), Some(0)).unwrap();
        assert_eq!(ended, Ended::AllRecorded);
    }
}
