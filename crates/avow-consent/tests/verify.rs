//! Each verification failure is refused with its own error; valid records pass.

mod common;
use avow_consent::*;
use common::*;

fn run(env: &[u8], pack: Vec<u8>, req: &VerifyRequest, revs: &RevocationStore) -> Result<VerifiedConsent, ConsentError> {
    verify(env, pack, req, &trust(), revs)
}

#[test]
fn valid_record_passes_and_exposes_what_it_checked() {
    let (env, p) = good_record();
    let v = run(&env, p.clone(), &request(), &RevocationStore::empty()).expect("valid");
    assert_eq!(v.record_id(), "rec-1");
    assert_eq!(v.pack_sha256(), sha256_hex(&p));
    assert_eq!(v.pack_bytes(), &p[..]);
    assert_eq!(v.purpose(), Purpose::Aac);
    assert_eq!(v.language(), "en-GB");
    assert_eq!(format!("{:08x}", v.watermark_payload()), default_fingerprint("rec-1"));
    assert!(v.signers().contains(issuer().public().id()));
    assert!(v.signers().contains(subject().public().id()));
}

#[test]
fn window_edges() {
    let (env, p) = good_record();
    let mut req = request();
    req.now = at(T0);
    assert!(run(&env, p.clone(), &req, &RevocationStore::empty()).is_ok(), "not_before is inclusive");
    req.now = at("2025-12-31T23:59:59Z");
    let e = run(&env, p.clone(), &req, &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::NotYetValid { .. }), "{e}");
    assert_eq!(e.exit_code(), 15);
    req.now = at(T1);
    let e = run(&env, p.clone(), &req, &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::Expired { .. }), "not_after is exclusive: {e}");
    assert_eq!(e.exit_code(), 16);
    req.now = at("2026-12-31T23:59:59Z");
    assert!(run(&env, p, &req, &RevocationStore::empty()).is_ok());
}

#[test]
fn revoked_by_subject_or_issuer_but_not_by_a_stranger() {
    let (env, p) = good_record();
    for who in [subject(), issuer()] {
        let mut revs = RevocationStore::empty();
        revs.add_bytes(&revocation("rec-1", &who), "test").unwrap();
        let e = run(&env, p.clone(), &request(), &revs).unwrap_err();
        assert!(matches!(e, ConsentError::Revoked { .. }), "{e}");
        assert_eq!(e.exit_code(), 17);
    }
    let mut revs = RevocationStore::empty();
    revs.add_bytes(&revocation("rec-1", &stranger()), "test").unwrap();
    revs.add_bytes(&revocation("rec-2", &issuer()), "test").unwrap();
    assert!(run(&env, p.clone(), &request(), &revs).is_ok(), "a stranger or another record's revocation changes nothing");
    // A revocation whose payload was altered after signing does not count.
    let mut forged = Envelope::parse(&revocation("rec-9", &subject())).unwrap();
    let payload = String::from_utf8(forged.payload().to_vec()).unwrap().replace("rec-9", "rec-1");
    let sigs = forged.signatures().to_vec();
    forged = Envelope::new(dsse::REVOCATION_PAYLOAD_TYPE, payload.into_bytes());
    *forged.signatures_mut() = sigs;
    let mut revs = RevocationStore::empty();
    revs.add_bytes(forged.to_json().as_bytes(), "forged").unwrap();
    assert!(run(&env, p, &request(), &revs).is_ok());
}

#[test]
fn untrusted_signer() {
    let p = pack(1);
    let st = statement("rec-1", &p);
    let env = envelope(&st, &[&stranger(), &subject()]).to_json().into_bytes();
    let e = run(&env, p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::UntrustedSigner(_)), "{e}");
    assert_eq!(e.exit_code(), 13);
    // A subject signature alone is not an issuer's.
    let env = envelope(&st, &[&subject()]).to_json().into_bytes();
    assert!(matches!(run(&env, p.clone(), &request(), &RevocationStore::empty()), Err(ConsentError::UntrustedSigner(_))));
    let env = envelope(&st, &[]).to_json().into_bytes();
    assert!(matches!(run(&env, p, &request(), &RevocationStore::empty()), Err(ConsentError::UntrustedSigner(_))));
}

