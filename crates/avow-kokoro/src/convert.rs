//! Importers from published checkpoints to the canonical safetensors layout.

/// Errors converting a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The input is not a model this importer understands.
    #[error("cannot convert: {0}")]
    Unsupported(String),
}

/// Converts the bytes of `kokoro-v1.0.int8.onnx` into canonical safetensors bytes.
pub fn onnx_to_safetensors(_onnx: &[u8]) -> Result<Vec<u8>, ConvertError> {
    Err(ConvertError::Unsupported("the ONNX importer is being written".into()))
}
