//! Robustness, imperceptibility and speed harness for the avow watermark.
//!
//! Run through `benches/watermark/run.sh`, which installs ffmpeg/sox and
//! writes BENCHMARKS.md figures. Direct use:
//!
//! ```text
//! cargo run --release -p avow-watermark --example robustness -- \
//!     --data ../shared/data/librispeech --extra DIR_OF_WAVS --clips 50 \
//!     --work /tmp/wm-bench [--attacks none,mp3,...] [--json out.json] [--repeat K]
//!     [--utterances 1,1.5,2] [--phrases DIR]
//! ```
//!
//! `AVOW_WM_CLIPS=1` prints every clip's score and payload bit errors (and every
//! unmarked file's score and p-value) to
//! stderr (which clips fail, and whether presence or payload fails first).
//!
//! Marked clips are written to `WORK/marked/` (with the unmarked 24 kHz
//! reference beside them in `WORK/ref/`) so other tools (PESQ, Perth) can
//! use exactly the same clips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use avow_audio::{read_audio, resample, write_wav, WavFormat};
use avow_watermark::{Detector, Key, Watermarker, RATE};
use rand::{Rng, SeedableRng};

const CLIP_SECS: usize = 5;

struct Opts {
    data: PathBuf,
    extra: Vec<PathBuf>,
    clips: usize,
    work: PathBuf,
    attacks: Option<Vec<String>>,
    json: Option<PathBuf>,
    fp_only: bool,
    /// `--apply-attacks IN OUT`: write every attack of every WAV in IN to
    /// OUT/<attack>/<name>.wav (for evaluating other watermarkers on the
    /// same attacks), then exit.
    apply: Option<(PathBuf, PathBuf)>,
    speed_search: bool,
    skip_fp: bool,
    /// `--repeat K`: every attack K times per clip (random attacks such as
    /// crops and noise draw anew each time), for rows that need more than
    /// 50 trials to tell settings apart.
    repeat: usize,
    /// `--utterances 1,1.5,...`: also mark the first L seconds of every
    /// clip as an utterance of its own (as `avow say` marks a short phrase)
    /// and detect it.
    utterances: Vec<f64>,
    /// `--phrases DIR`: mark every WAV in DIR (any length) on its own and
    /// detect it; prints one line per file and a total.
    phrases: Option<PathBuf>,
}

fn parse() -> Opts {
    let mut o = Opts {
        data: PathBuf::from("../shared/data/librispeech"),
        extra: Vec::new(),
        clips: 50,
        work: std::env::temp_dir().join("avow-wm-bench"),
        attacks: None,
        json: None,
        fp_only: false,
        apply: None,
        speed_search: false,
        skip_fp: false,
        repeat: 1,
        utterances: Vec::new(),
        phrases: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| die(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--data" => o.data = val().into(),
            "--extra" => o.extra.push(val().into()),
            "--clips" => o.clips = val().parse().unwrap_or_else(|_| die("--clips: number")),
            "--work" => o.work = val().into(),
            "--attacks" => o.attacks = Some(val().split(',').map(str::to_string).collect()),
            "--json" => o.json = Some(val().into()),
            "--fp-only" => o.fp_only = true,
            "--speed-search" => o.speed_search = true,
            "--skip-fp" => o.skip_fp = true,
            "--phrases" => o.phrases = Some(val().into()),
            "--utterances" => {
                o.utterances = val()
                    .split(',')
                    .map(|v| v.parse().ok().filter(|&l: &f64| l > 0.0 && l <= CLIP_SECS as f64))
                    .collect::<Option<Vec<f64>>>()
                    .unwrap_or_else(|| die("--utterances: seconds, comma-separated, at most the clip length"))
            }
            "--repeat" => {
                o.repeat = val()
                    .parse()
                    .ok()
                    .filter(|&k| k > 0)
                    .unwrap_or_else(|| die("--repeat: a positive number"))
            }
            "--apply-attacks" => {
                let i = val();
                let out = args.next().unwrap_or_else(|| die("--apply-attacks IN OUT"));
                o.apply = Some((i.into(), out.into()));
            }
            _ => die(&format!("unknown argument {a}")),
        }
    }
    o
}

fn die(msg: &str) -> ! {
    eprintln!("robustness: {msg}");
    std::process::exit(2)
}

fn list_audio(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            list_audio(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("flac" | "wav")) {
            out.push(p);
        }
    }
}

