//! Compiles the repository's trust roots (`consent/trust/*.pub`) into the
//! library, so an installed binary that never sees the repository still trusts
//! the stock-voice key. A build script (not `include_str!` of fixed names)
//! because the set of files is only known once the stock key has been made.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let trust = manifest.join("../../consent/trust");
    println!("cargo:rerun-if-changed={}", trust.display());
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&trust) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pub"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let mut code = String::from("/// Trust roots compiled in from `consent/trust/*.pub`: (file name, contents).\npub(crate) const BUILTIN_KEYS: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let abs = f.canonicalize().unwrap_or_else(|_| f.clone());
        code.push_str(&format!("    ({name:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin_keys.rs");
    std::fs::write(out, code).expect("write builtin_keys.rs");
}
