//! Ed25519 keys, their file formats and key ids.
//!
//! Public key file: one line `avow-ed25519-public <base64 of the 32 key bytes>`
//! optionally followed by a space and a free comment. Private key file: one
//! line `avow-ed25519-secret <base64 of the 32-byte seed>`. The key id is the
//! first 8 bytes of sha256 of the 32 public key bytes, as 16 lowercase hex
//! digits.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ConsentError;

const PUBLIC_TAG: &str = "avow-ed25519-public";
const SECRET_TAG: &str = "avow-ed25519-secret";
/// Key files are tiny; anything bigger is not one.
const MAX_KEY_FILE: u64 = 4096;

/// A key id: 16 lowercase hex digits naming a public key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// The id of a raw ed25519 public key.
    pub fn of(key: &VerifyingKey) -> Self {
        KeyId(hex::encode(&Sha256::digest(key.as_bytes())[..8]))
    }

    /// Parses a key id as written in envelopes and records.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 16 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))).then(|| KeyId(s.to_string()))
    }

    /// The 16 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ed25519 public key with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: KeyId,
}

impl PublicKey {
    /// Wraps raw public key bytes; refuses points that are not valid keys.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, ConsentError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| ConsentError::BadKey("not a valid ed25519 public key".into()))?;
        if key.is_weak() {
            return Err(ConsentError::BadKey("weak (small-order) ed25519 public key".into()));
        }
        Ok(PublicKey { id: KeyId::of(&key), key })
    }

    /// Parses standard base64 of the 32 key bytes (as in records).
    pub fn from_base64(s: &str) -> Result<Self, ConsentError> {
        let raw = B64.decode(s).map_err(|_| ConsentError::BadKey("public key is not base64".into()))?;
        let arr: [u8; 32] = raw.try_into().map_err(|_| ConsentError::BadKey("public key is not 32 bytes".into()))?;
        Self::from_bytes(&arr)
    }

    /// Parses the contents of a public key file.
    pub fn from_file_text(text: &str) -> Result<Self, ConsentError> {
        let line = text.lines().next().unwrap_or("");
        let mut parts = line.splitn(3, ' ');
        if parts.next() != Some(PUBLIC_TAG) {
            return Err(ConsentError::BadKey(format!("not an avow public key (expected `{PUBLIC_TAG} <base64>`)")));
        }
        Self::from_base64(parts.next().unwrap_or(""))
    }

    /// Reads a public key file.
    pub fn read(path: &Path) -> Result<Self, ConsentError> {
        let text = read_small(path)?;
        Self::from_file_text(&text).map_err(|e| e.in_file(path))
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// Standard base64 of the 32 key bytes.
    pub fn to_base64(&self) -> String {
        B64.encode(self.key.as_bytes())
    }

    /// The public key file line (with a comment, which may be empty).
    pub fn to_file_text(&self, comment: &str) -> String {
        let comment = comment.replace(['\n', '\r'], " ");
        if comment.is_empty() {
            format!("{PUBLIC_TAG} {}\n", self.to_base64())
        } else {
            format!("{PUBLIC_TAG} {} {comment}\n", self.to_base64())
        }
    }

    /// Checks a signature strictly (no malleable or small-order forms).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else { return false };
        self.key.verify_strict(message, &Signature::from_bytes(&sig)).is_ok()
    }
}

