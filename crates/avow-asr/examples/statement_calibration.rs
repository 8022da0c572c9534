//! Calibrates the spoken-consent check: the five stock voices read consent
//! statements (synthesized through the full `avow say` path: front end,
//! Candle Kokoro, watermark), Whisper tiny.en transcribes them, and each
//! transcript is checked against the statement it reads (must pass) and
//! against statements for the same name with other random challenges (must
//! fail). Prints the WER and challenge-error distributions of both and
//! writes every transcript to OUT.json.
//!
//! `cargo run --release -p avow-asr --example statement_calibration -- OUT.json [STATEMENTS_PER_VOICE] [WRONG_PER_READING]`
//!
//! Deterministic (seeded); model cache: `AVOW_CACHE_DIR` or the default.

use avow_asr::statement::{check_statement, ConsentStatement, CHALLENGE_LEN, MAX_CHALLENGE_ERRORS, MAX_WER};
use rand::SeedableRng;

const NAMES: [&str; 8] =
    ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Siobhan O'Neill", "Nguyen Van An", "Marie Curie", "Tim Berners-Lee"];

fn summary(label: &str, v: &[(f64, usize)]) {
    let mut w: Vec<f64> = v.iter().map(|x| x.0).collect();
    w.sort_by(|a, b| a.total_cmp(b));
    let mut c: Vec<usize> = v.iter().map(|x| x.1).collect();
    c.sort();
    let q = |p: f64| w[((w.len() - 1) as f64 * p).round() as usize];
    println!(
        "{label}: n={} WER min {:.3} median {:.3} max {:.3}; challenge errors min {} max {}; histogram {:?}",
        v.len(),
        q(0.0),
        q(0.5),
        q(1.0),
        c[0],
        c[c.len() - 1],
        (0..=CHALLENGE_LEN).map(|k| c.iter().filter(|&&x| x == k).count()).collect::<Vec<_>>()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).ok_or("usage: statement_calibration OUT.json [STATEMENTS_PER_VOICE] [WRONG_PER_READING]")?;
    let per_voice: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(4);
    let wrong_per: usize = args.get(3).map(|a| a.parse()).transpose()?.unwrap_or(5);
    let ledger = tempfile::tempdir()?;
    let engine = avow_engine::Engine::open(&avow_engine::EngineOptions {
        ledger: Some(ledger.path().join("ledger.jsonl")),
        ..Default::default()
    })?;
    let asr = avow_asr::Transcriber::open_default(true)?;
    let purpose = avow_engine::ConsentPurpose::parse("research").ok_or("purpose")?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    let mut rows = Vec::new();
    let mut n = 0;
    for voice_name in avow_engine::STOCK_VOICES {
        let voice = engine.stock_voice(voice_name, purpose, "en-us")?;
        for _ in 0..per_voice {
            let name = NAMES[n % NAMES.len()];
            n += 1;
            let st = ConsentStatement::new(name, &mut rng)?;
            let speech = engine.speak(&voice, &st.text, 1.0)?;
            let samples = avow_audio::resample(&speech.samples, avow_engine::SAMPLE_RATE, 16_000)?;
            let t = asr.transcribe(&samples)?;
            let ok = check_statement(&t.text, &st);
            right.push((ok.wer, ok.challenge_errors));
            let mut wrongs = Vec::new();
            for _ in 0..wrong_per {
                let other = ConsentStatement::new(name, &mut rng)?;
                let bad = check_statement(&t.text, &other);
                wrong.push((bad.wer, bad.challenge_errors));
                wrongs.push(serde_json::json!({ "challenge": other.challenge, "wer": bad.wer, "challenge_errors": bad.challenge_errors, "passed": bad.passed }));
            }
            println!("{voice_name} {:>5.3} {} {} | {}", ok.wer, ok.challenge_errors, if ok.passed { "PASS" } else { "FAIL" }, t.text);
            rows.push(serde_json::json!({
                "voice": voice_name, "statement": st.text, "transcript": t.text,
                "wer": ok.wer, "challenge_errors": ok.challenge_errors, "passed": ok.passed, "wrong_challenges": wrongs,
            }));
        }
    }
    println!();
    summary("right statement", &right);
    summary("wrong challenge", &wrong);
    let pass_right = right.iter().filter(|x| x.0 <= MAX_WER && x.1 <= MAX_CHALLENGE_ERRORS).count();
    let pass_wrong = wrong.iter().filter(|x| x.0 <= MAX_WER && x.1 <= MAX_CHALLENGE_ERRORS).count();
    println!("with MAX_WER {MAX_WER} and MAX_CHALLENGE_ERRORS {MAX_CHALLENGE_ERRORS}: right pass {pass_right}/{}, wrong pass {pass_wrong}/{}", right.len(), wrong.len());
    std::fs::write(out, serde_json::to_string_pretty(&serde_json::json!({ "readings": rows }))?)?;
    Ok(())
}
