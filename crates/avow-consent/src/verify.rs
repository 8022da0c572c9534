//! Trust store, revocation store, and the verifier: the only code that can
//! make a [`VerifiedConsent`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dsse::{Envelope, CONSENT_PAYLOAD_TYPE, MAX_ENVELOPE_BYTES, REVOCATION_PAYLOAD_TYPE};
use crate::keys::{KeyId, PublicKey};
use crate::statement::{ConsentStatement, Grantee, Purpose, RevocationStatement};
use crate::time::Timestamp;
use crate::ConsentError;

/// Largest voice pack the verifier will read (the same bound as the pack format).
pub const MAX_PACK_BYTES: usize = 64 * 1024 * 1024;
/// Most revocation files read from the revocation directories (each at
/// most 64 KiB, so a flooded directory costs at most 640 MiB, not more).
pub const MAX_REVOCATIONS: usize = 10_000;

/// Environment variable naming trust directories (colon-separated).
pub const TRUST_ENV: &str = "AVOW_TRUST_DIR";
/// Environment variable naming revocation directories (colon-separated).
pub const REVOCATION_ENV: &str = "AVOW_REVOCATION_DIR";

/// Public keys of trusted issuers, by key id.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: BTreeMap<KeyId, (PublicKey, String)>,
}

impl TrustStore {
    /// A store that trusts nobody.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Trusts `key`; `source` says where it came from (shown in verdicts).
    pub fn add(&mut self, key: PublicKey, source: impl Into<String>) {
        self.keys.insert(key.id().clone(), (key, source.into()));
    }

    /// Trusts every `*.pub` file in `dir`; returns how many were read. A
    /// directory that cannot be read, or a key file that does not parse, is
    /// an error: a trust root is never skipped silently.
    pub fn load_dir(&mut self, dir: &Path) -> Result<usize, ConsentError> {
        let mut n = 0;
        for path in list_files(dir, "pub")? {
            let key = PublicKey::read(&path)?;
            self.add(key, path.display().to_string());
            n += 1;
        }
        Ok(n)
    }

    /// Trusts the keys compiled into this build from `consent/trust/*.pub`.
    pub fn add_builtin(&mut self) -> Result<usize, ConsentError> {
        for (name, text) in crate::BUILTIN_KEYS {
            let key = PublicKey::from_file_text(text).map_err(|e| e.in_file(Path::new(name)))?;
            self.add(key, format!("built-in {name}"));
        }
        Ok(crate::BUILTIN_KEYS.len())
    }

    /// The store a command uses: the `explicit` directories if any; else
    /// `$AVOW_TRUST_DIR` (colon-separated); else the user directory (if it
    /// exists) plus the built-in keys.
    pub fn resolve(explicit: &[PathBuf]) -> Result<Self, ConsentError> {
        let mut store = Self::empty();
        match pick_dirs(explicit, TRUST_ENV) {
            Some(dirs) => {
                for d in dirs {
                    store.load_dir(&d)?;
                }
            }
            None => {
                if let Some(user) = user_config_dir("trust").filter(|d| d.is_dir()) {
                    store.load_dir(&user)?;
                }
                store.add_builtin()?;
            }
        }
        Ok(store)
    }

    /// The trusted key with this id.
    pub fn get(&self, id: &KeyId) -> Option<&PublicKey> {
        self.keys.get(id).map(|(k, _)| k)
    }

    /// Where the key with this id was loaded from.
    pub fn source(&self, id: &KeyId) -> Option<&str> {
        self.keys.get(id).map(|(_, s)| s.as_str())
    }

