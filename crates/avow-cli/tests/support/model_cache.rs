//! Where the CLI tests find the converted model: the cache the binary itself
//! would use (AVOW_CACHE_DIR, XDG, HOME). Without weights a test skips, unless
//! `AVOW_REQUIRE_MODELS` is set (CI), where a missing cache is a failure.

use std::path::PathBuf;

/// The model cache directory, or `None` (after saying why) when it holds no weights.
pub fn cache_dir() -> Option<PathBuf> {
    let dir = avow_models::ModelCache::default_dir().ok()?;
    if dir.join("kokoro-82m-v1.0.safetensors").exists() {
        return Some(dir);
    }
    assert!(std::env::var_os("AVOW_REQUIRE_MODELS").is_none(), "AVOW_REQUIRE_MODELS is set but {} has no weights", dir.display());
    eprintln!("skipping: no converted weights in {} (run `avow models fetch`)", dir.display());
    None
}
