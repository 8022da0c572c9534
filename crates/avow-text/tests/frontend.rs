//! The whole front end with a fake phonemizer: errors, chunking, adversarial
//! input. Real espeak-ng output is tested in avow-phonemize.

mod common;

use avow_text::normalize::normalize;
use avow_text::{
    FrontEndOptions, Language, PhonemizeError, Phonemizer, TextError, TextFrontEnd, MAX_TEXT_BYTES,
    MAX_TOKENS,
};
use common::{spell_word, Spell};

fn fe() -> TextFrontEnd<Spell> {
    TextFrontEnd::new(Spell, common::vocab())
}

/// Words of a phoneme string, without punctuation.
fn words(ph: &str) -> Vec<String> {
    ph.split(|c: char| c.is_whitespace() || ",.;:!?…—\"()“”".contains(c))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn simple_sentence_becomes_one_padded_utterance() {
    let u = fe().prepare("Hello, world!", Language::EnUs).unwrap();
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].text, "Hello, world!");
    assert_eq!(u[0].phonemes, "hɛllɒ, wɒɹld!");
    assert_eq!(u[0].ids.len(), u[0].phonemes.chars().count());
    let padded = u[0].padded_ids();
    assert_eq!((padded[0], padded[padded.len() - 1]), (0, 0));
    assert!(u[0].ends_sentence);
}

#[test]
fn punctuation_is_kept_as_kokoro_writes_it() {
    let u = fe()
        .prepare("He said \"wait\" (twice) — then… left; ok: fine?", Language::EnUs)
        .unwrap();
    assert_eq!(u[0].phonemes, "hɛ said \"wait\" (twicɛ) — thɛn… lɛft; ɒk: finɛ?");
    let u = fe().prepare("¿Qué tal? «Bien»", Language::Es).unwrap();
    assert_eq!(u[0].phonemes, "qu tal?");
    assert_eq!(u[1].phonemes, "“biɛn”");
}

#[test]
fn errors_are_specific() {
    let f = fe();
    assert!(matches!(f.prepare("", Language::EnUs), Err(TextError::Empty)));
    assert!(matches!(f.prepare(" \n\t ", Language::EnUs), Err(TextError::Empty)));
    assert!(matches!(f.prepare("?!... ,;", Language::EnUs), Err(TextError::NothingToSpeak)));
    assert!(matches!(f.prepare("(\"…\")", Language::Fr), Err(TextError::NothingToSpeak)));
    let big = "a ".repeat(MAX_TEXT_BYTES / 2 + 1);
    match f.prepare(&big, Language::EnUs) {
        Err(TextError::TooLong { bytes, max }) => assert!(bytes > max),
        other => panic!("expected TooLong, got {other:?}"),
    }
    let e = f.prepare_code("hello", "klingon").unwrap_err().to_string();
    assert!(e.contains("unsupported language 'klingon'") && e.contains("pt-br"), "{e}");
    assert!(matches!(f.prepare_code("hello", "ja"), Err(TextError::Language(_))));
}

struct Failing;
impl Phonemizer for Failing {
    fn phonemize(&self, _: &str, lang: Language) -> Result<String, PhonemizeError> {
        Err(PhonemizeError::NoVoice(lang))
    }
}

#[test]
fn phonemizer_errors_propagate() {
    let f = TextFrontEnd::new(Failing, common::vocab());
    assert!(matches!(
        f.prepare("hello", Language::Hi),
        Err(TextError::Phonemize(PhonemizeError::NoVoice(Language::Hi)))
    ));
}

/// Emits a symbol Kokoro lacks, to exercise unknown-symbol handling.
struct Odd;
impl Phonemizer for Odd {
    fn phonemize(&self, text: &str, _: Language) -> Result<String, PhonemizeError> {
        Ok(format!("{}ʘ", spell_word(text)))
    }
}

#[test]
fn unknown_symbols_are_reported_or_refused() {
    let lenient = TextFrontEnd::new(Odd, common::vocab());
    let u = lenient.prepare("click", Language::EnUs).unwrap();
    assert_eq!(u[0].phonemes, "clickʘ");
    assert_eq!(u[0].ids.len(), 5);
    assert_eq!(u[0].unknown.len(), 1);
    assert_eq!((u[0].unknown[0].symbol, u[0].unknown[0].char_index), ('ʘ', 5));

    let strict = TextFrontEnd::with_options(Odd, common::vocab(), FrontEndOptions { strict: true, ..Default::default() });
    let e = strict.prepare("click", Language::EnUs).unwrap_err();
    assert!(matches!(e, TextError::UnknownSymbols { .. }));
    assert!(e.to_string().contains("'ʘ' (U+0298) at 5"), "{e}");
}

