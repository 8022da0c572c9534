//! Consent for avow: signed consent records, trust and revocation, the
//! verifier, and the audit ledger.
//!
//! A consent record is a JSON [`ConsentStatement`] inside a DSSE envelope
//! signed with ed25519 (`consent/FORMAT.md` specifies it byte for byte).
//! [`verify`] checks a record against a [`TrustStore`], a [`RevocationStore`],
//! a [`VerifyRequest`] (purpose, language, time) and the voice pack bytes, and
//! returns a [`VerifiedConsent`]: a value nothing else can construct, which
//! owns the exact pack bytes it hashed. The voice crate's `Voice` can only be
//! built from one, which makes "synthesize without consent" a type error.
//! The [`ledger`] module keeps the hash-chained, fsync'd audit log.
//!
//! How the engine uses it, per voice load and per synthesis:
//!
//! 1. `avow_voice::Voice::open(record, pack, &request, &trust, &revocations)`
//!    (stores from [`TrustStore::resolve`] / [`RevocationStore::resolve`]);
//!    refusals are [`ConsentError`]s with CLI exit codes.
//! 2. Synthesize with the `Voice`; watermark with
//!    `voice.consent().watermark_payload()`.
//! 3. [`ledger::Ledger::append`] a [`ledger::LedgerEntry::for_synthesis`]
//!    (it fsyncs), and only then hand the audio to the caller.
//!
//! This crate is not the speech model and does not depend on it; it does not
//! parse voice packs (the voice crate does, from the bytes handed over here),
//! and it does not decide policy beyond what a record states.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dsse;
pub mod keys;
pub mod ledger;
pub mod statement;
pub mod time;
mod verify;

pub use dsse::Envelope;
pub use keys::{KeyId, PublicKey, SecretKey};
pub use statement::{ConsentStatement, Evidence, FileHash, Grantee, Purpose, RevocationStatement, Subject, VoicePackRef};
pub use time::Timestamp;
pub use verify::{
    default_revocation_dir, parse_record, read_limited, user_config_dir, verify, verify_files, RevocationStore, TrustStore,
    VerifiedConsent, VerifyRequest, MAX_PACK_BYTES, REVOCATION_ENV, TRUST_ENV,
};

include!(concat!(env!("OUT_DIR"), "/builtin_keys.rs"));

/// Why a record (or a key, or a file) was refused. Each verification failure
/// kind has its own variant and its own [`exit_code`](Self::exit_code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// The envelope or statement does not parse, breaks a format rule, or is over a size limit.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// The statement's `format` is not one this build reads.
    #[error("unsupported record format `{0}` (this build reads avow.consent/1 and avow.revocation/1)")]
    UnsupportedVersion(String),
    /// A signature by a trusted key or by the subject's key does not verify.
    #[error("bad signature: the signature by key {0} does not match the record (tampered or corrupted)")]
    BadSignature(KeyId),
    /// No signature comes from a trusted issuer key.
    #[error("untrusted signer: no signature from a trusted issuer key (signed by: {})", list_ids(.0))]
    UntrustedSigner(Vec<KeyId>),
    /// The record names a subject key but the subject did not sign.
    #[error("missing subject signature: the record names subject key {0} but carries no signature by it")]
    MissingSubjectSignature(KeyId),
    /// The current time is before `not_before`.
    #[error("not yet valid: the record is valid from {not_before}; it is now {now}")]
    NotYetValid {
        /// Start of validity.
        not_before: String,
        /// The time checked.
        now: String,
    },
    /// The current time is at or after `not_after`.
    #[error("expired: the record was valid until {not_after}; it is now {now}")]
    Expired {
        /// End of validity.
        not_after: String,
        /// The time checked.
        now: String,
    },
    /// A valid revocation by the record's issuer or subject exists.
    #[error("revoked: record {record_id} was revoked by key {by} at {at}{}", if reason.is_empty() { String::new() } else { format!(" ({reason})") })]
    Revoked {
        /// The record id.
        record_id: String,
        /// Key that signed the revocation.
        by: KeyId,
        /// When.
        at: String,
        /// Why.
        reason: String,
    },
    /// The purpose, language or grantee asked for is not granted.
    #[error("out of scope: {0}")]
    OutOfScope(String),
    /// The voice pack's bytes do not hash to the recorded sha256.
    #[error("hash mismatch: the record covers voice pack sha256 {expected}, this pack is {actual}")]
    HashMismatch {
        /// sha256 in the record.
        expected: String,
        /// sha256 of the given bytes.
        actual: String,
    },
    /// A key file or key is unusable.
    #[error("bad key: {0}")]
    BadKey(String),
    /// The envelope already has a signature by this key.
    #[error("already signed by key {0}")]
    AlreadySigned(KeyId),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
}

fn list_ids(ids: &[KeyId]) -> String {
    if ids.is_empty() {
        "nobody".into()
    } else {
        ids.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl ConsentError {
    /// The `avow consent verify` exit code for this failure (see FORMAT.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            ConsentError::Malformed(_) => 10,
            ConsentError::UnsupportedVersion(_) => 11,
            ConsentError::BadSignature(_) => 12,
            ConsentError::UntrustedSigner(_) => 13,
            ConsentError::MissingSubjectSignature(_) => 14,
            ConsentError::NotYetValid { .. } => 15,
            ConsentError::Expired { .. } => 16,
            ConsentError::Revoked { .. } => 17,
            ConsentError::OutOfScope(_) => 18,
            ConsentError::HashMismatch { .. } => 19,
            ConsentError::BadKey(_) | ConsentError::AlreadySigned(_) | ConsentError::Io(_) => 1,
        }
    }

    /// The same error, with the file it came from named in the message.
    pub(crate) fn in_file(self, path: &std::path::Path) -> Self {
        let p = path.display();
        match self {
            ConsentError::Malformed(m) => ConsentError::Malformed(format!("{p}: {m}")),
            ConsentError::BadKey(m) => ConsentError::BadKey(format!("{p}: {m}")),
            other => other,
        }
    }
}

/// The default watermark fingerprint of a record id: the first 4 bytes of
/// sha256(record id), as 8 lowercase hex digits.
pub fn default_fingerprint(record_id: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(record_id.as_bytes())[..4])
}

/// Lowercase hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A fresh random record id: `avow-` and 24 lowercase hex digits.
pub fn new_record_id() -> String {
    let mut b = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    format!("avow-{}", hex::encode(b))
}
