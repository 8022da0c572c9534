//! Parity benchmark: transcribes the clips listed in the faster-whisper
//! fixture file and reports how many transcripts are identical, the word
//! error rate of ours against faster-whisper's, and the speed.
//!
//! `cargo run --release -p avow-asr --example asr_parity -- \
//!     crates/avow-asr/tests/fixtures/faster_whisper_transcripts.json ../shared/data/librispeech [--show]`
//!
//! Model cache: `AVOW_CACHE_DIR` or the default (converted on first use).

use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: asr_parity FIXTURES.json LIBRISPEECH_DIR [--show]".into());
    }
    let show = args.iter().any(|a| a == "--show");
    let fixtures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args[1])?)?;
    let data = Path::new(&args[2]);
    let t = Instant::now();
    let asr = avow_asr::Transcriber::open_default(true)?;
    eprintln!("model ready in {:.2} s", t.elapsed().as_secs_f64());
    let files = fixtures["files"].as_array().ok_or("fixtures: no files")?;
    let (mut same, mut same_tokens, mut audio_s, mut wall_s) = (0usize, 0usize, 0f64, 0f64);
    let mut errors = avow_asr::WordErrors::default();
    let mut groups: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for f in files {
        let rel = f["path"].as_str().ok_or("fixture without path")?;
        let want = f["text"].as_str().ok_or("fixture without text")?;
        let want_tokens: Vec<u32> = f["tokens"].as_array().map(|a| a.iter().filter_map(|v| v.as_u64()).map(|v| v as u32).collect()).unwrap_or_default();
        // `a.flac+b.flac`: the clips concatenated (longer than one window).
        let mut samples = Vec::new();
        for part in rel.split('+') {
            samples.extend(avow_asr::read_audio_16k(&data.join(part))?);
        }
        let t = Instant::now();
        let got = asr.transcribe(&samples)?;
        wall_s += t.elapsed().as_secs_f64();
        audio_s += got.seconds;
        let equal = got.text == want;
        same += usize::from(equal);
        same_tokens += usize::from(got.tokens == want_tokens);
        let group = if rel.contains('+') { "concatenated pairs (> 30 s)".to_string() } else { rel.split('/').next().unwrap_or("").to_string() };
        let g = groups.entry(group).or_default();
        g.0 += usize::from(equal);
        g.1 += 1;
        let e = avow_asr::word_errors(want, &got.text);
        errors.substitutions += e.substitutions;
        errors.deletions += e.deletions;
        errors.insertions += e.insertions;
        errors.reference_words += e.reference_words;
        if show || !equal {
            println!("{} {rel} ({:.1} s)\n  ours: {}\n  ref:  {}", if equal { "SAME" } else { "DIFF" }, got.seconds, got.text, want);
        }
    }
    println!();
    for (g, (s, n)) in &groups {
        println!("{g}: {s}/{n} identical ({:.1} %)", 100.0 * *s as f64 / *n as f64);
    }
    println!(
        "all: {same}/{} transcripts identical ({:.1} %), {same_tokens} with identical tokens; WER vs faster-whisper {:.2} % ({} edits / {} words)",
        files.len(),
        100.0 * same as f64 / files.len() as f64,
        100.0 * errors.rate(),
        errors.edits(),
        errors.reference_words
    );
    println!("speed: {audio_s:.1} s of audio in {wall_s:.1} s (RTF {:.3})", wall_s / audio_s);
    Ok(())
}
