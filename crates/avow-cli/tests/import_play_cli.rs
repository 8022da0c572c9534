//! `avow models import` and `avow say --play` through the real binary. The
//! import fixtures are avow-kokoro's small release-format files; the test
//! that needs a complete cache skips without one unless
//! `AVOW_REQUIRE_MODELS=1` (CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn avow(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(args)
        .env("AVOW_CACHE_DIR", cache)
        .env_remove("XDG_CACHE_HOME")
        .output()
        .expect("run avow")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../avow-kokoro/tests/fixtures/pth").join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn import_needs_something_to_import() {
    let tmp = tempfile::tempdir().unwrap();
    let out = avow(&["models", "import"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nothing to import"), "{}", stderr(&out));
}

#[test]
fn a_broken_checkpoint_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let cut = tmp.path().join("kokoro-v1_0.pth");
    let good = std::fs::read(fixture("kokoro-mini.pth")).unwrap();
    std::fs::write(&cut, &good[..good.len() - 100]).unwrap();
    let out = avow(&["models", "import", "--pth", cut.to_str().unwrap()], &cache);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("truncated or corrupted") && err.contains("kokoro-v1_0.pth"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!cache.exists());

    let out = avow(&["models", "import", "--pth", fixture("legacy.pth").to_str().unwrap()], &cache);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("legacy"), "{}", stderr(&out));
    assert!(!cache.exists());
}

#[test]
fn imported_voices_are_listed_with_their_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let voice = tmp.path().join("af_fixture.pt");
    std::fs::copy(fixture("jf_nezumi.pt"), &voice).unwrap();
    let out = avow(&["models", "import", "--voices", voice.to_str().unwrap(), "--json"], &cache);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let written = &report["written"][0];
    assert_eq!(written["path"], "voices/af_fixture.voicepack");
    let sha = written["sha256"].as_str().unwrap().to_string();

    let out = avow(&["models", "list", "--json"], &cache);
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = listing["files"].as_array().unwrap().iter().find(|f| f["path"] == "voices/af_fixture.voicepack").unwrap();
    assert_eq!((row["state"].as_str(), row["expected_sha256"].as_str()), (Some("ok"), Some(sha.as_str())));
}

/// The fetched cache, hard-linked (or copied) into `dir` so the shared one is never touched.
fn clone_fetched_cache(dir: &Path) -> bool {
    let Ok(shared) = avow_models::ModelCache::default_dir() else { return false };
    if !shared.join("manifest.json").is_file() {
        assert!(std::env::var_os("AVOW_REQUIRE_MODELS").is_none(), "AVOW_REQUIRE_MODELS is set but {} has no models", shared.display());
        eprintln!("skipping: no fetched model cache (run `avow models fetch`)");
        return false;
    }
    let link = |from: &Path, to: &Path| std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ())).unwrap();
    std::fs::create_dir_all(dir.join("voices")).unwrap();
    for f in ["manifest.json", "vocab.json", "kokoro-82m-v1.0.safetensors", "kokoro-v1.0.int8.onnx"] {
        link(&shared.join(f), &dir.join(f));
    }
    for f in std::fs::read_dir(shared.join("voices")).unwrap() {
        let f = f.unwrap().path();
        link(&f, &dir.join("voices").join(f.file_name().unwrap()));
    }
    true
}

#[test]
fn verify_accepts_a_cache_with_imported_voices() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    if !clone_fetched_cache(&cache) {
        return;
    }
    let voice = tmp.path().join("bf_fixture.pt");
    std::fs::copy(fixture("jf_nezumi.pt"), &voice).unwrap();
    let out = avow(&["models", "import", "--voices", voice.to_str().unwrap()], &cache);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = avow(&["models", "verify"], &cache);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("voices/bf_fixture.voicepack"));

    // The imported pack is checked like any other file.
    std::fs::write(cache.join("voices/bf_fixture.voicepack"), b"tampered").unwrap();
    let out = avow(&["models", "verify"], &cache);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn say_needs_an_output_or_play() {
    let tmp = tempfile::tempdir().unwrap();
    let out = avow(&["say", "Hello."], tmp.path());
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(stderr(&out).contains("--out"), "{}", stderr(&out));
    let out = avow(&["say", "--play", "--out", "x.wav", "Hello."], tmp.path());
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(not(feature = "audio-device"))]
#[test]
fn play_without_the_feature_says_how_to_build_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = avow(&["say", "--play", "Hello."], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("--features audio-device") && err.contains("libasound2-dev"), "{err}");
    // Refused before any model loading (the cache here is empty).
    assert!(!tmp.path().join("manifest.json").exists());
}
