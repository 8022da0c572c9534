//! The consent statement (the DSSE payload of a record) and the revocation
//! statement, with their validation rules. See `consent/FORMAT.md`.

use serde::{Deserialize, Serialize};

use crate::dsse::clip;
use crate::keys::{KeyId, PublicKey};
use crate::time::Timestamp;
use crate::ConsentError;

/// `format` value of the only consent statement version this build reads.
pub const CONSENT_FORMAT: &str = "avow.consent/1";
/// `format` value of the only revocation statement version this build reads.
pub const REVOCATION_FORMAT: &str = "avow.revocation/1";

/// What a voice may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Augmentative and alternative communication: speaking for its owner.
    Aac,
    /// Screen readers and other accessibility tools.
    Accessibility,
    /// Voicing translated or replaced dialogue.
    Dubbing,
    /// Reading texts aloud (audiobooks, articles).
    Narration,
    /// Research and evaluation.
    Research,
}

impl Purpose {
    /// Every purpose, in spec order.
    pub const ALL: [Purpose; 5] = [Purpose::Aac, Purpose::Accessibility, Purpose::Dubbing, Purpose::Narration, Purpose::Research];

    /// The spelling used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Aac => "aac",
            Purpose::Accessibility => "accessibility",
            Purpose::Dubbing => "dubbing",
            Purpose::Narration => "narration",
            Purpose::Research => "research",
        }
    }

    /// Parses the record spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The person whose voice it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Display name.
    pub name: String,
    /// The subject's own public key (standard base64 of 32 bytes). When
    /// present, the subject's signature is required for the record to verify.
    pub public_key: Option<String>,
}

/// The voice pack a record covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicePackRef {
    /// Lowercase hex sha256 of the exact pack file bytes.
    pub sha256: String,
    /// The pack's voice name (informational).
    pub name: String,
}

/// A file named by hash in the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHash {
    /// File name as given when drafting (informational).
    pub name: String,
    /// Lowercase hex sha256 of the file's bytes.
    pub sha256: String,
}

/// What the consent rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The reference recordings the voice was made from.
    pub reference_recordings: Vec<FileHash>,
    /// The recording of the subject speaking the consent statement (absent
    /// only for voices with no human subject, such as the stock voices).
    pub consent_recording: Option<FileHash>,
    /// The consent statement text, as spoken or agreed.
    pub statement_text: String,
}

/// A consent statement: the payload of a consent record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentStatement {
    /// Always [`CONSENT_FORMAT`].
    pub format: String,
    /// Record id: 1–128 characters from `A–Z a–z 0–9 . _ : -`.
    pub record_id: String,
    /// Whose voice.
    pub subject: Subject,
    /// Which exact voice pack.
    pub voice_pack: VoicePackRef,
    /// Who may use it: `anyone` (any holder of the record) or `key:<keyid>`.
    pub grantee: String,
    /// Allowed purposes (see [`Purpose`]) or `*` for all.
    pub purposes: Vec<String>,
    /// Allowed languages as BCP-47 language ranges, or `*` for all.
    pub languages: Vec<String>,
    /// Start of validity (inclusive).
    pub not_before: String,
    /// End of validity (exclusive).
    pub not_after: String,
    /// When the statement was drafted.
    pub issued_at: String,
    /// Evidence of consent.
    pub evidence: Evidence,
    /// The 32-bit watermark payload outputs will carry, as 8 lowercase hex digits.
    pub watermark_fingerprint: String,
}

/// A revocation statement: the payload of a revocation envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationStatement {
    /// Always [`REVOCATION_FORMAT`].
    pub format: String,
    /// The revoked record's id.
    pub record_id: String,
    /// When it was revoked.
    pub revoked_at: String,
    /// Why (free text, may be empty).
    pub reason: String,
}

/// Who a record grants use to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// Anyone holding the record.
    Anyone,
    /// Only the holder of this key.
    Key(KeyId),
}

impl Grantee {
    /// Parses the record spelling.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "anyone" {
            return Some(Grantee::Anyone);
        }
        s.strip_prefix("key:").and_then(KeyId::parse).map(Grantee::Key)
    }
}

impl std::fmt::Display for Grantee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grantee::Anyone => f.write_str("anyone"),
            Grantee::Key(k) => write!(f, "key:{k}"),
        }
    }
}

// Limits that keep a hostile (but signed-looking) statement small.
const MAX_NAME: usize = 256;
const MAX_STATEMENT_TEXT: usize = 8192;
const MAX_LIST: usize = 64;
const MAX_RECORDINGS: usize = 256;