    /// Number of trusted keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Signed revocation statements, checked at every verification.
#[derive(Debug, Clone, Default)]
pub struct RevocationStore {
    entries: Vec<(Envelope, RevocationStatement, String)>,
}

impl RevocationStore {
    /// A store with no revocations.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds one revocation envelope. Its signatures are checked at
    /// verification time, against the keys that signed the record it names.
    pub fn add_bytes(&mut self, bytes: &[u8], source: impl Into<String>) -> Result<(), ConsentError> {
        let source = source.into();
        let env = Envelope::parse(bytes).map_err(|e| e.in_file(Path::new(&source)))?;
        if env.payload_type() != REVOCATION_PAYLOAD_TYPE {
            return Err(ConsentError::Malformed(format!("{source}: payloadType is not {REVOCATION_PAYLOAD_TYPE}")));
        }
        let st = RevocationStatement::parse(env.payload()).map_err(|e| e.in_file(Path::new(&source)))?;
        if self.entries.len() >= MAX_REVOCATIONS {
            return Err(ConsentError::Malformed(format!("more than {MAX_REVOCATIONS} revocations")));
        }
        self.entries.push((env, st, source));
        Ok(())
    }

    /// Reads every `*.json` file in `dir`. A file that does not parse is an
    /// error (failing closed: a damaged revocation must not un-revoke).
    pub fn load_dir(&mut self, dir: &Path) -> Result<usize, ConsentError> {
        let mut n = 0;
        for path in list_files(dir, "json")? {
            let bytes = read_limited(&path, MAX_ENVELOPE_BYTES)?;
            self.add_bytes(&bytes, path.display().to_string())?;
            n += 1;
        }
        Ok(n)
    }

    /// The store a command uses: the `explicit` directories if any; else
    /// `$AVOW_REVOCATION_DIR` (colon-separated); else the user directory
    /// (`$XDG_CONFIG_HOME/avow/revoked` or `~/.config/avow/revoked`) if it
    /// exists. Named directories must exist.
    pub fn resolve(explicit: &[PathBuf]) -> Result<Self, ConsentError> {
        let mut store = Self::empty();
        match pick_dirs(explicit, REVOCATION_ENV) {
            Some(dirs) => {
                for d in dirs {
                    store.load_dir(&d)?;
                }
            }
            None => {
                if let Some(user) = default_revocation_dir().filter(|d| d.is_dir()) {
                    store.load_dir(&user)?;
                }
            }
        }
        Ok(store)
    }

    /// Number of revocation statements loaded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first revocation of `record_id` validly signed by one of `authorized`.
    fn find(&self, record_id: &str, authorized: &[PublicKey]) -> Option<(&RevocationStatement, KeyId)> {
        for (env, st, _) in &self.entries {
            if st.record_id != record_id {
                continue;
            }
            let signed = env.signed_bytes();
            for sig in env.signatures() {
                if let Some(key) = authorized.iter().find(|k| k.id() == &sig.keyid) {
                    if key.verify(&signed, &sig.sig) {
                        return Some((st, key.id().clone()));
                    }
                }
            }
        }
        None
    }
}

/// The directory revocations are written to by default.
pub fn default_revocation_dir() -> Option<PathBuf> {
    match std::env::var_os(REVOCATION_ENV).filter(|v| !v.is_empty()) {
        Some(v) => std::env::split_paths(&v).next(),
        None => user_config_dir("revoked"),
    }
}

/// `$XDG_CONFIG_HOME/avow/<leaf>`, else `$HOME/.config/avow/<leaf>`.
pub fn user_config_dir(leaf: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("avow").join(leaf))
}

fn pick_dirs(explicit: &[PathBuf], env: &str) -> Option<Vec<PathBuf>> {
    if !explicit.is_empty() {
        return Some(explicit.to_vec());
    }
    std::env::var_os(env).filter(|v| !v.is_empty()).map(|v| std::env::split_paths(&v).collect())
}

fn list_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, ConsentError> {
    let io = |e: std::io::Error| ConsentError::Io(format!("{}: {e}", dir.display()));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|x| x == ext) && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a file, refusing (before reading it all) one larger than `limit`.
