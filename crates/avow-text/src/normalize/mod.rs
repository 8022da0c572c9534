//! Text normalization: what a reader says for what is written.
//!
//! [`clean`] applies to every language (control characters, bidi marks,
//! odd whitespace). [`normalize`] adds the English rules of [`english`];
//! for the other languages numbers, percentages and times are left to
//! espeak-ng's own reading, which handles them in es/fr/it/pt/hi, and
//! [`other`] only rewrites dates and currency amounts, which it misreads.

pub mod english;
pub mod numbers;
pub mod other;

use crate::lang::Language;

/// Removes what should never reach a phonemizer: C0/C1 control characters
/// (tabs and newlines become spaces), bidi embedding/isolate marks and
/// zero-width characters, and collapses whitespace. Typographic apostrophes
/// become ASCII so espeak sees "don't" as one word.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for c in text.chars() {
        let c = match c {
            '\u{2019}' | '\u{2018}' | '\u{02BC}' => '\'',
            '\u{00A0}' | '\u{2007}' | '\u{202F}' => ' ',
            c => c,
        };
        let drop = matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{FFFD}');
        if drop {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        out.push(c);
        last_space = false;
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Cleans `text` and, for English, expands numbers, dates, times, currency,
/// abbreviations, URLs and symbols into words; for the other languages,
/// dates and currency amounts.
pub fn normalize(text: &str, lang: Language) -> String {
    let cleaned = clean(text);
    match lang {
        Language::EnUs => english::normalize(&cleaned, false),
        Language::EnGb => english::normalize(&cleaned, true),
        _ => other::normalize(&cleaned, lang),
    }
}
