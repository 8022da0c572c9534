//! Measures how often our espeak → Kokoro notation agrees with misaki's
//! hand-checked lexicon (the phonemes Kokoro learned English from).
//!
//! `cargo run -p avow-phonemize --example misaki_agreement -- us_gold.json en-us 3000 [CORPUS.txt]`
//!
//! Without a corpus, N words are taken evenly from the (alphabetical)
//! lexicon, which over-represents rare words; with a corpus, every running
//! word of the corpus found in the lexicon counts, so frequent words weigh
//! as they do in speech.
//!
//! `us_gold.json`/`gb_gold.json` come from the `misaki` wheel on PyPI
//! (`python3 -m pip download --no-deps misaki==0.9.4`, unzip, `misaki/data/`).
//! Words are phonemized one at a time, as misaki's lexicon lists them.

use std::collections::BTreeMap;

use avow_phonemize::EspeakPhonemizer;
use avow_text::kokoro_ipa::espeak_to_kokoro;
use avow_text::{Language, Phonemizer};

fn strip_stress(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, 'ˈ' | 'ˌ')).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: misaki_agreement GOLD.json [LANG] [N]")?;
    let lang: Language = args.next().unwrap_or_else(|| "en-us".into()).parse()?;
    let n: usize = args.next().map_or(Ok(3000), |s| s.parse())?;
    let gold: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let mut words: Vec<(&String, String)> = gold
        .iter()
        .filter(|(k, _)| k.len() >= 2 && k.chars().all(|c| c.is_ascii_lowercase()))
        // misaki reads these by context at run time, not from the lexicon.
        .filter(|(k, _)| !matches!(k.as_str(), "the" | "an" | "am" | "to" | "in" | "by" | "used"))
        .filter_map(|(k, v)| {
            let ps = match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(m) => m.get("DEFAULT").and_then(|d| d.as_str()).map(str::to_string),
                _ => None,
            }?;
            Some((k, ps))
        })
        .collect();
    if let Some(corpus) = args.next() {
        let text = std::fs::read_to_string(corpus)?.to_lowercase();
        let index: BTreeMap<&String, String> = words.iter().cloned().collect();
        words = text
            .split(|c: char| !c.is_ascii_lowercase())
            .filter_map(|w| index.get_key_value(&w.to_string()).map(|(k, v)| (*k, v.clone())))
            .take(n)
            .collect();
    } else {
        let step = (words.len() / n).max(1);
        words = words.into_iter().step_by(step).take(n).collect();
    }
    let p = EspeakPhonemizer::new()?;
    let (mut exact, mut no_stress, mut raw_exact) = (0usize, 0usize, 0usize);
    let mut symbol_diff: BTreeMap<(char, char), usize> = BTreeMap::new();
    let mut examples = Vec::new();
    for (w, want) in &words {
        let raw = p.phonemize(w, lang)?;
        if raw.replace(avow_text::TIE, "") == *want {
            raw_exact += 1;
        }
        let got = espeak_to_kokoro(&raw, lang);
        if got == *want {
            exact += 1;
        }
        let (g, t) = (strip_stress(&got), strip_stress(want));
        if g == t {
            no_stress += 1;
        } else {
            let (gc, tc): (Vec<char>, Vec<char>) = (g.chars().collect(), t.chars().collect());
            if gc.len() == tc.len() {
                for (a, b) in gc.iter().zip(&tc) {
                    if a != b {
                        *symbol_diff.entry((*a, *b)).or_default() += 1;
                    }
                }
            }
            if examples.len() < 40 {
                examples.push(format!("{w:>14}  ours {got:<16} misaki {want}"));
            }
        }
    }
    let total = words.len();
    println!("{lang}: {total} words from the misaki gold lexicon");
    let pct = |k: usize| 100.0 * k as f64 / total.max(1) as f64;
    println!("  raw espeak IPA identical: {raw_exact} ({:.1}%)", pct(raw_exact));
    println!("  identical:               {exact} ({:.1}%)", pct(exact));
    println!("  identical without stress: {no_stress} ({:.1}%)", pct(no_stress));
    let mut subs: Vec<_> = symbol_diff.into_iter().collect();
    subs.sort_by_key(|s| std::cmp::Reverse(s.1));
    println!("  most frequent one-for-one substitutions (ours → misaki):");
    for ((a, b), c) in subs.iter().take(15) {
        println!("    {a} → {b}: {c}");
    }
    println!("  examples of differences:");
    for e in examples {
        println!("  {e}");
    }
    Ok(())
}
