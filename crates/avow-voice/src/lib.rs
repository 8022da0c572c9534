//! The avow voice pack: one safetensors file that holds everything that makes
//! a voice (Kokoro style vectors, later speaker adapters) plus metadata.
//!
//! Layout:
//! - tensor `style`, f32, shape `[510, 1, 256]`: row `n` is the style used for
//!   an utterance of `n` tokens; columns 0..128 drive the decoder (timbre),
//!   128..256 the prosody predictor.
//! - optional tensors named `adapter.*` (speaker adaptation, f32): bias
//!   offsets from voice banking, and a clone's pitch shift in semitones
//!   (see `avow_kokoro::adapter`).
//! - optional tensor `speaker`, f32, shape `[256]`: the GE2E embedding of the
//!   recordings the voice was enrolled from, so that later recordings (voice
//!   banking) can be checked against the person the pack was made for.
//! - `__metadata__`: `avow.format = "voicepack/1"`, `name`, `language`
//!   (BCP-47), `model` (the acoustic model id, e.g. `kokoro-82m-v1.0`).
//!
//! This crate writes and parses the format, and holds the consent gate:
//! [`Voice`], the only voice type the engine accepts, can be built only from an
//! [`avow_consent::VerifiedConsent`], and it parses the very bytes that the
//! verifier hashed (no second read of the file, so nothing can swap the file
//! between check and use). [`VoicePackData`] is the raw format for model
//! tools (conversion, inspection); it is not a gate and the engine must never
//! take it.
//!
//! Outside this crate, neither a `Voice` nor a `VerifiedConsent` can be made
//! without verifying; both of these fail to compile:
//!
//! ```compile_fail
//! // Private fields: a Voice cannot be assembled from parts.
//! let data = avow_voice::VoicePackData::from_bytes(&[]).unwrap();
//! let v = avow_voice::Voice { data };
//! ```
//!
//! ```compile_fail
//! // Private fields: a VerifiedConsent cannot be forged either.
//! let c = avow_consent::VerifiedConsent { pack: Vec::new() };
//! let v = avow_voice::Voice::from_consent(c);
//! ```
//!
//! The honest route compiles:
//!
//! ```no_run
//! use avow_consent::{verify_files, Purpose, RevocationStore, TrustStore, VerifyRequest};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let trust = TrustStore::resolve(&[])?;
//! let revoked = RevocationStore::resolve(&[])?;
//! let request = VerifyRequest::new(Purpose::Aac, "ja");
//! let consent = verify_files("voices/jf_alpha.consent.json".as_ref(), "voices/jf_alpha.voicepack".as_ref(), &request, &trust, &revoked)?;
//! let voice = avow_voice::Voice::from_consent(consent)?;
//! // or in one step: avow_voice::Voice::open(record, pack, &request, &trust, &revoked)?
//! let _style = voice.style_row(12);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};

/// Number of style rows (one per possible token count).
pub const STYLE_ROWS: usize = 510;
/// Width of one style vector.
pub const STYLE_DIM: usize = 256;
/// Width of the enrolled speaker's embedding (GE2E).
pub const SPEAKER_DIM: usize = 256;
/// Format tag stored in the metadata.
pub const FORMAT: &str = "voicepack/1";
/// Largest voice pack accepted (style is 0.5 MB; adapters are small).
pub const MAX_PACK_BYTES: usize = 64 * 1024 * 1024;

/// Errors reading or writing a voice pack.
#[derive(Debug, thiserror::Error)]
pub enum VoicePackError {
    /// The bytes are not a safetensors file.
    #[error("not a voice pack: {0}")]
    Malformed(String),
    /// A required metadata key or tensor is absent.
    #[error("voice pack lacks {0}")]
    Missing(&'static str),
    /// A tensor has the wrong dtype or shape.
    #[error("voice pack tensor `{name}` has dtype {dtype} shape {shape:?}; expected f32 {expected}")]
    BadTensor {
        /// Tensor name.
        name: String,
        /// Dtype found.
        dtype: String,
        /// Shape found.
        shape: Vec<usize>,
        /// What was expected.
        expected: &'static str,
    },
    /// The file is larger than [`MAX_PACK_BYTES`].
    #[error("voice pack is {0} bytes, over the {MAX_PACK_BYTES} byte limit")]
    TooLarge(usize),
    /// Unsupported format tag.
    #[error("unsupported voice pack format `{0}` (this build reads {FORMAT})")]
    UnsupportedFormat(String),
}

/// Descriptive metadata of a voice pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceMeta {
    /// Voice name, e.g. `jf_alpha`.
    pub name: String,
    /// BCP-47 language the voice was made for, e.g. `ja`.
    pub language: String,
    /// Acoustic model id the vectors belong to, e.g. `kokoro-82m-v1.0`.
    pub model: String,
}

