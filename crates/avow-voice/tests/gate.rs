//! The consent gate: a `Voice` comes only from a verified record, and from
//! the very bytes that were verified.

use avow_consent::*;
use avow_voice::*;

fn sample_pack(seed: f32) -> Vec<u8> {
    VoicePackData {
        meta: VoiceMeta { name: "ada".into(), language: "en".into(), model: "kokoro-82m-v1.0".into() },
        style: (0..STYLE_ROWS * STYLE_DIM).map(|i| (i as f32 * 1e-4 + seed).sin()).collect(),
        adapters: Vec::new(),
        speaker: None,
    }
    .to_bytes()
    .unwrap()
}

fn record_for(pack: &[u8], issuer: &SecretKey) -> Vec<u8> {
    let st = ConsentStatement {
        format: statement::CONSENT_FORMAT.into(),
        record_id: "gate-1".into(),
        subject: Subject { name: "Ada".into(), public_key: None },
        voice_pack: VoicePackRef { sha256: pack_sha256(pack), name: "ada".into() },
        grantee: "anyone".into(),
        purposes: vec!["*".into()],
        languages: vec!["en".into()],
        not_before: "2026-01-01T00:00:00Z".into(),
        not_after: "2027-01-01T00:00:00Z".into(),
        issued_at: "2026-01-01T00:00:00Z".into(),
        evidence: Evidence { reference_recordings: vec![], consent_recording: None, statement_text: "test".into() },
        watermark_fingerprint: "0badcafe".into(),
    };
    let mut e = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, st.to_payload());
    e.sign(issuer).unwrap();
    e.to_json().into_bytes()
}

fn request() -> VerifyRequest {
    VerifyRequest { purpose: Purpose::Narration, language: "en-US".into(), now: Timestamp::parse("2026-05-05T05:05:05Z").unwrap(), grantee: None }
}

#[test]
fn voice_is_parsed_from_the_verified_bytes_not_the_file() {
    let issuer = SecretKey::from_seed(&[5; 32]);
    let mut trust = TrustStore::empty();
    trust.add(issuer.public().clone(), "test");
    let good = sample_pack(0.0);
    let dir = tempfile::tempdir().unwrap();
    let (rec_path, pack_path) = (dir.path().join("ada.consent.json"), dir.path().join("ada.voice"));
    std::fs::write(&rec_path, record_for(&good, &issuer)).unwrap();
    std::fs::write(&pack_path, &good).unwrap();

    let consent = verify_files(&rec_path, &pack_path, &request(), &trust, &RevocationStore::empty()).unwrap();
    // Swap the file after the check: the voice must still be the verified one.
    std::fs::write(&pack_path, sample_pack(1.0)).unwrap();
    let voice = Voice::from_consent(consent).unwrap();
    assert_eq!(voice.style(), VoicePackData::from_bytes(&good).unwrap().style.as_slice());
    assert_eq!(voice.consent().watermark_payload(), 0x0bad_cafe);
    assert_eq!(voice.meta().name, "ada");

    // And the swapped file no longer verifies at all.
    let err = verify_files(&rec_path, &pack_path, &request(), &trust, &RevocationStore::empty()).unwrap_err();
    assert!(matches!(err, ConsentError::HashMismatch { .. }), "{err}");
    let err = Voice::open(&rec_path, &pack_path, &request(), &trust, &RevocationStore::empty()).unwrap_err();
    assert!(matches!(err, OpenError::Consent(ConsentError::HashMismatch { .. })), "{err}");
    std::fs::write(&pack_path, &good).unwrap();
    let voice = Voice::open(&rec_path, &pack_path, &request(), &trust, &RevocationStore::empty()).unwrap();
    assert_eq!(voice.consent().record_id(), "gate-1");
}

#[test]
fn consented_bytes_that_are_not_a_pack_give_an_error_not_a_voice() {
    let issuer = SecretKey::from_seed(&[6; 32]);
    let mut trust = TrustStore::empty();
    trust.add(issuer.public().clone(), "test");
    let junk = b"not a voice pack".to_vec();
    let consent = verify(&record_for(&junk, &issuer), junk, &request(), &trust, &RevocationStore::empty()).unwrap();
    assert!(Voice::from_consent(consent).is_err());
}
