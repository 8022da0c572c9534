//! Time to first audio in streaming mode through the whole gated path (front
//! end, model, watermark, ledger), with the engine already loaded, as an AAC
//! app or speech server would run it.
//!
//! `cargo run --release -p avow-engine --example first_audio -- [REPEATS]`

use std::time::Instant;

use avow_engine::{ConsentPurpose, Engine, EngineOptions};

const TEXT: &str = "I would like a cup of tea, please. Could you open the window a little? It's getting warm in here.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeats: usize = std::env::args().nth(1).map(|r| r.parse()).transpose()?.unwrap_or(5);
    let dir = tempfile::tempdir()?;
    let options = EngineOptions { ledger: Some(dir.path().join("ledger.jsonl")), ..Default::default() };
    let t = Instant::now();
    let engine = Engine::open(&options)?;
    let open = t.elapsed().as_secs_f64();
    let voice = engine.stock_voice("jf_alpha", ConsentPurpose::Aac, "en-us")?;
    let mut firsts = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let mut stream = engine.stream(&voice, TEXT, 1.0)?;
        let first = stream.next().ok_or("no audio")??;
        firsts.push((t.elapsed().as_secs_f64(), first.len() as f64 / 24_000.0));
        for piece in stream {
            piece?;
        }
        totals.push(t.elapsed().as_secs_f64());
    }
    firsts.sort_by(|a, b| a.0.total_cmp(&b.0));
    totals.sort_by(|a, b| a.total_cmp(b));
    let (first, first_len) = firsts[firsts.len() / 2];
    println!(
        "{}",
        serde_json::json!({
            "engine_open_s": open,
            "first_audio_s_median": first,
            "first_chunk_audio_s": first_len,
            "whole_text_s_median": totals[totals.len() / 2],
            "threads": std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into()),
        })
    );
    Ok(())
}
