//! Kokoro vocabulary loading and tokenization.

mod common;

use avow_text::vocab::{with_pads, UnknownSymbol};
use avow_text::{KokoroVocab, VocabError};

#[test]
fn real_vocab_has_114_symbols_and_known_ids() {
    let v = common::vocab();
    assert_eq!(v.len(), 114);
    assert_eq!(v.id(' '), Some(16));
    assert_eq!(v.id('ˈ'), Some(156));
    assert_eq!(v.id('ᵻ'), Some(177));
    assert_eq!(v.id('g'), None, "Kokoro uses IPA ɡ, not ASCII g");
}

#[test]
fn tokenize_maps_every_character() {
    let v = common::vocab();
    let t = v.tokenize("həlˈO wˈɜɹld!");
    assert!(t.unknown.is_empty());
    assert_eq!(t.ids, vec![50, 83, 54, 156, 31, 16, 65, 156, 87, 123, 54, 46, 5]);
    assert_eq!(with_pads(&t.ids[..2]), vec![0, 50, 83, 0]);
}

#[test]
fn unknown_symbols_are_reported_with_positions() {
    let v = common::vocab();
    let t = v.tokenize("ab#cgé");
    assert_eq!(t.ids, vec![43, 44, 45]);
    assert_eq!(
        t.unknown,
        vec![
            UnknownSymbol { symbol: '#', char_index: 2 },
            UnknownSymbol { symbol: 'g', char_index: 4 },
            UnknownSymbol { symbol: 'é', char_index: 5 },
        ]
    );
    let err = v.tokenize_strict("ab#c").unwrap_err().to_string();
    assert!(err.contains("'#' (U+0023) at 2"), "{err}");
    assert_eq!(v.tokenize_strict("abc").unwrap(), vec![43, 44, 45]);
}

#[test]
fn bad_vocab_files_are_refused() {
    assert!(matches!(KokoroVocab::from_json("nope"), Err(VocabError::Format(_))));
    assert!(matches!(KokoroVocab::from_json("[1,2]"), Err(VocabError::Format(_))));
    assert!(matches!(KokoroVocab::from_json("{}"), Err(VocabError::Empty)));
    assert!(matches!(KokoroVocab::from_json(r#"{"ab": 1}"#), Err(VocabError::MultiCharSymbol(_))));
    assert!(matches!(KokoroVocab::from_json(r#"{"a": -1}"#), Err(VocabError::BadId { .. })));
    assert!(matches!(KokoroVocab::from_json(r#"{"a": 0}"#), Err(VocabError::PadCollision(_))));
    assert!(matches!(
        KokoroVocab::from_json(r#"{"a": 3, "b": 3}"#),
        Err(VocabError::DuplicateId(..))
    ));
    // Both layouts parse.
    assert_eq!(KokoroVocab::from_json(r#"{"vocab": {"a": 1}}"#).unwrap().len(), 1);
    assert_eq!(KokoroVocab::from_json(r#"{"a": 1}"#).unwrap().len(), 1);
}
