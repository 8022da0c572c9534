//! Where model-backed tests find the converted model: the cache the binary
//! and the engine would use (AVOW_CACHE_DIR, XDG, HOME). Without weights a
//! test skips, unless `AVOW_REQUIRE_MODELS` is set (CI), where a missing
//! cache is a failure. Shared by the test crates of several packages through
//! `#[path]`, so each uses what it needs of it.
#![allow(dead_code)]

use std::path::PathBuf;

/// The model cache directory, or `None` (after saying why) when it holds no weights.
pub fn cache_dir() -> Option<PathBuf> {
    cache_with_voices(&[])
}

/// Like [`cache_dir`], and the stock voices `voices` must be there too.
pub fn cache_with_voices(voices: &[&str]) -> Option<PathBuf> {
    let dir = avow_models::ModelCache::default_dir().ok()?;
    let has = |rel: String| dir.join(rel).exists();
    if has("kokoro-82m-v1.0.safetensors".into()) && voices.iter().all(|v| has(format!("voices/{v}.voicepack"))) {
        return Some(dir);
    }
    assert!(std::env::var_os("AVOW_REQUIRE_MODELS").is_none(), "AVOW_REQUIRE_MODELS is set but {} has no weights", dir.display());
    eprintln!("skipping: no converted weights in {} (run `avow models fetch`)", dir.display());
    None
}
