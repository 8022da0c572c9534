//! Whisper's token vocabulary and byte-level BPE decoding (ids → text).
//!
//! Tokens are stored GPT-2 style: every byte is written as a printable
//! character (`Ġ` for a space, ...). Decoding maps each character back to
//! its byte and reads the bytes as UTF-8. Encoding text is not needed to
//! transcribe and is not provided.

use std::collections::HashMap;

/// Errors reading a vocabulary.
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// The vocabulary is empty.
    #[error("the vocabulary is empty")]
    Empty,
    /// A special token the decoder needs is missing.
    #[error("the vocabulary lacks the special token {0}")]
    MissingSpecial(&'static str),
}

/// GPT-2's printable stand-ins for bytes: printable Latin-1 bytes stand for
/// themselves, the others are shifted to U+0100 and up, in byte order.
fn byte_for_char() -> HashMap<char, u8> {
    let mut map = HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for b in 0u32..256 {
        let printable = (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        let c = if printable {
            b
        } else {
            shifted += 1;
            255 + shifted
        };
        if let Some(c) = char::from_u32(c) {
            map.insert(c, b as u8);
        }
    }
    map
}

/// Ids of the special tokens decoding uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `<|endoftext|>`: end of a transcript; every id from here up is special.
    pub eot: u32,
    /// `<|startoftranscript|>`.
    pub sot: u32,
    /// `<|translate|>`.
    pub translate: u32,
    /// `<|transcribe|>`.
    pub transcribe: u32,
    /// `<|startoflm|>`.
    pub sot_lm: u32,
    /// `<|startofprev|>`.
    pub sot_prev: u32,
    /// `<|nocaptions|>` (called `<|nospeech|>` in newer vocabularies).
    pub no_speech: u32,
    /// `<|notimestamps|>`.
    pub no_timestamps: u32,
}

/// The vocabulary: token strings by id.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    tokens: Vec<String>,
    index: HashMap<String, u32>,
    bytes: HashMap<char, u8>,
    special: SpecialTokens,
}

impl Vocabulary {
    /// Reads CTranslate2's `vocabulary.txt`: one token per line, line n is id n.
    pub fn from_lines(text: &str) -> Result<Self, VocabError> {
        let tokens: Vec<String> = text.lines().map(str::to_string).collect();
        if tokens.is_empty() {
            return Err(VocabError::Empty);
        }
        let index: HashMap<String, u32> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let id = |names: &[&'static str]| -> Result<u32, VocabError> {
            names.iter().find_map(|n| index.get(*n).copied()).ok_or(VocabError::MissingSpecial(names[0]))
        };
        let special = SpecialTokens {
            eot: id(&["<|endoftext|>"])?,
            sot: id(&["<|startoftranscript|>"])?,
            translate: id(&["<|translate|>"])?,
            transcribe: id(&["<|transcribe|>"])?,
            sot_lm: id(&["<|startoflm|>"])?,
            sot_prev: id(&["<|startofprev|>"])?,
            no_speech: id(&["<|nocaptions|>", "<|nospeech|>"])?,
            no_timestamps: id(&["<|notimestamps|>"])?,
        };
        Ok(Self { tokens, index, bytes: byte_for_char(), special })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True for an empty vocabulary (never, once constructed).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The special tokens.
    pub fn special(&self) -> SpecialTokens {
        self.special
    }

    /// The id of a token string.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    /// The text of `ids`, leaving out special tokens (ids ≥ end-of-text) and
    /// unknown ids. Invalid UTF-8 (a character split across a window end)
    /// becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            if id >= self.special.eot {
                continue;
            }
            let Some(tok) = self.tokens.get(id as usize) else { continue };
            for c in tok.chars() {
                match self.bytes.get(&c) {
                    Some(b) => bytes.push(*b),
                    None => {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        let mut lines: Vec<String> = vec!["Hello".into(), "Ġworld".into(), "!".into(), "Ġcaf".into(), "Ã©".into()];
        for s in [
            "<|endoftext|>",
            "<|startoftranscript|>",
            "<|translate|>",
            "<|transcribe|>",
            "<|startoflm|>",
            "<|startofprev|>",
            "<|nocaptions|>",
            "<|notimestamps|>",
            "<|0.00|>",
        ] {
            lines.push(s.into());
        }
        Vocabulary::from_lines(&lines.join("\n")).expect("vocabulary")
    }

    #[test]
    fn decodes_byte_level_tokens() {
        let v = vocab();
        assert_eq!(v.decode(&[0, 1, 2]), "Hello world!");
        assert_eq!(v.decode(&[3, 4]), " café", "two-byte UTF-8 spread over GPT-2 characters");
    }

    #[test]
    fn skips_special_and_unknown_ids() {
        let v = vocab();
        let s = v.special();
        assert_eq!((s.eot, s.no_timestamps), (5, 12));
        assert_eq!(v.decode(&[s.sot, 0, s.eot, 13, 999]), "Hello");
    }

    #[test]
    fn missing_special_token_is_an_error() {
        assert!(matches!(Vocabulary::from_lines("a\nb"), Err(VocabError::MissingSpecial("<|endoftext|>"))));
        assert!(matches!(Vocabulary::from_lines(""), Err(VocabError::Empty)));
    }

    #[test]
    fn byte_table_covers_all_bytes_once() {
        let m = byte_for_char();
        assert_eq!(m.len(), 256);
        assert_eq!(m.get(&'Ġ'), Some(&b' '));
        assert_eq!(m.get(&'Ċ'), Some(&b'\n'));
    }
}
