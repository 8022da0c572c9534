//! `avow audit verify` / `recover` through the real binary.

use std::process::Command;

use avow_consent::ledger::{Ledger, LedgerEntry};
use avow_consent::{sha256_hex, Purpose, Timestamp};

fn audit(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_avow")).arg("audit").args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn audit_verify_reports_tampering_and_torn_lines() {
    let dir = tempfile::Builder::new().prefix("avow-consent-cli-").tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let p = path.to_str().unwrap();
    let mut l = Ledger::open(&path).unwrap();
    for i in 0..4 {
        l.append(&LedgerEntry {
            time: Timestamp(1_800_000_000 + i),
            record_id: "r".into(),
            pack_sha256: sha256_hex(b"p"),
            purpose: Purpose::Narration,
            language: "en".into(),
            text_sha256: sha256_hex(b"t"),
            audio_sha256: sha256_hex(&i.to_le_bytes()),
            watermark: 7,
        })
        .unwrap();
    }
    let (code, out) = audit(&["verify", p]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 entries") && out.contains("head matches"), "{out}");

    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replacen("\"seq\":2,\"time\":\"2027", "\"seq\":2,\"time\":\"2028", 1)).unwrap();
    let (code, out) = audit(&["verify", p]);
    assert_eq!(code, 21, "{out}");
    assert!(out.contains("line 3"), "{out}");

    std::fs::write(&path, format!("{good}{{\"seq\":5,\"ti")).unwrap();
    let (code, out) = audit(&["verify", p]);
    assert_eq!(code, 23, "{out}");
    assert!(out.contains("line 5") && out.contains(&format!("byte offset {}", good.len())), "{out}");
    let (code, out) = audit(&["recover", p]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(audit(&["verify", p]).0, 0);

    let lines: Vec<&str> = good.lines().collect();
    std::fs::write(&path, format!("{}\n", lines[..2].join("\n"))).unwrap();
    let (code, out) = audit(&["verify", p]);
    assert_eq!(code, 22, "{out}");
}