fn load24(p: &Path) -> Vec<f32> {
    let a = read_audio(p).unwrap_or_else(|e| die(&format!("{e}")));
    resample(&a.to_mono(), a.sample_rate, RATE).unwrap_or_else(|e| die(&format!("{e}")))
}

/// Speech clips of exactly 5 s at 24 kHz: (name, samples).
fn clips(paths: &[PathBuf], n: usize) -> Vec<(String, Vec<f32>)> {
    let len = CLIP_SECS * RATE as usize;
    let mut out = Vec::new();
    for p in paths {
        if out.len() >= n {
            break;
        }
        let x = load24(p);
        if x.len() < len {
            continue;
        }
        // Skip leading silence: start half a second in when possible.
        let start = (RATE as usize / 2).min(x.len() - len);
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        out.push((name, x[start..start + len].to_vec()));
    }
    out
}

fn tool(cmd: &mut Command) -> bool {
    match cmd.output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!("{:?} failed: {}", cmd, String::from_utf8_lossy(&o.stderr));
            false
        }
        Err(e) => {
            eprintln!("{cmd:?}: {e}");
            false
        }
    }
}

fn snr_db(x: &[f32], noise: impl Iterator<Item = f32>) -> f64 {
    let ps: f64 = x.iter().map(|v| f64::from(*v).powi(2)).sum();
    let pn: f64 = noise.map(|v| f64::from(v).powi(2)).sum();
    10.0 * (ps / pn.max(1e-30)).log10()
}

fn white(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            // Box-Muller.
            let u1: f64 = rng.gen_range(1e-12..1.0);
            let u2: f64 = rng.gen();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        })
        .collect()
}

fn pink(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    // Paul Kellet's economy pink filter on white noise.
    let w = white(rng, n);
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    w.iter()
        .map(|&x| {
            b0 = 0.99765 * b0 + x * 0.0990460;
            b1 = 0.96300 * b1 + x * 0.2965164;
            b2 = 0.57000 * b2 + x * 1.0526913;
            b0 + b1 + b2 + x * 0.1848
        })
        .collect()
}

fn add_noise(x: &[f32], noise: &[f32], snr: f64) -> Vec<f32> {
    let ps: f64 = x.iter().map(|v| f64::from(*v).powi(2)).sum();
    let pn: f64 = noise.iter().map(|v| f64::from(*v).powi(2)).sum();
    let g = ((ps / pn) / 10f64.powf(snr / 10.0)).sqrt() as f32;
    x.iter().zip(noise).map(|(a, b)| a + g * b).collect()
}

struct Attacked {
    samples: Vec<f32>,
    rate: u32,
    /// Sample range (at `rate`) that holds the marked clip, for splices.
    marked: Option<(usize, usize)>,
}

