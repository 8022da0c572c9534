//! The FORMAT.md test vector in consent/testdata verifies, and this build
//! still produces it byte for byte (so the format cannot drift unnoticed).
//! Regenerate (only for a deliberate format change):
//! `AVOW_WRITE_VECTOR=1 cargo test -p avow-consent --test format_vector`

use std::path::PathBuf;

use avow_consent::*;

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../consent/testdata"))
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn test_vector_verifies_and_is_revoked_by_its_revocation() {
    let mut trust = TrustStore::empty();
    trust.add(PublicKey::from_file_text(std::str::from_utf8(&read("issuer.pub")).unwrap()).unwrap(), "vector");
    let req = VerifyRequest { purpose: Purpose::Accessibility, language: "ja-JP".into(), now: Timestamp::parse("2028-02-29T12:00:00Z").unwrap(), grantee: None };
    let env = read("vector.consent.json");
    let v = verify(&env, read("vector.voicepack"), &req, &trust, &RevocationStore::empty()).unwrap();
    assert_eq!(v.record_id(), "test-vector-1");
    let (e, _) = parse_record(&env).unwrap();
    assert_eq!(e.payload(), &read("vector.payload.json")[..]);
    assert_eq!(e.signed_bytes(), read("vector.pae"));
    let mut revs = RevocationStore::empty();
    revs.add_bytes(&read("vector.revocation.json"), "vector").unwrap();
    assert!(matches!(verify(&env, read("vector.voicepack"), &req, &trust, &revs), Err(ConsentError::Revoked { .. })));
}

#[test]
fn this_build_reproduces_the_vector_exactly() {
    let write = std::env::var_os("AVOW_WRITE_VECTOR").is_some();
    for (name, bytes) in vector() {
        let path = dir().join(name);
        if write {
            std::fs::write(&path, &bytes).unwrap();
        } else {
            assert!(std::fs::read(&path).ok().as_deref() == Some(&bytes[..]), "{} differs from what this build generates", path.display());
        }
    }
}

/// The test vector files: (name, contents).
fn vector() -> Vec<(&'static str, Vec<u8>)> {
    let seed = |s: &str| -> [u8; 32] {
        let h = sha256_hex(s.as_bytes());
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(0);
        }
        out
    };
    let issuer = SecretKey::from_seed(&seed("avow test vector issuer"));
    let subject = SecretKey::from_seed(&seed("avow test vector subject"));
    let pack = b"avow test vector voice pack\n".to_vec();
    let st = ConsentStatement {
        format: statement::CONSENT_FORMAT.into(),
        record_id: "test-vector-1".into(),
        subject: Subject { name: "Test Subject".into(), public_key: Some(subject.public().to_base64()) },
        voice_pack: VoicePackRef { sha256: sha256_hex(&pack), name: "test".into() },
        grantee: "anyone".into(),
        purposes: vec!["aac".into(), "accessibility".into()],
        languages: vec!["en".into(), "ja-JP".into()],
        not_before: "2026-01-01T00:00:00Z".into(),
        not_after: "2030-01-01T00:00:00Z".into(),
        issued_at: "2025-12-31T12:00:00Z".into(),
        evidence: Evidence {
            reference_recordings: vec![FileHash { name: "ref-001.wav".into(), sha256: sha256_hex(b"reference 1") }],
            consent_recording: Some(FileHash { name: "consent.wav".into(), sha256: sha256_hex(b"consent") }),
            statement_text: "I agree that avow may speak in my voice for AAC and accessibility.".into(),
        },
        watermark_fingerprint: default_fingerprint("test-vector-1"),
    };
    let mut env = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, st.to_payload());
    env.sign(&issuer).expect("sign");
    env.sign(&subject).expect("sign");
    let rev = RevocationStatement {
        format: statement::REVOCATION_FORMAT.into(),
        record_id: "test-vector-1".into(),
        revoked_at: "2027-01-01T00:00:00Z".into(),
        reason: "test".into(),
    };
    let mut renv = Envelope::new(dsse::REVOCATION_PAYLOAD_TYPE, rev.to_payload());
    renv.sign(&subject).expect("sign");
    vec![
        ("issuer.pub", issuer.public().to_file_text("test vector issuer").into_bytes()),
        ("subject.pub", subject.public().to_file_text("test vector subject").into_bytes()),
        ("vector.voicepack", pack),
        ("vector.payload.json", st.to_payload()),
        ("vector.pae", env.signed_bytes()),
        ("vector.consent.json", env.to_json().into_bytes()),
        ("vector.revocation.json", renv.to_json().into_bytes()),
    ]
}


/// An independent implementation (consent/verify_vector.py, written from
/// FORMAT.md alone) accepts the vector. Skips where Python's `cryptography`
/// is not installed.
#[test]
fn independent_python_check_accepts_the_vector() {
    let script = dir().join("../verify_vector.py");
    let has_crypto = std::process::Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_crypto {
        eprintln!("skipping: python3 with `cryptography` not available");
        return;
    }
    let out = std::process::Command::new("python3").arg(&script).arg(dir()).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