pub fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, ConsentError> {
    let io = |e: std::io::Error| ConsentError::Io(format!("{}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    // Reading through `take` bounds memory even if the file grows meanwhile.
    f.take(limit as u64 + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() > limit {
        return Err(ConsentError::Malformed(format!("{}: larger than the {limit} byte limit", path.display())));
    }
    Ok(buf)
}

/// What the caller wants to do with the voice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyRequest {
    /// The intended use.
    pub purpose: Purpose,
    /// BCP-47 tag of the language to be spoken.
    pub language: String,
    /// The time to check the validity window against (injectable for tests).
    pub now: Timestamp,
    /// The key the caller holds, if any: needed when a record's grantee is a key.
    pub grantee: Option<KeyId>,
}

impl VerifyRequest {
    /// A request at the current time with no grantee key.
    pub fn new(purpose: Purpose, language: impl Into<String>) -> Self {
        VerifyRequest { purpose, language: language.into(), now: Timestamp::now(), grantee: None }
    }
}

/// Proof that a consent record verified for a request and a voice pack.
/// Only [`verify`] constructs it; it owns the exact pack bytes it hashed, so
/// whatever is built from [`pack_bytes`](Self::pack_bytes) is what consent covers.
pub struct VerifiedConsent {
    statement: ConsentStatement,
    pack: Vec<u8>,
    signers: Vec<KeyId>,
    purpose: Purpose,
    language: String,
    verified_at: Timestamp,
}

impl std::fmt::Debug for VerifiedConsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedConsent")
            .field("record_id", &self.statement.record_id)
            .field("pack_sha256", &self.statement.voice_pack.sha256)
            .field("signers", &self.signers)
            .field("purpose", &self.purpose)
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

impl VerifiedConsent {
    /// The record id.
    pub fn record_id(&self) -> &str {
        &self.statement.record_id
    }
    /// Lowercase hex sha256 of [`pack_bytes`](Self::pack_bytes) (checked equal to the record's).
    pub fn pack_sha256(&self) -> &str {
        &self.statement.voice_pack.sha256
    }
    /// The 32-bit watermark payload outputs must carry.
    pub fn watermark_payload(&self) -> u32 {
        self.statement.watermark_payload()
    }
    /// The purpose this verification was for.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }
    /// The language this verification was for.
    pub fn language(&self) -> &str {
        &self.language
    }
    /// The exact voice pack bytes that were hashed.
    pub fn pack_bytes(&self) -> &[u8] {
        &self.pack
    }
    /// Key ids whose signatures verified (trusted issuers and the subject).
    pub fn signers(&self) -> &[KeyId] {
        &self.signers
    }
    /// The time the record was checked against.
    pub fn verified_at(&self) -> Timestamp {
        self.verified_at
    }
    /// The whole statement, read-only.
    pub fn statement(&self) -> &ConsentStatement {
        &self.statement
    }
}

/// Parses a consent envelope and its statement without checking signatures,
/// time or scope (for display and tooling). Never use it to grant anything.
pub fn parse_record(envelope: &[u8]) -> Result<(Envelope, ConsentStatement), ConsentError> {
    let env = Envelope::parse(envelope)?;
    if env.payload_type() != CONSENT_PAYLOAD_TYPE {
        return Err(ConsentError::Malformed(format!(
            "payloadType `{}` is not {CONSENT_PAYLOAD_TYPE}",
            crate::dsse::clip(env.payload_type())
        )));
    }
    let st = ConsentStatement::parse(env.payload())?;
    Ok((env, st))
}

/// Verifies a consent record for `request` against the voice pack bytes.
///
/// Checks, in order: envelope and statement parse within limits; signatures
/// (any signature by a trusted or the subject's key must be valid; at least
/// one trusted; the subject's if the record names a subject key); revocation;
/// validity window; purpose, language and grantee; pack hash.
pub fn verify(
    envelope: &[u8],
    pack: Vec<u8>,
    request: &VerifyRequest,
    trust: &TrustStore,
    revocations: &RevocationStore,
) -> Result<VerifiedConsent, ConsentError> {
    let (env, st) = parse_record(envelope)?;
    let signed = env.signed_bytes();
    let subject = st.subject_key();
    let mut trusted_ok = Vec::new();
    let mut subject_ok = false;
    let mut authorized: Vec<PublicKey> = Vec::new();
    for sig in env.signatures() {
        let as_subject = subject.as_ref().filter(|k| k.id() == &sig.keyid);
        let as_trusted = trust.get(&sig.keyid);
        let Some(key) = as_trusted.or(as_subject) else { continue };
        if !key.verify(&signed, &sig.sig) {
            return Err(ConsentError::BadSignature(sig.keyid.clone()));
        }
        authorized.push(key.clone());
        if as_trusted.is_some() {
            trusted_ok.push(sig.keyid.clone());
        }
        if as_subject.is_some() {
            subject_ok = true;
        }
    }
    if trusted_ok.is_empty() {
        return Err(ConsentError::UntrustedSigner(env.signatures().iter().map(|s| s.keyid.clone()).collect()));
    }
    if let Some(k) = &subject {
        if !subject_ok {
            return Err(ConsentError::MissingSubjectSignature(k.id().clone()));
        }
    }
    if let Some((rev, by)) = revocations.find(&st.record_id, &authorized) {
        return Err(ConsentError::Revoked { record_id: st.record_id.clone(), by, at: rev.revoked_at.clone(), reason: rev.reason.clone() });
    }
    let now = request.now;
    if now < st.not_before_time() {
        return Err(ConsentError::NotYetValid { not_before: st.not_before.clone(), now: now.to_string() });
    }
    if now >= st.not_after_time() {
        return Err(ConsentError::Expired { not_after: st.not_after.clone(), now: now.to_string() });
    }
    if !st.allows_purpose(request.purpose) {
        return Err(ConsentError::OutOfScope(format!(
            "purpose `{}` is not granted (granted: {})",
            request.purpose,
            st.purposes.join(", ")
        )));
    }
    if !crate::statement::valid_language(&request.language) || request.language == "*" {
        return Err(ConsentError::OutOfScope(format!("`{}` is not a language tag", crate::dsse::clip(&request.language))));
    }
    if !st.allows_language(&request.language) {
        return Err(ConsentError::OutOfScope(format!(
            "language `{}` is not granted (granted: {})",
            request.language,
            st.languages.join(", ")
        )));
    }
    if let Some(Grantee::Key(k)) = st.grantee_parsed() {
        if request.grantee.as_ref() != Some(&k) {
            return Err(ConsentError::OutOfScope(format!("the record grants use only to the holder of key {k}")));
        }
    }
    if pack.len() > MAX_PACK_BYTES {
        return Err(ConsentError::HashMismatch { expected: st.voice_pack.sha256.clone(), actual: format!("(pack over {MAX_PACK_BYTES} bytes, not hashed)") });
    }
    let actual = hex::encode(Sha256::digest(&pack));
    if actual != st.voice_pack.sha256 {
        return Err(ConsentError::HashMismatch { expected: st.voice_pack.sha256.clone(), actual });
    }
    let mut signers = trusted_ok;
    if let Some(k) = &subject {
        if !signers.contains(k.id()) {
            signers.push(k.id().clone());
        }
    }
    Ok(VerifiedConsent { statement: st, pack, signers, purpose: request.purpose, language: request.language.clone(), verified_at: now })
}

/// Reads a record and a voice pack (each once, within limits) and verifies.
pub fn verify_files(
    record: &Path,
    pack: &Path,
    request: &VerifyRequest,
    trust: &TrustStore,
    revocations: &RevocationStore,
) -> Result<VerifiedConsent, ConsentError> {
    let envelope = read_limited(record, MAX_ENVELOPE_BYTES)?;
    let pack = read_limited(pack, MAX_PACK_BYTES)?;
    verify(&envelope, pack, request, trust, revocations)
}
