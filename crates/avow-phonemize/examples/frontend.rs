//! Prints what the front end makes of some text:
//! `cargo run -p avow-phonemize --example frontend -- en-us "Dr. Smith paid $5.50."`
//! The vocabulary defaults to the test copy of Kokoro's `vocab.json`.

use avow_phonemize::EspeakPhonemizer;
use avow_text::{KokoroVocab, TextFrontEnd};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let lang = args.next().unwrap_or_else(|| "en-us".into());
    let text = args.collect::<Vec<_>>().join(" ");
    let vocab_path = std::env::var("AVOW_VOCAB").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../avow-text/tests/data/kokoro_vocab.json").into()
    });
    let vocab = KokoroVocab::from_json(&std::fs::read_to_string(vocab_path)?)?;
    let fe = TextFrontEnd::new(EspeakPhonemizer::new()?, vocab);
    for u in fe.prepare_code(&text, &lang)? {
        println!("text:     {}", u.text);
        println!("phonemes: {}", u.phonemes);
        println!("tokens:   {}  unknown: {:?}", u.ids.len(), u.unknown);
    }
    Ok(())
}