/// The decoded contents of a voice pack: the raw format, for model tools.
/// Not a consent gate: the engine takes only a [`Voice`].
#[derive(Debug, Clone, PartialEq)]
pub struct VoicePackData {
    /// Metadata.
    pub meta: VoiceMeta,
    /// Style table, row-major `[STYLE_ROWS, STYLE_DIM]`.
    pub style: Vec<f32>,
    /// Speaker adapter tensors by name (without the `adapter.` prefix): shape and values.
    pub adapters: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// GE2E embedding ([`SPEAKER_DIM`] values) of the speaker's enrollment
    /// recordings, when the pack was made from a real person's speech. Covered
    /// by the pack hash like everything else, so it cannot be swapped without
    /// a new consent record.
    pub speaker: Option<Vec<f32>>,
}

impl VoicePackData {
    /// The style vector for an utterance of `tokens` tokens (clamped to the table).
    pub fn style_row(&self, tokens: usize) -> &[f32] {
        let row = tokens.min(STYLE_ROWS - 1);
        &self.style[row * STYLE_DIM..(row + 1) * STYLE_DIM]
    }

    /// Serializes to the voice pack byte format (deterministic for equal inputs).
    pub fn to_bytes(&self) -> Result<Vec<u8>, VoicePackError> {
        if self.style.len() != STYLE_ROWS * STYLE_DIM {
            return Err(VoicePackError::BadTensor {
                name: "style".into(),
                dtype: "F32".into(),
                shape: vec![self.style.len()],
                expected: "[510, 1, 256]",
            });
        }
        let mut tensors: Vec<(String, Vec<usize>, &[f32])> =
            vec![("style".into(), vec![STYLE_ROWS, 1, STYLE_DIM], &self.style)];
        if let Some(speaker) = &self.speaker {
            if speaker.len() != SPEAKER_DIM || speaker.iter().any(|v| !v.is_finite()) {
                return Err(VoicePackError::BadTensor {
                    name: "speaker".into(),
                    dtype: "F32".into(),
                    shape: vec![speaker.len()],
                    expected: "[256] of finite values",
                });
            }
            tensors.push(("speaker".into(), vec![SPEAKER_DIM], speaker));
        }
        for (name, shape, values) in &self.adapters {
            if shape.iter().product::<usize>() != values.len() {
                return Err(VoicePackError::Malformed(format!("adapter `{name}` shape {shape:?} does not match its data")));
            }
            tensors.push((format!("adapter.{name}"), shape.clone(), values));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        // The safetensors writer orders metadata through a HashMap; a consent
        // record names the pack's hash, so the header is written here with
        // sorted keys (serde_json's map is ordered) to make bytes reproducible.
        let mut header = serde_json::Map::new();
        let mut meta = serde_json::Map::new();
        meta.insert("avow.format".into(), FORMAT.into());
        meta.insert("language".into(), self.meta.language.clone().into());
        meta.insert("model".into(), self.meta.model.clone().into());
        meta.insert("name".into(), self.meta.name.clone().into());
        header.insert("__metadata__".into(), meta.into());
        let mut offset = 0usize;
        for (name, shape, values) in &tensors {
            let end = offset + values.len() * 4;
            header.insert(
                name.clone(),
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}),
            );
            offset = end;
        }
        let mut header = serde_json::Value::Object(header).to_string().into_bytes();
        while !header.len().is_multiple_of(8) {
            header.push(b' ');
        }
        let mut out = Vec::with_capacity(8 + header.len() + offset);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for (_, _, values) in &tensors {
            out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        }
        Ok(out)
    }

    /// Parses voice pack bytes. Callers in the engine reach this only through
    /// the consent gate, which hashes these same bytes first.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VoicePackError> {
        if bytes.len() > MAX_PACK_BYTES {
            return Err(VoicePackError::TooLarge(bytes.len()));
        }
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| VoicePackError::Malformed(e.to_string()))?;
        let md = header.metadata().as_ref().ok_or(VoicePackError::Missing("metadata"))?;
        let get = |k: &'static str| md.get(k).cloned().ok_or(VoicePackError::Missing(k));
        let format = get("avow.format")?;
        if format != FORMAT {
            return Err(VoicePackError::UnsupportedFormat(format));
        }
        let meta = VoiceMeta { name: get("name")?, language: get("language")?, model: get("model")? };
        let st = SafeTensors::deserialize(bytes).map_err(|e| VoicePackError::Malformed(e.to_string()))?;
        let style_view = st.tensor("style").map_err(|_| VoicePackError::Missing("tensor `style`"))?;
        let style = read_f32("style", &style_view, Some((&[STYLE_ROWS, 1, STYLE_DIM], "[510, 1, 256]")))?;
        let speaker = match st.tensor("speaker") {
            Ok(view) => Some(read_f32("speaker", &view, Some((&[SPEAKER_DIM], "[256]")))?),
            Err(_) => None,
        };
        let mut adapters = Vec::new();
        let mut names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
        names.sort();
        for name in names {
            if let Some(short) = name.strip_prefix("adapter.") {
                let view = st.tensor(&name).map_err(|e| VoicePackError::Malformed(e.to_string()))?;
                let values = read_f32(&name, &view, None)?;
                adapters.push((short.to_string(), view.shape().to_vec(), values));
            } else if name != "style" && name != "speaker" {
                return Err(VoicePackError::Malformed(format!("unexpected tensor `{name}`")));
            }
        }
        Ok(Self { meta, style, adapters, speaker })
    }
}

