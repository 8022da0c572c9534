//! Time to first audio in streaming mode through the whole gated path (front
//! end, model, watermark, ledger), with the engine already loaded, as an AAC
//! app or speech server would run it, and whether a player that starts on
//! the first piece keeps playing: each schedule of cuts in the first
//! sentence ([`PieceSchedule`]) runs side by side on the same texts.
//!
//! `cargo run --release -p avow-engine --example first_audio -- [REPEATS] [--json]`
//!
//! Per schedule and text, medians over REPEATS runs of: the wall time to the
//! first piece; the stall time (a player starts when the first piece arrives
//! and plays the pieces back to back; whenever the next piece has not
//! arrived when the previous one ends, it waits); the time to the end of the
//! text. Also, once, the mel-cepstral distance between the streamed first
//! sentence and the same sentence rendered whole (what the seams cost in
//! sound), next to another stock voice saying the sentence for scale.

use std::time::Instant;

use avow_engine::{ConsentPurpose, Engine, EngineOptions, PieceSchedule, LEAD_KEEP_FRAMES, SAMPLE_RATE};

/// Texts, each with its first sentence.
const TEXTS: [(&str, &str); 4] = [
    ("Open.", "Open."),
    ("File menu, Open, Save As, Close.", "File menu, Open, Save As, Close."),
    (
        "The meeting is on March 3rd, at 10:30. Please bring the printed agenda with you.",
        "The meeting is on March 3rd, at 10:30.",
    ),
    (
        "I would like a cup of tea, please. Could you open the window a little? It's getting warm in here.",
        "I would like a cup of tea, please.",
    ),
];

/// The schedules compared: none, the default, a shorter opening, and growing pieces.
fn schedules() -> Vec<(&'static str, Option<PieceSchedule>)> {
    vec![
        ("whole sentences", None),
        ("opening 20 frames, then the rest (default)", Some(PieceSchedule::default())),
        ("opening 8, then the rest", Some(PieceSchedule { opening_frames: 8, growth: f32::INFINITY })),
        ("opening 8, growth 2", Some(PieceSchedule { opening_frames: 8, growth: 2.0 })),
        ("opening 8, growth 1.4", Some(PieceSchedule { opening_frames: 8, growth: 1.4 })),
    ]
}

struct Run {
    first_s: f64,
    stall_s: f64,
    total_s: f64,
    pieces: usize,
    first_piece_s: f64,
}

fn run(engine: &Engine, voice: &avow_engine::VerifiedVoice, text: &str, schedule: Option<PieceSchedule>) -> Result<(Run, Vec<Vec<f32>>), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let stream = engine.stream(voice, text, 1.0)?;
    let stream = match schedule {
        Some(s) => stream.schedule(s),
        None => stream.whole_sentences(),
    };
    let mut arrivals = Vec::new();
    let mut pieces = Vec::new();
    for piece in stream {
        let piece = piece?;
        arrivals.push((t.elapsed().as_secs_f64(), piece.len() as f64 / f64::from(SAMPLE_RATE)));
        pieces.push(piece);
    }
    let total_s = t.elapsed().as_secs_f64();
    let (first_s, first_piece_s) = *arrivals.first().ok_or("no audio")?;
    // The player: each piece starts when it has arrived and the one before has ended.
    let (mut ends, mut stall_s) = (first_s, 0.0);
    for &(arrived, len) in &arrivals {
        if arrived > ends {
            stall_s += arrived - ends;
            ends = arrived;
        }
        ends += len;
    }
    Ok((Run { first_s, stall_s, total_s, pieces: pieces.len(), first_piece_s }, pieces))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats: usize = args.iter().find(|a| !a.starts_with("--")).map(|r| r.parse()).transpose()?.unwrap_or(5);
    let json = args.iter().any(|a| a == "--json");
    let dir = tempfile::tempdir()?;
    let options = EngineOptions { ledger: Some(dir.path().join("ledger.jsonl")), ..Default::default() };
    let t = Instant::now();
    let engine = Engine::open(&options)?;
    let open = t.elapsed().as_secs_f64();
    let voice = engine.stock_voice("jf_alpha", ConsentPurpose::Aac, "en-us")?;
    let other = engine.stock_voice("jm_kumo", ConsentPurpose::Aac, "en-us")?;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
    // Warm-up: the first synthesis pays for page faults and thread start.
    run(&engine, &voice, TEXTS[0].0, None)?;
    let mut rows = Vec::new();
    for (text, first_sentence) in TEXTS {
        let whole = engine.speak(&voice, first_sentence, 1.0)?.samples;
        let other_mcd = avow_audio::cepstrum::mel_cepstral_distance(&engine.speak(&other, first_sentence, 1.0)?.samples, &whole, SAMPLE_RATE)?;
        let timing = engine.timing(&voice, first_sentence)?;
        let dropped = timing.pad_samples_at(1.0).0.saturating_sub(LEAD_KEEP_FRAMES * 600);
        for (name, schedule) in schedules() {
            let runs = (0..repeats).map(|_| Ok(run(&engine, &voice, text, schedule)?.0)).collect::<Result<Vec<Run>, Box<dyn std::error::Error>>>()?;
            // The first sentence's pieces, joined, against it rendered whole.
            let streamed = run(&engine, &voice, first_sentence, schedule)?.1.concat();
            let reference = if schedule.is_some() { &whole[dropped.min(whole.len())..] } else { &whole[..] };
            let mcd = avow_audio::cepstrum::mel_cepstral_distance(&streamed, reference, SAMPLE_RATE)?;
            rows.push(serde_json::json!({
                "text": text,
                "schedule": name,
                "first_audio_s_median": median(runs.iter().map(|r| r.first_s).collect()),
                "first_piece_audio_s": runs[0].first_piece_s,
                "stall_s_median": median(runs.iter().map(|r| r.stall_s).collect()),
                "whole_text_s_median": median(runs.iter().map(|r| r.total_s).collect()),
                "pieces": runs[0].pieces,
                "mcd_first_sentence_db": mcd,
                "mcd_other_voice_db": other_mcd,
            }));
        }
    }
    if json {
        println!("{}", serde_json::json!({ "engine_open_s": open, "threads": threads, "repeats": repeats, "rows": rows }));
        return Ok(());
    }
    println!("engine open {open:.2} s; threads {threads}; median of {repeats}\n");
    println!("| text | schedule | first audio (ms) | first piece (s of audio) | pieces | stalls (ms) | whole text (s) | MCD streamed vs whole first sentence (dB) | another voice (dB) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r["text"].as_str().unwrap_or(""),
            r["schedule"].as_str().unwrap_or(""),
            r["first_audio_s_median"].as_f64().unwrap_or(0.0) * 1000.0,
            r["first_piece_audio_s"].as_f64().unwrap_or(0.0),
            r["pieces"],
            r["stall_s_median"].as_f64().unwrap_or(0.0) * 1000.0,
            r["whole_text_s_median"].as_f64().unwrap_or(0.0),
            r["mcd_first_sentence_db"].as_f64().unwrap_or(0.0),
            r["mcd_other_voice_db"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(())
}