fn bad(msg: String) -> ConsentError {
    ConsentError::Malformed(msg)
}

/// Checks a record id's spelling.
pub fn valid_record_id(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(&c))
}

fn valid_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

fn check_text(field: &str, s: &str, max: usize, allow_newlines: bool) -> Result<(), ConsentError> {
    if s.chars().count() > max {
        return Err(bad(format!("{field} is longer than {max} characters")));
    }
    if s.chars().any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t'))) {
        return Err(bad(format!("{field} holds control characters")));
    }
    Ok(())
}

/// Checks a BCP-47 language tag or range spelling: subtags of 1–8 ASCII
/// letters or digits joined by `-`, the first 2–3 letters (or `*` alone).
pub fn valid_language(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    (2..=3).contains(&first.len())
        && first.bytes().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphanumeric()))
        && s.len() <= 64
}

/// RFC 4647 basic filtering: does language range `range` cover tag `tag`?
/// `ja` covers `ja` and `ja-JP`, not `jam`; `*` covers everything; case-insensitive.
pub fn language_matches(range: &str, tag: &str) -> bool {
    if range == "*" {
        return true;
    }
    let (r, t) = (range.to_ascii_lowercase(), tag.to_ascii_lowercase());
    t == r || (t.starts_with(&r) && t.as_bytes().get(r.len()) == Some(&b'-'))
}

fn parse_time(field: &str, s: &str) -> Result<Timestamp, ConsentError> {
    Timestamp::parse(s).ok_or_else(|| bad(format!("{field} `{}` is not YYYY-MM-DDTHH:MM:SSZ", clip(s))))
}

impl ConsentStatement {
    /// Parses payload bytes: the version is checked first (so an unknown
    /// version is reported as such), then every field strictly.
    pub fn parse(payload: &[u8]) -> Result<Self, ConsentError> {
        check_version(payload, CONSENT_FORMAT)?;
        let st: ConsentStatement =
            serde_json::from_slice(payload).map_err(|e| bad(format!("consent statement: {e}")))?;
        st.validate()?;
        Ok(st)
    }

    /// Applies every rule of the format that needs no keys or clock.
    pub fn validate(&self) -> Result<(), ConsentError> {
        if self.format != CONSENT_FORMAT {
            return Err(ConsentError::UnsupportedVersion(clip(&self.format)));
        }
        if !valid_record_id(&self.record_id) {
            return Err(bad(format!("record_id `{}` must be 1-128 of A-Z a-z 0-9 . _ : -", clip(&self.record_id))));
        }
        if self.subject.name.trim().is_empty() {
            return Err(bad("subject.name is empty".into()));
        }
        check_text("subject.name", &self.subject.name, MAX_NAME, false)?;
        if let Some(k) = &self.subject.public_key {
            PublicKey::from_base64(k).map_err(|e| bad(format!("subject.public_key: {e}")))?;
        }
        if !valid_sha256(&self.voice_pack.sha256) {
            return Err(bad("voice_pack.sha256 is not 64 lowercase hex digits".into()));
        }
        check_text("voice_pack.name", &self.voice_pack.name, MAX_NAME, false)?;
        if Grantee::parse(&self.grantee).is_none() {
            return Err(bad(format!("grantee `{}` is neither `anyone` nor `key:<16 hex digits>`", clip(&self.grantee))));
        }
        check_list("purposes", &self.purposes, |p| p == "*" || Purpose::parse(p).is_some())?;
        check_list("languages", &self.languages, valid_language)?;
        let nb = parse_time("not_before", &self.not_before)?;
        let na = parse_time("not_after", &self.not_after)?;
        parse_time("issued_at", &self.issued_at)?;
        if nb >= na {
            return Err(bad("not_before is not earlier than not_after".into()));
        }
        let ev = &self.evidence;
        if ev.reference_recordings.len() > MAX_RECORDINGS {
            return Err(bad(format!("more than {MAX_RECORDINGS} reference recordings")));
        }
        for f in ev.reference_recordings.iter().chain(ev.consent_recording.iter()) {
            check_text("evidence file name", &f.name, MAX_NAME, false)?;
            if !valid_sha256(&f.sha256) {
                return Err(bad(format!("evidence `{}`: sha256 is not 64 lowercase hex digits", clip(&f.name))));
            }
        }
        if ev.statement_text.trim().is_empty() {
            return Err(bad("evidence.statement_text is empty".into()));
        }
        check_text("evidence.statement_text", &ev.statement_text, MAX_STATEMENT_TEXT, true)?;
        if self.watermark_fingerprint.len() != 8
            || !self.watermark_fingerprint.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(bad("watermark_fingerprint is not 8 lowercase hex digits".into()));
        }
        Ok(())
    }

    /// Validity window start (valid after [`validate`](Self::validate)).
    pub fn not_before_time(&self) -> Timestamp {
        Timestamp::parse(&self.not_before).unwrap_or(Timestamp(i64::MAX))
    }

    /// Validity window end, exclusive.
    pub fn not_after_time(&self) -> Timestamp {
        Timestamp::parse(&self.not_after).unwrap_or(Timestamp(i64::MIN))
    }

    /// The grantee, parsed.
    pub fn grantee_parsed(&self) -> Option<Grantee> {
        Grantee::parse(&self.grantee)
    }

    /// The subject's key, if the record names one.
    pub fn subject_key(&self) -> Option<PublicKey> {
        self.subject.public_key.as_deref().and_then(|k| PublicKey::from_base64(k).ok())
    }

    /// The watermark payload as a 32-bit number (big-endian reading of the hex).
    pub fn watermark_payload(&self) -> u32 {
        u32::from_str_radix(&self.watermark_fingerprint, 16).unwrap_or(0)
    }

    /// Whether `purpose` is granted.
    pub fn allows_purpose(&self, purpose: Purpose) -> bool {
        self.purposes.iter().any(|p| p == "*" || p == purpose.as_str())
    }

    /// Whether language tag `tag` is covered.
    pub fn allows_language(&self, tag: &str) -> bool {
        self.languages.iter().any(|r| language_matches(r, tag))
    }

    /// The statement as payload bytes (pretty JSON, final newline).
    pub fn to_payload(&self) -> Vec<u8> {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s.into_bytes()
    }
}