/// A voice the engine may speak with: a parsed voice pack together with the
/// consent that covers it. The only constructor is [`Voice::from_consent`].
#[derive(Debug)]
pub struct Voice {
    data: VoicePackData,
    consent: avow_consent::VerifiedConsent,
}

impl Voice {
    /// Parses the voice pack from the exact bytes the consent verifier hashed.
    /// Takes the consent by value: it travels with the voice (record id,
    /// watermark payload and purpose for the ledger).
    pub fn from_consent(consent: avow_consent::VerifiedConsent) -> Result<Self, VoicePackError> {
        let data = VoicePackData::from_bytes(consent.pack_bytes())?;
        Ok(Voice { data, consent })
    }

    /// Verifies `record` for `pack` (each file read once) and builds the
    /// voice from the verified bytes: the usual way in for the engine.
    pub fn open(
        record: &std::path::Path,
        pack: &std::path::Path,
        request: &avow_consent::VerifyRequest,
        trust: &avow_consent::TrustStore,
        revocations: &avow_consent::RevocationStore,
    ) -> Result<Self, OpenError> {
        let consent = avow_consent::verify_files(record, pack, request, trust, revocations)?;
        Ok(Self::from_consent(consent)?)
    }

    /// The style vector for an utterance of `tokens` tokens.
    pub fn style_row(&self, tokens: usize) -> &[f32] {
        self.data.style_row(tokens)
    }

    /// The whole style table, row-major `[STYLE_ROWS, STYLE_DIM]`.
    pub fn style(&self) -> &[f32] {
        &self.data.style
    }

    /// Speaker adapter tensors (name, shape, values).
    pub fn adapters(&self) -> &[(String, Vec<usize>, Vec<f32>)] {
        &self.data.adapters
    }

    /// The pack's metadata.
    pub fn meta(&self) -> &VoiceMeta {
        &self.data.meta
    }

    /// The consent this voice was built under.
    pub fn consent(&self) -> &avow_consent::VerifiedConsent {
        &self.consent
    }
}

