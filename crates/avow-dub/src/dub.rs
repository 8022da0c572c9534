//! The dubbing run: time every cue, plan, synthesize what the work
//! directory lacks (on several threads sharing one engine), assemble the
//! track, and optionally mix it over a bed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use avow_engine::{Engine, EngineError, SpeakOptions, SpeechTiming, VerifiedVoice, SAMPLE_RATE};

use crate::cache::{CacheError, CueCache, CueKey};
use crate::plan::{plan_all, slots_from, CuePlan, FitOptions};
use crate::report::{CueReport, Counts, LoudnessReport, Report};
use crate::subs::{Cue, Skipped, Subtitles};
use crate::track::{assemble, Placed};

/// Errors of a dubbing run.
#[derive(Debug, thiserror::Error)]
pub enum DubError {
    /// The engine failed (model, ledger, watermark, ...).
    #[error(transparent)]
    Engine(Box<EngineError>),
    /// The work directory failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// Audio processing or the background track failed.
    #[error("audio: {0}")]
    Audio(#[from] avow_audio::AudioError),
    /// Options out of range.
    #[error("{0}")]
    Options(String),
    /// The background track could not be used.
    #[error("background track {path}: {source}")]
    Bed {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: avow_audio::AudioError,
    },
    /// No cue could be spoken.
    #[error("no cue could be spoken ({} skipped{})", skipped.len(), skipped.first().map(|s| format!("; first at line {}: {}", s.line, s.reason)).unwrap_or_default())]
    NothingToSpeak {
        /// Every cue that was left out.
        skipped: Vec<Skipped>,
    },
}

impl From<EngineError> for DubError {
    fn from(e: EngineError) -> Self {
        DubError::Engine(Box::new(e))
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct DubOptions {
    /// Timing fit bounds and alignment.
    pub fit: FitOptions,
    /// Sample rate of the track.
    pub rate: u32,
    /// Background track to mix under the speech.
    pub bed: Option<PathBuf>,
    /// Integrated loudness target (LUFS); defaults to −23 with a bed,
    /// no normalization without one.
    pub lufs: Option<f64>,
    /// Worker threads sharing the engine.
    pub jobs: usize,
    /// Work directory for per-cue audio.
    pub work_dir: PathBuf,
    /// Identity of the model weights (goes into every cue's cache key).
    pub model_id: String,
}

/// Loudness target used with a bed when none is given (EBU R128).
pub const DEFAULT_LUFS: f64 = -23.0;

/// Receives progress; all methods may be called from worker threads.
pub trait Progress: Sync {
    /// A stage begins with `total` steps.
    fn stage(&self, _name: &str, _total: usize) {}
    /// One step of the current stage is done.
    fn tick(&self) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Dubbed {
    /// Mono samples at `report.rate`.
    pub samples: Vec<f32>,
    /// What happened to every cue.
    pub report: Report,
}

/// Cues that can be spoken, their timing and their plans.
struct Planned<'s> {
    cues: Vec<(&'s Cue, SpeechTiming)>,
    times: Vec<(usize, usize)>,
    plans: Vec<CuePlan>,
    skipped: Vec<Skipped>,
}

fn check_options(options: &DubOptions) -> Result<(), DubError> {
    options.fit.validate().map_err(DubError::Options)?;
    if !(8_000..=192_000).contains(&options.rate) {
        return Err(DubError::Options(format!("sample rate {} Hz is outside 8000..=192000", options.rate)));
    }
    if options.jobs == 0 {
        return Err(DubError::Options("--jobs must be at least 1".into()));
    }
    Ok(())
}

/// Times every line (duration predictor only) and plans the fit.
fn prepare<'s>(engine: &Engine, voice: &VerifiedVoice, subs: &'s Subtitles, options: &DubOptions, progress: &dyn Progress) -> Result<Planned<'s>, DubError> {
    progress.stage("timing", subs.cues.len());
    let timings = parallel_map(subs.cues.len(), options.jobs, |i| {
        let t = match engine.timing(voice, &subs.cues[i].text) {
            Ok(t) => Ok(t),
            Err(e @ (EngineError::Text(_) | EngineError::Invalid(_))) => Err(e.to_string()),
            Err(e) => return Err(e.into()),
        };
        progress.tick();
        Ok(t)
    })?;
    let mut skipped = subs.skipped.clone();
    let mut cues: Vec<(&Cue, SpeechTiming)> = Vec::new();
    for (cue, timing) in subs.cues.iter().zip(timings) {
        match timing {
            Ok(t) => cues.push((cue, t)),
            Err(reason) => skipped.push(Skipped { line: cue.line, reason: format!("cannot be spoken: {reason}") }),
        }
    }
    if cues.is_empty() {
        return Err(DubError::NothingToSpeak { skipped });
    }
    let per_ms = SAMPLE_RATE as usize / 1000;
    let times: Vec<(usize, usize)> = cues.iter().map(|(c, _)| (c.start_ms as usize * per_ms, c.end_ms as usize * per_ms)).collect();
    // Lengths without the model's pad silence: speech starts at its placement.
    let spoken_len = |i: usize, speed: f32| {
        let (lead, tail) = cues[i].1.pad_samples_at(speed);
        cues[i].1.samples_at(speed).saturating_sub(lead + tail)
    };
    let plans = plan_all(&slots_from(&times), &options.fit, spoken_len, avow_audio::stretch::stretched_len);
    Ok(Planned { cues, times, plans, skipped })
}

/// The report a run would produce, from the duration predictor alone: no
/// audio is made, nothing is marked or logged (a dry run: will the
/// translation fit?). `duration` is the speech-only track length.
pub fn plan_only(engine: &Engine, voice: &VerifiedVoice, subs: &Subtitles, options: &DubOptions, progress: &dyn Progress) -> Result<Report, DubError> {
    check_options(options)?;
    let planned = prepare(engine, voice, subs, options, progress)?;
    let len = planned.plans.iter().map(|p| p.placement + p.keep).max().unwrap_or(0).max(planned.times.last().map_or(0, |t| t.1));
    let len_at_rate = (len as u64 * u64::from(options.rate) / u64::from(SAMPLE_RATE)) as usize;
    Ok(build_report(voice, subs, options, planned, len_at_rate, 0, 0, None))
}

/// Dubs `subs` with `voice` (verified for dubbing in the language spoken).
pub fn dub(engine: &Engine, voice: &VerifiedVoice, subs: &Subtitles, options: &DubOptions, progress: &dyn Progress) -> Result<Dubbed, DubError> {
    check_options(options)?;
    let cache = CueCache::open(&options.work_dir)?;
    let jobs = options.jobs;
    let planned = prepare(engine, voice, subs, options, progress)?;
    let (cues, times, plans) = (&planned.cues, &planned.times, &planned.plans);

    // Synthesize what the work directory lacks.
    let consent = voice.consent();
    let keys: Vec<String> = cues
        .iter()
        .zip(plans)
        .map(|((cue, _), plan)| {
            CueKey {
                model: &options.model_id,
                pack_sha256: consent.pack_sha256(),
                record_id: consent.record_id(),
                watermark: consent.watermark_payload(),
                language: consent.language(),
                text: &cue.text,
                speed: plan.speed,
                tempo: plan.tempo,
                mark_phase: plan.placement as u64 % avow_engine::MARK_PERIOD_SAMPLES,
            }
            .digest()
        })
        .collect();
    let have: Vec<Option<Vec<f32>>> = keys.iter().map(|k| cache.get(k)).collect();
    let missing: Vec<usize> = (0..cues.len()).filter(|&i| have[i].is_none()).collect();
    progress.stage("speech", missing.len());
    let length_mismatches = AtomicUsize::new(0);
    let made = parallel_map(missing.len(), jobs, |j| {
        let i = missing[j];
        let plan = &plans[i];
        let speech = engine.speak_with(
            voice,
            &cues[i].0.text,
            &SpeakOptions { speed: plan.speed, tempo: plan.tempo, mark_offset: plan.placement as u64, trim_pads: true },
        )?;
        if speech.samples.len() != plan.speech_len {
            length_mismatches.fetch_add(1, Ordering::Relaxed);
        }
        let audio = fit_length(speech.samples, plan.speech_len);
        cache.put(&keys[i], &audio)?;
        progress.tick();
        Ok(audio)
    })?;
    let synthesized = made.len();
    let mut audio = have;
    for (j, clip) in missing.into_iter().zip(made) {
        audio[j] = Some(clip);
    }
    let audio: Vec<Vec<f32>> = audio.into_iter().map(|a| a.unwrap_or_default()).collect();

    // Assemble, resample, mix.
    let placed: Vec<Placed> = plans.iter().zip(&audio).map(|(plan, a)| Placed { plan, audio: a }).collect();
    let last_end = times.last().map_or(0, |t| t.1);
    let mut track = assemble(&placed, last_end);
    if options.rate != SAMPLE_RATE {
        track = avow_audio::resample(&track, SAMPLE_RATE, options.rate)?;
    }
    let loudness = mix_and_normalize(&mut track, options)?;
    let reused = cues.len() - synthesized;
    let mut report = build_report(voice, subs, options, planned, track.len(), synthesized, reused, loudness);
    report.length_mismatches = length_mismatches.into_inner();
    Ok(Dubbed { samples: track, report })
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    voice: &VerifiedVoice,
    subs: &Subtitles,
    options: &DubOptions,
    planned: Planned<'_>,
    track_len: usize,
    synthesized: usize,
    reused: usize,
    loudness: Option<LoudnessReport>,
) -> Report {
    let consent = voice.consent();
    let to_rate = |samples: usize| (samples as u64 * u64::from(options.rate) + u64::from(SAMPLE_RATE) / 2) / u64::from(SAMPLE_RATE);
    let secs = |samples: usize| samples as f64 / f64::from(SAMPLE_RATE);
    let Planned { cues, plans, skipped, .. } = planned;
    Report {
        format: subs.format,
        language: consent.language().to_string(),
        record_id: consent.record_id().to_string(),
        watermark: format!("{:08x}", consent.watermark_payload()),
        rate: options.rate,
        duration: track_len as f64 / f64::from(options.rate),
        speech_seconds: plans.iter().map(|p| secs(p.keep)).sum(),
        length_mismatches: 0,
        max_speed: options.fit.max_speed,
        max_stretch: options.fit.max_stretch,
        align: options.fit.align,
        counts: Counts::from_fits(plans.iter().map(|p| p.fit), skipped.len()),
        synthesized,
        reused,
        out_of_order: subs.out_of_order,
        overlaps: subs.overlaps.clone(),
        skipped,
        loudness,
        cues: cues.iter().zip(&plans).map(|((cue, _), p)| cue_report(cue, p, secs, to_rate)).collect(),
    }
}

fn cue_report(cue: &Cue, p: &CuePlan, secs: impl Fn(usize) -> f64, to_rate: impl Fn(usize) -> u64) -> CueReport {
    CueReport {
        number: cue.number,
        id: cue.id.clone(),
        start: cue.start_ms as f64 / 1000.0,
        end: cue.end_ms as f64 / 1000.0,
        target: secs(p.target),
        natural: secs(p.natural_len),
        speech: secs(p.speech_len),
        speed: p.speed,
        stretch: p.tempo,
        overrun: secs(p.overrun),
        placement: secs(p.placement),
        placement_sample: to_rate(p.placement),
        placed_samples: to_rate(p.keep),
        fit: p.fit,
        text: cue.text.clone(),
    }
}

/// The engine's length and the plan's agree exactly (the timing mirrors the
/// model's rounding); should they ever differ, the plan wins so that no
/// cue can run into the next.
fn fit_length(mut samples: Vec<f32>, len: usize) -> Vec<f32> {
    samples.resize(len, 0.0);
    samples
}

fn mix_and_normalize(track: &mut Vec<f32>, options: &DubOptions) -> Result<Option<LoudnessReport>, DubError> {
    let bed = match &options.bed {
        Some(path) => Some(read_bed(path, options.rate)?),
        None => None,
    };
    let target = match (&bed, options.lufs) {
        (_, Some(l)) => l,
        (Some(_), None) => DEFAULT_LUFS,
        (None, None) => return Ok(None),
    };
    if let Some(bed) = &bed {
        *track = avow_audio::mix::duck_mix(track, bed, options.rate, &avow_audio::mix::DuckParams::default())?;
    }
    let n = avow_audio::mix::normalize_loudness(track, options.rate, target)?;
    Ok(Some(LoudnessReport {
        bed: options.bed.as_ref().map(|p| p.display().to_string()),
        input_lufs: n.input_lufs,
        target_lufs: target,
        gain_db: n.gain_db,
        limited_samples: n.limited_samples,
    }))
}

fn read_bed(path: &Path, rate: u32) -> Result<Vec<f32>, DubError> {
    let bed_err = |source| DubError::Bed { path: path.to_path_buf(), source };
    let audio = avow_audio::read_audio(path).map_err(bed_err)?;
    avow_audio::resample(&audio.to_mono(), audio.sample_rate, rate).map_err(bed_err)
}

/// Runs `f(0..n)` on up to `jobs` threads; results in index order. The
/// first error stops the other workers from taking new items.
fn parallel_map<T: Send>(n: usize, jobs: usize, f: impl Fn(usize) -> Result<T, DubError> + Sync) -> Result<Vec<T>, DubError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let first_error: Mutex<Option<DubError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(n.max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    match f(i) {
                        Ok(v) => results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(v),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect())
}
