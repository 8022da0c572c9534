//! Front-end speed on about 100 kB of English (or a file given as argument):
//! `cargo run --release -p avow-phonemize --example throughput [-- FILE [LANG]]`

use std::time::Instant;

use avow_phonemize::EspeakPhonemizer;
use avow_text::{KokoroVocab, Language, TextFrontEnd};

const SAMPLE: &str = "Dr. Smith paid $5.50 on March 3, 2024 at 10:30 a.m. for the 1st prize. \
I want to go to the store before it closes, but the bus is late again! \
The meeting has been moved to 3pm; please call 1-800-555-0199 or mail info@example.com. \
In 1999, about 12.5% of the 1,200 people lived within 5 km of the old St. Mary's church. ";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let text = match args.next() {
        Some(path) => std::fs::read_to_string(path)?,
        None => SAMPLE.repeat(100_000 / SAMPLE.len() + 1),
    };
    let lang: Language = args.next().unwrap_or_else(|| "en-us".into()).parse()?;
    let vocab = KokoroVocab::from_json(include_str!("../../avow-text/tests/data/kokoro_vocab.json"))?;
    let fe = TextFrontEnd::new(EspeakPhonemizer::new()?, vocab);

    let t0 = Instant::now();
    let sentences = fe.split(&text)?;
    let first = fe.prepare_sentence(&sentences[0], lang)?;
    let first_ms = t0.elapsed().as_secs_f64() * 1e3;

    let t1 = Instant::now();
    let utts = fe.prepare(&text, lang)?;
    let secs = t1.elapsed().as_secs_f64();
    let tokens: usize = utts.iter().map(|u| u.ids.len()).sum();
    let unknown: usize = utts.iter().map(|u| u.unknown.len()).sum();
    println!(
        "{lang}: {} bytes, {} sentences, {} utterances, {tokens} tokens ({unknown} unknown) in {secs:.2} s \
         ({:.0} kB/s); first sentence ready after {first_ms:.1} ms ({} utterance)",
        text.len(),
        sentences.len(),
        utts.len(),
        text.len() as f64 / 1e3 / secs,
        first.len()
    );
    Ok(())
}
