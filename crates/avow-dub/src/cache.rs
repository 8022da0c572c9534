//! The work directory: per-cue marked speech, so an interrupted run resumes
//! where it stopped and a repeated run synthesizes nothing.
//!
//! A cue's file is named by a SHA-256 over everything that shapes its audio
//! (model, voice pack, consent record and watermark payload, language,
//! text, speed, tempo, position on the watermark grid, this crate's
//! version), so a changed input never reuses stale audio, and several
//! subtitle files or shards can share one directory. Files are written
//! atomically (temporary file, fsync, rename) and carry a checksum; a
//! damaged or truncated file is ignored and synthesized again.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"AVOWCUE1";

/// Errors of the work directory.
#[derive(Debug, thiserror::Error)]
#[error("work directory {path}: {source}")]
pub struct CacheError {
    /// The file or directory.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// Everything that determines one cue's audio.
#[derive(Debug, Clone, PartialEq)]
pub struct CueKey<'a> {
    /// Identity of the model weights (their SHA-256).
    pub model: &'a str,
    /// SHA-256 of the voice pack.
    pub pack_sha256: &'a str,
    /// The consent record's id.
    pub record_id: &'a str,
    /// The watermark payload.
    pub watermark: u32,
    /// Language code.
    pub language: &'a str,
    /// The words.
    pub text: &'a str,
    /// Model speed.
    pub speed: f32,
    /// Tempo factor.
    pub tempo: f32,
    /// Position on the watermark grid.
    pub mark_phase: u64,
}

impl CueKey<'_> {
    /// Hex SHA-256 of the key's fields (length-prefixed, so no two keys collide by concatenation).
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        };
        field(b"avow-dub cue v1");
        field(env!("CARGO_PKG_VERSION").as_bytes());
        field(self.model.as_bytes());
        field(self.pack_sha256.as_bytes());
        field(self.record_id.as_bytes());
        field(&self.watermark.to_le_bytes());
        field(self.language.as_bytes());
        field(self.text.as_bytes());
        field(&self.speed.to_bits().to_le_bytes());
        field(&self.tempo.to_bits().to_le_bytes());
        field(&self.mark_phase.to_le_bytes());
        hex::encode(h.finalize())
    }
}

/// A work directory of cue audio.
#[derive(Debug, Clone)]
pub struct CueCache {
    dir: PathBuf,
}

impl CueCache {
    /// Opens (creating) `dir`.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        let cues = dir.join("cues");
        std::fs::create_dir_all(&cues).map_err(|source| CacheError { path: cues.clone(), source })?;
        Ok(Self { dir: cues })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.cue"))
    }

    /// The stored audio for `digest`, if present and intact.
    pub fn get(&self, digest: &str) -> Option<Vec<f32>> {
        let bytes = std::fs::read(self.path(digest)).ok()?;
        decode(&bytes)
    }

    /// Stores audio for `digest` atomically.
    pub fn put(&self, digest: &str, samples: &[f32]) -> Result<(), CacheError> {
        let path = self.path(digest);
        let err = |source| CacheError { path: path.clone(), source };
        let mut tmp = tempfile::Builder::new().prefix(".cue-").suffix(".partial").tempfile_in(&self.dir).map_err(err)?;
        {
            use std::io::Write;
            let mut w = std::io::BufWriter::new(tmp.as_file_mut());
            w.write_all(&encode(samples)).and_then(|_| w.flush()).map_err(err)?;
        }
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

fn encode(samples: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + samples.len() * 4 + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(samples.len() as u64).to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

fn decode(bytes: &[u8]) -> Option<Vec<f32>> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != sum || body.len() < 16 || &body[..8] != MAGIC {
        return None;
    }
    let n = u64::from_le_bytes(body[8..16].try_into().ok()?) as usize;
    let data = &body[16..];
    if data.len() != n.checked_mul(4)? {
        return None;
    }
    let samples: Vec<f32> = data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    samples.iter().all(|s| s.is_finite()).then_some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> CueKey<'_> {
        CueKey { model: "m", pack_sha256: "p", record_id: "r", watermark: 7, language: "es", text, speed: 1.0, tempo: 1.0, mark_phase: 0 }
    }

    #[test]
    fn stored_audio_comes_back_and_damage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CueCache::open(dir.path()).unwrap();
        let d = key("hola").digest();
        assert!(cache.get(&d).is_none());
        cache.put(&d, &[0.25, -0.5, 0.125]).unwrap();
        assert_eq!(cache.get(&d), Some(vec![0.25, -0.5, 0.125]));
        let path = cache.path(&d);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(cache.get(&d).is_none(), "a flipped bit must not be used");
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert!(cache.get(&d).is_none(), "a truncated file must not be used");
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = key("hola");
        let digests = [
            base.digest(),
            key("adiós").digest(),
            CueKey { speed: 1.1, ..base.clone() }.digest(),
            CueKey { tempo: 1.1, ..base.clone() }.digest(),
            CueKey { mark_phase: 1, ..base.clone() }.digest(),
            CueKey { watermark: 8, ..base.clone() }.digest(),
            CueKey { model: "n", ..base.clone() }.digest(),
            CueKey { pack_sha256: "q", ..base.clone() }.digest(),
            CueKey { language: "fr", ..base.clone() }.digest(),
        ];
        let unique: std::collections::HashSet<_> = digests.iter().collect();
        assert_eq!(unique.len(), digests.len());
    }
}