/// An ed25519 signing key. Its bytes never appear in `Debug` output or errors.
pub struct SecretKey {
    key: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public.id)
    }
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, seed.as_mut());
        Self::from_seed(&seed)
    }

    /// A key from a 32-byte seed (tests and fixed vectors).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let vk = key.verifying_key();
        SecretKey { public: PublicKey { id: KeyId::of(&vk), key: vk }, key }
    }

    /// The matching public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs exact bytes.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Reads a private key file.
    pub fn read(path: &Path) -> Result<Self, ConsentError> {
        let text = Zeroizing::new(read_small(path)?);
        let line = text.lines().next().unwrap_or("");
        let mut parts = line.splitn(2, ' ');
        if parts.next() != Some(SECRET_TAG) {
            return Err(ConsentError::BadKey(format!("{}: not an avow private key", path.display())));
        }
        let raw = Zeroizing::new(
            B64.decode(parts.next().unwrap_or("").trim_end())
                .map_err(|_| ConsentError::BadKey(format!("{}: private key is not base64", path.display())))?,
        );
        let seed: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| ConsentError::BadKey(format!("{}: private key is not 32 bytes", path.display())))?;
        let seed = Zeroizing::new(seed);
        Ok(Self::from_seed(&seed))
    }

    /// Writes `<stem>.key` (mode 0600) and `<stem>.pub`. Refuses to overwrite
    /// either file; on failure nothing is left behind.
    pub fn write_pair(&self, stem: &Path, comment: &str) -> Result<(std::path::PathBuf, std::path::PathBuf), ConsentError> {
        let secret_path = with_suffix(stem, "key");
        let public_path = with_suffix(stem, "pub");
        for p in [&secret_path, &public_path] {
            if p.exists() {
                return Err(ConsentError::Io(format!("{} already exists; refusing to overwrite", p.display())));
            }
        }
        let secret_text = Zeroizing::new(format!("{SECRET_TAG} {}\n", B64.encode(self.key.to_bytes())));
        create_new(&secret_path, secret_text.as_bytes(), 0o600)?;
        if let Err(e) = create_new(&public_path, self.public.to_file_text(comment).as_bytes(), 0o644) {
            let _ = std::fs::remove_file(&secret_path);
            return Err(e);
        }
        Ok((secret_path, public_path))
    }
}

fn with_suffix(stem: &Path, ext: &str) -> std::path::PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    s.into()
}

/// Creates a file that must not exist yet, with `mode` from the start (no
/// window in which a private key is world-readable), and syncs it.
fn create_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ConsentError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let io = |e: std::io::Error| ConsentError::Io(format!("{}: {e}", path.display()));
    let mut f = opts.open(path).map_err(io)?;
    let res = f.write_all(bytes).and_then(|_| f.sync_all());
    if let Err(e) = res {
        let _ = std::fs::remove_file(path);
        return Err(io(e));
    }
    Ok(())
}

pub(crate) fn read_small(path: &Path) -> Result<String, ConsentError> {
    let io = |e: std::io::Error| ConsentError::Io(format!("{}: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_KEY_FILE {
        return Err(ConsentError::BadKey(format!("{}: {} bytes is too large for a key file", path.display(), meta.len())));
    }
    std::fs::read_to_string(path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let k = SecretKey::generate();
        let stem = dir.path().join("alice");
        let (sk, pk) = k.write_pair(&stem, "Alice <a@example.org>").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let back = SecretKey::read(&sk).unwrap();
        assert_eq!(back.public(), k.public());
        assert_eq!(PublicKey::read(&pk).unwrap(), *k.public());
        assert!(k.write_pair(&stem, "").is_err());
        assert!(!format!("{k:?}").contains(&B64.encode(k.key.to_bytes())));
    }

    #[test]
    fn signatures_verify_only_for_exact_bytes() {
        let k = SecretKey::from_seed(&[7; 32]);
        let sig = k.sign(b"hello");
        assert!(k.public().verify(b"hello", &sig));
        assert!(!k.public().verify(b"hellp", &sig));
        assert!(!k.public().verify(b"hello", &sig[..63]));
        assert_eq!(k.public().id().as_str().len(), 16);
    }

    #[test]
    fn rejects_bad_public_keys() {
        assert!(PublicKey::from_file_text("ssh-ed25519 AAAA").is_err());
        assert!(PublicKey::from_file_text("avow-ed25519-public AAAA").is_err());
        // The identity point is small-order: a signature "from" it proves nothing.
        let mut id = [0u8; 32];
        id[0] = 1;
        assert!(PublicKey::from_bytes(&id).is_err());
    }
}
