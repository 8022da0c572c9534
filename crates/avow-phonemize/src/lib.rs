//! espeak-ng as an [`avow_text::Phonemizer`].
//!
//! For: turning a clause of normalized words into espeak-ng IPA, with a tie
//! character inside multi-letter phonemes, through Debian's libespeak-ng
//! (1.51) — the same library and call (`espeak_TextToPhonemes`) that
//! phonemizer/misaki used to produce Kokoro's training phonemes.
//!
//! Not for: text normalization, punctuation, or Kokoro notation (all in the
//! Apache-2.0 `avow-text`). This crate is GPL-3.0-or-later because it links
//! espeak-ng; keeping it this small keeps the license boundary visible.
//!
//! libespeak-ng keeps global state and is not thread-safe, so every call goes
//! through one process-wide mutex, whatever the number of
//! [`EspeakPhonemizer`] values.

#![deny(missing_docs)]

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use avow_text::{Language, PhonemizeError, Phonemizer, TIE};

mod ffi {
    use std::os::raw::{c_char, c_int, c_void};

    /// `AUDIO_OUTPUT_RETRIEVAL`: no sound device is opened.
    pub const AUDIO_OUTPUT_RETRIEVAL: c_int = 1;
    /// Return an error instead of calling `exit()` when data is missing.
    pub const INITIALIZE_DONT_EXIT: c_int = 0x8000;
    /// `espeakCHARS_UTF8`.
    pub const CHARS_UTF8: c_int = 1;
    /// Bit 1 of `phonememode`: IPA instead of espeak's ASCII names.
    pub const PHONEMES_IPA: c_int = 0x02;
    /// Bit 7: put the character in bits 8-23 inside multi-letter phonemes.
    pub const PHONEMES_TIE: c_int = 0x80;
    pub const EE_OK: c_int = 0;

    /// `espeak_VOICE` from speak_lib.h (1.51), used as a search key.
    #[repr(C)]
    pub struct EspeakVoice {
        pub name: *const c_char,
        pub languages: *const c_char,
        pub identifier: *const c_char,
        pub gender: u8,
        pub age: u8,
        pub variant: u8,
        pub xx1: u8,
        pub score: c_int,
        pub spare: *mut c_void,
    }

    extern "C" {
        pub fn espeak_Initialize(
            output: c_int,
            buflength: c_int,
            path: *const c_char,
            options: c_int,
        ) -> c_int;
        pub fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
        pub fn espeak_SetVoiceByProperties(voice: *mut EspeakVoice) -> c_int;
        pub fn espeak_TextToPhonemes(
            textptr: *mut *const c_void,
            textmode: c_int,
            phonememode: c_int,
        ) -> *const c_char;
    }
}

/// State of the one libespeak-ng instance in this process.
struct Engine {
    initialized: bool,
    data_path: Option<PathBuf>,
    voice: Option<Language>,
}

static ENGINE: Mutex<Engine> = Mutex::new(Engine {
    initialized: false,
    data_path: None,
    voice: None,
});

fn lock() -> MutexGuard<'static, Engine> {
    // A panic while holding the lock cannot leave `Engine` inconsistent in a
    // way that matters: at worst the voice is re-selected.
    match ENGINE.lock() {
        Ok(g) => g,
        Err(poisoned) => {
            let mut g = poisoned.into_inner();
            g.voice = None;
            g
        }
    }
}

/// Longest clause text handed to espeak at once. espeak splits long input
/// into clauses itself; this bound only keeps a pathological input (one
/// 100 kB "word") from turning into one giant C call.
const MAX_INPUT_BYTES: usize = 64 * 1024;

/// The espeak-ng phonemizer. Cheap to create; all values share the library.
#[derive(Debug, Clone, Default)]
pub struct EspeakPhonemizer {
    _private: (),
}

impl EspeakPhonemizer {
    /// Initializes libespeak-ng with its default data directory
    /// (`/usr/lib/x86_64-linux-gnu/espeak-ng-data` on Debian).
    pub fn new() -> Result<Self, PhonemizeError> {
        Self::init(None)
    }

    /// Initializes libespeak-ng with data from `dir`, the directory that
    /// *contains* `espeak-ng-data`. Only the first initialization in a
    /// process chooses the path; a later different path is an error.
    pub fn with_data_path(dir: &Path) -> Result<Self, PhonemizeError> {
        Self::init(Some(dir))
    }

    fn init(dir: Option<&Path>) -> Result<Self, PhonemizeError> {
        let mut engine = lock();
        if engine.initialized {
            if dir.is_some() && dir != engine.data_path.as_deref() {
                return Err(PhonemizeError::Unavailable(format!(
                    "espeak-ng already initialized with data path {:?}",
                    engine.data_path
                )));
            }
            return Ok(Self { _private: () });
        }
        let c_path = match dir {
            Some(d) => Some(CString::new(d.to_string_lossy().as_bytes()).map_err(|_| {
                PhonemizeError::Unavailable("espeak-ng data path contains a NUL byte".into())
            })?),
            None => None,
        };
        let path_ptr = c_path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
        // SAFETY: the path is a valid NUL-terminated string or null, and the
        // global lock serializes every libespeak-ng call.
        let rate = unsafe {
            ffi::espeak_Initialize(
                ffi::AUDIO_OUTPUT_RETRIEVAL,
                0,
                path_ptr,
                ffi::INITIALIZE_DONT_EXIT,
            )
        };
        if rate <= 0 {
            return Err(PhonemizeError::Unavailable(format!(
                "espeak_Initialize failed ({rate}): is espeak-ng-data installed{}?",
                dir.map(|d| format!(" under {}", d.display()))
                    .unwrap_or_default()
            )));
        }
        engine.initialized = true;
        engine.data_path = dir.map(Path::to_path_buf);
        Ok(Self { _private: () })
    }
}

