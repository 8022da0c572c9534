//! Locating the model cache and the shared LibriSpeech data for tests: skip
//! with a message when absent, fail when `AVOW_REQUIRE_MODELS=1` (CI).
#![allow(dead_code)]

use std::path::PathBuf;

use avow_speaker::SpeakerEncoder;

fn required() -> bool {
    std::env::var_os("AVOW_REQUIRE_MODELS").is_some_and(|v| v == "1")
}

/// The encoder from the model cache (built from the wheel if needed), or
/// `None` (skip) when it cannot be had and models are not required.
pub fn encoder() -> Option<SpeakerEncoder> {
    match SpeakerEncoder::from_cache(false) {
        Ok(e) => Some(e),
        Err(e) => {
            assert!(
                !required(),
                "AVOW_REQUIRE_MODELS=1 but the speaker encoder is unavailable: {e}"
            );
            eprintln!("skipping: speaker encoder unavailable ({e})");
            None
        }
    }
}

/// The shared LibriSpeech folder: `AVOW_SHARED_DATA`, else the first
/// `shared/data/librispeech` found next to an ancestor of this crate (the
/// main checkout and worktrees sit at different depths).
pub fn librispeech() -> Option<PathBuf> {
    let found = std::env::var_os("AVOW_SHARED_DATA")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|a| a.join("shared/data/librispeech"))
                .find(|p| p.is_dir())
        });
    // Shared test data is not part of what .ci/run installs: absent, the
    // tests skip even where models are required.
    if found.is_none() {
        eprintln!("skipping: no shared LibriSpeech data (set AVOW_SHARED_DATA)");
    }
    found
}

/// Mono samples of a 16 kHz file.
pub fn read_16k(path: &std::path::Path) -> Vec<f32> {
    let a = avow_audio::read_audio(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(a.sample_rate, 16_000, "{}", path.display());
    a.to_mono()
}