#[test]
fn bad_signature() {
    let (env, p) = good_record();
    let mut e = Envelope::parse(&env).unwrap();
    e.signatures_mut()[0].sig[10] ^= 1;
    let err = run(e.to_json().as_bytes(), p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert_eq!(err, ConsentError::BadSignature(issuer().public().id().clone()));
    assert_eq!(err.exit_code(), 12);
    // The subject's signature is checked too.
    let mut e = Envelope::parse(&env).unwrap();
    e.signatures_mut()[1].sig[0] ^= 0x80;
    let err = run(e.to_json().as_bytes(), p, &request(), &RevocationStore::empty()).unwrap_err();
    assert_eq!(err, ConsentError::BadSignature(subject().public().id().clone()));
}

#[test]
fn missing_subject_signature() {
    let p = pack(1);
    let st = statement("rec-1", &p);
    let env = envelope(&st, &[&issuer()]).to_json().into_bytes();
    let e = run(&env, p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert_eq!(e, ConsentError::MissingSubjectSignature(subject().public().id().clone()));
    assert_eq!(e.exit_code(), 14);
    // Without a subject key, the issuer's signature suffices.
    let mut st = st;
    st.subject.public_key = None;
    let env = envelope(&st, &[&issuer()]).to_json().into_bytes();
    assert!(run(&env, p, &request(), &RevocationStore::empty()).is_ok());
}

#[test]
fn out_of_scope_purpose_language_grantee() {
    let (env, p) = good_record();
    let mut req = request();
    req.purpose = Purpose::Dubbing;
    let e = run(&env, p.clone(), &req, &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::OutOfScope(_)), "{e}");
    assert_eq!(e.exit_code(), 18);
    for lang in ["fr", "ja", "jam", "e n", "*"] {
        let mut req = request();
        req.language = lang.into();
        assert!(matches!(run(&env, p.clone(), &req, &RevocationStore::empty()), Err(ConsentError::OutOfScope(_))), "{lang}");
    }
    let mut req = request();
    req.language = "ja-jp".into();
    assert!(run(&env, p.clone(), &req, &RevocationStore::empty()).is_ok());

    let mut st = statement("rec-g", &p);
    let holder = SecretKey::from_seed(&[9; 32]);
    st.grantee = format!("key:{}", holder.public().id());
    let env = envelope(&st, &[&issuer(), &subject()]).to_json().into_bytes();
    assert!(matches!(run(&env, p.clone(), &request(), &RevocationStore::empty()), Err(ConsentError::OutOfScope(_))));
    let mut req = request();
    req.grantee = Some(stranger().public().id().clone());
    assert!(matches!(run(&env, p.clone(), &req, &RevocationStore::empty()), Err(ConsentError::OutOfScope(_))));
    req.grantee = Some(holder.public().id().clone());
    assert!(run(&env, p, &req, &RevocationStore::empty()).is_ok());
}

#[test]
fn hash_mismatch() {
    let (env, mut p) = good_record();
    p.push(0);
    let e = run(&env, p, &request(), &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::HashMismatch { .. }), "{e}");
    assert_eq!(e.exit_code(), 19);
}

