//! `avow dub` end to end through the real binary and the real model: cue
//! onsets on time, the watermark in the track, one ledger entry per cue,
//! resuming after a crash to a byte-identical track, consent refusals, and
//! refusal of unusable subtitle files.
//!
//! Needs the converted weights in the model cache (`avow models fetch`); the
//! model-backed tests skip with a message when absent unless
//! `AVOW_REQUIRE_MODELS=1` (CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

/// Six cues; lines start with vowels or sonorants (no stop closure before
/// the first audible sample), one is far too long for its cue and one
/// cue arrives out of order.
const SRT: &str = "1\n00:00:00,400 --> 00:00:02,400\nAlways check the weather first.\n\n2\n00:00:02,900 --> 00:00:04,100\n<i>We will leave</i> at noon,\nunless the road is closed by the river again tonight.\n\n4\n00:00:07,000 --> 00:00:08,800\nMany people are waiting.\n\n3\n00:00:04,700 --> 00:00:06,500\nOh, I forgot the map.\n\n5\n00:00:09,300 --> 00:00:11,000\n{\\an8}Nobody told me that.\n\n6\n00:00:11,500 --> 00:00:13,500\nYes, let us go now.\n";

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        let run = Run { dir: tempfile::tempdir().unwrap() };
        std::fs::write(run.path("scene.srt"), SRT).unwrap();
        run
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn command(&self, cache: Option<&Path>, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_avow"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("AVOW_LEDGER", self.path("ledger.jsonl"))
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env_remove("AVOW_TRUST_DIR")
            .env_remove("AVOW_REVOCATION_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match cache {
            Some(c) => cmd.env("AVOW_CACHE_DIR", c),
            None => cmd.env("AVOW_CACHE_DIR", self.path("no-cache")),
        };
        cmd
    }
    fn avow(&self, cache: Option<&Path>, args: &[&str]) -> Output {
        self.command(cache, args).output().unwrap()
    }
    fn ledger_lines(&self) -> usize {
        std::fs::read_to_string(self.path("ledger.jsonl")).map(|s| s.lines().count()).unwrap_or(0)
    }
    fn report(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.path(name)).unwrap()).unwrap()
    }
}

fn stock_payload(voice: &str) -> u32 {
    let record = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../voices/{voice}.consent.json"))).unwrap();
    let (_, statement) = avow_consent::parse_record(&record).unwrap();
    u32::from_str_radix(&statement.watermark_fingerprint, 16).unwrap()
}

fn dub_args<'a>(out: &'a str, report: &'a str, work: &'a str, jobs: &'a str) -> Vec<&'a str> {
    vec!["dub", "--voice", "jf_alpha", "--subs", "scene.srt", "--lang", "en-us", "--out", out, "--report", report, "--work-dir", work, "--jobs", jobs]
}

