//! Calibrates same/different-speaker thresholds on GE2E cosine with the
//! shared LibriSpeech data and prints the figures for BENCHMARKS.md.
//!
//!     cargo run --release -p avow-speaker --example calibrate -- \
//!         [--data ../shared/data/librispeech] [--subsets 20]
//!
//! Data: test-other (5 speakers × 10 utterances) gives the same-speaker
//! trials; train-clean-100 (125 other speakers × 1 utterance) adds
//! different-speaker trials. Each utterance is preprocessed as resemblyzer
//! does (-30 dBFS volume, increase only; long pauses shortened, here with
//! the energy detector of `frontend::preprocess`) and embedded.
//!
//! Two trial shapes are scored:
//! - pairs: every pair of utterances (same speaker: 5 × 45 pairs);
//! - centroid: one utterance against the centroid of 4 other utterances of a
//!   test-other speaker (the shape of enrollment checks), with `--subsets`
//!   random 4-subsets per speaker (seeded, reproducible); same-speaker trials
//!   use the speaker's utterances outside the subset, different-speaker
//!   trials all 170 utterances of everyone else.

use std::path::{Path, PathBuf};
use std::time::Instant;

use avow_speaker::calibration::{
    equal_error_rate, threshold_at_false_accept, OperatingPoint, CONSENT_THRESHOLD,
    ENROLL_AGREEMENT_THRESHOLD, PAIR_EER_THRESHOLD,
};
use avow_speaker::frontend::preprocess;
use avow_speaker::{Embedding, SpeakerEncoder};

struct Utterance {
    speaker: String,
    /// True for test-other speakers (10 utterances each).
    enrolled: bool,
    embedding: Embedding,
}

fn flacs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "flac"))
        .collect();
    v.sort();
    Ok(v)
}

/// xorshift64*: a tiny seeded generator so the subsets are reproducible.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    /// `k` distinct indices of `0..n`.
    fn subset(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx.sort();
        idx
    }
}

