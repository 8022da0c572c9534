//! The whole front end: text → sentences → phonemes → token chunks.

use crate::kokoro_ipa::{add_plural_s, english_word_context, espeak_to_kokoro};
use crate::lang::{Language, UnsupportedLanguage};
use crate::normalize;
use crate::phonemizer::{PhonemizeError, Phonemizer};
use crate::sentence::split_sentences;
use crate::vocab::{with_pads, KokoroVocab, UnknownSymbol, UnknownSymbols, MAX_TOKENS};

/// Largest input accepted by [`TextFrontEnd::prepare`], in bytes (1 MiB,
/// about two hours of speech). Longer input should be fed in pieces through
/// [`TextFrontEnd::split`] and [`TextFrontEnd::prepare_sentence`].
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// Errors from the front end.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The input is empty or whitespace only.
    #[error("the text is empty")]
    Empty,
    /// The input has no pronounceable content (only punctuation, symbols
    /// espeak-ng does not read, ...).
    #[error("the text has nothing to speak (only punctuation, whitespace or unreadable symbols)")]
    NothingToSpeak,
    /// The input exceeds [`MAX_TEXT_BYTES`].
    #[error("the text is {bytes} bytes; the limit is {max} bytes: split it into smaller pieces")]
    TooLong {
        /// Size of the input.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The language code is not supported.
    #[error(transparent)]
    Language(#[from] UnsupportedLanguage),
    /// The phonemizer failed.
    #[error(transparent)]
    Phonemize(#[from] PhonemizeError),
    /// Strict mode: phonemes contain symbols missing from the vocabulary.
    #[error("in sentence {sentence:?}: {source}")]
    UnknownSymbols {
        /// The sentence whose phonemes had unknown symbols.
        sentence: String,
        /// The symbols and where they are in the phoneme string.
        source: UnknownSymbols,
    },
}

/// One model call's worth of input: at most [`MAX_TOKENS`] tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    /// The source text: the original sentence, or, when a sentence was too
    /// long for one call and was split, the normalized text of this part.
    pub text: String,
    /// The phonemes in Kokoro notation, one character per token.
    pub phonemes: String,
    /// Token ids, without the pads (see [`Utterance::padded_ids`]).
    pub ids: Vec<u32>,
    /// Phoneme symbols missing from the vocabulary, left out of `ids`
    /// (always empty in strict mode, which errors instead).
    pub unknown: Vec<UnknownSymbol>,
    /// Whether this utterance ends its sentence (streaming players insert
    /// a sentence pause after it).
    pub ends_sentence: bool,
}

impl Utterance {
    /// The ids with Kokoro's pad (0) at both ends: the model's input.
    pub fn padded_ids(&self) -> Vec<u32> {
        with_pads(&self.ids)
    }
}

/// Options for [`TextFrontEnd`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FrontEndOptions {
    /// Fail with [`TextError::UnknownSymbols`] when a phoneme has no token,
    /// instead of leaving it out and listing it in [`Utterance::unknown`].
    pub strict: bool,
    /// English only: phonemize whole clauses with espeak instead of word by
    /// word. Word by word (the default) is how misaki, Kokoro's English G2P,
    /// works; espeak's clause mode merges words ("for the" → fɚðə) and
    /// reduces function words differently from Kokoro's training data.
    pub english_clause_mode: bool,
}

/// Text → Kokoro token ids, with a pluggable phonemizer.
pub struct TextFrontEnd<P> {
    phonemizer: P,
    vocab: KokoroVocab,
    options: FrontEndOptions,
}

/// Punctuation Kokoro has tokens for, and how it is written around words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Punct {
    /// Attaches to the previous word: , . ; : ! ? … — ) ” and closing "
    Close(char),
    /// Attaches to the next word: ( “ and opening "
    Open(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Words(String),
    Punct(Punct),
}

