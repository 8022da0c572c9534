//! Shared test helpers: Kokoro's real vocabulary and a fake phonemizer.

#![allow(dead_code)]

use avow_text::{KokoroVocab, Language, PhonemizeError, Phonemizer};

pub fn vocab() -> KokoroVocab {
    let json = include_str!("../data/kokoro_vocab.json");
    KokoroVocab::from_json(json).expect("test vocab parses")
}

/// Spells each word with its own lowercase letters, drops everything else.
/// Letters that the English espeak→Kokoro rules would rewrite (e, o, r, x)
/// and ASCII g (Kokoro uses IPA ɡ) are replaced by stable IPA letters, so the
/// output passes through the front end unchanged in every language. One output word per input
/// word that has a letter, so tests can check that no word is lost.
pub struct Spell;

pub fn spell_word(w: &str) -> String {
    w.chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| match c.to_ascii_lowercase() {
            'g' => 'ɡ',
            'e' => 'ɛ',
            'o' => 'ɒ',
            'r' => 'ɹ',
            'x' => 'k',
            c => c,
        })
        .collect()
}

impl Phonemizer for Spell {
    fn phonemize(&self, text: &str, _lang: Language) -> Result<String, PhonemizeError> {
        Ok(text
            .split_whitespace()
            .map(spell_word)
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" "))
    }
}
