//! `avow bank record` through the real binary. Without the `audio-device`
//! feature (how CI builds) it must exist, fail with exit code 1 and say how
//! to get a build that records; with the feature, bad arguments are refused
//! before any device is opened. The recording loop itself is tested in
//! `cmd::record` with a scripted microphone.

use std::process::{Command, Output};

fn avow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avow")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bank_record_is_listed_with_its_options() {
    let o = avow(&["bank", "record", "--help"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    for option in ["--out", "--start", "--prompts"] {
        assert!(help.contains(option), "{help}");
    }
    // --out is required (clap usage error, exit 2).
    assert_eq!(avow(&["bank", "record"]).status.code(), Some(2));
}

#[cfg(not(feature = "audio-device"))]
#[test]
fn without_the_feature_bank_record_says_how_to_build_it_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("takes");
    let o = avow(&["bank", "record", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("avow: error: `avow bank record` needs a microphone"), "{err}");
    assert!(err.contains("--features audio-device") && err.contains("libasound2-dev"), "{err}");
    assert!(err.contains("001.wav + 001.txt"), "says what to do instead: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "created the output folder");
}

#[cfg(feature = "audio-device")]
#[test]
fn with_the_feature_bad_arguments_are_refused_before_the_microphone_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("takes");
    let o = avow(&["bank", "record", "--out", out.to_str().unwrap(), "--start", "151"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--start 151: the prompts are numbered 1 to 150"), "{}", stderr(&o));
    let empty = tmp.path().join("prompts.txt");
    std::fs::write(&empty, "# nothing yet\n\n").unwrap();
    let o = avow(&["bank", "record", "--out", out.to_str().unwrap(), "--prompts", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no prompts"), "{}", stderr(&o));
    let o = avow(&["bank", "record", "--out", out.to_str().unwrap(), "--prompts", tmp.path().join("missing.txt").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    assert!(!out.exists(), "created the output folder");
}