/// Maps a character to Kokoro punctuation. `None` for anything else.
/// `quote_open` tracks straight double quotes, which open and close.
fn punct_of(c: char, quote_open: &mut bool) -> Option<Option<Punct>> {
    use Punct::*;
    Some(Some(match c {
        ',' | '，' | '、' => Close(','),
        '.' | '。' | '।' | '॥' => Close('.'),
        ';' | '；' => Close(';'),
        ':' | '：' => Close(':'),
        '!' | '！' => Close('!'),
        '?' | '？' => Close('?'),
        '…' => Close('…'),
        '—' | '―' => Close('—'),
        ')' | ']' | '}' => Close(')'),
        '(' | '[' | '{' => Open('('),
        '“' | '«' | '„' => Open('“'),
        '”' | '»' => Close('”'),
        '"' => {
            *quote_open = !*quote_open;
            if *quote_open {
                Open('"')
            } else {
                Close('"')
            }
        }
        // Spanish opening marks: Kokoro has no token for them; the closing
        // mark carries the intonation.
        '¡' | '¿' => return Some(None),
        _ => return None,
    }))
}

/// Splits normalized text into word runs and Kokoro punctuation.
fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut words = String::new();
    let mut quote_open = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let flush = |words: &mut String, out: &mut Vec<Piece>| {
        let w = words.trim();
        if !w.is_empty() {
            out.push(Piece::Words(w.to_string()));
        }
        words.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        // "..." is one ellipsis; "--" and a free-standing "-" or "–" a dash.
        if c == '.' && chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
            flush(&mut words, &mut out);
            out.push(Piece::Punct(Punct::Close('…')));
            i += 3;
            while chars.get(i) == Some(&'.') {
                i += 1;
            }
            continue;
        }
        let free = |j: usize| j == 0 || chars[j - 1] == ' ';
        let free_after = |j: usize| chars.get(j + 1).is_none_or(|c| *c == ' ');
        if (c == '-' && chars.get(i + 1) == Some(&'-'))
            || ((c == '-' || c == '–') && free(i) && free_after(i))
        {
            flush(&mut words, &mut out);
            out.push(Piece::Punct(Punct::Close('—')));
            while chars.get(i) == Some(&'-') || chars.get(i) == Some(&'–') {
                i += 1;
            }
            continue;
        }
        // A period between digits or letters ("3.5" outside English,
        // "example.com") belongs to the word.
        if c == '.'
            && i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
        {
            words.push(c);
            i += 1;
            continue;
        }
        // Likewise a comma inside a number ("3,5" in Spanish).
        if c == ','
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
        {
            words.push(c);
            i += 1;
            continue;
        }
        match punct_of(c, &mut quote_open) {
            Some(p) => {
                flush(&mut words, &mut out);
                if let Some(p) = p {
                    out.push(Piece::Punct(p));
                }
            }
            None => words.push(c),
        }
        i += 1;
    }
    flush(&mut words, &mut out);
    out
}

/// A clause: phonemes up to and including a clause-ending punctuation mark,
/// with the text it came from.
#[derive(Debug, Clone)]
struct Clause {
    text: String,
    phonemes: String,
}

impl<P: Phonemizer> TextFrontEnd<P> {
    /// A front end over `phonemizer` with Kokoro's `vocab`.
    pub fn new(phonemizer: P, vocab: KokoroVocab) -> Self {
        Self::with_options(phonemizer, vocab, FrontEndOptions::default())
    }

    /// Same, with options.
    pub fn with_options(phonemizer: P, vocab: KokoroVocab, options: FrontEndOptions) -> Self {
        Self {
            phonemizer,
            vocab,
            options,
        }
    }

    /// The vocabulary in use.
    pub fn vocab(&self) -> &KokoroVocab {
        &self.vocab
    }

