//! From espeak-ng IPA to the phoneme notation Kokoro-82M was trained on.
//!
//! Kokoro v1.0 learned English from the `misaki` G2P, which writes a
//! modified IPA: each diphthong and affricate is ONE symbol (`A`=eɪ, `I`=aɪ,
//! `W`=aʊ, `Y`=ɔɪ, `O`=oʊ (US), `Q`=əʊ (GB), `ʤ`, `ʧ`), American English has
//! no length marks and writes r-coloured vowels as `ɜɹ`/`əɹ`, syllabic
//! consonants carry a small schwa (`ᵊl`, `ᵊn`). Its other languages were
//! phonemized by espeak-ng with only the diphthong/affricate merge applied.
//! Feeding raw espeak IPA (`eɪ` as two tokens, `ɚ`, `oː`) gives the model
//! token sequences it rarely or never saw, which is audible.
//!
//! This module is our own table, written from misaki's published
//! description of its espeak fallback. It needs espeak's *tied* output
//! ([`crate::TIE`] between the letters of one multi-letter phoneme) to tell
//! the diphthong `e^ɪ` (one phoneme) from `e` followed by `ɪ` (two).

use crate::lang::Language;
use crate::phonemizer::TIE;

/// Which languages a rule applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    English,
    Us,
    Gb,
}

impl Scope {
    fn applies(self, lang: Language) -> bool {
        match self {
            Scope::All => true,
            Scope::English => lang.is_english(),
            Scope::Us => lang == Language::EnUs,
            Scope::Gb => lang == Language::EnGb,
        }
    }
}

/// One rewrite, applied to the whole string in table order.
struct Rule {
    from: &'static str,
    to: &'static str,
    scope: Scope,
}

const fn r(from: &'static str, to: &'static str, scope: Scope) -> Rule {
    Rule { from, to, scope }
}

