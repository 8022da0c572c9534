//! Shared by the integration tests: finding the model and the shared speech.

#![allow(dead_code)]

use std::path::PathBuf;

use avow_asr::cache::{whisper_wheel, ASR_DIR, MANIFEST_FILE};
use avow_asr::{AsrCache, Transcriber};

/// True when CI demands the models and data (absence is then a failure).
pub fn required() -> bool {
    std::env::var_os("AVOW_REQUIRE_MODELS").is_some_and(|v| v == "1")
}

fn skip(what: String) {
    assert!(!required(), "AVOW_REQUIRE_MODELS=1 but {what}");
    eprintln!("skipping: {what}");
}

/// The model cache, if it holds the converted model or the pinned wheel
/// (tests never download).
pub fn cache() -> Option<AsrCache> {
    let dir = avow_models::ModelCache::default_dir().ok()?;
    let converted = dir.join(ASR_DIR).join(MANIFEST_FILE).is_file();
    let wheel = dir.join("downloads").join(whisper_wheel().filename).is_file();
    if converted || wheel {
        return Some(AsrCache::new(dir));
    }
    skip(format!("no Whisper model in {} (run .ci/setup.d/30-models.sh or `avow transcribe` once)", dir.display()));
    None
}

/// The loaded model (converted on first use from the cached wheel).
pub fn transcriber() -> Option<Transcriber> {
    let files = cache()?.ensure(false).expect("the model converts and loads");
    Some(Transcriber::load(&files).expect("the model loads"))
}

/// The shared LibriSpeech directory: `AVOW_SHARED_DATA`, else
/// `shared/data/librispeech` next to an ancestor of this crate (the main
/// checkout and worktrees sit at different depths), as avow-speaker's tests.
pub fn librispeech() -> Option<PathBuf> {
    let found = std::env::var_os("AVOW_SHARED_DATA").map(PathBuf::from).filter(|p| p.is_dir()).or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).ancestors().map(|a| a.join("shared/data/librispeech")).find(|p| p.is_dir())
    });
    if found.is_none() {
        // Shared test data is not part of what .ci/run installs: absent, the
        // tests skip even where models are required.
        eprintln!("skipping: the shared LibriSpeech data is missing (set AVOW_SHARED_DATA)");
    }
    found
}

/// 16 kHz samples of a fixture path (`a.flac+b.flac` concatenates).
pub fn fixture_audio(root: &std::path::Path, rel: &str) -> Vec<f32> {
    rel.split('+').flat_map(|p| avow_asr::read_audio_16k(&root.join(p)).expect("clip reads")).collect()
}
