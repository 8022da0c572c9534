// Shared fixtures for the consent tests (included with `mod common;`).
#![allow(dead_code)]

use avow_consent::*;

pub const T0: &str = "2026-01-01T00:00:00Z";
pub const T1: &str = "2027-01-01T00:00:00Z";

pub fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("test time")
}

pub fn issuer() -> SecretKey {
    SecretKey::from_seed(&[1; 32])
}
pub fn subject() -> SecretKey {
    SecretKey::from_seed(&[2; 32])
}
pub fn stranger() -> SecretKey {
    SecretKey::from_seed(&[3; 32])
}

pub fn pack(tag: u8) -> Vec<u8> {
    (0..4096u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(tag)).collect()
}

pub fn statement(record_id: &str, pack: &[u8]) -> ConsentStatement {
    ConsentStatement {
        format: statement::CONSENT_FORMAT.into(),
        record_id: record_id.into(),
        subject: Subject { name: "Ada Example".into(), public_key: Some(subject().public().to_base64()) },
        voice_pack: VoicePackRef { sha256: sha256_hex(pack), name: "ada".into() },
        grantee: "anyone".into(),
        purposes: vec!["aac".into(), "narration".into()],
        languages: vec!["en".into(), "ja-JP".into()],
        not_before: T0.into(),
        not_after: T1.into(),
        issued_at: T0.into(),
        evidence: Evidence {
            reference_recordings: vec![FileHash { name: "ref1.wav".into(), sha256: sha256_hex(b"ref1") }],
            consent_recording: Some(FileHash { name: "consent.wav".into(), sha256: sha256_hex(b"consent") }),
            statement_text: "I, Ada Example, agree that avow may speak in my voice.".into(),
        },
        watermark_fingerprint: default_fingerprint(record_id),
    }
}

pub fn envelope(st: &ConsentStatement, signers: &[&SecretKey]) -> Envelope {
    let mut e = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, st.to_payload());
    for k in signers {
        e.sign(k).expect("sign");
    }
    e
}

/// A record signed by the issuer and the subject, over `pack(1)`.
pub fn good_record() -> (Vec<u8>, Vec<u8>) {
    let p = pack(1);
    let st = statement("rec-1", &p);
    (envelope(&st, &[&issuer(), &subject()]).to_json().into_bytes(), p)
}

pub fn trust() -> TrustStore {
    let mut t = TrustStore::empty();
    t.add(issuer().public().clone(), "test issuer");
    t
}

pub fn request() -> VerifyRequest {
    VerifyRequest { purpose: Purpose::Aac, language: "en-GB".into(), now: at("2026-06-01T12:00:00Z"), grantee: None }
}

pub fn revocation(record_id: &str, by: &SecretKey) -> Vec<u8> {
    let st = RevocationStatement {
        format: statement::REVOCATION_FORMAT.into(),
        record_id: record_id.into(),
        revoked_at: "2026-03-01T00:00:00Z".into(),
        reason: "withdrawn".into(),
    };
    let mut e = Envelope::new(dsse::REVOCATION_PAYLOAD_TYPE, st.to_payload());
    e.sign(by).expect("sign");
    e.to_json().into_bytes()
}
