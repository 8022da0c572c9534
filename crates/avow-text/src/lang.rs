//! Languages the front end can speak, and how their codes are spelled.

use std::fmt;
use std::str::FromStr;

/// A language Kokoro-82M was trained on and that espeak-ng phonemizes well
/// enough for it.
///
/// Japanese and Mandarin are Kokoro languages too, but espeak-ng reads kanji
/// and hanzi as "Chinese letter" (Kokoro used pyopenjtalk / its own Chinese
/// G2P for them), so they are refused with [`UnsupportedLanguage`] instead of
/// producing wrong speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// American English (`en-us`).
    EnUs,
    /// British English (`en-gb`).
    EnGb,
    /// Spanish (`es`).
    Es,
    /// French (`fr`, `fr-fr`).
    Fr,
    /// Italian (`it`).
    It,
    /// Brazilian Portuguese (`pt-br`).
    PtBr,
    /// Hindi (`hi`).
    Hi,
}

impl Language {
    /// Every supported language, in the order they are listed to users.
    pub const ALL: [Language; 7] = [
        Language::EnUs,
        Language::EnGb,
        Language::Es,
        Language::Fr,
        Language::It,
        Language::PtBr,
        Language::Hi,
    ];

    /// The canonical code, as accepted by `--lang`.
    pub fn code(self) -> &'static str {
        match self {
            Language::EnUs => "en-us",
            Language::EnGb => "en-gb",
            Language::Es => "es",
            Language::Fr => "fr",
            Language::It => "it",
            Language::PtBr => "pt-br",
            Language::Hi => "hi",
        }
    }

    /// The espeak-ng voice that Kokoro's training data was phonemized with.
    pub fn espeak_voice(self) -> &'static str {
        match self {
            Language::EnUs => "en-us",
            Language::EnGb => "en-gb",
            Language::Es => "es",
            Language::Fr => "fr-fr",
            Language::It => "it",
            Language::PtBr => "pt-br",
            Language::Hi => "hi",
        }
    }

    /// Kokoro's one-letter language code (its `KPipeline(lang_code=...)`).
    pub fn kokoro_code(self) -> char {
        match self {
            Language::EnUs => 'a',
            Language::EnGb => 'b',
            Language::Es => 'e',
            Language::Fr => 'f',
            Language::It => 'i',
            Language::PtBr => 'p',
            Language::Hi => 'h',
        }
    }

    /// Whether our own English normalization (numbers, dates, abbreviations)
    /// applies; the other languages rely on espeak-ng's number reading.
    pub fn is_english(self) -> bool {
        matches!(self, Language::EnUs | Language::EnGb)
    }

    /// The supported codes joined for error messages.
    pub fn supported_codes() -> String {
        Language::ALL
            .iter()
            .map(|l| l.code())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that is not (or not yet) supported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported language '{code}'{reason}; supported: {supported}", reason = reason_suffix(.reason), supported = Language::supported_codes())]
pub struct UnsupportedLanguage {
    /// The code as the user gave it.
    pub code: String,
    /// Why a known-but-refused language is refused (empty for unknown codes).
    pub reason: &'static str,
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    }
}

impl FromStr for Language {
    type Err = UnsupportedLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept `en_US`, `EN-us`, ... : users copy locale names from many places.
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let lang = match norm.as_str() {
            "en-us" | "en" | "a" => Language::EnUs,
            "en-gb" | "en-uk" | "b" => Language::EnGb,
            "es" | "es-es" | "e" => Language::Es,
            "fr" | "fr-fr" | "f" => Language::Fr,
            "it" | "it-it" | "i" => Language::It,
            "pt-br" | "pt" | "p" => Language::PtBr,
            "hi" | "hi-in" | "h" => Language::Hi,
            "ja" | "ja-jp" | "j" => {
                return Err(UnsupportedLanguage {
                    code: s.to_string(),
                    reason: "espeak-ng reads kanji as 'Chinese letter'; Kokoro's Japanese needs a pyopenjtalk-style G2P",
                })
            }
            "zh" | "cmn" | "z" => {
                return Err(UnsupportedLanguage {
                    code: s.to_string(),
                    reason: "Kokoro's Mandarin uses its own pinyin-based G2P, not espeak-ng",
                })
            }
            _ => {
                return Err(UnsupportedLanguage {
                    code: s.to_string(),
                    reason: "",
                })
            }
        };
        Ok(lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in Language::ALL {
            assert_eq!(l.code().parse::<Language>(), Ok(l));
        }
        assert_eq!("en_US".parse::<Language>(), Ok(Language::EnUs));
        assert_eq!("fr-fr".parse::<Language>(), Ok(Language::Fr));
    }

    #[test]
    fn refusals_list_supported_codes() {
        let e = "ja".parse::<Language>().unwrap_err().to_string();
        assert!(e.contains("unsupported language 'ja'"), "{e}");
        assert!(e.contains("en-us, en-gb, es, fr, it, pt-br, hi"), "{e}");
        let e = "xx".parse::<Language>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unsupported language 'xx'; supported: en-us, en-gb, es, fr, it, pt-br, hi"
        );
    }
}
