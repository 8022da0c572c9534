//! The committed C header is what cbindgen makes of the current source: a
//! change to the ABI that forgets to regenerate `include/avow.h` fails here.
//!
//! Regenerate with `AVOW_UPDATE_HEADER=1 cargo test -p avow-capi --test header`.

use std::path::PathBuf;

fn generate() -> String {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        // Only this crate's own source declares the ABI; no dependency parsing needed.
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn committed_header_matches_the_source() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/avow.h");
    let fresh = generate();
    if std::env::var_os("AVOW_UPDATE_HEADER").is_some() {
        let tmp = path.with_extension("h.tmp");
        std::fs::write(&tmp, &fresh).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: regenerate it with `AVOW_UPDATE_HEADER=1 cargo test -p avow-capi --test header` and commit it",
        path.display()
    );
}

#[test]
fn header_declares_every_exported_function() {
    // The shared library's symbols and the header must agree; a function
    // missing `#[no_mangle] extern "C"` would silently drop out of both.
    let header = generate();
    for f in [
        "avow_version",
        "avow_last_error",
        "avow_status_name",
        "avow_engine_open",
        "avow_engine_free",
        "avow_voice_load",
        "avow_voice_stock",
        "avow_voice_watermark",
        "avow_voice_free",
        "avow_speak",
        "avow_speech_free",
        "avow_stream",
    ] {
        assert!(header.contains(&format!("{f}(")), "header lacks {f}");
    }
    assert!(header.contains("AVOW_STATUS_CONSENT_HASH_MISMATCH = 19"), "consent codes keep the CLI exit codes");
    assert!(header.contains("#define AVOW_SAMPLE_RATE 24000"));
}
