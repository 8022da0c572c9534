//! `avow dub`: subtitle files spoken in a consenting voice, timed to the cues.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{bail, Context};
use avow_dub::plan::{Align, FitOptions};
use avow_dub::shard::Shard;
use avow_dub::subs::Subtitles;
use avow_engine::{ConsentPurpose, VerifiedVoice, SAMPLE_RATE};
use sha2::{Digest, Sha256};

use crate::cmd::say::{check_writable, open_voice_and_engine, output_dir, EngineArgs};

/// Arguments of `avow dub`.
#[derive(clap::Args)]
pub struct Args {
    /// A stock voice name or a voice pack file (then `--consent` is required).
    /// The consent record must allow the purpose `dubbing` and the language.
    #[arg(long)]
    voice: String,
    /// Signed consent record for a voice pack given by path.
    #[arg(long)]
    consent: Option<PathBuf>,
    /// Subtitle file (.srt or .vtt); repeat for a batch.
    #[arg(long)]
    subs: Vec<PathBuf>,
    /// File listing subtitle files, one per line (blank lines and `#` comments ignored).
    #[arg(long)]
    subs_list: Option<PathBuf>,
    /// Language of the subtitles (en-us, en-gb, es, fr, it, pt-br, hi).
    #[arg(long)]
    lang: String,
    /// Output WAV file; for a batch (several files, a list or --shard), a directory
    /// that receives NAME.wav and NAME.report.json per subtitle file.
    #[arg(long, short)]
    out: PathBuf,
    /// Sample rate of the track (default: the engine's 24000 Hz).
    #[arg(long, default_value_t = SAMPLE_RATE)]
    rate: u32,
    /// Write the per-cue report as JSON here (single file only).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Background track (music and effects) to mix under the speech, with ducking.
    #[arg(long)]
    bed: Option<PathBuf>,
    /// Integrated loudness target in LUFS (EBU R128); default -23 with --bed, none without.
    #[arg(long, allow_negative_numbers = true)]
    lufs: Option<f64>,
    /// Fastest model speed used to fit a line into its cue.
    #[arg(long, default_value_t = 1.25)]
    max_speed: f32,
    /// Strongest pitch-preserving time compression used before a line overruns its cue.
    #[arg(long, default_value_t = 1.15)]
    max_stretch: f32,
    /// Placement of lines much shorter than their cue.
    #[arg(long, value_enum, default_value = "start")]
    align: AlignArg,
    /// Synthesis threads sharing one loaded model.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Only time and plan every cue (the duration predictor, no audio): print the
    /// report and write --report, but no track and no ledger entries.
    #[arg(long)]
    dry_run: bool,
    /// Directory for per-cue results, so an interrupted run resumes (default: beside the output;
    /// removed after a successful single-file run unless given explicitly).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Do only shard I of N (0-based) of the batch: the files at list positions I, I+N, I+2N, ...
    #[arg(long)]
    shard: Option<Shard>,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AlignArg {
    Start,
    Center,
}

/// One subtitle file to dub and where its results go.
struct Job {
    subs_path: PathBuf,
    subs: Subtitles,
    subs_bytes_sha: String,
    out: PathBuf,
    report: Option<PathBuf>,
}

/// Runs `avow dub`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Cheap checks first: loading the model takes seconds.
    avow_engine::check_language(&args.lang)?;
    let fit = FitOptions {
        max_speed: args.max_speed,
        max_stretch: args.max_stretch,
        align: match args.align {
            AlignArg::Start => Align::Start,
            AlignArg::Center => Align::Center,
        },
        ..FitOptions::default()
    };
    fit.validate().map_err(anyhow::Error::msg)?;
    if args.jobs == 0 || args.jobs > 64 {
        bail!("--jobs must be between 1 and 64");
    }
    if !(8_000..=192_000).contains(&args.rate) {
        bail!("--rate {} is outside 8000..=192000 Hz", args.rate);
    }
    if let Some(l) = args.lufs {
        if !(l.is_finite() && (-70.0..=0.0).contains(&l)) {
            bail!("--lufs {l} is outside -70..=0");
        }
    }
    if let Some(bed) = &args.bed {
        if !bed.is_file() {
            bail!("background track {} does not exist", bed.display());
        }
    }
    let jobs = plan_jobs(&args)?;
    let batch = args.subs.len() > 1 || args.subs_list.is_some() || args.shard.is_some();
    // The consent gate before the model loads: a refusal costs milliseconds.
    let (engine, voice) = match open_voice_and_engine(&args.engine, &args.voice, args.consent.as_deref(), ConsentPurpose::Dubbing, &args.lang)? {
        Ok(opened) => opened,
        Err(refused) => return Ok(refused),
    };
    let model_id = model_identity(args.engine.cache_dir.clone())?;
    let bed_sha = match &args.bed {
        Some(p) => Some(sha256_file(p)?),
        None => None,
    };
    let explicit_work = args.work_dir.is_some();
    let work_dir = match &args.work_dir {
        Some(d) => d.clone(),
        None if batch => args.out.join(".avow-dub-work"),
        None => output_dir(&args.out).join(format!(".{}.avow-dub-work", args.out.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())),
    };
    let dub_options = avow_dub::DubOptions {
        fit,
        rate: args.rate,
        bed: args.bed.clone(),
        lufs: args.lufs,
        jobs: args.jobs,
        work_dir: work_dir.clone(),
        model_id: model_id.clone(),
    };
    let interactive = std::io::stderr().is_terminal();
    for (k, job) in jobs.iter().enumerate() {
        let job_key = job_key(&job.subs_bytes_sha, &args, &voice, &model_id, bed_sha.as_deref());
        if batch && up_to_date(job, &job_key) {
            println!("{}: up to date ({})", job.subs_path.display(), job.out.display());
            continue;
        }
        if args.dry_run {
            let progress = Bars::new(interactive, String::new());
            let report = avow_dub::plan_only(&engine, &voice, &job.subs, &dub_options, &progress)
                .with_context(|| format!("planning {}", job.subs_path.display()))?;
            progress.finish();
            // A batch's report files mark finished outputs: a dry run leaves them alone.
            if let (Some(report_path), false) = (&job.report, batch) {
                avow_dub::output::write_text(report_path, &(serde_json::to_string_pretty(&report)? + "\n"))?;
            }
            if !batch {
                print!("{}", report.table());
            }
            println!("{}: {} (dry run, nothing synthesized)", job.subs_path.display(), report.counts.summary());
            continue;
        }
        let progress = Bars::new(interactive, if batch { format!("[{}/{}] {}", k + 1, jobs.len(), stem(&job.subs_path)) } else { String::new() });
        let dubbed = avow_dub::dub(&engine, &voice, &job.subs, &dub_options, &progress)
            .with_context(|| format!("dubbing {}", job.subs_path.display()))?;
        progress.finish();
        avow_dub::output::write_wav(&job.out, &dubbed.samples, dubbed.report.rate)?;
        if let Some(report_path) = &job.report {
            let mut value = serde_json::to_value(&dubbed.report)?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("subtitles".into(), job.subs_path.display().to_string().into());
                obj.insert("job_key".into(), job_key.clone().into());
            }
            avow_dub::output::write_text(report_path, &(serde_json::to_string_pretty(&value)? + "\n"))?;
        }
        if !batch {
            print!("{}", dubbed.report.table());
        }
        println!(
            "{}: {} ({} synthesized, {} reused) -> {}",
            job.subs_path.display(),
            dubbed.report.counts.summary(),
            dubbed.report.synthesized,
            dubbed.report.reused,
            job.out.display()
        );
    }
    if !batch && !explicit_work && !args.dry_run {
        // The default work directory only serves to resume this one output.
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the subtitle list, applies the shard, parses every file (errors
/// name the file) and decides the outputs; all before the model loads.
fn plan_jobs(args: &Args) -> anyhow::Result<Vec<Job>> {
    let mut inputs = args.subs.clone();
    if let Some(list) = &args.subs_list {
        let text = std::fs::read_to_string(list).with_context(|| format!("cannot read {}", list.display()))?;
        let base = output_dir(list);
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let p = PathBuf::from(line);
            inputs.push(if p.is_absolute() { p } else { base.join(p) });
        }
    }
    if inputs.is_empty() {
        bail!("no subtitle files: give --subs FILE (repeatable) or --subs-list FILE");
    }
    let batch = inputs.len() > 1 || args.subs_list.is_some() || args.shard.is_some();
    if batch {
        if args.report.is_some() {
            bail!("--report is for a single file; a batch writes NAME.report.json beside each NAME.wav in --out");
        }
        let mut stems: Vec<String> = inputs.iter().map(|p| stem(p)).collect();
        stems.sort();
        if let Some(w) = stems.windows(2).find(|w| w[0] == w[1]) {
            bail!("two subtitle files are named {}: their outputs would collide in {}", w[0], args.out.display());
        }
        std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create output directory {}", args.out.display()))?;
    } else {
        check_writable(&args.out)?;
        if let Some(report) = &args.report {
            check_writable(report)?;
        }
    }
    if let Some(shard) = args.shard {
        inputs = shard.select(&inputs);
    }
    let mut jobs = Vec::new();
    for path in inputs {
        let bytes_sha = sha256_file(&path)?;
        let subs = avow_dub::subs::read_file(&path).with_context(|| format!("subtitles {}", path.display()))?;
        let (out, report) = if batch {
            (args.out.join(format!("{}.wav", stem(&path))), Some(args.out.join(format!("{}.report.json", stem(&path)))))
        } else {
            (args.out.clone(), args.report.clone())
        };
        jobs.push(Job { subs_path: path, subs, subs_bytes_sha: bytes_sha, out, report });
    }
    Ok(jobs)
}

/// A batch output is done when its WAV exists and its report (written
/// last) names the same job key.
fn up_to_date(job: &Job, key: &str) -> bool {
    let Some(report) = &job.report else { return false };
    let Ok(text) = std::fs::read_to_string(report) else { return false };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    job.out.is_file() && value.get("job_key").and_then(|v| v.as_str()) == Some(key)
}

/// Hash of everything that shapes one output file.
fn job_key(subs_sha: &str, args: &Args, voice: &VerifiedVoice, model_id: &str, bed_sha: Option<&str>) -> String {
    let consent = voice.consent();
    let fields = [
        "avow-dub job v1".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
        subs_sha.to_string(),
        model_id.to_string(),
        consent.pack_sha256().to_string(),
        consent.record_id().to_string(),
        format!("{:08x}", consent.watermark_payload()),
        args.lang.clone(),
        args.rate.to_string(),
        format!("{}/{}", args.max_speed, args.max_stretch),
        match args.align {
            AlignArg::Start => "start".into(),
            AlignArg::Center => "center".into(),
        },
        bed_sha.unwrap_or("-").to_string(),
        args.lufs.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
    ];
    let mut h = Sha256::new();
    for f in fields {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The weights' SHA-256 from the cache manifest (identifies the model in cache keys).
fn model_identity(cache_dir: Option<PathBuf>) -> anyhow::Result<String> {
    let cache = avow_models::ModelCache::from_dir_or_env(cache_dir)?;
    let rows = cache.status(false, false)?;
    rows.into_iter()
        .find(|r| r.kind == avow_models::FileKind::Weights)
        .and_then(|r| r.expected_sha256)
        .context("the model cache manifest does not list the weights; run `avow models fetch`")
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "subtitles".into())
}

/// Progress bars with ETA on a terminal; nothing when piped.
struct Bars {
    interactive: bool,
    prefix: String,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Bars {
    fn new(interactive: bool, prefix: String) -> Self {
        Self { interactive, prefix, bar: Mutex::new(None) }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl avow_dub::Progress for Bars {
    fn stage(&self, name: &str, total: usize) {
        self.finish();
        if !self.interactive {
            return;
        }
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix}{msg:>7} [{bar:30}] {pos}/{len} cues, ETA {eta}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(if self.prefix.is_empty() { String::new() } else { format!("{} ", self.prefix) });
        bar.set_message(name.to_string());
        *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    fn tick(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            bar.inc(1);
        }
    }
}