    /// Checks the input size and splits it into sentences (original text,
    /// trimmed). For streaming: call [`prepare_sentence`](Self::prepare_sentence)
    /// on each in turn.
    pub fn split(&self, text: &str) -> Result<Vec<String>, TextError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(TextError::TooLong {
                bytes: text.len(),
                max: MAX_TEXT_BYTES,
            });
        }
        if text.trim().is_empty() {
            return Err(TextError::Empty);
        }
        Ok(split_sentences(text)
            .into_iter()
            .map(str::to_string)
            .collect())
    }

    /// The whole pipeline: every utterance of `text`, in order, each within
    /// the model's token limit.
    pub fn prepare(&self, text: &str, lang: Language) -> Result<Vec<Utterance>, TextError> {
        let mut out = Vec::new();
        for sentence in self.split(text)? {
            out.extend(self.prepare_sentence(&sentence, lang)?);
        }
        if out.is_empty() {
            return Err(TextError::NothingToSpeak);
        }
        Ok(out)
    }

    /// Like [`prepare`](Self::prepare) with a language code such as `"en-us"`.
    pub fn prepare_code(&self, text: &str, lang: &str) -> Result<Vec<Utterance>, TextError> {
        let lang: Language = lang.parse()?;
        self.prepare(text, lang)
    }

    /// One sentence → its utterances (usually one; several when it exceeds
    /// [`MAX_TOKENS`]; none when it has nothing to speak).
    pub fn prepare_sentence(&self, sentence: &str, lang: Language) -> Result<Vec<Utterance>, TextError> {
        let normalized = normalize::normalize(sentence, lang);
        let clauses = self.clauses(&normalized, lang)?;
        if clauses.iter().all(|c| !has_speech(&c.phonemes)) {
            return Ok(Vec::new());
        }
        let total: usize = clauses.iter().map(|c| c.phonemes.chars().count() + 1).sum();
        let parts: Vec<(String, String)> = if total <= MAX_TOKENS + 1 {
            let phonemes = join_clauses(clauses.iter().map(|c| c.phonemes.as_str()));
            vec![(sentence.trim().to_string(), phonemes)]
        } else {
            chunk_clauses(&clauses)
        };
        let n = parts.len();
        let mut out = Vec::with_capacity(n);
        for (k, (text, phonemes)) in parts.into_iter().enumerate() {
            if !has_speech(&phonemes) {
                continue;
            }
            let tok = self.vocab.tokenize(&phonemes);
            if self.options.strict && !tok.unknown.is_empty() {
                return Err(TextError::UnknownSymbols {
                    sentence: sentence.to_string(),
                    source: UnknownSymbols(tok.unknown),
                });
            }
            out.push(Utterance {
                text,
                phonemes,
                ids: tok.ids,
                unknown: tok.unknown,
                ends_sentence: k + 1 == n,
            });
        }
        if let Some(last) = out.last_mut() {
            last.ends_sentence = true;
        }
        Ok(out)
    }

    /// Phonemes of a run of words (no punctuation), in Kokoro notation.
    fn phonemize_run(&self, run: &str, lang: Language) -> Result<String, TextError> {
        if !lang.is_english() || self.options.english_clause_mode {
            let raw = self.phonemizer.phonemize(run, lang)?;
            let ph = espeak_to_kokoro(&raw, lang);
            return Ok(ph.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        let words: Vec<&str> = run.split_whitespace().collect();
        let mut phonemes = Vec::with_capacity(words.len());
        for w in &words {
            // espeak drops the s of plural acronyms ("GPUs" → GPU).
            let acronym_stem = w
                .strip_suffix("'s")
                .or_else(|| w.strip_suffix('s'))
                .filter(|stem| stem.len() >= 2 && stem.chars().all(|c| c.is_ascii_uppercase()));
            let raw = self.phonemizer.phonemize(acronym_stem.unwrap_or(w), lang)?;
            let mut ph = espeak_to_kokoro(&raw, lang)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if acronym_stem.is_some() && !ph.is_empty() {
                ph = add_plural_s(&ph, lang);
            }
            phonemes.push(ph);
        }
        english_word_context(&words, &mut phonemes);
        Ok(phonemes
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Phonemizes each word run and re-attaches punctuation, grouping the
    /// result into clauses that end at , ; : — … or sentence punctuation.
    fn clauses(&self, normalized: &str, lang: Language) -> Result<Vec<Clause>, TextError> {
        let mut clauses = Vec::new();
        let mut cur = Clause {
            text: String::new(),
            phonemes: String::new(),
        };
        let mut pending_open: Option<char> = None;
        for piece in pieces(normalized) {
            match piece {
                Piece::Words(w) => {
                    let ph = self.phonemize_run(&w, lang)?;
                    push_word_text(&mut cur.text, &w);
                    if ph.is_empty() {
                        continue;
                    }
                    if !cur.phonemes.is_empty() {
                        cur.phonemes.push(' ');
                    }
                    // An opening bracket or quote sticks to its first word.
                    if let Some(o) = pending_open.take() {
                        cur.phonemes.push(o);
                    }
                    cur.phonemes.push_str(&ph);
                }
                Piece::Punct(Punct::Open(c)) => {
                    push_word_text(&mut cur.text, &c.to_string());
                    pending_open = Some(c);
                }
                Piece::Punct(Punct::Close(c)) => {
                    cur.text.push(c);
                    // Punctuation with nothing before it in the clause (a
                    // sentence that starts with "…") carries no prosody.
                    if has_speech(&cur.phonemes) {
                        // A dash stands between words ("wait — then");
                        // the other marks attach to the word before.
                        if c == '—' {
                            cur.phonemes.push(' ');
                        }
                        cur.phonemes.push(c);
                    }
                    if matches!(c, ',' | ';' | ':' | '—' | '…' | '.' | '!' | '?') {
                        clauses.push(std::mem::replace(
                            &mut cur,
                            Clause {
                                text: String::new(),
                                phonemes: String::new(),
                            },
                        ));
                    }
                }
            }
        }
        if !cur.phonemes.is_empty() || !cur.text.is_empty() {
            clauses.push(cur);
        }
        Ok(clauses.into_iter().filter(|c| !c.phonemes.is_empty()).collect())
    }
}

fn push_word_text(text: &mut String, w: &str) {
    if !text.is_empty() && !text.ends_with(['(', '“', '"']) {
        text.push(' ');
    }
    text.push_str(w);
}

/// Whether a phoneme string has anything but punctuation and spaces.
fn has_speech(phonemes: &str) -> bool {
    phonemes.chars().any(|c| {
        !c.is_whitespace() && !matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | '…' | '—' | '"' | '(' | ')' | '“' | '”')
    })
}

fn join_clauses<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::new();
    for p in parts {
        if p.is_empty() {
            continue;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(p);
    }
    s
}

/// Packs clauses greedily into parts of at most [`MAX_TOKENS`] symbols; a
/// clause too long by itself is cut at word boundaries, and a word too long
/// by itself at character boundaries.
fn chunk_clauses(clauses: &[Clause]) -> Vec<(String, String)> {
    let mut units: Vec<(String, String)> = Vec::new();
    for c in clauses {
        if c.phonemes.chars().count() <= MAX_TOKENS {
            units.push((c.text.clone(), c.phonemes.clone()));
        } else {
            units.extend(split_long_clause(c));
        }
    }
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut text = String::new();
    let mut ph = String::new();
    let mut len = 0usize;
    for (t, p) in units {
        let plen = p.chars().count();
        let extra = if ph.is_empty() { plen } else { plen + 1 };
        if len + extra > MAX_TOKENS && !ph.is_empty() {
            parts.push((std::mem::take(&mut text), std::mem::take(&mut ph)));
        }
        if !ph.is_empty() {
            ph.push(' ');
            text.push(' ');
        }
        ph.push_str(&p);
        text.push_str(&t);
        len = ph.chars().count();
    }
    if !ph.is_empty() {
        parts.push((text, ph));
    }
    parts
}

/// Cuts one over-long clause at spaces. Phoneme words and text words do not
/// align one to one (one written number is many spoken words), so every
/// piece carries the whole clause text, marked with its part number.
fn split_long_clause(c: &Clause) -> Vec<(String, String)> {
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0usize;
    for word in c.phonemes.split(' ') {
        let wlen = word.chars().count();
        if wlen > MAX_TOKENS {
            if !cur.is_empty() {
                pieces.push(std::mem::take(&mut cur));
                cur_len = 0;
            }
            let chars: Vec<char> = word.chars().collect();
            for chunk in chars.chunks(MAX_TOKENS) {
                pieces.push(chunk.iter().collect());
            }
            continue;
        }
        let extra = if cur.is_empty() { wlen } else { wlen + 1 };
        if cur_len + extra > MAX_TOKENS {
            pieces.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if !cur.is_empty() {
            cur.push(' ');
            cur_len += 1;
        }
        cur.push_str(word);
        cur_len += wlen;
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    let n = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("{} [part {}/{}]", c.text, i + 1, n), p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_keep_decimals_and_split_punctuation() {
        let p = pieces("Hola, ¿qué tal? Tengo 3,5 euros... (sí)");
        assert_eq!(
            p,
            vec![
                Piece::Words("Hola".into()),
                Piece::Punct(Punct::Close(',')),
                Piece::Words("qué tal".into()),
                Piece::Punct(Punct::Close('?')),
                Piece::Words("Tengo 3,5 euros".into()),
                Piece::Punct(Punct::Close('…')),
                Piece::Punct(Punct::Open('(')),
                Piece::Words("sí".into()),
                Piece::Punct(Punct::Close(')')),
            ]
        );
    }
}