impl RevocationStatement {
    /// Parses and validates revocation payload bytes.
    pub fn parse(payload: &[u8]) -> Result<Self, ConsentError> {
        check_version(payload, REVOCATION_FORMAT)?;
        let st: RevocationStatement =
            serde_json::from_slice(payload).map_err(|e| bad(format!("revocation statement: {e}")))?;
        if !valid_record_id(&st.record_id) {
            return Err(bad(format!("revocation record_id `{}` is not a record id", clip(&st.record_id))));
        }
        parse_time("revoked_at", &st.revoked_at)?;
        check_text("reason", &st.reason, MAX_NAME * 4, false)?;
        Ok(st)
    }

    /// The statement as payload bytes.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s.into_bytes()
    }
}

fn check_list(field: &str, items: &[String], ok: impl Fn(&str) -> bool) -> Result<(), ConsentError> {
    if items.is_empty() || items.len() > MAX_LIST {
        return Err(bad(format!("{field} must list 1 to {MAX_LIST} entries")));
    }
    for (i, item) in items.iter().enumerate() {
        if !ok(item) {
            return Err(bad(format!("{field}: `{}` is not allowed", clip(item))));
        }
        if items[..i].contains(item) {
            return Err(bad(format!("{field}: `{}` is listed twice", clip(item))));
        }
    }
    Ok(())
}

/// Reads only `format` first so that a newer version (whose fields this build
/// does not know) is reported as unsupported rather than as malformed.
fn check_version(payload: &[u8], expected: &str) -> Result<(), ConsentError> {
    #[derive(Deserialize)]
    struct Probe {
        format: String,
    }
    let probe: Probe = serde_json::from_slice(payload).map_err(|e| bad(format!("statement: {e}")))?;
    if probe.format != expected {
        return Err(ConsentError::UnsupportedVersion(clip(&probe.format)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_ranges() {
        assert!(language_matches("ja", "ja"));
        assert!(language_matches("ja", "JA-jp"));
        assert!(!language_matches("ja", "jam"));
        assert!(!language_matches("ja-JP", "ja"));
        assert!(language_matches("*", "en-US"));
        assert!(valid_language("en-US") && valid_language("cmn-Hans-CN") && valid_language("*"));
        assert!(!valid_language("e") && !valid_language("en_US") && !valid_language("en-") && !valid_language("1a"));
    }

    #[test]
    fn grantee_spelling() {
        assert_eq!(Grantee::parse("anyone"), Some(Grantee::Anyone));
        assert!(matches!(Grantee::parse("key:0123456789abcdef"), Some(Grantee::Key(_))));
        assert_eq!(Grantee::parse("key:0123"), None);
        assert_eq!(Grantee::parse("everyone"), None);
    }
}