fn summary(name: &str, v: &[f32]) -> String {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let sd = (v
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let min = v.iter().cloned().fold(f32::INFINITY, f32::min);
    let max = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    format!(
        "{name}: n = {}, mean {mean:.3}, sd {sd:.3}, min {min:.3}, max {max:.3}",
        v.len()
    )
}

fn point(label: &str, p: Option<OperatingPoint>) -> String {
    match p {
        Some(p) => format!(
            "{label}: threshold {:.4}, false accept {:.2}%, false reject {:.2}%",
            p.threshold,
            100.0 * p.false_accept,
            100.0 * p.false_reject
        ),
        None => format!("{label}: no trials"),
    }
}

fn at(same: &[f32], diff: &[f32], name: &str, t: f32) -> String {
    let fa = diff.iter().filter(|&&s| s >= t).count() as f64 / diff.len() as f64;
    let fr = same.iter().filter(|&&s| s < t).count() as f64 / same.len() as f64;
    format!(
        "at {name} = {t}: false accept {:.2}%, false reject {:.2}%",
        100.0 * fa,
        100.0 * fr
    )
}

fn report(title: &str, same: &[f32], diff: &[f32], constants: &[(&str, f32)]) {
    println!("## {title}");
    println!("{}", summary("same speaker", same));
    println!("{}", summary("different speakers", diff));
    println!("{}", point("EER", equal_error_rate(same, diff)));
    for far in [0.01, 0.001] {
        println!(
            "{}",
            point(
                &format!("false accept <= {}%", far * 100.0),
                threshold_at_false_accept(same, diff, far)
            )
        );
    }
    for (name, t) in constants {
        println!("{}", at(same, diff, name, *t));
    }
    println!();
}

fn default_data() -> PathBuf {
    if let Some(p) = std::env::var_os("AVOW_SHARED_DATA") {
        return PathBuf::from(p);
    }
    let here = std::env::current_dir().unwrap_or_default();
    here.ancestors()
        .map(|a| a.join("shared/data/librispeech"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| PathBuf::from("../shared/data/librispeech"))
}

fn run() -> Result<(), String> {
    let mut data = default_data();
    let mut subsets = 20usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = PathBuf::from(args.next().ok_or("--data needs a folder")?),
            "--subsets" => {
                subsets = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--subsets needs a number")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let encoder = SpeakerEncoder::from_cache(true).map_err(|e| e.to_string())?;

    let mut files: Vec<(String, bool, PathBuf)> = Vec::new();
    let test_other = data.join("test-other");
    let mut speakers: Vec<PathBuf> = std::fs::read_dir(&test_other)
        .map_err(|e| format!("{}: {e}", test_other.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    speakers.sort();
    for s in &speakers {
        let id = s
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for f in flacs(s)? {
            files.push((id.clone(), true, f));
        }
    }
    for f in flacs(&data.join("train-clean-100"))? {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let id = name.split('-').next().unwrap_or_default().to_string();
        files.push((id, false, f));
    }

    let bar = indicatif::ProgressBar::new(files.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("embedding {bar:30} {pos}/{len} {eta}")
            .map_err(|e| e.to_string())?,
    );
    let start = Instant::now();
    let mut audio_secs = 0.0;
    let mut utts = Vec::new();
    for (speaker, enrolled, path) in files {
        let audio = avow_audio::read_audio(&path).map_err(|e| e.to_string())?;
        if audio.sample_rate != 16_000 {
            return Err(format!("{}: expected 16 kHz", path.display()));
        }
        let mono = audio.to_mono();
        audio_secs += mono.len() as f64 / 16_000.0;
        let wav = preprocess(&mono);
        let embedding = encoder.embed(&wav).map_err(|e| e.to_string())?;
        utts.push(Utterance {
            speaker,
            enrolled,
            embedding,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = start.elapsed().as_secs_f64();
    let n_speakers = {
        let mut s: Vec<&str> = utts.iter().map(|u| u.speaker.as_str()).collect();
        s.sort();
        s.dedup();
        s.len()
    };
    println!(
        "# GE2E calibration on {} utterances of {n_speakers} speakers ({:.1} min of audio)",
        utts.len(),
        audio_secs / 60.0
    );
    println!(
        "embedding speed: {:.1} s for {:.0} s of audio ({:.0}x real time on the CPU)\n",
        elapsed,
        audio_secs,
        audio_secs / elapsed
    );

    // Pairs.
    let (mut same, mut diff) = (Vec::new(), Vec::new());
    for i in 0..utts.len() {
        for j in i + 1..utts.len() {
            let c = utts[i].embedding.cosine(&utts[j].embedding);
            if utts[i].speaker == utts[j].speaker {
                same.push(c);
            } else {
                diff.push(c);
            }
        }
    }
    report(
        "single utterance pairs",
        &same,
        &diff,
        &[
            ("PAIR_EER_THRESHOLD", PAIR_EER_THRESHOLD),
            ("ENROLL_AGREEMENT_THRESHOLD", ENROLL_AGREEMENT_THRESHOLD),
        ],
    );

    // Utterance against the centroid of 4 others of an enrolled speaker.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut same, mut diff) = (Vec::new(), Vec::new());
    let enrolled: Vec<String> = {
        let mut s: Vec<String> = utts
            .iter()
            .filter(|u| u.enrolled)
            .map(|u| u.speaker.clone())
            .collect();
        s.dedup();
        s
    };
    for spk in &enrolled {
        let own: Vec<usize> = (0..utts.len())
            .filter(|&i| utts[i].speaker == *spk)
            .collect();
        for _ in 0..subsets {
            let pick = rng.subset(own.len(), 4);
            let members: Vec<Embedding> = pick
                .iter()
                .map(|&k| utts[own[k]].embedding.clone())
                .collect();
            let Some(centroid) = Embedding::centroid(&members) else {
                continue;
            };
            for (k, &i) in own.iter().enumerate() {
                if !pick.contains(&k) {
                    same.push(utts[i].embedding.cosine(&centroid));
                }
            }
            for u in utts.iter().filter(|u| u.speaker != *spk) {
                diff.push(u.embedding.cosine(&centroid));
            }
        }
    }
    report(
        "one utterance against the centroid of 4 others",
        &same,
        &diff,
        &[
            ("CONSENT_THRESHOLD", CONSENT_THRESHOLD),
            ("ENROLL_AGREEMENT_THRESHOLD", ENROLL_AGREEMENT_THRESHOLD),
        ],
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("calibrate: {e}");
        std::process::exit(1);
    }
}