/// Rewrites in order. The order matters where one rule's output or input
/// overlaps another's; each such case is commented.
const RULES: &[Rule] = &[
    // --- every language: merge tied diphthongs and affricates into the single
    // symbols of Kokoro's vocabulary (misaki does this for all espeak voices).
    r("a^ɪ", "I", Scope::All), // price
    r("a^ʊ", "W", Scope::All), // mouth
    r("ɔ^ɪ", "Y", Scope::All), // choice
    r("d^ʒ", "ʤ", Scope::All), // judge
    r("t^ʃ", "ʧ", Scope::All), // church
    r("t^s", "ʦ", Scope::All), // Italian "grazie", German "z"
    r("d^z", "ʣ", Scope::All), // Italian "zero"
    r("s^s", "S", Scope::All), // kept as misaki maps it; espeak rarely ties s+s
    // espeak 1.51 has no IPA name for the Hindi retroflex flap (ड़) and
    // prints its ASCII name `r.`; the period would become a sentence-end
    // token. Kokoro's vocabulary has the IPA letter.
    r("r.", "ɽ", Scope::All),
    // GB "square" vowel: misaki's British lexicon writes ɛː. Must run before
    // the English `e` → A rule below, which would otherwise eat its `e`.
    r("e^ə", "ɛː", Scope::Gb),
    r("e^ɪ", "A", Scope::All), // face
    r("o^ʊ", "O", Scope::All), // US goat
    r("ə^ʊ", "Q", Scope::All), // GB goat
    // --- English only (misaki's lexicon conventions).
    // A lone `e` in espeak English is the first half of face in some
    // contexts; misaki's English inventory has no bare `e`.
    r("e", "A", Scope::English),
    // espeak's "dark"/syllabic l phoneme `@L` comes out tied as ə^l; misaki
    // writes a syllabic l with the small schwa.
    r("ə^l", "ᵊl", Scope::English),
    // Glottal stop before syllabic n ("button" bˈʌʔn̩): misaki's US lexicon
    // writes exactly ʔn (bˈʌʔn, ɹˈɪʔn, sˈɜɹʔn); its British one has no
    // glottal stop (bˈʌtᵊn). A glottal stop anywhere else is a t in both.
    // The combining syllabic mark elsewhere is handled after the table.
    r("ʔˌn\u{329}", "ʔn", Scope::Us),
    r("ʔn\u{329}", "ʔn", Scope::Us),
    r("ʔˌn\u{329}", "tᵊn", Scope::Gb),
    r("ʔn\u{329}", "tᵊn", Scope::Gb),
    r("ʔn", "tᵊn", Scope::Gb),
    r("ʔ", "t", Scope::Gb), // US: all but ʔn, in `reduced_vowels`
    // Palatalization marks only appear in loanwords; misaki drops them but
    // keeps the glide before a goat vowel.
    r("ʲO", "jO", Scope::English),
    r("ʲQ", "jQ", Scope::English),
    r("ʲə", "jə", Scope::English),
    r("ʲ", "", Scope::English),
    // Non-English consonants in English text (names, loanwords) fall back to
    // their nearest English phoneme, as misaki's inventory lacks them.
    r("r", "ɹ", Scope::English),
    r("x", "k", Scope::English),
    r("ç", "k", Scope::English),
    r("ɬ", "l", Scope::English),
    // Nasalized vowels (French loanwords) are plain vowels in English.
    r("\u{303}", "", Scope::English),
    // --- American English: no length marks, r-coloured vowels spelled out.
    r("ɚ", "əɹ", Scope::Us),
    // "nurse": ɜːɹ and ɜː both become ɜɹ (misaki US writes bˈɜɹd for bird).
    // The longer pattern first, so ɜːɹ does not become ɜɹɹ.
    r("ɜː^ɹ", "ɜɹ", Scope::Us),
    r("ɜːɹ", "ɜɹ", Scope::Us),
    r("ɜː", "ɜɹ", Scope::Us),
    r("ɪ^ə", "iə", Scope::Us),
    r("ɪə", "iə", Scope::Us),
    r("ː", "", Scope::Us),
    // espeak 1.51 writes the US "north/force" vowel as oː (fˈoːɹ); with the
    // length mark gone it must become ɔ, since misaki's US inventory has no
    // bare o (goat was already turned into O above).
    r("o", "ɔ", Scope::Us),
    // --- British English.
    r("i^ə", "ɪə", Scope::Gb), // near: misaki GB writes nˈɪə
    r("iə", "ɪə", Scope::Gb),  // and untied, across syllables: pɹˈiːvɪəs
    r("ɚ", "ə", Scope::Gb),
    r("ᵻ", "ɪ", Scope::Gb), // GB inventory has no ᵻ
    r("ɾ", "t", Scope::Gb), // no flapping in GB
];

/// Rewrites espeak-ng IPA (with [`TIE`] inside multi-letter phonemes) into
/// Kokoro notation for `lang`. Language-switch flags such as `(fr)` and
/// espeak's liaison hyphens are removed, as Kokoro never saw them.
pub fn espeak_to_kokoro(ipa: &str, lang: Language) -> String {
    let mut s = strip_language_flags(ipa);
    for rule in RULES {
        if rule.scope.applies(lang) && s.contains(rule.from) {
            s = s.replace(rule.from, rule.to);
        }
    }
    if lang.is_english() {
        s = syllabic_to_schwa(&s);
        s = english_words(&s, lang);
    }
    // Any tie left joins phonemes without a single Kokoro symbol (e.g. ɛ^ɹ,
    // ʊ^ə): the letters stay, the tie goes. Hyphens mark French liaison and
    // compound joins in espeak's output; Kokoro's data has none.
    s.retain(|c| c != TIE && c != '-');
    s
}

