//! Compares whole sentences from the front end with what misaki (Kokoro's
//! English G2P) would write for them: its gold lexicon word by word plus its
//! context rules for "the", "a", "an", "to". Only sentences whose words are
//! all in the lexicon count. Reports the phoneme error rate (edit distance
//! over reference length) of clause mode and word-by-word mode.
//!
//! `cargo run -p avow-phonemize --example misaki_sentences -- us_gold.json CORPUS.txt [en-us|en-gb]`

use avow_phonemize::EspeakPhonemizer;
use avow_text::sentence::split_sentences;
use avow_text::{FrontEndOptions, KokoroVocab, Language, TextFrontEnd};

fn lev(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn clean(s: &str, stress: bool) -> Vec<char> {
    s.chars()
        .filter(|c| c.is_alphabetic() || *c == ' ' || "ʔᵊᵻˈˌːʤʧ".contains(*c))
        .filter(|c| stress || !matches!(c, 'ˈ' | 'ˌ'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let gold_path = args.next().ok_or("usage: misaki_sentences GOLD.json CORPUS.txt")?;
    let corpus = std::fs::read_to_string(args.next().ok_or("missing corpus")?)?;
    let lang: Language = args.next().unwrap_or_else(|| "en-us".into()).parse()?;
    let gold: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(gold_path)?)?;
    let lookup = |w: &str| -> Option<String> {
        match gold.get(w)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(m) => m.get("DEFAULT")?.as_str().map(str::to_string),
            _ => None,
        }
    };
    let vocab = KokoroVocab::from_json(include_str!("../../avow-text/tests/data/kokoro_vocab.json"))?;
    let modes = [("clause", true), ("word-by-word", false)];
    let mut totals = vec![(0usize, 0usize, 0usize, 0usize); modes.len()];
    let mut n = 0;
    let corpus = corpus.split_whitespace().collect::<Vec<_>>().join(" ");
    for sent in split_sentences(&corpus) {
        let words: Vec<String> = sent
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
            .map(|w| w.to_lowercase())
            .collect();
        if words.len() < 3 || words.len() > 40 || sent.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let mut refs: Vec<String> = Vec::new();
        let mut ok = true;
        for w in &words {
            match lookup(w) {
                Some(p) => refs.push(p),
                None if w == "a" || w == "i" => refs.push(String::new()),
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        // misaki's context rules for the few words it does not take from the lexicon.
        for i in 0..words.len() {
            let next_vowel = refs.get(i + 1).and_then(|p| {
                p.chars().find(|c| !matches!(c, 'ˈ' | 'ˌ')).map(|c| "AIOQWYaeiouæɑɒɔəɛɜɪʊʌᵻ".contains(c))
            });
            refs[i] = match (words[i].as_str(), next_vowel) {
                ("the", Some(true)) => "ði".into(),
                ("the", _) => "ðə".into(),
                ("a", _) => "ɐ".into(),
                ("an", _) => "ɐn".into(),
                ("i", _) => "ˌI".into(),
                ("to", Some(true)) => "tʊ".into(),
                ("to", Some(false)) => "tə".into(),
                _ => refs[i].clone(),
            };
        }
        let reference = refs.join(" ");
        n += 1;
        for (k, (_, clause)) in modes.iter().enumerate() {
            let fe = TextFrontEnd::with_options(
                EspeakPhonemizer::new()?,
                vocab.clone(),
                FrontEndOptions { strict: false, english_clause_mode: *clause },
            );
            let hyp: String = fe
                .prepare(sent, lang)?
                .iter()
                .map(|u| u.phonemes.clone())
                .collect::<Vec<_>>()
                .join(" ");
            let (r, h) = (clean(&reference, true), clean(&hyp, true));
            let (r2, h2) = (clean(&reference, false), clean(&hyp, false));
            totals[k].0 += lev(&h, &r);
            totals[k].1 += r.len();
            totals[k].2 += lev(&h2, &r2);
            totals[k].3 += r2.len();
            if n <= 3 {
                println!("ref   {reference}\n{:<6}{hyp}", &modes[k].0[..5]);
            }
        }
    }
    println!("{n} sentences whose words are all in the lexicon");
    for (k, (name, _)) in modes.iter().enumerate() {
        let t = totals[k];
        println!(
            "  {name:<13} phoneme error rate {:.1}%   (ignoring stress marks {:.1}%)",
            100.0 * t.0 as f64 / t.1.max(1) as f64,
            100.0 * t.2 as f64 / t.3.max(1) as f64
        );
    }
    Ok(())
}
