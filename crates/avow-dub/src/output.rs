//! Writing results so that a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A result file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {reason}")]
pub struct WriteError {
    /// The destination.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `fill`'s output to a temporary file beside `path`, fsyncs it,
/// makes it an ordinary readable file (0644), renames it over `path` and
/// fsyncs the directory. On any error nothing is left at `path`.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<(), WriteError> {
    let err = |e: &dyn std::fmt::Display| WriteError { path: path.to_path_buf(), reason: e.to_string() };
    let dir = dir_of(path);
    let mut tmp = tempfile::Builder::new().prefix(".avow-dub-").suffix(".partial").tempfile_in(dir).map_err(|e| err(&e))?;
    fill(tmp.as_file_mut()).map_err(|e| err(&e))?;
    tmp.as_file().sync_all().map_err(|e| err(&e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).map_err(|e| err(&e))?;
    }
    tmp.persist(path).map_err(|e| err(&e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes mono 16-bit PCM WAV atomically.
pub fn write_wav(path: &Path, samples: &[f32], rate: u32) -> Result<(), WriteError> {
    if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
        return Err(WriteError { path: path.to_path_buf(), reason: format!("sample {i} is not a finite number") });
    }
    write_atomic(path, |file| {
        let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let to_io = |e: hound::Error| std::io::Error::other(e.to_string());
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(file), spec).map_err(to_io)?;
        for &s in samples {
            w.write_sample(avow_audio::f32_to_i16(s)).map_err(to_io)?;
        }
        w.finalize().map_err(to_io)
    })
}

/// Writes text (e.g. a JSON report) atomically.
pub fn write_text(path: &Path, text: &str) -> Result<(), WriteError> {
    write_atomic(path, |file| file.write_all(text.as_bytes()))
}