#[test]
fn each_cue_starts_on_its_subtitle_time_the_track_is_marked_every_cue_is_logged_and_a_bed_mix_reuses_the_cues() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    let o = run.avow(Some(&cache), &dub_args("track.wav", "report.json", "work", "2"));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("6 cues:") && stdout.contains("overran") && stdout.contains("stretch"), "summary table: {stdout}");
    let audio = avow_audio::read_audio(run.path("track.wav")).unwrap();
    assert_eq!((audio.sample_rate, audio.channels), (24_000, 1));
    let track = audio.to_mono();
    let report = run.report("report.json");
    let cues = report["cues"].as_array().unwrap();
    assert_eq!(cues.len(), 6);
    assert_eq!(report["out_of_order"], 1, "cue 4 precedes cue 3 in the file");
    assert_eq!(report["length_mismatches"], 0, "the planned length is the synthesized length");
    let numbers: Vec<u64> = cues.iter().map(|c| c["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 4, 3, 5, 6], "cues in time order, numbered as in the file");
    assert_eq!(cues[1]["text"], "We will leave at noon, unless the road is closed by the river again tonight.");
    assert_ne!(cues[1]["fit"], "natural", "the long line had to be fitted: {}", cues[1]);

    let tolerance = 240; // 10 ms at 24 kHz
    let mut previous_end = 0usize;
    for cue in cues {
        let start = (cue["start"].as_f64().unwrap() * 24_000.0).round() as usize;
        let placement = cue["placement_sample"].as_u64().unwrap() as usize;
        let placed = cue["placed_samples"].as_u64().unwrap() as usize;
        assert_eq!(placement, start, "start-aligned cue {} placed elsewhere", cue["number"]);
        assert!(placement >= previous_end, "cue {} overlaps the previous cue's speech", cue["number"]);
        previous_end = placement + placed;
        // The first audible sample (above 2 % of the cue's peak), searched
        // from 10 ms before the subtitle's start time.
        let from = start - tolerance;
        let region = &track[from..start + placed];
        let peak = region.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.05, "cue {} is nearly silent", cue["number"]);
        let onset = from + region.iter().position(|s| s.abs() > 0.02 * peak).unwrap();
        let error = onset.abs_diff(start);
        assert!(error <= tolerance, "cue {} starts {:.1} ms off its subtitle time", cue["number"], error as f64 / 24.0);
    }
    // Before the first cue: silence.
    assert!(track[..9_000].iter().all(|s| *s == 0.0));

    let detection = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(&track, 24_000).unwrap();
    assert!(detection.detected, "no watermark in the dubbed track (p = {})", detection.p_value);
    assert_eq!(detection.payload, Some(stock_payload("jf_alpha")));
    assert_eq!(run.ledger_lines(), 6, "one ledger entry per cue");
    let audit = run.avow(Some(&cache), &["audit", "verify", run.path("ledger.jsonl").to_str().unwrap()]);
    assert!(audit.status.success(), "ledger does not verify: {}", String::from_utf8_lossy(&audit.stderr));

    // The same cues over a background bed at 48 kHz, normalized to −20 LUFS:
    // every cue comes from the work directory, onsets stay on time at the new
    // rate, the loudness hits the target and the mark survives the mix.
    let rate = 44_100u32;
    let bed: Vec<f32> = (0..15 * rate as usize * 2)
        .map(|i| {
            let t = (i / 2) as f32 / rate as f32;
            0.08 * (2.0 * std::f32::consts::PI * 110.0 * t).sin() + 0.05 * (2.0 * std::f32::consts::PI * 329.6 * t + (i % 2) as f32).sin()
        })
        .collect();
    avow_audio::write_wav_channels(run.path("bed.wav"), &bed, rate, 2, avow_audio::WavFormat::Pcm16).unwrap();
    let mut args = dub_args("mix.wav", "mix.json", "work", "2");
    args.extend(["--bed", "bed.wav", "--rate", "48000", "--lufs", "-20"]);
    let o = run.avow(Some(&cache), &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mix_report = run.report("mix.json");
    assert_eq!(mix_report["synthesized"], 0, "the cues are in the work directory");
    assert_eq!(run.ledger_lines(), 6, "reused cues are not synthesized or logged again");
    let mix = avow_audio::read_audio(run.path("mix.wav")).unwrap();
    assert_eq!((mix.sample_rate, mix.channels), (48_000, 1));
    let mix = mix.to_mono();
    assert!(mix.len() >= 15 * 48_000, "the track is as long as the bed");
    let lufs = avow_audio::loudness::integrated_loudness(&mix, 48_000).unwrap();
    assert!((lufs + 20.0).abs() < 0.5, "mix loudness {lufs} LUFS, target -20");
    for cue in mix_report["cues"].as_array().unwrap() {
        let start = (cue["start"].as_f64().unwrap() * 48_000.0).round() as u64;
        assert!(cue["placement_sample"].as_u64().unwrap().abs_diff(start) <= 1, "{cue}");
    }
    let detection = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(&mix, 48_000).unwrap();
    assert!(detection.detected, "no watermark in the mix (p = {})", detection.p_value);
}

#[test]
fn a_run_killed_halfway_resumes_with_only_the_missing_cues_and_a_byte_identical_track() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    // First attempt, killed (SIGKILL, like a crash) once two cues are done.
    let mut child = run.command(Some(&cache), &dub_args("track.wav", "r1.json", "work", "1")).spawn().unwrap();
    let cues_dir = run.path("work/cues");
    let done = |dir: &Path| std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "cue")).count()).unwrap_or(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(900);
    while done(&cues_dir) < 2 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be interrupted");
        assert!(std::time::Instant::now() < deadline, "no cue finished in time");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!run.path("track.wav").exists(), "a killed run left an output file");
    let cached = done(&cues_dir);
    assert!(cached < 6, "all cues finished before the kill");
    let logged_before = run.ledger_lines();

    // The same command again.
    let o = run.avow(Some(&cache), &dub_args("track.wav", "r2.json", "work", "1"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r2 = run.report("r2.json");
    assert_eq!(r2["reused"].as_u64().unwrap() as usize, cached, "cached cues must be reused");
    assert_eq!(r2["synthesized"].as_u64().unwrap() as usize, 6 - cached, "only the missing cues are synthesized");
    assert_eq!(run.ledger_lines(), logged_before + 6 - cached, "one ledger entry per newly synthesized cue");

    // A clean run from an empty work directory, on two threads.
    let o = run.avow(Some(&cache), &dub_args("clean.wav", "r3.json", "work-clean", "2"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let resumed = std::fs::read(run.path("track.wav")).unwrap();
    let clean = std::fs::read(run.path("clean.wav")).unwrap();
    assert!(resumed == clean, "the resumed track differs from an uninterrupted run");

    // Nothing left to do: a third run reuses every cue.
    let o = run.avow(Some(&cache), &dub_args("track.wav", "r4.json", "work", "1"));
    assert!(o.status.success());
    assert_eq!(run.report("r4.json")["synthesized"], 0);
    assert_eq!(std::fs::read(run.path("track.wav")).unwrap(), clean);
}

#[test]
fn a_record_without_dubbing_or_without_the_language_is_refused_and_nothing_is_written() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    std::fs::create_dir(run.path("trust")).unwrap();
    std::fs::copy(cache.join("voices/jf_alpha.voicepack"), run.path("actor.voicepack")).unwrap();
    let ok = |args: &[&str]| {
        let o = run.avow(None, args);
        assert!(o.status.success(), "avow {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    ok(&["keys", "new", "--out", "studio"]);
    std::fs::copy(run.path("studio.pub"), run.path("trust/studio.pub")).unwrap();
    ok(&["keys", "new", "--out", "actor"]);
    for (name, purpose, language) in [("narration-only", "narration", "en-us,es"), ("french-only", "dubbing", "fr"), ("good", "dubbing", "en-us")] {
        let record = format!("{name}.consent.json");
        ok(&[
            "consent", "draft", "--pack", "actor.voicepack", "--subject-name", "An Actor", "--subject-key", "actor.pub",
            "--purpose", purpose, "--language", language, "--valid-days", "30", "--statement", "I agree that avow may speak in my voice.",
            "--record-id", name, "--out", &record,
        ]);
        ok(&["consent", "sign", &record, "--key", "studio.key"]);
        ok(&["consent", "sign", &record, "--key", "actor.key"]);
    }
    for record in ["narration-only.consent.json", "french-only.consent.json"] {
        let o = run.avow(
            Some(&cache),
            &["dub", "--voice", "actor.voicepack", "--consent", record, "--trust", "trust", "--subs", "scene.srt", "--lang", "en-us", "--out", "x.wav", "--report", "x.json"],
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(18), "{record}: out-of-scope exit code; stderr: {stderr}");
        assert!(stderr.contains("consent refused"), "{record}: {stderr}");
        assert!(!run.path("x.wav").exists() && !run.path("x.json").exists(), "{record}: wrote output");
    }
    assert_eq!(run.ledger_lines(), 0, "refusals must not synthesize");
    // The same pack with a record that allows dubbing in English passes the gate
    // (checked on a one-cue file to keep the test short).
    std::fs::write(run.path("one.srt"), "1\n00:00:00,500 --> 00:00:02,000\nYes.\n").unwrap();
    let o = run.avow(
        Some(&cache),
        &["dub", "--voice", "actor.voicepack", "--consent", "good.consent.json", "--trust", "trust", "--subs", "one.srt", "--lang", "en-us", "--out", "ok.wav"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(run.path("ok.wav").exists());
    assert_eq!(run.ledger_lines(), 1);
}

#[test]
fn unusable_subtitle_files_and_options_are_refused_before_any_work() {
    // No model cache needed: these fail before the model loads.
    let run = Run::new();
    std::fs::write(run.path("noheader.vtt"), "00:01.000 --> 00:02.000\nHi\n").unwrap();
    std::fs::write(run.path("empty.srt"), "").unwrap();
    std::fs::write(run.path("latin1.srt"), b"1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n").unwrap();
    let cases: [(&str, Vec<&str>, &str); 8] = [
        ("vtt without header", vec!["--subs", "noheader.vtt"], "WEBVTT"),
        ("empty file", vec!["--subs", "empty.srt"], "no usable cues"),
        ("not UTF-8", vec!["--subs", "latin1.srt"], "UTF-8"),
        ("missing file", vec!["--subs", "nope.srt"], "nope.srt"),
        ("no subtitles", vec![], "no subtitle files"),
        ("bad max speed", vec!["--subs", "scene.srt", "--max-speed", "3"], "max speed"),
        ("bad stretch", vec!["--subs", "scene.srt", "--max-stretch", "0.5"], "max stretch"),
        ("bad shard", vec!["--subs", "scene.srt", "--shard", "2/2"], "shard"),
    ];
    for (what, extra, message) in cases {
        let mut args = vec!["dub", "--voice", "jf_alpha", "--lang", "en-us", "--out", "x.wav"];
        args.extend(extra);
        let o = run.avow(None, &args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{what}: succeeded");
        assert!(stderr.contains(message), "{what}: stderr lacks `{message}`: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(!run.path("x.wav").exists(), "{what}: wrote output");
    }
    assert_eq!(run.ledger_lines(), 0);
}

#[test]
fn shards_split_a_batch_between_them_and_a_rerun_skips_finished_outputs() {
    let Some(cache) = cache_dir() else { return };
    let run = Run::new();
    std::fs::create_dir(run.path("season")).unwrap();
    let names = ["ep1", "ep2", "ep3"];
    for (k, name) in names.iter().enumerate() {
        let line = ["Yes.", "Oh no.", "Well, maybe."][k];
        std::fs::write(run.path(&format!("season/{name}.srt")), format!("1\n00:00:00,300 --> 00:00:01,800\n{line}\n")).unwrap();
    }
    std::fs::write(run.path("season/list.txt"), "# episodes\nep1.srt\nep2.srt\n\nep3.srt\n").unwrap();
    let shard = |i: &str| {
        let o = run.avow(
            Some(&cache),
            &["dub", "--voice", "jf_alpha", "--lang", "en-us", "--subs-list", "season/list.txt", "--out", "dubbed", "--shard", i],
        );
        assert!(o.status.success(), "shard {i}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    shard("0/2");
    assert!(run.path("dubbed/ep1.wav").exists() && run.path("dubbed/ep3.wav").exists());
    assert!(!run.path("dubbed/ep2.wav").exists(), "shard 0/2 took a file of shard 1/2");
    shard("1/2");
    for name in names {
        assert!(run.path(&format!("dubbed/{name}.wav")).exists());
        let report = run.report(&format!("dubbed/{name}.report.json"));
        assert_eq!(report["cues"].as_array().unwrap().len(), 1);
        assert!(report["job_key"].as_str().is_some_and(|k| k.len() == 64));
    }
    assert_eq!(run.ledger_lines(), 3);
    let before = std::fs::read(run.path("dubbed/ep1.wav")).unwrap();
    // Running a shard again does nothing: same files, no synthesis.
    let again = shard("0/2");
    assert!(again.contains("up to date"), "{again}");
    assert_eq!(run.ledger_lines(), 3, "a finished shard synthesized again");
    assert_eq!(std::fs::read(run.path("dubbed/ep1.wav")).unwrap(), before);
}
