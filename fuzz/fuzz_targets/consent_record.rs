//! Fuzzes everything that reads untrusted consent bytes: the DSSE envelope,
//! consent and revocation statements, timestamps, key files, and the whole
//! verifier (with a fixed trust store, so signature checks run too).
#![no_main]

use avow_consent::statement::{ConsentStatement, RevocationStatement};
use avow_consent::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::parse(data) {
        let _ = ConsentStatement::parse(env.payload());
        let _ = RevocationStatement::parse(env.payload());
        // Round trip: what we write we must read back identically.
        let again = Envelope::parse(env.to_json().as_bytes()).expect("re-parse of serialized envelope");
        assert_eq!(again, env);
    }
    if let Ok(st) = ConsentStatement::parse(data) {
        // A statement that parses must re-serialize to one that parses equal.
        assert_eq!(ConsentStatement::parse(&st.to_payload()).as_ref(), Ok(&st));
        let _ = st.watermark_payload();
    }
    let _ = RevocationStatement::parse(data);
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(t) = Timestamp::parse(s) {
            assert_eq!(t.to_string(), s);
        }
        let _ = PublicKey::from_file_text(s);
    }
    let key = SecretKey::from_seed(&[1; 32]);
    let mut trust = TrustStore::empty();
    trust.add(key.public().clone(), "fuzz");
    let mut revs = RevocationStore::empty();
    let _ = revs.add_bytes(data, "fuzz");
    let req = VerifyRequest { purpose: Purpose::Aac, language: "en".into(), now: Timestamp(1_800_000_000), grantee: None };
    let _ = verify(data, b"pack".to_vec(), &req, &trust, &revs);
});
