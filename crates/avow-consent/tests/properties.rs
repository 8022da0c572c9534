//! Adversarial properties: any single-bit change to the signed payload, to a
//! signature, to the envelope file or to the voice pack is refused;
//! re-signing a modified statement with an untrusted key is refused; voice
//! packs cannot be swapped between records.

mod common;
use avow_consent::*;
use common::*;
use proptest::prelude::*;

fn check(env: &[u8], pack: Vec<u8>) -> Result<VerifiedConsent, ConsentError> {
    verify(env, pack, &request(), &trust(), &RevocationStore::empty())
}

fn with_payload(orig: &Envelope, payload: Vec<u8>) -> Vec<u8> {
    let mut e = Envelope::new(orig.payload_type(), payload);
    *e.signatures_mut() = orig.signatures().to_vec();
    e.to_json().into_bytes()
}

#[test]
fn every_single_bit_flip_of_the_payload_is_refused() {
    let (env, p) = good_record();
    assert!(check(&env, p.clone()).is_ok());
    let orig = Envelope::parse(&env).unwrap();
    let payload = orig.payload().to_vec();
    for bit in 0..payload.len() * 8 {
        let mut m = payload.clone();
        m[bit / 8] ^= 1 << (bit % 8);
        let r = check(&with_payload(&orig, m), p.clone());
        assert!(matches!(r, Err(ConsentError::BadSignature(_)) | Err(ConsentError::Malformed(_)) | Err(ConsentError::UnsupportedVersion(_))), "bit {bit}: {r:?}");
    }
}

#[test]
fn every_single_bit_flip_of_a_signature_is_refused() {
    let (env, p) = good_record();
    let orig = Envelope::parse(&env).unwrap();
    for which in 0..orig.signatures().len() {
        for bit in 0..512 {
            let mut e = orig.clone();
            e.signatures_mut()[which].sig[bit / 8] ^= 1 << (bit % 8);
            let r = check(e.to_json().as_bytes(), p.clone());
            assert!(matches!(r, Err(ConsentError::BadSignature(_))), "signature {which} bit {bit}: {r:?}");
        }
    }
}

#[test]
fn every_single_bit_flip_of_the_envelope_file_is_refused() {
    let (env, p) = good_record();
    for bit in 0..env.len() * 8 {
        let mut m = env.clone();
        m[bit / 8] ^= 1 << (bit % 8);
        assert!(check(&m, p.clone()).is_err(), "envelope bit {bit} (byte {:?}) still verifies", env[bit / 8] as char);
    }
}

#[test]
fn every_single_bit_flip_of_the_voice_pack_is_refused() {
    let (env, p) = good_record();
    for bit in 0..p.len() * 8 {
        let mut m = p.clone();
        m[bit / 8] ^= 1 << (bit % 8);
        assert!(matches!(check(&env, m), Err(ConsentError::HashMismatch { .. })), "pack bit {bit}");
    }
    let mut shorter = p.clone();
    shorter.pop();
    assert!(matches!(check(&env, shorter), Err(ConsentError::HashMismatch { .. })));
}

#[test]
fn swapping_voice_packs_between_two_valid_records_is_refused() {
    let (pa, pb) = (pack(1), pack(2));
    let ra = envelope(&statement("rec-a", &pa), &[&issuer(), &subject()]).to_json().into_bytes();
    let rb = envelope(&statement("rec-b", &pb), &[&issuer(), &subject()]).to_json().into_bytes();
    assert!(check(&ra, pa.clone()).is_ok() && check(&rb, pb.clone()).is_ok());
    assert!(matches!(check(&ra, pb), Err(ConsentError::HashMismatch { .. })));
    assert!(matches!(check(&rb, pa), Err(ConsentError::HashMismatch { .. })));
}

/// A change an attacker would want: wider scope, longer life, another pack.
#[derive(Debug, Clone)]
enum Edit {
    AllPurposes,
    Language(String),
    ExtendTo(u32),
    OtherPack(u8),
    Grantee,
    DropSubjectKey,
    Fingerprint(u32),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        Just(Edit::AllPurposes),
        "[a-z]{2,3}".prop_map(Edit::Language),
        (2027u32..2100).prop_map(Edit::ExtendTo),
        any::<u8>().prop_map(Edit::OtherPack),
        Just(Edit::Grantee),
        Just(Edit::DropSubjectKey),
        any::<u32>().prop_map(Edit::Fingerprint),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any single byte of the payload, signatures or pack replaced by any other value.
    #[test]
    fn any_byte_replacement_is_refused(region in 0usize..3, pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let (env, p) = good_record();
        let orig = Envelope::parse(&env).unwrap();
        let r = match region {
            0 => {
                let mut m = orig.payload().to_vec();
                let i = pos.index(m.len());
                m[i] = m[i].wrapping_add(delta);
                check(&with_payload(&orig, m), p)
            }
            1 => {
                let mut e = orig.clone();
                let i = pos.index(64 * e.signatures().len());
                e.signatures_mut()[i / 64].sig[i % 64] = e.signatures()[i / 64].sig[i % 64].wrapping_add(delta);
                check(e.to_json().as_bytes(), p)
            }
            _ => {
                let mut m = p;
                let i = pos.index(m.len());
                m[i] = m[i].wrapping_add(delta);
                check(&env, m)
            }
        };
        prop_assert!(r.is_err());
    }

    /// A modified statement re-signed by keys the verifier does not trust is
    /// refused, whether or not the original (now invalid) signatures are kept.
    #[test]
    fn resigned_modified_statement_is_refused(edits in prop::collection::vec(edit(), 1..4), keep_old in any::<bool>()) {
        let p = pack(1);
        let mut st = statement("rec-1", &p);
        let mut target_pack = p.clone();
        for e in &edits {
            match e {
                Edit::AllPurposes => st.purposes = vec!["*".into()],
                Edit::Language(l) => st.languages = vec![l.clone()],
                Edit::ExtendTo(y) => st.not_after = format!("{y}-01-01T00:00:00Z"),
                Edit::OtherPack(t) => { target_pack = pack(*t); st.voice_pack.sha256 = sha256_hex(&target_pack); }
                Edit::Grantee => st.grantee = format!("key:{}", stranger().public().id()),
                Edit::DropSubjectKey => st.subject.public_key = None,
                Edit::Fingerprint(f) => st.watermark_fingerprint = format!("{f:08x}"),
            }
        }
        let original = envelope(&statement("rec-1", &p), &[&issuer(), &subject()]);
        let mut forged = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, st.to_payload());
        if keep_old {
            *forged.signatures_mut() = original.signatures().to_vec();
        }
        forged.sign(&stranger()).unwrap();
        let changed = st.to_payload() != statement("rec-1", &p).to_payload();
        let r = check(forged.to_json().as_bytes(), target_pack);
        if changed {
            prop_assert!(matches!(r, Err(ConsentError::BadSignature(_)) | Err(ConsentError::UntrustedSigner(_))), "{:?}", r);
        } else {
            prop_assert!(r.is_ok() == keep_old, "{:?}", r);
        }
    }
}

#[test]
fn replacing_the_subject_key_and_resigning_as_subject_does_not_help() {
    let p = pack(1);
    let mut st = statement("rec-1", &p);
    st.subject.public_key = Some(stranger().public().to_base64());
    st.purposes = vec!["*".into()];
    let forged = envelope(&st, &[&stranger()]).to_json().into_bytes();
    assert!(matches!(check(&forged, p), Err(ConsentError::UntrustedSigner(_))));
}
