//! The consent walkthrough through the real binary: keys → draft → sign →
//! show → verify → revoke → verify fails, and one exit code per failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Walk {
    dir: tempfile::TempDir,
}

impl Walk {
    fn new() -> Self {
        let w = Walk { dir: tempfile::Builder::new().prefix("avow-consent-cli-").tempdir().unwrap() };
        for d in ["trust", "other-trust", "revoked"] {
            std::fs::create_dir(w.p(d)).unwrap();
        }
        std::fs::write(w.p("ada.voice"), (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>()).unwrap();
        std::fs::write(w.p("ref1.wav"), b"reference recording").unwrap();
        std::fs::write(w.p("consent.wav"), b"spoken consent").unwrap();
        w
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn avow(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_avow"))
            .args(args)
            .current_dir(self.dir.path())
            // Keep the user's real trust and revocation dirs out of the test.
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env_remove("AVOW_TRUST_DIR")
            .env_remove("AVOW_REVOCATION_DIR")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.avow(args);
        assert!(out.status.success(), "avow {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn verify(&self, extra: &[&str]) -> (i32, String) {
        let mut args = vec!["consent", "verify", "ada.consent.json", "--pack", "ada.voice", "--trust", "trust", "--revoked", "revoked"];
        let has = |k: &str| extra.contains(&k);
        if !has("--purpose") {
            args.extend(["--purpose", "aac"]);
        }
        if !has("--language") {
            args.extend(["--language", "en-GB"]);
        }
        if !has("--at") {
            args.extend(["--at", "2026-06-01T00:00:00Z"]);
        }
        args.extend(extra);
        let out = self.avow(&args);
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout))
    }

    /// Keys for issuer (trusted) and subject, a drafted and doubly signed record.
    fn signed(&self) {
        self.ok(&["keys", "new", "--out", "issuer", "--comment", "Example Voice Bank"]);
        std::fs::copy(self.p("issuer.pub"), self.p("trust/issuer.pub")).unwrap();
        self.ok(&["keys", "new", "--out", "ada"]);
        self.ok(&[
            "consent", "draft", "--pack", "ada.voice", "--subject-name", "Ada Example", "--subject-key", "ada.pub",
            "--purpose", "aac,narration", "--language", "en,ja", "--not-before", "2026-01-01T00:00:00Z",
            "--not-after", "2027-01-01T00:00:00Z", "--reference", "ref1.wav", "--consent-recording", "consent.wav",
            "--statement", "I, Ada Example, agree that avow may speak in my voice.", "--record-id", "ada-2026",
            "--out", "ada.consent.json",
        ]);
        self.ok(&["consent", "sign", "ada.consent.json", "--key", "issuer.key"]);
        self.ok(&["consent", "sign", "ada.consent.json", "--key", "ada.key"]);
    }
}

fn key_id(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    avow_consent::PublicKey::from_file_text(&text).unwrap().id().to_string()
}

#[test]
fn walkthrough_keys_draft_sign_verify_revoke() {
    let w = Walk::new();
    w.signed();
    let show = w.ok(&["consent", "show", "ada.consent.json", "--trust", "trust"]);
    assert!(show.contains("ada-2026") && show.contains("aac, narration"), "{show}");
    assert!(show.contains(&format!("{}  valid  trusted issuer", key_id(&w.p("issuer.pub")))), "{show}");
    assert!(show.contains(&format!("{}  valid  subject", key_id(&w.p("ada.pub")))), "{show}");

    let (code, out) = w.verify(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok: record ada-2026"), "{out}");

    w.ok(&["consent", "revoke", "ada.consent.json", "--key", "ada.key", "--reason", "changed my mind", "--revoked", "revoked"]);
    let (code, out) = w.verify(&[]);
    assert_eq!(code, 17, "{out}");
    assert!(out.contains("revoked") && out.contains("changed my mind"), "{out}");
}

#[test]
fn each_failure_has_its_own_exit_code() {
    let w = Walk::new();
    w.signed();
    assert_eq!(w.verify(&["--at", "2025-06-01T00:00:00Z"]).0, 15, "not yet valid");
    assert_eq!(w.verify(&["--at", "2027-01-01T00:00:00Z"]).0, 16, "expired");
    assert_eq!(w.verify(&["--purpose", "dubbing"]).0, 18, "purpose");
    assert_eq!(w.verify(&["--language", "fr"]).0, 18, "language");

    std::fs::write(w.p("other.voice"), b"another pack").unwrap();
    let out = w.avow(&["consent", "verify", "ada.consent.json", "--pack", "other.voice", "--purpose", "aac", "--language", "en", "--trust", "trust", "--revoked", "revoked", "--at", "2026-06-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(19), "hash mismatch");

    let out = w.avow(&["consent", "verify", "ada.consent.json", "--pack", "ada.voice", "--purpose", "aac", "--language", "en", "--trust", "other-trust", "--revoked", "revoked", "--at", "2026-06-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(13), "untrusted signer: {}", String::from_utf8_lossy(&out.stderr));

    // Bad signature: flip one character inside the base64 payload.
    let rec = std::fs::read_to_string(w.p("ada.consent.json")).unwrap();
    let good = rec.clone();
    let at = rec.find("\"payload\": \"").unwrap() + 40;
    let mut bytes = rec.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(w.p("ada.consent.json"), &bytes).unwrap();
    let (code, out) = w.verify(&[]);
    assert!(code == 12 || code == 10, "tampered payload: {code} {out}");

    std::fs::write(w.p("ada.consent.json"), "{\"payload\":").unwrap();
    assert_eq!(w.verify(&[]).0, 10, "malformed");

    // Missing subject signature: a record naming the subject key, signed by the issuer only.
    std::fs::write(w.p("ada.consent.json"), &good).unwrap();
    let mut env = avow_consent::Envelope::parse(good.as_bytes()).unwrap();
    env.signatures_mut().truncate(1);
    std::fs::write(w.p("ada.consent.json"), env.to_json()).unwrap();
    assert_eq!(w.verify(&[]).0, 14, "missing subject signature");
}

#[test]
fn grantee_key_must_be_held() {
    let w = Walk::new();
    w.ok(&["keys", "new", "--out", "issuer"]);
    std::fs::copy(w.p("issuer.pub"), w.p("trust/issuer.pub")).unwrap();
    w.ok(&["keys", "new", "--out", "studio"]);
    w.ok(&["keys", "new", "--out", "someone"]);
    w.ok(&[
        "consent", "draft", "--pack", "ada.voice", "--subject-name", "Ada", "--grantee", "studio.pub", "--purpose", "dubbing",
        "--language", "*", "--not-before", "2026-01-01T00:00:00Z", "--valid-days", "30", "--statement", "ok", "--fingerprint", "DEADBEEF",
        "--out", "ada.consent.json",
    ]);
    w.ok(&["consent", "sign", "ada.consent.json", "--key", "issuer.key"]);
    let base = ["--purpose", "dubbing", "--language", "fr", "--at", "2026-01-15T00:00:00Z"];
    assert_eq!(w.verify(&base).0, 18);
    assert_eq!(w.verify(&[&base[..], &["--as", "someone.key"]].concat()).0, 18);
    let (code, out) = w.verify(&[&base[..], &["--as", "studio.key"]].concat());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("watermark deadbeef"), "{out}");
}

#[test]
fn keys_are_private_and_never_overwritten_and_drafts_never_partial() {
    let w = Walk::new();
    let out = w.ok(&["keys", "new", "--out", "k"]);
    let secret = std::fs::read_to_string(w.p("k.key")).unwrap();
    let b64 = secret.split_whitespace().nth(1).unwrap();
    assert!(!out.contains(b64), "private key material printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(w.p("k.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = w.avow(&["keys", "new", "--out", "k"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(w.p("k.key")).unwrap(), secret, "key overwritten");

    // An invalid draft (bad language) writes nothing.
    let bad = w.avow(&[
        "consent", "draft", "--pack", "ada.voice", "--subject-name", "Ada", "--purpose", "aac", "--language", "en_US",
        "--valid-days", "1", "--statement", "ok", "--out", "x.json",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(!w.p("x.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(w.dir.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains(".tmp")).collect();
    assert!(leftovers.is_empty());
}

#[test]
fn trust_dir_from_environment() {
    let w = Walk::new();
    w.signed();
    let out = Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(["consent", "verify", "ada.consent.json", "--pack", "ada.voice", "--purpose", "narration", "--language", "ja", "--at", "2026-06-01T00:00:00Z"])
        .current_dir(w.dir.path())
        .env("HOME", w.dir.path())
        .env("XDG_CONFIG_HOME", w.dir.path().join("xdg"))
        .env("AVOW_TRUST_DIR", format!("{}:{}", w.p("other-trust").display(), w.p("trust").display()))
        .env("AVOW_REVOCATION_DIR", w.p("revoked"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // With nothing configured, only the built-in stock key is trusted: refused.
    let out = w.avow(&["consent", "verify", "ada.consent.json", "--pack", "ada.voice", "--purpose", "aac", "--language", "en"]);
    assert_eq!(out.status.code(), Some(13));
}

