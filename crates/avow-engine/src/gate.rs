//! The consent gate on its own, without the model: trust roots, revocations
//! and the stock records. Verifying a record takes well under a millisecond
//! while loading the model takes seconds, so a caller opens the gate and the
//! voice first and loads the model ([`crate::Engine::with_gate`]) only for a
//! voice that passed: a refusal does not wait for the model.
//!
//! What comes out is the same [`Voice`] the engine takes, and it can still
//! only be built from a verified consent record (`avow_voice`'s private
//! constructor); the gate only moves the check earlier.

use std::path::Path;
use std::sync::OnceLock;

use avow_consent::{Purpose, RevocationStore, TrustStore, VerifyRequest};
use avow_models::{ModelCache, ModelFiles};
use avow_voice::Voice;

use crate::{check_language, stock, EngineError, EngineOptions};

/// Trust roots, the revocation directories and where the stock voice packs
/// are: everything needed to verify a voice, nothing of the model.
/// Thread-safe, like the engine that takes it over.
pub struct ConsentGate {
    options: EngineOptions,
    trust: TrustStore,
    /// The checked model cache, found on the first stock voice (whose pack
    /// lives there) or when the engine loads; a voice pack given by path
    /// never needs it.
    files: OnceLock<ModelFiles>,
}

impl ConsentGate {
    /// Reads the trust roots and checks that the revocation directories
    /// (see [`EngineOptions`]) can be read. Loads no model and touches no
    /// model cache.
    pub fn open(options: &EngineOptions) -> Result<Self, EngineError> {
        let trust = TrustStore::resolve(&options.trust_dirs)?;
        // Read once here so that a broken revocation directory fails at open.
        RevocationStore::resolve(&options.revocation_dirs)?;
        Ok(Self { options: options.clone(), trust, files: OnceLock::new() })
    }

    /// Verifies the consent record at `record` for the voice pack at `pack`,
    /// for `purpose` and `language` (BCP-47, also the language spoken),
    /// against the revocations on disk now, and builds the voice from the
    /// bytes that were hashed. A speaker adapter in the pack is not checked
    /// against the model here (there is none yet): the engine does that
    /// ([`crate::Engine::check_fits`]).
    pub fn load_voice(&self, pack: &Path, record: &Path, purpose: Purpose, language: &str) -> Result<Voice, EngineError> {
        check_language(language)?;
        let request = VerifyRequest::new(purpose, language);
        let consent = avow_consent::verify_files(record, pack, &request, &self.trust, &self.revocations()?)?;
        Ok(Voice::from_consent(consent)?)
    }

    /// A stock voice through its signed stock record. Its pack is in the
    /// model cache, which is fetched on first use like the engine's.
    pub fn stock_voice(&self, name: &str, purpose: Purpose, language: &str) -> Result<Voice, EngineError> {
        check_language(language)?;
        let unknown = || EngineError::UnknownVoice { name: name.to_string() };
        let record = stock::record(name).ok_or_else(unknown)?;
        let pack_path = self.model_files()?.voices.get(name).ok_or_else(unknown)?;
        let pack = avow_consent::read_limited(pack_path, avow_voice::MAX_PACK_BYTES)?;
        let request = VerifyRequest::new(purpose, language);
        let consent = avow_consent::verify(record.as_bytes(), pack, &request, &self.trust, &self.revocations()?)?;
        Ok(Voice::from_consent(consent)?)
    }

    /// The options the gate was opened with (the engine loads with the same).
    pub(crate) fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The model cache's files, fetched and converted on first use; checked
    /// once per gate.
    pub(crate) fn model_files(&self) -> Result<&ModelFiles, EngineError> {
        if let Some(files) = self.files.get() {
            return Ok(files);
        }
        let cache = ModelCache::from_dir_or_env(self.options.cache_dir.clone())?;
        let files = cache.ensure(self.options.progress)?;
        // Two threads racing here both checked the same directory: either result will do.
        Ok(self.files.get_or_init(|| files))
    }

    /// Revocations are read again at every load, so one written while a
    /// long-lived engine runs refuses the next load.
    fn revocations(&self) -> Result<RevocationStore, EngineError> {
        Ok(RevocationStore::resolve(&self.options.revocation_dirs)?)
    }
}
