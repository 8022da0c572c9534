//! Ledger: tampering, deletion, reordering, truncation, a torn last line, and
//! two processes appending at once.

use std::path::{Path, PathBuf};

use avow_consent::ledger::{self, HeadStatus, Ledger, LedgerEntry, LedgerError};
use avow_consent::{sha256_hex, Purpose, Timestamp};

fn entry(i: u32) -> LedgerEntry {
    LedgerEntry {
        time: Timestamp(1_795_680_000 + i64::from(i)),
        record_id: "rec-1".into(),
        pack_sha256: sha256_hex(b"pack"),
        purpose: Purpose::Aac,
        language: "ja".into(),
        text_sha256: sha256_hex(format!("text {i}").as_bytes()),
        audio_sha256: sha256_hex(format!("audio {i}").as_bytes()),
        watermark: 0x1234_5678,
    }
}

fn ledger_with(n: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut l = Ledger::open(&path).unwrap();
    for i in 0..n {
        let r = l.append(&entry(i)).unwrap();
        assert_eq!(r.seq, u64::from(i) + 1);
    }
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(String::from).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

#[test]
fn intact_ledger_verifies() {
    let (_d, path) = ledger_with(5);
    let r = ledger::verify(&path).unwrap();
    assert_eq!(r.entries, 5);
    assert_eq!(r.head, HeadStatus::Matches);
    assert_eq!(r.last_hash, sha256_hex(lines(&path)[4].as_bytes()));
    let (_d, empty) = ledger_with(0);
    assert_eq!(ledger::verify(&empty).unwrap().entries, 0);
}

#[test]
fn read_verified_returns_exactly_the_appended_entries_and_refuses_an_edited_ledger() {
    let (_d, path) = ledger_with(3);
    let (report, got) = ledger::read_verified(&path).unwrap();
    assert_eq!(report.entries, 3);
    assert_eq!(got, (0..3).map(entry).collect::<Vec<_>>());
    let mut l = lines(&path);
    l[0] = l[0].replace("\"watermark\":\"12345678\"", "\"watermark\":\"12345679\"");
    assert_ne!(l[0], lines(&path)[0], "the edit must change the line");
    write_lines(&path, &l);
    assert_eq!(ledger::read_verified(&path).unwrap_err(), LedgerError::BrokenChain { line: 2 });
}

#[test]
fn editing_any_entry_is_detected() {
    let (_d, path) = ledger_with(5);
    let orig = lines(&path);
    for i in 0..5 {
        let mut l = orig.clone();
        l[i] = l[i].replace("\"language\":\"ja\"", "\"language\":\"en\"");
        write_lines(&path, &l);
        let e = ledger::verify(&path).unwrap_err();
        if i < 4 {
            assert_eq!(e, LedgerError::BrokenChain { line: i as u64 + 2 }, "edit of line {}", i + 1);
        } else {
            assert!(matches!(e, LedgerError::HeadMismatch(_)), "edit of the last line: {e}");
        }
        assert!(e.exit_code() >= 20);
    }
    let mut l = orig.clone();
    l[1] = l[1].replace("\"seq\":2", "\"seq\":2,\"x\":1");
    write_lines(&path, &l);
    assert!(matches!(ledger::verify(&path), Err(LedgerError::BadEntry { line: 2, .. })));
}

#[test]
fn deleting_or_reordering_entries_is_detected() {
    let (_d, path) = ledger_with(5);
    let orig = lines(&path);
    let mut l = orig.clone();
    l.remove(2);
    write_lines(&path, &l);
    assert_eq!(ledger::verify(&path).unwrap_err(), LedgerError::BadSequence { line: 3, found: 4 });
    let mut l = orig.clone();
    l.swap(1, 2);
    write_lines(&path, &l);
    assert_eq!(ledger::verify(&path).unwrap_err(), LedgerError::BadSequence { line: 2, found: 3 });
    let mut l = orig.clone();
    l.remove(0);
    write_lines(&path, &l);
    assert_eq!(ledger::verify(&path).unwrap_err(), LedgerError::BadSequence { line: 1, found: 2 });
}

#[test]
fn truncation_at_a_line_boundary_is_detected() {
    let (_d, path) = ledger_with(5);
    let l = lines(&path);
    write_lines(&path, &l[..3]);
    assert_eq!(ledger::verify(&path).unwrap_err(), LedgerError::Truncated { entries: 3, head_seq: 5 });
    std::fs::write(&path, "").unwrap();
    assert_eq!(ledger::verify(&path).unwrap_err(), LedgerError::Truncated { entries: 0, head_seq: 5 });
}

#[test]
fn torn_last_line_is_reported_precisely_and_never_merged() {
    let (_d, path) = ledger_with(3);
    let full = std::fs::read(&path).unwrap();
    let good_len = full.len() as u64;
    // A crash while writing entry 4: part of a line, no newline.
    let mut torn = full.clone();
    torn.extend_from_slice(b"{\"seq\":4,\"time\":\"2026-11-");
    std::fs::write(&path, &torn).unwrap();
    let e = ledger::verify(&path).unwrap_err();
    assert_eq!(e, LedgerError::TornFinalLine { line: 4, offset: good_len, len: 25 });
    assert_eq!(e.exit_code(), 23);
    let open = Ledger::open(&path).unwrap_err();
    assert!(matches!(open, LedgerError::TornFinalLine { line: 4, offset, .. } if offset == good_len), "{open}");

    let aside = ledger::recover_torn_tail(&path).unwrap().expect("moved aside");
    assert_eq!(std::fs::read(&aside).unwrap(), b"{\"seq\":4,\"time\":\"2026-11-");
    assert_eq!(std::fs::read(&path).unwrap(), full);
    let mut l = Ledger::open(&path).unwrap();
    assert_eq!(l.append(&entry(9)).unwrap().seq, 4);
    assert_eq!(ledger::verify(&path).unwrap().entries, 4);
    assert_eq!(ledger::recover_torn_tail(&path).unwrap(), None);

    // A last line whose newline alone is missing is torn too, not accepted.
    let mut cut = std::fs::read(&path).unwrap();
    cut.pop();
    std::fs::write(&path, &cut).unwrap();
    assert!(matches!(ledger::verify(&path), Err(LedgerError::TornFinalLine { line: 4, .. })));
}

#[test]
fn head_lagging_by_one_after_a_crash_is_accepted_and_named() {
    let (_d, path) = ledger_with(3);
    let head = ledger::head_path(&path);
    let old = std::fs::read(&head).unwrap();
    Ledger::open(&path).unwrap().append(&entry(3)).unwrap();
    std::fs::write(&head, &old).unwrap();
    assert_eq!(ledger::verify(&path).unwrap().head, HeadStatus::LagsByOne);
    std::fs::remove_file(&head).unwrap();
    assert_eq!(ledger::verify(&path).unwrap().head, HeadStatus::Missing);
}

const CHILD_ENV: &str = "AVOW_LEDGER_TEST_CHILD";
const PER_CHILD: u32 = 150;

/// Runs only as a child process of `two_processes_append_concurrently`.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let mut l = Ledger::open(Path::new(&path)).unwrap();
    for i in 0..PER_CHILD {
        l.append(&entry(i)).unwrap();
    }
}

#[test]
fn two_processes_append_concurrently() {
    let (_d, path) = ledger_with(0);
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_writer", "--test-threads", "1", "--quiet"])
                .env(CHILD_ENV, &path)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let r = ledger::verify(&path).unwrap();
    assert_eq!(r.entries, u64::from(2 * PER_CHILD));
    assert_eq!(r.head, HeadStatus::Matches);
}

#[test]
fn open_refuses_a_damaged_last_entry_naming_its_line() {
    let (_d, path) = ledger_with(3);
    let mut l = lines(&path);
    l[2] = "{\"seq\":3,\"oops\":true}".into();
    write_lines(&path, &l);
    let e = Ledger::open(&path).unwrap_err();
    assert!(matches!(e, LedgerError::BadEntry { line: 3, .. }), "{e}");
    // Replacing the first entry is named as such.
    let (_d, path) = ledger_with(2);
    let mut l = lines(&path);
    l[0] = l[0].replace(&"0".repeat(64), &"1".repeat(64));
    write_lines(&path, &l);
    let e = ledger::verify(&path).unwrap_err();
    assert_eq!(e, LedgerError::BrokenChain { line: 1 });
    assert!(e.to_string().contains("genesis"), "{e}");
}
