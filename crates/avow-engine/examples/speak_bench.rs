//! Model-level speed benchmark, the Candle side of `benches/speak.sh`: the
//! same phoneme inputs as `tools/ort_bench.py` (no text front end, no
//! watermark), median wall time per sentence, CPU time per audio second and
//! peak RSS. Threads: set `RAYON_NUM_THREADS`. `--f32` switches the int8
//! kernels off (`avow_kokoro::layers::set_int8_kernels`). "first_synthesis_s"
//! is the process's first call, which also quantizes the weights for the
//! int8 kernels; the medians exclude it when REPEATS > 1.
//! `--allocator-defaults` skips [`avow_alloc::tune`] (which the CLI calls).
//!
//! `cargo run --release -p avow-engine --example speak_bench -- tools/ort_bench_sentences.json [REPEATS] [--f32] [--allocator-defaults]`
//! (model cache: `AVOW_CACHE_DIR` or the default).

use std::time::Instant;

#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

fn cpu_seconds() -> f64 {
    // utime + stime of this process from /proc (Linux only; the bench is too).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0) + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().collect();
    let f32_only = args.iter().any(|a| a == "--f32");
    if !args.iter().any(|a| a == "--allocator-defaults") {
        avow_alloc::tune();
    }
    args.retain(|a| a != "--f32" && a != "--allocator-defaults");
    avow_kokoro::layers::set_int8_kernels(!f32_only);
    let sentences: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args[1])?)?;
    let cache = avow_models::ModelCache::from_dir_or_env(None)?;
    let repeats: usize = args.get(2).map(|r| r.parse()).transpose()?.unwrap_or(3);
    let files = cache.ensure(false)?;
    let t = Instant::now();
    let model = avow_kokoro::KModel::from_file(&files.weights)?;
    let load = t.elapsed().as_secs_f64();
    let vocab = avow_text::vocab::KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab)?)?;
    let (mut wall_total, mut audio_total) = (0f64, 0f64);
    let cpu_start = cpu_seconds();
    let mut rows = Vec::new();
    let mut first_synthesis = None;
    for s in sentences.as_array().ok_or("expected a JSON list")? {
        let phonemes = s["phonemes"].as_str().ok_or("entry without phonemes")?;
        let tokens: Vec<u32> = phonemes.chars().filter_map(|c| vocab.id(c)).collect();
        let voice = s["style_voice"].as_str().unwrap_or("jf_alpha");
        let pack = avow_voice::VoicePackData::from_bytes(&std::fs::read(&files.voices[voice])?)?;
        let style = pack.style_row(tokens.len().saturating_sub(1)).to_vec();
        let mut walls = Vec::new();
        let mut secs = 0.0;
        for _ in 0..repeats {
            let t = Instant::now();
            let out = model.synthesize(&tokens, &style, 1.0)?;
            walls.push(t.elapsed().as_secs_f64());
            first_synthesis.get_or_insert(t.elapsed().as_secs_f64());
            secs = out.audio.len() as f64 / 24_000.0;
        }
        walls.sort_by(|a, b| a.total_cmp(b));
        let median = walls[walls.len() / 2];
        wall_total += median;
        audio_total += secs;
        rows.push(serde_json::json!({"id": s["id"], "tokens": tokens.len(), "audio_s": secs, "wall_s": median, "rtf": median / secs}));
    }
    let cpu = cpu_seconds() - cpu_start;
    let report = serde_json::json!({
        "engine": "avow-candle",
        "threads": std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into()),
        "load_s": load,
        "int8_kernels": avow_kokoro::layers::int8_kernels_active(),
        "first_synthesis_s": first_synthesis,
        "rtf": wall_total / audio_total,
        "cpu_s_per_audio_s": cpu / (audio_total * repeats as f64),
        "peak_rss_mb": peak_rss_mb(),
        "sentences": rows,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
