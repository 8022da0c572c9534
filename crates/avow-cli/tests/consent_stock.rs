//! tools/sign-stock-records.sh on dummy packs: five records that verify
//! under the new public key, and no private key left anywhere.

use std::process::Command;

#[test]
fn stock_record_tool_signs_five_records_and_destroys_the_key() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tools/sign-stock-records.sh");
    if !script.exists() {
        eprintln!("skipping: {} not found", script.display());
        return;
    }
    let dir = std::env::temp_dir().join(format!("avow-stock-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (packs, voices, trust) = (dir.join("packs"), dir.join("voices"), dir.join("trust"));
    std::fs::create_dir_all(&packs).unwrap();
    let names = ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"];
    for (i, n) in names.iter().enumerate() {
        std::fs::write(packs.join(format!("{n}.voicepack")), format!("dummy pack {i}")).unwrap();
    }
    let run = |extra: &[&str]| {
        Command::new("bash")
            .arg(&script)
            .arg(&packs)
            .args(["--out-voices", voices.to_str().unwrap(), "--out-trust", trust.to_str().unwrap()])
            .args(extra)
            .env("AVOW", env!("CARGO_BIN_EXE_avow"))
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(trust.join("avow-stock.pub").exists());
    let files: Vec<_> = std::fs::read_dir(&trust).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "only the public key is kept: {files:?}");

    for (i, n) in names.iter().enumerate() {
        let rec = voices.join(format!("{n}.consent.json"));
        let verify = |pack: &std::path::Path, purpose: &str, lang: &str| {
            Command::new(env!("CARGO_BIN_EXE_avow"))
                .args(["consent", "verify", rec.to_str().unwrap(), "--pack", pack.to_str().unwrap()])
                .args(["--purpose", purpose, "--language", lang, "--trust", trust.to_str().unwrap(), "--revoked", trust.to_str().unwrap()])
                .output()
                .unwrap()
                .status
                .code()
        };
        let pack = packs.join(format!("{n}.voicepack"));
        assert_eq!(verify(&pack, "dubbing", "en-US"), Some(0), "{n}");
        assert_eq!(verify(&pack, "research", "ja"), Some(0), "{n}");
        let other = packs.join(format!("{}.voicepack", names[(i + 1) % names.len()]));
        assert_eq!(verify(&other, "aac", "ja"), Some(19), "{n} must not cover another stock pack");
        let text = std::fs::read_to_string(&rec).unwrap();
        let (_, st) = avow_consent::parse_record(text.as_bytes()).unwrap();
        assert!(st.evidence.statement_text.contains("Apache-2.0"));
        assert_eq!(st.record_id, format!("avow-stock-{n}"));
    }
    // Re-running without --force refuses rather than silently re-keying.
    assert!(!run(&[]).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