/// Applies one attack; `None` when a tool is missing or failed.
fn attack(
    name: &str,
    x: &[f32],
    work: &Path,
    rng: &mut rand::rngs::StdRng,
    others: &[Vec<f32>],
) -> Option<Attacked> {
    let plain = |samples: Vec<f32>| {
        Some(Attacked {
            samples,
            rate: RATE,
            marked: None,
        })
    };
    let inp = work.join("in.wav");
    let outp = work.join("out.wav");
    let via_sox = |args: &[&str], out_rate: u32| -> Option<Attacked> {
        write_wav(&inp, x, RATE, WavFormat::Float32).ok()?;
        let mut c = Command::new("sox");
        c.arg(&inp)
            .arg("-e")
            .arg("floating-point")
            .arg(&outp)
            .args(args);
        if !tool(&mut c) {
            return None;
        }
        let a = read_audio(&outp).ok()?;
        let _ = out_rate;
        Some(Attacked {
            samples: a.to_mono(),
            rate: a.sample_rate,
            marked: None,
        })
    };
    let via_ffmpeg = |codec: &[&str], ext: &str| -> Option<Attacked> {
        write_wav(&inp, x, RATE, WavFormat::Pcm16).ok()?;
        let enc = work.join(format!("enc.{ext}"));
        let mut c = Command::new("ffmpeg");
        c.args(["-y", "-loglevel", "error", "-i"])
            .arg(&inp)
            .args(codec)
            .arg(&enc);
        if !tool(&mut c) {
            return None;
        }
        let mut d = Command::new("ffmpeg");
        d.args(["-y", "-loglevel", "error", "-i"])
            .arg(&enc)
            .args(["-ar", "24000", "-ac", "1", "-c:a", "pcm_f32le"])
            .arg(&outp);
        if !tool(&mut d) {
            return None;
        }
        let a = read_audio(&outp).ok()?;
        Some(Attacked {
            samples: a.to_mono(),
            rate: a.sample_rate,
            marked: None,
        })
    };
    match name {
        "none" => plain(x.to_vec()),
        "resample16k" => {
            let y = resample(x, RATE, 16_000).ok()?;
            plain(resample(&y, 16_000, RATE).ok()?)
        }
        "resample44k" => Some(Attacked {
            samples: resample(x, RATE, 44_100).ok()?,
            rate: 44_100,
            marked: None,
        }),
        "mp3_64k" => via_ffmpeg(&["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
        "aac_64k" => via_ffmpeg(&["-c:a", "aac", "-b:a", "64k"], "m4a"),
        "opus_32k" => via_ffmpeg(&["-c:a", "libopus", "-b:a", "32k"], "opus"),
        "white20" => plain(add_noise(x, &white(rng, x.len()), 20.0)),
        "white30" => plain(add_noise(x, &white(rng, x.len()), 30.0)),
        "pink20" => plain(add_noise(x, &pink(rng, x.len()), 20.0)),
        "lowpass5k" => via_sox(&["sinc", "-5000"], RATE),
        "highpass500" => via_sox(&["sinc", "500"], RATE),
        "bandpass300_8k" => via_sox(&["sinc", "300-8000"], RATE),
        "gain-10" => plain(x.iter().map(|v| v * 10f32.powf(-0.5)).collect()),
        "gain+6clip" => plain(
            x.iter()
                .map(|v| (v * 10f32.powf(0.3)).clamp(-1.0, 1.0))
                .collect(),
        ),
        "echo" => {
            let d = (0.3 * f64::from(RATE)) as usize;
            plain(
                (0..x.len())
                    .map(|i| x[i] + if i >= d { 0.4 * x[i - d] } else { 0.0 })
                    .collect(),
            )
        }
        // `crop3s` is in the table; `cropXs` (e.g. crop1.5s) on request.
        n if n.starts_with("crop") && n.ends_with('s') => {
            let secs: f64 = n[4..n.len() - 1].parse().ok()?;
            let len = (secs * f64::from(RATE)) as usize;
            if len == 0 || len > x.len() {
                die(&format!("{n}: crop length outside the clip"));
            }
            let s = rng.gen_range(0..=x.len() - len);
            plain(x[s..s + len].to_vec())
        }
        "splice" => {
            let a = &others[rng.gen_range(0..others.len())];
            let b = &others[rng.gen_range(0..others.len())];
            let pre = &a[..(3 * RATE as usize).min(a.len())];
            let post = &b[..(3 * RATE as usize).min(b.len())];
            let mut y = pre.to_vec();
            y.extend_from_slice(x);
            y.extend_from_slice(post);
            Some(Attacked {
                samples: y,
                rate: RATE,
                marked: Some((pre.len(), pre.len() + x.len())),
            })
        }
        "tempo+5" => via_sox(&["tempo", "-s", "1.05"], RATE),
        "tempo-5" => via_sox(&["tempo", "-s", "0.95"], RATE),
        "speed+5" => via_sox(&["speed", "1.05", "rate", "24000"], RATE),
        "speed-5" => via_sox(&["speed", "0.95", "rate", "24000"], RATE),
        "quant8" => plain(
            x.iter()
                .map(|v| (v * 128.0).round().clamp(-128.0, 127.0) / 128.0)
                .collect(),
        ),
        _ => die(&format!("unknown attack {name}")),
    }
}

const ALL: &[&str] = &[
    "none",
    "resample16k",
    "resample44k",
    "mp3_64k",
    "aac_64k",
    "opus_32k",
    "white20",
    "white30",
    "pink20",
    "lowpass5k",
    "highpass500",
    "bandpass300_8k",
    "gain-10",
    "gain+6clip",
    "echo",
    "crop3s",
    "splice",
    "tempo+5",
    "tempo-5",
    "speed+5",
    "speed-5",
    "quant8",
];

#[derive(Default, Clone, serde::Serialize)]
struct Row {
    attack: String,
    clips: usize,
    detected: usize,
    bit_acc: f64,
    payload_exact: usize,
    ranges_ok: usize,
    /// Median presence score (threshold ≈ 6.4): a finer view than the
    /// detection count when comparing variants.
    median_score: f64,
    /// Mean payload confidence over detected clips, to compare with the
    /// share of detected clips whose payload is exact.
    mean_confidence: f64,
    /// Clips whose reported (CRC-checked) payload is not the embedded one.
    payload_wrong: usize,
    /// Lowest presence score over the clips: the margin left on a row.
    min_score: f64,
    /// Tenth-percentile presence score.
    p10_score: f64,
    /// Payload confidence of each detected clip whose decoded bits (payload
    /// or CRC) are right, and of each whose bits are wrong (whether or not
    /// the CRC caught it): how well a confidence gate would separate them.
    confidence_right: Vec<f64>,
    confidence_wrong: Vec<f64>,
}

fn apply_attacks(o: &Opts, inp: &Path, out: &Path) {
    let mut files = Vec::new();
    list_audio(inp, &mut files);
    let mut train = Vec::new();
    list_audio(&o.data.join("train-clean-100"), &mut train);
    let others: Vec<Vec<f32>> = clips(&train, 20).into_iter().map(|c| c.1).collect();
    let attacks: Vec<String> = o
        .attacks
        .clone()
        .unwrap_or_else(|| ALL.iter().map(|s| s.to_string()).collect());
    let tmp = out.join("tmp");
    let _ = std::fs::create_dir_all(&tmp);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for a in &attacks {
        let dir = out.join(a);
        let _ = std::fs::create_dir_all(&dir);
        for f in &files {
            let x = load24(f);
            let Some(att) = attack(a, &x, &tmp, &mut rng, &others) else {
                eprintln!("{a}: skipped (tool missing or failed)");
                break;
            };
            let name = f.file_name().unwrap_or_default();
            write_wav(dir.join(name), &att.samples, att.rate, WavFormat::Float32)
                .unwrap_or_else(|e| die(&e.to_string()));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

fn main() {
    let o = parse();
    if let Some((i, out)) = &o.apply {
        apply_attacks(&o, i, out);
        return;
    }
    std::fs::create_dir_all(o.work.join("marked")).unwrap_or_else(|e| die(&e.to_string()));
    std::fs::create_dir_all(o.work.join("ref")).unwrap_or_else(|e| die(&e.to_string()));
    let key = Key::default_public();
    let det = Detector::new(&key).with_speed_search(o.speed_search);

    // Unmarked material for false positives: every shared utterance (whole)
    // and every extra clip.
    let mut real = Vec::new();
    list_audio(&o.data.join("test-other"), &mut real);
    let mut train = Vec::new();
    list_audio(&o.data.join("train-clean-100"), &mut train);
    let mut extra = Vec::new();
    for d in &o.extra {
        list_audio(d, &mut extra);
    }
    let mut fp = 0usize;
    let mut fp_n = 0usize;
    let mut fp_secs = 0.0f64;
    let mut max_score = f64::MIN;
    let mut min_p = 1.0f64;
    let mut fp_detect_time = 0.0f64;
    let t0 = Instant::now();
    let fp_set: Vec<&PathBuf> = if o.skip_fp {
        Vec::new()
    } else {
        real.iter().chain(&train).chain(&extra).collect()
    };
    for p in fp_set {
        let a = match read_audio(p) {
            Ok(a) => a,
            Err(e) => die(&format!("{e}")),
        };
        let t = Instant::now();
        let d = det
            .detect_audio(&a)
            .unwrap_or_else(|e| die(&format!("{}: {e}", p.display())));
        fp_detect_time += t.elapsed().as_secs_f64();
        fp_n += 1;
        fp_secs += d.duration;
        max_score = max_score.max(d.score);
        min_p = min_p.min(d.p_value);
        if std::env::var_os("AVOW_WM_CLIPS").is_some() {
            eprintln!("UNMARKED {} score {:.2} p {:.2e}", p.display(), d.score, d.p_value);
        }
        if d.detected {
            fp += 1;
            eprintln!("FALSE POSITIVE {} p={:e}", p.display(), d.p_value);
        }
    }
    let fp_time = t0.elapsed().as_secs_f64();
    if fp_n > 0 {
        println!(
            "false positives: {fp}/{fp_n} unmarked files ({fp_secs:.0} s audio; highest score {max_score:.2}, smallest p-value {min_p:.2e}); detect speed {:.0}x real time ({:.0}x with file decoding)",
            fp_secs / fp_detect_time,
            fp_secs / fp_time
        );
    }
    if o.fp_only {
        return;
    }

    // Clips: real speech first, then extra (synthetic) clips.
    let n_extra = if extra.is_empty() {
        0
    } else {
        (o.clips / 3).max(1).min(extra.len())
    };
    let mut set = clips(&real, o.clips - n_extra);
    if set.len() < o.clips - n_extra {
        let more = clips(&train, o.clips - n_extra - set.len());
        set.extend(more);
    }
    let n_real = set.len();
    if n_real == 0 {
        die(&format!(
            "no clips of {CLIP_SECS} s under {} (test-other, train-clean-100)",
            o.data.display()
        ));
    }
    set.extend(clips(&extra, n_extra));
    println!(
        "clips: {} real + {} extra, {} s each",
        n_real,
        set.len() - n_real,
        CLIP_SECS
    );
    let others: Vec<Vec<f32>> = clips(&train, 20).into_iter().map(|c| c.1).collect();

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut marked = Vec::new();
    let (mut snr_sum, mut seg_sum, mut snr_min) = (0.0, 0.0, f64::MAX);
    let mut embed_time = 0.0;
    for (name, x) in &set {
        let payload: u32 = rng.gen();
        let wm = Watermarker::new(&key, payload);
        let t = Instant::now();
        let y = wm.embed(x).unwrap_or_else(|e| die(&e.to_string()));
        embed_time += t.elapsed().as_secs_f64();
        let s = snr_db(x, x.iter().zip(&y).map(|(a, b)| a - b));
        snr_sum += s;
        snr_min = snr_min.min(s);
        seg_sum += avow_audio::snr::segmental_snr(x, &y, RATE).unwrap_or_else(|| die(&format!("{name}: silent clip")));
        let _ = write_wav(
            o.work.join("marked").join(format!("{name}.wav")),
            &y,
            RATE,
            WavFormat::Float32,
        );
        let _ = write_wav(
            o.work.join("ref").join(format!("{name}.wav")),
            x,
            RATE,
            WavFormat::Float32,
        );
        marked.push((payload, y));
    }
    let n = set.len() as f64;
    let audio_secs = n * CLIP_SECS as f64;
    println!(
        "SNR mean {:.1} dB (min {:.1}), segmental SNR {:.1} dB; embed speed {:.0}x real time",
        snr_sum / n,
        snr_min,
        seg_sum / n,
        audio_secs / embed_time
    );

    // A short signal marked as a stream of its own (as `avow say` marks a
    // phrase), then detected.
    let mark_alone = |x: &[f32], payload: u32| {
        let y = Watermarker::new(&key, payload)
            .embed(x)
            .unwrap_or_else(|e| die(&e.to_string()));
        det.detect(&y, RATE).unwrap_or_else(|e| die(&e.to_string()))
    };
    if let Some(dir) = &o.phrases {
        let mut files = Vec::new();
        list_audio(dir, &mut files);
        let (mut detected, mut exact) = (0usize, 0usize);
        for (i, f) in files.iter().enumerate() {
            let x = load24(f);
            let payload = 0x5000_0000 + i as u32;
            let d = mark_alone(&x, payload);
            detected += usize::from(d.detected);
            exact += usize::from(d.payload == Some(payload));
            println!(
                "phrase {}: {:.2} s, score {:.2}, detected {}, payload {}",
                f.display(),
                x.len() as f64 / f64::from(RATE),
                d.score,
                d.detected,
                d.payload == Some(payload)
            );
        }
        println!("phrases: detected {detected}/{}, exact payload {exact}", files.len());
    }
    for &secs in &o.utterances {
        let len = (secs * f64::from(RATE)) as usize;
        let (mut detected, mut exact, mut bits_ok) = (0usize, 0usize, 0usize);
        for ((_, x), (payload, _)) in set.iter().zip(&marked) {
            let d = mark_alone(&x[..len], *payload);
            detected += usize::from(d.detected);
            exact += usize::from(d.payload == Some(*payload));
            bits_ok += 32 - (d.raw_bits ^ payload).count_ones() as usize;
        }
        println!(
            "{:>16}: detected {detected:3}/{}  bit acc {:6.2}%  exact payload {exact:3}",
            format!("utterance {secs} s"),
            set.len(),
            100.0 * bits_ok as f64 / (32 * set.len()) as f64
        );
    }

    let attacks: Vec<String> = o
        .attacks
        .clone()
        .unwrap_or_else(|| ALL.iter().map(|s| s.to_string()).collect());
    let tmp = o.work.join("tmp");
    let _ = std::fs::create_dir_all(&tmp);
    let mut rows = Vec::new();
    let mut none_speed = 0.0f64;
    for a in &attacks {
        let mut row = Row {
            attack: a.clone(),
            ..Default::default()
        };
        let mut bits_ok = 0usize;
        let mut skipped = false;
        let (mut det_time, mut det_secs) = (0.0f64, 0.0f64);
        let mut scores = Vec::new();
        for (payload, y) in marked.iter().cycle().take(marked.len() * o.repeat) {
            let Some(att) = attack(a, y, &tmp, &mut rng, &others) else {
                skipped = true;
                break;
            };
            let t = Instant::now();
            let d = match det.detect(&att.samples, att.rate) {
                Ok(d) => d,
                Err(e) => die(&format!("{a}: {e}")),
            };
            det_time += t.elapsed().as_secs_f64();
            det_secs += att.samples.len() as f64 / f64::from(att.rate);
            row.clips += 1;
            scores.push(d.score);
            if d.detected {
                row.detected += 1;
                row.mean_confidence += d.payload_confidence;
            }
            bits_ok += 32 - (d.raw_bits ^ payload).count_ones() as usize;
            if std::env::var_os("AVOW_WM_CLIPS").is_some() {
                let errors = (d.raw_bits ^ payload).count_ones();
                eprintln!("CLIP {a} {} score {:.2} bit_errors {errors}", row.clips, d.score);
            }
            if d.detected {
                if d.raw_bits == *payload && d.crc_ok {
                    row.confidence_right.push(d.payload_confidence);
                } else {
                    row.confidence_wrong.push(d.payload_confidence);
                }
            }
            if d.payload == Some(*payload) {
                row.payload_exact += 1;
                if std::env::var_os("AVOW_WM_TRACE").is_some() {
                    eprintln!("{a}: exact payload, confidence {:.3}", d.payload_confidence);
                }
            } else if d.payload.is_some() {
                row.payload_wrong += 1;
                eprintln!(
                    "{a}: wrong payload reported (confidence {:.3}, score {:.2})",
                    d.payload_confidence, d.score
                );
            }
            if let Some((s, e)) = att.marked {
                let (s, e) = (
                    s as f64 / f64::from(att.rate),
                    e as f64 / f64::from(att.rate),
                );
                // Localization is right when the ranges cover the middle of
                // the marked part and not the middle of either unmarked part.
                let covers = |t: f64| d.ranges.iter().any(|r| r.0 <= t && t <= r.1);
                if covers((s + e) / 2.0) && !covers(s / 2.0) && !covers(e + 1.5) {
                    row.ranges_ok += 1;
                }
            }
        }
        if skipped {
            println!("{a:>16}: skipped (tool missing or failed)");
            continue;
        }
        row.bit_acc = bits_ok as f64 / (32 * row.clips) as f64;
        row.mean_confidence /= row.detected.max(1) as f64;
        scores.sort_by(f64::total_cmp);
        row.median_score = scores.get(scores.len() / 2).copied().unwrap_or(0.0);
        row.min_score = scores.first().copied().unwrap_or(0.0);
        row.p10_score = scores.get(scores.len() / 10).copied().unwrap_or(0.0);
        if a == "none" {
            println!(
                "detect speed on 24 kHz marked clips: {:.0}x real time",
                det_secs / det_time
            );
            none_speed = det_secs / det_time;
        }
        println!(
            "{:>16}: detected {:>3}/{:<3} ({:5.1}%)  bit acc {:6.2}%  exact payload {:>3}  wrong {}  median score {:5.2} (p10 {:5.2}, min {:5.2})  confidence {:.3}{}",
            a,
            row.detected,
            row.clips,
            100.0 * row.detected as f64 / row.clips as f64,
            100.0 * row.bit_acc,
            row.payload_exact,
            row.payload_wrong,
            row.median_score,
            row.p10_score,
            row.min_score,
            row.mean_confidence,
            if a == "splice" {
                format!("  localized {}", row.ranges_ok)
            } else {
                String::new()
            }
        );
        rows.push(row);
    }
    if let Some(j) = &o.json {
        let v = serde_json::json!({
            "clips": set.len(), "real_clips": n_real,
            "snr_mean_db": snr_sum / n, "snr_min_db": snr_min, "segsnr_db": seg_sum / n,
            "embed_x_realtime": audio_secs / embed_time,
            "detect_x_realtime_24k": none_speed, "fp": fp, "fp_files": fp_n, "fp_seconds": fp_secs, "detect_x_realtime": fp_secs / fp_time,
            "rows": rows,
        });
        let _ = std::fs::write(j, serde_json::to_string_pretty(&v).unwrap_or_default());
    }
}
