//! The text front end of avow: from user text to Kokoro-82M token ids.
//!
//! For: English text normalization (numbers, dates, times, currency,
//! abbreviations, URLs), sentence splitting, conversion of espeak-ng IPA into
//! the notation Kokoro was trained on, tokenization with Kokoro's vocabulary
//! (read at run time from `vocab.json`), and chunking under the model's
//! 510-token limit.
//!
//! Not for: grapheme-to-phoneme conversion itself. That is behind the
//! [`Phonemizer`] trait, implemented with espeak-ng in the GPL-3.0-or-later
//! crate `avow-phonemize`; this crate stays Apache-2.0 and links nothing GPL.
//!
//! ```text
//! text ─split─▶ sentences ─normalize─▶ words ─Phonemizer─▶ espeak IPA
//!      ─espeak_to_kokoro─▶ Kokoro phonemes ─KokoroVocab─▶ ids (≤ 510 per Utterance)
//! ```
//!
//! English is phonemized word by word and then given misaki's context rules
//! (function-word stress, "the" ði/ðə, "a" ɐ, "to" tʊ/tə), because Kokoro
//! learned English from misaki, which reads words from a lexicon one at a
//! time; the other languages go to espeak a clause at a time, as Kokoro's
//! training data did. How close the result is to misaki is measured in
//! BENCHMARKS.md (section "text").
//!
//! ```no_run
//! # fn demo(p: impl avow_text::Phonemizer, vocab_json: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use avow_text::{KokoroVocab, Language, TextFrontEnd};
//! let front = TextFrontEnd::new(p, KokoroVocab::from_json(vocab_json)?);
//! for u in front.prepare("Dr. Smith paid $5.50.", Language::EnUs)? {
//!     println!("{} → {} ({} tokens)", u.text, u.phonemes, u.ids.len());
//! }
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod frontend;
pub mod kokoro_ipa;
pub mod lang;
pub mod normalize;
pub mod phonemizer;
pub mod sentence;
pub mod vocab;

pub use frontend::{FrontEndOptions, TextError, TextFrontEnd, Utterance, MAX_TEXT_BYTES};
pub use lang::{Language, UnsupportedLanguage};
pub use phonemizer::{PhonemizeError, Phonemizer, TIE};
pub use vocab::{
    KokoroVocab, Tokenized, UnknownSymbol, UnknownSymbols, VocabError, MAX_TOKENS, PAD_ID,
};