fn select_voice(engine: &mut Engine, lang: Language) -> Result<(), PhonemizeError> {
    if engine.voice == Some(lang) {
        return Ok(());
    }
    let name = CString::new(lang.espeak_voice()).map_err(|_| PhonemizeError::NoVoice(lang))?;
    // SAFETY: valid C string; called under the global lock.
    let mut rc = unsafe { ffi::espeak_SetVoiceByName(name.as_ptr()) };
    if rc != ffi::EE_OK {
        // Voice *names* are "English (Great Britain)"-style; like the
        // espeak-ng command line, fall back to a search by language code.
        let mut spec = ffi::EspeakVoice {
            name: std::ptr::null(),
            languages: name.as_ptr(),
            identifier: std::ptr::null(),
            gender: 0,
            age: 0,
            variant: 0,
            xx1: 0,
            score: 0,
            spare: std::ptr::null_mut(),
        };
        // SAFETY: `spec` and the string it points to outlive the call,
        // which only reads them; serialized by the global lock.
        rc = unsafe { ffi::espeak_SetVoiceByProperties(&mut spec) };
    }
    if rc != ffi::EE_OK {
        engine.voice = None;
        return Err(PhonemizeError::NoVoice(lang));
    }
    engine.voice = Some(lang);
    Ok(())
}

/// Runs `espeak_TextToPhonemes` over the whole of `text`, one clause per
/// call, and joins the clauses with spaces.
fn text_to_phonemes(text: &CStr) -> Result<String, PhonemizeError> {
    let mode = ffi::PHONEMES_IPA | ffi::PHONEMES_TIE | ((TIE as c_int) << 8);
    let mut ptr: *const c_void = text.as_ptr().cast();
    let start = ptr as usize;
    let end = start + text.to_bytes().len();
    let mut out = String::new();
    // Each call consumes at least one clause; the bound guards against a
    // library that would stop advancing.
    let mut budget = text.to_bytes().len() + 16;
    while !ptr.is_null() {
        if budget == 0 {
            return Err(PhonemizeError::Failed(
                "espeak_TextToPhonemes did not reach the end of the text".into(),
            ));
        }
        budget -= 1;
        // SAFETY: `ptr` points into `text`, a live NUL-terminated buffer;
        // espeak advances it within that buffer or sets it to null. The
        // returned string is owned by espeak and valid until the next call,
        // so it is copied at once.
        let res = unsafe { ffi::espeak_TextToPhonemes(&mut ptr, ffi::CHARS_UTF8, mode) };
        if !ptr.is_null() {
            let p = ptr as usize;
            if p < start || p > end {
                return Err(PhonemizeError::Failed(
                    "espeak_TextToPhonemes moved outside the input".into(),
                ));
            }
        }
        if res.is_null() {
            continue;
        }
        let clause = unsafe { CStr::from_ptr(res as *const c_char) }.to_string_lossy();
        for word in clause.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    Ok(out)
}

impl Phonemizer for EspeakPhonemizer {
    fn phonemize(&self, text: &str, lang: Language) -> Result<String, PhonemizeError> {
        // NUL would end the C string early; other control characters are
        // read by espeak as clause breaks at worst.
        let cleaned: String = text
            .chars()
            .map(|c| if c == '\0' { ' ' } else { c })
            .collect();
        if cleaned.trim().is_empty() {
            return Ok(String::new());
        }
        let mut engine = lock();
        if !engine.initialized {
            return Err(PhonemizeError::Unavailable(
                "espeak-ng is not initialized".into(),
            ));
        }
        select_voice(&mut engine, lang)?;
        let mut out = String::new();
        for piece in split_at_char_boundary(&cleaned, MAX_INPUT_BYTES) {
            let c = CString::new(piece)
                .map_err(|_| PhonemizeError::Failed("NUL byte in text".into()))?;
            let ipa = text_to_phonemes(&c)?;
            if !ipa.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&ipa);
            }
        }
        Ok(out)
    }
}

/// Splits `s` into pieces of at most `max` bytes, preferring whitespace.
fn split_at_char_boundary(s: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(ws) = rest[..cut].rfind(char::is_whitespace) {
            if ws > 0 {
                cut = ws;
            }
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_char_boundaries() {
        let s = "ééé ééé";
        for max in 1..s.len() + 1 {
            let pieces = split_at_char_boundary(s, max.max(2));
            assert_eq!(pieces.concat(), s);
        }
    }
}
