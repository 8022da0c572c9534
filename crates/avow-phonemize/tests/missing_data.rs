//! A missing espeak-ng data directory is a clear error, not an exit() or a
//! crash. Its own test binary: libespeak-ng can be initialized once per
//! process.

use avow_phonemize::EspeakPhonemizer;

#[test]
fn missing_data_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = EspeakPhonemizer::with_data_path(dir.path()).expect_err("no data, no phonemizer");
    let msg = err.to_string();
    assert!(msg.contains("espeak_Initialize failed"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    // Nothing half-initialized is left behind: a second try fails the same way.
    assert!(EspeakPhonemizer::with_data_path(dir.path()).is_err());
}