/// Why [`Voice::open`] failed: the consent was refused, or the consented
/// bytes are not a usable voice pack.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The consent record did not verify (see its exit code for the CLI).
    #[error(transparent)]
    Consent(#[from] avow_consent::ConsentError),
    /// The record verified but the pack does not parse.
    #[error(transparent)]
    Pack(#[from] VoicePackError),
}

/// Lowercase hex sha256 of voice pack bytes: what consent records name.
pub fn pack_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads an f32 tensor, checking its shape when one is required
/// (`(shape, shape as the error shows it)`).
fn read_f32(name: &str, view: &TensorView<'_>, shape: Option<(&[usize], &'static str)>) -> Result<Vec<f32>, VoicePackError> {
    let bad = || VoicePackError::BadTensor {
        name: name.to_string(),
        dtype: format!("{:?}", view.dtype()),
        shape: view.shape().to_vec(),
        expected: shape.map_or("any shape", |(_, shown)| shown),
    };
    if view.dtype() != Dtype::F32 || shape.is_some_and(|(s, _)| s != view.shape()) {
        return Err(bad());
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(VoicePackError::Malformed(format!("tensor `{name}` holds NaN or infinity")));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sample() -> VoicePackData {
        VoicePackData {
            meta: VoiceMeta { name: "t".into(), language: "en-us".into(), model: "kokoro-82m-v1.0".into() },
            style: (0..STYLE_ROWS * STYLE_DIM).map(|i| i as f32 * 1e-3).collect(),
            adapters: vec![("decoder.gain".into(), vec![2], vec![1.0, 2.0])],
            speaker: Some((0..SPEAKER_DIM).map(|i| (i as f32 * 0.1).sin()).collect()),
        }
    }

    #[test]
    fn the_speaker_embedding_is_optional_checked_and_part_of_the_hashed_bytes() {
        let with = sample();
        let without = VoicePackData { speaker: None, ..sample() };
        assert_eq!(VoicePackData::from_bytes(&without.to_bytes().unwrap()).unwrap().speaker, None);
        assert_ne!(pack_sha256(&with.to_bytes().unwrap()), pack_sha256(&without.to_bytes().unwrap()));
        let mut other = sample();
        other.speaker.as_mut().unwrap()[0] += 0.5;
        assert_ne!(pack_sha256(&with.to_bytes().unwrap()), pack_sha256(&other.to_bytes().unwrap()));
        let short = VoicePackData { speaker: Some(vec![0.1; 10]), ..sample() };
        assert!(matches!(short.to_bytes(), Err(VoicePackError::BadTensor { .. })));
        let nan = VoicePackData { speaker: Some(vec![f32::NAN; SPEAKER_DIM]), ..sample() };
        assert!(matches!(nan.to_bytes(), Err(VoicePackError::BadTensor { .. })));
    }

    #[test]
    fn round_trip_preserves_everything_and_is_deterministic() {
        let pack = sample();
        let bytes = pack.to_bytes().unwrap();
        for _ in 0..4 {
            let again = pack.to_bytes().unwrap();
            assert!(bytes == again, "serialization must be deterministic for hashing");
        }
        let back = VoicePackData::from_bytes(&bytes).unwrap();
        assert_eq!(back, pack);
        assert_eq!(back.style_row(3)[0], (3 * STYLE_DIM) as f32 * 1e-3);
    }

    #[test]
    fn rejects_garbage_wrong_shape_and_foreign_tensors() {
        assert!(matches!(VoicePackData::from_bytes(b"garbage"), Err(VoicePackError::Malformed(_))));
        let mut pack = sample();
        pack.style.truncate(10);
        assert!(pack.to_bytes().is_err());
        let data = vec![0u8; 8];
        let view = TensorView::new(Dtype::F32, vec![2], &data).unwrap();
        let meta: HashMap<String, String> =
            [("avow.format", FORMAT), ("name", "x"), ("language", "en"), ("model", "m")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let bytes = safetensors::serialize(vec![("style".to_string(), view)], Some(meta)).unwrap();
        assert!(matches!(VoicePackData::from_bytes(&bytes), Err(VoicePackError::BadTensor { .. })));
    }
}
