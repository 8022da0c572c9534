//! Training checkpoints: an adapter and the step it was taken at, in one
//! safetensors file written atomically, so an interrupted banking run
//! resumes where it stopped instead of starting over.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use avow_kokoro::StyleAdapter;
use safetensors::tensor::{Dtype, TensorView};

use crate::BankError;

const FORMAT: &str = "avow-bank-checkpoint/1";

/// Writes `adapter` at `step` to `path` (temp file, fsync, rename).
pub fn save(path: &Path, adapter: &StyleAdapter, step: usize) -> Result<(), BankError> {
    let tensors = adapter.to_tensors();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> =
        tensors.into_iter().map(|(n, shape, v)| (n, shape, v.iter().flat_map(|x| x.to_le_bytes()).collect())).collect();
    let views = bytes
        .iter()
        .map(|(n, shape, b)| Ok((n.clone(), TensorView::new(Dtype::F32, shape.clone(), b).map_err(|e| BankError::Input(e.to_string()))?)))
        .collect::<Result<Vec<_>, BankError>>()?;
    let meta = HashMap::from([("format".to_string(), FORMAT.to_string()), ("step".to_string(), step.to_string())]);
    let data = safetensors::serialize(views, Some(meta)).map_err(|e| BankError::Input(e.to_string()))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let io = |e: std::io::Error| BankError::Input(format!("cannot write checkpoint {}: {e}", path.display()));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(&data).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Reads a checkpoint written by [`save`]: the adapter and its step.
pub fn load(path: &Path) -> Result<(StyleAdapter, usize), BankError> {
    let bad = |why: String| BankError::Input(format!("{} is not a banking checkpoint: {why}", path.display()));
    let data = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&data).map_err(|e| bad(e.to_string()))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(bad("wrong format tag".into()));
    }
    let step: usize = meta.get("step").and_then(|s| s.parse().ok()).ok_or_else(|| bad("no step".into()))?;
    let st = safetensors::SafeTensors::deserialize(&data).map_err(|e| bad(e.to_string()))?;
    let mut tensors = Vec::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!("{name} is not f32")));
        }
        let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        tensors.push((name, view.shape().to_vec(), values));
    }
    Ok((StyleAdapter::from_tensors(&tensors)?, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        let adapter = StyleAdapter::from_offsets([("decoder.decode.0.norm1.fc".to_string(), vec![0.5, -1.0, 2.0])]);
        save(&path, &adapter, 42).unwrap();
        let (back, step) = load(&path).unwrap();
        assert_eq!((back, step), (adapter, 42));
        std::fs::write(&path, b"not a checkpoint").unwrap();
        assert!(load(&path).is_err());
        assert!(load(&dir.path().join("missing")).is_err());
    }
}