#[test]
fn malformed_and_unknown_version_and_unknown_fields() {
    let p = pack(1);
    let e = run(b"not json", p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert_eq!(e.exit_code(), 10);

    let signed = |payload: Vec<u8>, ty: &str| {
        let mut e = Envelope::new(ty, payload);
        e.sign(&issuer()).unwrap();
        e.sign(&subject()).unwrap();
        e.to_json().into_bytes()
    };
    let st = statement("rec-1", &p);
    let mut v: serde_json::Value = serde_json::from_slice(&st.to_payload()).unwrap();
    v["format"] = "avow.consent/2".into();
    let e = run(&signed(serde_json::to_vec(&v).unwrap(), dsse::CONSENT_PAYLOAD_TYPE), p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::UnsupportedVersion(_)), "{e}");
    assert_eq!(e.exit_code(), 11);

    let mut v: serde_json::Value = serde_json::from_slice(&st.to_payload()).unwrap();
    v["unlimited"] = true.into();
    let e = run(&signed(serde_json::to_vec(&v).unwrap(), dsse::CONSENT_PAYLOAD_TYPE), p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::Malformed(_)), "unknown field must be refused: {e}");

    let mut v: serde_json::Value = serde_json::from_slice(&st.to_payload()).unwrap();
    v["subject"]["age"] = 3.into();
    let e = run(&signed(serde_json::to_vec(&v).unwrap(), dsse::CONSENT_PAYLOAD_TYPE), p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::Malformed(_)), "nested unknown field must be refused: {e}");

    // Duplicate keys could be read differently by two parsers: refused.
    let dup = String::from_utf8(st.to_payload()).unwrap().replacen("\"grantee\": \"anyone\"", "\"grantee\": \"anyone\", \"grantee\": \"anyone\"", 1);
    let e = run(&signed(dup.into_bytes(), dsse::CONSENT_PAYLOAD_TYPE), p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::Malformed(_)), "{e}");

    let e = run(&signed(st.to_payload(), "application/json"), p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
    assert!(matches!(e, ConsentError::Malformed(_)), "{e}");

    for (field, value) in [
        ("purposes", serde_json::json!(["aac", "spam"])),
        ("purposes", serde_json::json!([])),
        ("languages", serde_json::json!(["en_US"])),
        ("not_after", serde_json::json!("2025-01-01T00:00:00Z")),
        ("watermark_fingerprint", serde_json::json!("XYZ")),
        ("record_id", serde_json::json!("has space")),
        ("grantee", serde_json::json!("everyone")),
    ] {
        let mut v: serde_json::Value = serde_json::from_slice(&st.to_payload()).unwrap();
        v[field] = value;
        let e = run(&signed(serde_json::to_vec(&v).unwrap(), dsse::CONSENT_PAYLOAD_TYPE), p.clone(), &request(), &RevocationStore::empty()).unwrap_err();
        assert!(matches!(e, ConsentError::Malformed(_)), "{field}: {e}");
    }
}

#[test]
fn hostile_sizes_are_refused_before_work() {
    let big = format!("{{\"payload\":\"{}\",\"payloadType\":\"x\",\"signatures\":[]}}", "A".repeat(dsse::MAX_ENVELOPE_BYTES));
    assert!(matches!(Envelope::parse(big.as_bytes()), Err(ConsentError::Malformed(_))));
    let deep = "[".repeat(10_000);
    assert!(matches!(Envelope::parse(deep.as_bytes()), Err(ConsentError::Malformed(_))));
    let many = format!(
        "{{\"payload\":\"e30=\",\"payloadType\":\"x\",\"signatures\":[{}]}}",
        vec![r#"{"keyid":"0000000000000000","sig":"AA=="}"#; 40].join(",")
    );
    assert!(matches!(Envelope::parse(many.as_bytes()), Err(ConsentError::Malformed(_))));
}

#[test]
fn trust_and_revocation_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let trust_dir = dir.path().join("trust");
    std::fs::create_dir(&trust_dir).unwrap();
    issuer().write_pair(&trust_dir.join("issuer"), "test").unwrap();
    std::fs::remove_file(trust_dir.join("issuer.key")).unwrap();
    let mut t = TrustStore::empty();
    assert_eq!(t.load_dir(&trust_dir).unwrap(), 1);
    assert!(t.get(issuer().public().id()).is_some());
    std::fs::write(trust_dir.join("junk.pub"), "nonsense").unwrap();
    assert!(TrustStore::empty().load_dir(&trust_dir).is_err(), "a broken trust root is an error, not skipped");

    let rev_dir = dir.path().join("revoked");
    std::fs::create_dir(&rev_dir).unwrap();
    std::fs::write(rev_dir.join("r.json"), revocation("rec-1", &subject())).unwrap();
    let mut r = RevocationStore::empty();
    assert_eq!(r.load_dir(&rev_dir).unwrap(), 1);
    std::fs::write(rev_dir.join("bad.json"), "{").unwrap();
    assert!(RevocationStore::empty().load_dir(&rev_dir).is_err(), "fail closed on damaged revocations");
    assert!(RevocationStore::resolve(&[dir.path().join("absent")]).is_err());
}