/// About 100 kB of mixed text: short sentences, long comma-separated
/// sentences, and one 3000-word sentence without any punctuation.
fn long_text() -> String {
    let mut s = String::new();
    let mut i = 0u32;
    while s.len() < 95_000 {
        i += 1;
        match i % 4 {
            0 => s.push_str(&format!("Sentence number {i} is short. ")),
            1 => {
                for k in 0..40 {
                    s.push_str(&format!("clause {k} of sentence {i} goes on, "));
                }
                s.push_str("and ends here. ");
            }
            2 => s.push_str("Does it ask a question? It does! "),
            _ => s.push_str("Plain words follow plain words; then a colon: and more words. "),
        }
    }
    s.push_str("Now ");
    s.push_str(&"unpunctuated ".repeat(3000));
    s.push('.');
    s
}

#[test]
fn hundred_kilobytes_chunk_under_the_limit_without_losing_words() {
    let text = long_text();
    assert!(text.len() > 100_000, "{}", text.len());
    let f = fe();
    let utts = f.prepare(&text, Language::EnUs).unwrap();
    assert!(utts.len() > 100);
    for u in &utts {
        assert!(u.ids.len() <= MAX_TOKENS, "{} tokens", u.ids.len());
        assert!(u.padded_ids().len() <= MAX_TOKENS + 2);
        assert!(u.unknown.is_empty());
    }
    // Every spoken word is there, in order.
    let expected: Vec<String> = normalize(&text, Language::EnUs)
        .split(|c: char| c.is_whitespace() || ",.;:!?".contains(c))
        .map(spell_word)
        .filter(|w| !w.is_empty())
        .collect();
    // Stress marks may be added to function words ("on" → ˌon).
    let got: Vec<String> = utts
        .iter()
        .flat_map(|u| words(&u.phonemes))
        .map(|w| w.replace(['ˈ', 'ˌ'], ""))
        .collect();
    assert_eq!(got.len(), expected.len());
    // English context rules rewrite "the", "a", "an", "to" (ðə, ɐ, ...).
    let context_words = ["thɛ", "a", "an", "tɒ"];
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(g == e || context_words.contains(&e.as_str()), "word {i}: {g:?} vs {e:?}");
    }
    // The long sentences were cut at clause boundaries: every part but the
    // last of a sentence ends with a comma.
    let comma_parts = utts.iter().filter(|u| !u.ends_sentence).count();
    assert!(comma_parts > 0);
    for u in utts.iter().filter(|u| !u.ends_sentence && u.text.starts_with("clause")) {
        assert!(u.phonemes.ends_with(','), "{:?}", u.phonemes);
    }
}

#[test]
fn a_single_enormous_word_is_cut_into_pieces() {
    let word = "a".repeat(2000);
    let utts = fe().prepare(&word, Language::EnUs).unwrap();
    assert_eq!(utts.len(), 4);
    assert!(utts.iter().all(|u| u.ids.len() <= MAX_TOKENS));
    let total: usize = utts.iter().map(|u| u.ids.len()).sum();
    assert_eq!(total, 2000);
}

#[test]
fn adversarial_input_does_not_panic() {
    let f = fe();
    let inputs = [
        "\u{0}\u{1}\u{7}\u{1b}[31mred\u{1b}[0m\u{7f}",
        "emoji 😀👍🏽👨‍👩‍👧 and flags 🇫🇷",
        "مرحبا بالعالم. שלום עולם!",
        "\u{202E}reversed\u{202C} \u{200B}zero\u{200D}width\u{FEFF}",
        "ﷺ ǅ ß İ ﬁ",
        "\u{FFFD}\u{FFFF}",
        "$$$ %%% ... --- ///",
        "1/0 0/0 99:99 2024-13-45 31/31/3131",
        "$-5 -$5 €.5 £,",
        "Dr. St. Mr. e.g. i.e. etc. No.",
    ];
    for lang in Language::ALL {
        for input in inputs {
            let _ = f.prepare(input, lang);
        }
    }
    let digits = "9".repeat(100_000);
    let utts = f.prepare(&digits, Language::EnUs).unwrap();
    assert!(utts.iter().all(|u| u.ids.len() <= MAX_TOKENS));
    let nines: usize = utts.iter().map(|u| words(&u.phonemes).len()).sum();
    assert_eq!(nines, 100_000);
    let long_word = "x".repeat(200_000);
    assert!(f.prepare(&long_word, Language::EnUs).is_ok());
}


/// Thousands of random strings over a palette of the characters the
/// normalizer and splitter react to: nothing may panic, and whatever comes
/// out respects the token limit.
#[test]
fn random_strings_never_panic() {
    let palette: Vec<char> = "0123456789 ..,,::;;--//$$££€€%%@@&&+#°'\"()[]!?…—–abcxyzABCXYZ stndrh éñüçआक\u{301}\u{329}😀\u{202E}\n\t"
        .chars()
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let f = fe();
    for round in 0..3000 {
        let len = (next() % 60) as usize;
        let s: String = (0..len).map(|_| palette[(next() % palette.len() as u64) as usize]).collect();
        let lang = Language::ALL[round % Language::ALL.len()];
        let _ = normalize(&s, lang);
        if let Ok(utts) = f.prepare(&s, lang) {
            assert!(utts.iter().all(|u| u.ids.len() <= MAX_TOKENS), "{s:?}");
        }
    }
}
