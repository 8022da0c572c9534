//! File-system helpers: atomic writes, hashing, the cache lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ModelsError;

/// Prefix of every temporary file the cache writes; anything carrying it is
/// debris from an interrupted run and is removed under the lock.
pub(crate) const PARTIAL_PREFIX: &str = ".partial-";

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> ModelsError + 'a {
    move |cause| ModelsError::Io {
        action,
        path: path.to_path_buf(),
        cause,
    }
}

/// A file being written next to its final name. It only takes the final name
/// after its bytes are on disk ([`AtomicFile::commit`]); dropping it (error,
/// panic) removes it. A kill leaves a `.partial-*` file, never a half file
/// under the final name.
pub(crate) struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
    hasher: Sha256,
    written: u64,
}

impl AtomicFile {
    pub(crate) fn create(dest: &Path) -> Result<Self, ModelsError> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(PARTIAL_PREFIX)
            .tempfile_in(dir)
            .map_err(io_err("create a temporary file in", dir))?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), ModelsError> {
        self.tmp
            .as_file_mut()
            .write_all(bytes)
            .map_err(io_err("write", &self.dest))?;
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// sha256 and size of what was written so far.
    pub(crate) fn digest(&self) -> (String, u64) {
        (hex::encode(self.hasher.clone().finalize()), self.written)
    }

    /// Flushes to disk and renames onto the destination; returns sha256 and size.
    pub(crate) fn commit(self) -> Result<(String, u64), ModelsError> {
        let digest = self.digest();
        self.tmp
            .as_file()
            .sync_all()
            .map_err(io_err("flush", &self.dest))?;
        let dest = self.dest;
        self.tmp.persist(&dest).map_err(|e| ModelsError::Io {
            action: "rename onto",
            path: dest.clone(),
            cause: e.error,
        })?;
        sync_parent(&dest)?;
        Ok(digest)
    }
}

/// Writes `bytes` to `dest` atomically; returns sha256 and size.
pub(crate) fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(String, u64), ModelsError> {
    let mut f = AtomicFile::create(dest)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Makes a rename durable: the directory entry is flushed too.
pub(crate) fn sync_parent(path: &Path) -> Result<(), ModelsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("flush directory", dir))
}

/// sha256 and size of a file's contents.
pub(crate) fn sha256_file(path: &Path) -> Result<(String, u64), ModelsError> {
    let mut f = File::open(path).map_err(io_err("read", path))?;
    sha256_reader(&mut f).map_err(io_err("read", path))
}

pub(crate) fn sha256_reader(r: &mut dyn Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Creates a directory (and parents), naming it in the error.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), ModelsError> {
    std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))
}

/// Removes `.partial-*` debris in `dir` left by an interrupted run. Only
/// called with the exclusive lock held, so no live writer owns them.
pub(crate) fn remove_partials(dir: &Path) -> Result<(), ModelsError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ModelsError::Io {
                action: "list",
                path: dir.to_path_buf(),
                cause: e,
            })
        }
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(PARTIAL_PREFIX)
        {
            let p = entry.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p).map_err(io_err("remove", &p))?;
            } else {
                std::fs::remove_file(&p).map_err(io_err("remove", &p))?;
            }
        }
    }
    Ok(())
}

/// An advisory lock on the cache directory, released on drop.
pub(crate) struct CacheLock {
    file: File,
}

impl CacheLock {
    /// Takes the lock, calling `waiting` once if another process holds it.
    pub(crate) fn acquire(
        dir: &Path,
        exclusive: bool,
        waiting: &dyn Fn(),
    ) -> Result<Self, ModelsError> {
        let path = dir.join(".lock");
        let opened = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .read(true)
            .open(&path);
        let file = match opened {
            Ok(f) => f,
            // A read-only cache (e.g. installed system-wide) can still be
            // listed and verified: a shared lock needs only read access.
            Err(e)
                if !exclusive && e.kind() == io::ErrorKind::PermissionDenied && path.is_file() =>
            {
                File::open(&path).map_err(io_err("open lock file", &path))?
            }
            Err(e) => {
                return Err(ModelsError::Io {
                    action: "open lock file",
                    path,
                    cause: e,
                })
            }
        };
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting();
                let r = if exclusive {
                    file.lock()
                } else {
                    file.lock_shared()
                };
                r.map_err(io_err("lock", &path))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(ModelsError::Io {
                    action: "lock",
                    path,
                    cause: e,
                });
            }
        }
        Ok(Self { file })
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock anyway; unlocking
        // explicitly just makes it prompt.
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_atomic_file_never_appears_under_its_name() {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("weights.bin");
        std::fs::write(&dest, b"old complete contents").unwrap();
        let r = std::panic::catch_unwind(|| {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.write_all(b"half of the new").unwrap();
            panic!("killed mid-write");
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old complete contents");
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("weights.bin")]);

        let (sha, size) = write_atomic(&dest, b"new").unwrap();
        assert_eq!(
            (sha.as_str(), size),
            (
                "11507a0e2f5e69d5dfa40a62a1bd7b6ee57e6bcd85c67c9b8431b36fff21c437",
                3
            )
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
    }
}
