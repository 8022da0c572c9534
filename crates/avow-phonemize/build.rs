//! Links Debian's libespeak-ng. The FFI declarations are written by hand in
//! `src/ffi.rs` (three functions), so neither bindgen nor libclang is needed.

use std::path::Path;

const LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
];

fn main() {
    println!("cargo:rerun-if-env-changed=ESPEAK_NG_LIB_DIR");
    let mut dirs: Vec<String> = LIB_DIRS.iter().map(|s| s.to_string()).collect();
    if let Ok(d) = std::env::var("ESPEAK_NG_LIB_DIR") {
        dirs.insert(0, d);
    }
    for dir in &dirs {
        if Path::new(dir).join("libespeak-ng.so").exists() {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:rustc-link-lib=dylib=espeak-ng");
            return;
        }
    }
    // Without the -dev package only the versioned soname exists; link it by
    // file name so the runtime package (libespeak-ng1) alone is enough.
    for dir in &dirs {
        if Path::new(dir).join("libespeak-ng.so.1").exists() {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:rustc-link-arg=-l:libespeak-ng.so.1");
            return;
        }
    }
    eprintln!(
        "avow-phonemize: libespeak-ng not found in {dirs:?}. Install it with \
         `apt-get install libespeak-ng-dev` (see .ci/setup.d/20-text.sh) or set \
         ESPEAK_NG_LIB_DIR."
    );
    std::process::exit(1);
}
