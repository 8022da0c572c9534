//! What the model-backed tests of this crate share: the model cache, stock
//! style tables and the Kokoro fixtures' token lists.

use std::path::{Path, PathBuf};

#[path = "../../../avow-models/tests/support/model_cache.rs"]
mod model_cache;

/// The model cache, if it holds the converted weights and stock voices;
/// `None` (skip) without them unless `AVOW_REQUIRE_MODELS=1`, which makes
/// their absence a failure.
pub fn cache() -> Option<PathBuf> {
    model_cache::cache_with_voices(&["jm_kumo"])
}

/// The style table of stock voice `voice`.
pub fn style_table(cache: &Path, voice: &str) -> Vec<f32> {
    let bytes = std::fs::read(cache.join(format!("voices/{voice}.voicepack"))).unwrap();
    avow_voice::VoicePackData::from_bytes(&bytes).unwrap().style
}

/// Token ids of Kokoro fixture `name` (`avow-kokoro/tests/fixtures/NAME.json`).
pub fn fixture_tokens(name: &str) -> Vec<u32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../avow-kokoro/tests/fixtures/{name}.json"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect()
}