/// Word-level English fixes. espeak writes the near-open central vowel ɐ
/// for the weak articles ("a" ɐ, "an" ɐn) and for reduced vowels inside
/// words ("about" ɐbˈaʊt). misaki's lexicon, which Kokoro learned English
/// from, keeps ɐ for the articles only and writes ə elsewhere. espeak's "the"
/// before a vowel is ðɪ where misaki writes ði.
fn english_words(s: &str, lang: Language) -> String {
    s.split(' ')
        .map(|w| match w {
            "ɐ" | "ɐn" => w.to_string(),
            "ðɪ" => "ði".to_string(),
            _ => {
                // espeak writes ɚ before a linking ɹ (ɚɹ → əɹɹ after the
                // table); English never has a double ɹ inside a word.
                let mut w = reduced_vowels(&w.replace('ɐ', "ə").replace("ɹɹ", "ɹ"), lang);
                if lang == Language::EnUs {
                    // Measured: helps US (+1.9 points of identical words),
                    // hurts GB (-2.2), whose lexicon marks fewer of them.
                    w = secondary_after_primary(&w);
                }
                if lang == Language::EnGb {
                    british_syllabic_n(&drop_secondary_after_primary(&british_word_end(w)))
                } else {
                    w
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// misaki's British lexicon: the happY vowel at the end of a word is i
/// (espeak en-gb writes ɪ), and an unstressed final -ən after a consonant is
/// the syllabic ᵊn (vˈɜːʃᵊn, pˈɜːsᵊn: 3722 entries against 831 with ən).
fn british_word_end(mut w: String) -> String {
    if w.ends_with('ɪ') && w.chars().count() > 1 {
        w.pop();
        w.push('i');
    }
    if let Some(stem) = w.strip_suffix("ən") {
        if stem.chars().next_back().is_some_and(|c| !is_vowel(c) && !matches!(c, 'ˈ' | 'ˌ' | 'ɹ')) {
            return format!("{stem}ᵊn");
        }
    }
    w
}

/// Kokoro notation vowels (for stress and hiatus decisions).
fn is_vowel(c: char) -> bool {
    "AIOQWYaeiouæɑɒɔəɛɜɪʊʌᵻɚ".contains(c)
}

/// Unstressed ɪ and ᵻ as misaki writes them, measured against its US gold
/// lexicon (see `misaki_agreement` in avow-phonemize):
/// - US: ɪ before another vowel is the tense happY vowel: i ("affiliation");
///   in British English ɪə is the NEAR diphthong and stays.
/// - US: ᵻ is kept only in the -ed/-es endings (wˈɑntᵻd, bˈʌsᵻz); elsewhere
///   misaki has ə (ɹəmˈAnz, not ɹᵻmˈAnz).
/// - US: a glottal stop survives only as ʔn (see the table); else it is t.
/// - US: in a word with primary stress, an unstressed ɪ that is neither
///   first, last, before a vowel nor in -ɪŋ is ə (mˌɑdəfəkˈAʃən, lˈɪmət);
///   function words (no stress mark: ɪz, ɪt) keep ɪ.
/// - Unstressed word-initial ɛ before k ɡ n m s is ɪ (ɪkstˈɛnt "extent").
/// - The prefix in-/en- before k ɡ keeps n (ɪnklˈud), where espeak
///   assimilates it to ŋ.
///
/// Each rule here and in the British helpers below was kept only if it
/// raised agreement with misaki's lexicon in the running-text measurement
/// without lowering the whole-lexicon one (numbers in BENCHMARKS.md).
fn reduced_vowels(w: &str, lang: Language) -> String {
    let chars: Vec<char> = w.chars().collect();
    let mut out = String::with_capacity(w.len());
    let stressed_word = chars.contains(&'ˈ');
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { chars.get(i - 1).copied() } else { None };
        match c {
            'ɪ' if lang == Language::EnUs
                && stressed_word
                && prev.is_some_and(|p| !matches!(p, 'ˈ' | 'ˌ'))
                && next.is_some_and(|n| !matches!(n, 'ŋ') && !is_vowel(n)) =>
            {
                out.push('ə')
            }
            'ɪ' if lang == Language::EnUs && next.is_some_and(is_vowel) => out.push('i'),
            'ɛ' if i == 0
                && stressed_word
                && matches!(next, Some('k' | 'ɡ' | 'n' | 'm' | 's')) =>
            {
                out.push('ɪ')
            }
            'ŋ' if i == 1 && prev == Some('ɪ') && stressed_word && matches!(next, Some('k' | 'ɡ')) => {
                out.push('n')
            }
            'ʔ' if next != Some('n') => out.push('t'),

            'ᵻ' if lang == Language::EnUs => {
                let ending = matches!(next, Some('d' | 'z')) && i + 2 == chars.len();
                out.push(if ending { 'ᵻ' } else { 'ə' });
            }
            _ => out.push(c),
        }
    }
    out
}

/// English function words that misaki's lexicon writes without stress,
/// whatever espeak gives them in isolation ("for" fˈɔɹ → fɔɹ).
const UNSTRESSED: &[&str] = &[
    "a", "an", "the", "and", "or", "nor", "of", "to", "in", "at", "by", "for", "from", "with",
    "as", "is", "am", "are", "was", "were", "be", "been", "it", "its", "he", "him", "his", "she",
    "her", "we", "us", "you", "your", "they", "their", "my", "that", "this", "than",
    "if", "has", "have", "had", "can", "will", "would", "could", "there", "those", "these",
    "through",
];

/// Function words misaki gives a secondary stress only ("not" nˌɑt).
const SECONDARY: &[&str] = &[
    "not", "but", "on", "so", "which", "them", "i", "shall", "should", "who", "how", "where",
    "me", "our",
];

/// Context rules applied when English is phonemized word by word, as
/// misaki does (each word from its lexicon, then these rules):
/// stress of function words, "the" ði before a vowel and ðə before a
/// consonant, "a" ɐ, "an" ɐn, "to" tʊ before a vowel and tə before a
/// consonant. `words` are the written words, `phonemes` their Kokoro
/// phonemes (same length).
pub fn english_word_context(words: &[&str], phonemes: &mut [String]) {
    let starts_with_vowel = |p: &str| {
        p.chars()
            .find(|c| !matches!(c, 'ˈ' | 'ˌ'))
            .is_some_and(is_vowel)
    };
    for i in 0..words.len().min(phonemes.len()) {
        let w = words[i]
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        let next_vowel = phonemes.get(i + 1).map(|p| starts_with_vowel(p));
        let ph = &mut phonemes[i];
        match (w.as_str(), next_vowel) {
            ("the", Some(true)) => *ph = "ði".into(),
            ("the", _) => *ph = "ðə".into(),
            ("a", _) => *ph = "ɐ".into(),
            ("an", _) => *ph = "ɐn".into(),
            ("to", Some(true)) => *ph = "tʊ".into(),
            ("to", Some(false)) => *ph = "tə".into(),
            (w, _) if UNSTRESSED.contains(&w) => ph.retain(|c| !matches!(c, 'ˈ' | 'ˌ')),
            (w, _) if SECONDARY.contains(&w) => {
                *ph = ph.replace('ˈ', "ˌ");
                if !ph.contains('ˌ') {
                    *ph = format!("ˌ{ph}");
                    *ph = restress_before_vowel(ph);
                }
            }
            _ => {}
        }
    }
}

/// Appends the English plural/possessive -s to Kokoro phonemes, voiced or
/// not by the last sound as in "cats" s, "dogs" z, "buses" ᵻz (ɪz in GB).
/// Used for acronyms ("GPUs"), whose s espeak drops.
pub fn add_plural_s(ph: &str, lang: Language) -> String {
    let last = ph.chars().rev().find(|c| !matches!(c, 'ˈ' | 'ˌ' | 'ː'));
    let suffix = match last {
        Some('p' | 't' | 'k' | 'f' | 'θ') => "s",
        Some('s' | 'z' | 'ʃ' | 'ʒ' | 'ʧ' | 'ʤ') if lang == Language::EnGb => "ɪz",
        Some('s' | 'z' | 'ʃ' | 'ʒ' | 'ʧ' | 'ʤ') => "ᵻz",
        Some(_) => "z",
        None => "",
    };
    format!("{ph}{suffix}")
}

/// Moves a leading stress mark to just before the first vowel, where
/// misaki and espeak write it (ˌmi → mˌi).
fn restress_before_vowel(ph: &str) -> String {
    let Some(rest) = ph.strip_prefix('ˌ') else {
        return ph.to_string();
    };
    match rest.char_indices().find(|(_, c)| is_vowel(*c)) {
        Some((i, _)) => format!("{}ˌ{}", &rest[..i], &rest[i..]),
        None => ph.to_string(),
    }
}

/// misaki marks a full vowel after the primary stress with a secondary
/// stress, as in compounds (sˈɔftwˌɛɹ, pɹˈOɡɹˌæm); espeak leaves it
/// unmarked when it reads the word alone. Reduced vowels (ə ɪ ᵻ i) stay
/// unstressed.
fn secondary_after_primary(w: &str) -> String {
    const FULL: &str = "AIOWYæɑɔɛɜʌʊu";
    let chars: Vec<char> = w.chars().collect();
    let Some(primary) = chars.iter().position(|&c| c == 'ˈ') else {
        return w.to_string();
    };
    let mut out = String::with_capacity(w.len() + 4);
    let mut seen_primary_vowel = false;
    for (i, &c) in chars.iter().enumerate() {
        if i > primary && is_vowel(c) {
            let marked = i > 0 && matches!(chars[i - 1], 'ˈ' | 'ˌ');
            let after_vowel = i > 0 && is_vowel(chars[i - 1]);
            if seen_primary_vowel && !marked && !after_vowel && FULL.contains(c) {
                out.push('ˌ');
            }
            seen_primary_vowel = true;
        }
        out.push(c);
    }
    out
}

/// misaki's British lexicon has no secondary stress after the primary
/// (kˈɒpɪɹIt, mˈɒdɪfI) where espeak en-gb puts one (kˈɒpɪɹˌIt).
fn drop_secondary_after_primary(w: &str) -> String {
    match w.find('ˈ') {
        Some(p) => format!("{}{}", &w[..p], w[p..].replace('ˌ', "")),
        None => w.to_string(),
    }
}

/// misaki's British lexicon writes unstressed ən between consonants as the
/// syllabic ᵊn (lˈIsᵊns, pˈatᵊnt, əɡɹˈiːmᵊnt).
fn british_syllabic_n(w: &str) -> String {
    let chars: Vec<char> = w.chars().collect();
    let mut out = String::with_capacity(w.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == 'ə'
            && chars.get(i + 1) == Some(&'n')
            && i > 0
            && !is_vowel(chars[i - 1])
            && !matches!(chars[i - 1], 'ˈ' | 'ˌ' | 'ɹ')
            && chars.get(i + 2).is_none_or(|n| !is_vowel(*n))
        {
            out.push('ᵊ');
        } else {
            out.push(c);
        }
    }
    out
}

/// `n̩` → `ᵊn`: misaki marks a syllabic consonant with a small schwa before
/// it instead of the combining mark below it (U+0329).
fn syllabic_to_schwa(s: &str) -> String {
    if !s.contains('\u{329}') {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().filter(|&c| c != TIE).collect();
    let mut out = String::with_capacity(s.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if chars.get(i + 1) == Some(&'\u{329}') && !c.is_whitespace() {
            out.push('ᵊ');
            out.push(c);
            i += 2;
        } else {
            if c != '\u{329}' {
                out.push(c);
            }
            i += 1;
        }
    }
    out
}

/// Removes espeak's `(en)`/`(fr)` language-switch markers (phonemizer's
/// `remove-flags`): the phonemes between them stay.
fn strip_language_flags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find('(') {
        let after = &rest[start + 1..];
        match after.find(')') {
            Some(end)
                if end > 0
                    && end <= 8
                    && after[..end]
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '-') =>
            {
                out.push_str(&rest[..start]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..=start]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_english_table() {
        let us = |s| espeak_to_kokoro(s, Language::EnUs);
        assert_eq!(us("həlˈo^ʊ wˈɜːld"), "həlˈO wˈɜɹld");
        assert_eq!(us("a^ɪ ɛnd^ʒˈɔ^ɪ"), "I ɪnʤˈY");
        assert_eq!(us("fˈoːɹ ˈa^ʊɚz"), "fˈɔɹ ˈWəɹz");
        assert_eq!(us("bˈʌʔn̩ bˈɑːɾə^l ʔa"), "bˈʌʔn bˈɑɾᵊl ta");
        assert_eq!(us("t^ʃˈɛ^ɹ kæfˈe^ɪ"), "ʧˈɛɹ kæfˈA");
        assert_eq!(us("ɪts ɐ kˈæt"), "ɪts ɐ kˈæt");
        assert_eq!(us("ɐn ɐbˌa^ʊt ðɪ ˈɛnd"), "ɐn əbˌWt ði ˈɛnd");
        assert_eq!(
            us("lˈɪmɪt ɪz ɛkstˈɛnt ɪŋklˈuːdɪŋ ɹᵻmˈe^ɪnz wˈɑːntᵻd"),
            "lˈɪmət ɪz ɪkstˈɛnt ɪnklˈudɪŋ ɹəmˈAnz wˈɑntᵻd"
        );
    }

    #[test]
    fn word_context_rules() {
        let words = ["The", "apple", "and", "the", "pear", "to", "eat", "to", "go", "a", "not"];
        let mut ph: Vec<String> = ["ðˈiː", "ˈæpᵊl", "ˈænd", "ðə", "pˈɛɹ", "tˈu", "ˈit", "tˈu", "ɡˈO", "ˈA", "nˈɑt"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        english_word_context(&words, &mut ph);
        assert_eq!(ph.join(" "), "ði ˈæpᵊl ænd ðə pˈɛɹ tʊ ˈit tə ɡˈO ɐ nˌɑt");
        let mut me = vec!["mi".to_string()];
        english_word_context(&["me"], &mut me);
        assert_eq!(me, vec!["mˌi"]);
        assert_eq!(espeak_to_kokoro("sˈɔftwɛɹ pɹˈOɡɹæm wˈɔːɾɚ", Language::EnUs), "sˈɔftwˌɛɹ pɹˈOɡɹˌæm wˈɔɾəɹ");
    }

    #[test]
    fn gb_english_table() {
        let gb = |s| espeak_to_kokoro(s, Language::EnGb);
        assert_eq!(gb("həlˈə^ʊ wˈɜːld"), "həlˈQ wˈɜːld");
        assert_eq!(gb("t^ʃˈe^ə nˈi^ə"), "ʧˈɛː nˈɪə");
        assert_eq!(gb("fˈɔːɹ kˈat"), "fˈɔːɹ kˈat");
        assert_eq!(gb("kˈɒpɪ vˈɜːʃən bˈʌʔn̩ klˈiəli"), "kˈɒpi vˈɜːʃᵊn bˈʌtᵊn klˈɪəli");
        assert_eq!(gb("kˈɒpɪɹˌa^ɪt lˈa^ɪsəns ɛksˈɛpt"), "kˈɒpɪɹIt lˈIsᵊns ɪksˈɛpt");
    }

    #[test]
    fn other_languages_only_merge_and_strip() {
        assert_eq!(
            espeak_to_kokoro("ɡrˈat^sje mˈille", Language::It),
            "ɡrˈaʦje mˈille"
        );
        assert_eq!(espeak_to_kokoro("le-z amˈi", Language::Fr), "lez amˈi");
        assert_eq!(espeak_to_kokoro("bˈe^ɪnte", Language::Es), "bˈAnte");
        // `r` and `e` stay outside English.
        assert_eq!(espeak_to_kokoro("perro", Language::Es), "perro");
        assert_eq!(espeak_to_kokoro("pəhˈaːr.", Language::Hi), "pəhˈaːɽ");
    }

    #[test]
    fn language_flags_removed_but_real_parentheses_kept() {
        assert_eq!(
            espeak_to_kokoro("(en)t^ʃˈa^ɪniːz(ja)lˈetə", Language::Es),
            "ʧˈIniːzlˈetə"
        );
        assert_eq!(espeak_to_kokoro("(ˈa) b", Language::Es), "(ˈa) b");
    }
}
