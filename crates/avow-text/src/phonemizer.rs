//! The license boundary: text in, espeak-style IPA out.
//!
//! This crate is Apache-2.0 and never links espeak-ng. The GPL-3.0-or-later
//! implementation (`avow-phonemize`) implements [`Phonemizer`]; anything else
//! that writes the same notation (a lexicon, a neural G2P, a test double) can
//! be plugged in instead.

use crate::lang::Language;

/// The tie character a [`Phonemizer`] puts between the letters of one
/// multi-letter phoneme (`a^ɪ` for the diphthong in "price"), so that
/// [`crate::kokoro_ipa::espeak_to_kokoro`] can merge it into Kokoro's single
/// symbol. `^` never occurs in IPA itself.
pub const TIE: char = '^';

/// Errors from a phonemizer backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhonemizeError {
    /// The backend could not be initialized (library or data missing).
    #[error("phonemizer backend unavailable: {0}")]
    Unavailable(String),
    /// The backend has no voice for this language.
    #[error("phonemizer has no voice for language {0}")]
    NoVoice(Language),
    /// The backend failed on this input.
    #[error("phonemizer failed: {0}")]
    Failed(String),
}

/// Converts a run of words into IPA.
///
/// Contract, so the front end can rely on it:
/// - `text` is one clause of already-normalized words: the front end has
///   removed the punctuation it keeps (`, . ; : ! ? — … " ( )`) and will put
///   it back itself.
/// - The result is espeak-ng IPA with stress marks (`ˈ ˌ`) and length marks,
///   words separated by single spaces, with [`TIE`] between the letters of a
///   multi-letter phoneme. No punctuation, no leading/trailing space. An
///   empty string is a valid answer (nothing pronounceable).
/// - Implementations must be safe to call from several threads (the espeak
///   one serializes calls behind a mutex).
pub trait Phonemizer: Send + Sync {
    /// Phonemizes `text` in `lang`.
    fn phonemize(&self, text: &str, lang: Language) -> Result<String, PhonemizeError>;
}

impl<P: Phonemizer + ?Sized> Phonemizer for &P {
    fn phonemize(&self, text: &str, lang: Language) -> Result<String, PhonemizeError> {
        (**self).phonemize(text, lang)
    }
}

impl<P: Phonemizer + ?Sized> Phonemizer for Box<P> {
    fn phonemize(&self, text: &str, lang: Language) -> Result<String, PhonemizeError> {
        (**self).phonemize(text, lang)
    }
}

impl<P: Phonemizer + ?Sized> Phonemizer for std::sync::Arc<P> {
    fn phonemize(&self, text: &str, lang: Language) -> Result<String, PhonemizeError> {
        (**self).phonemize(text, lang)
    }
}
