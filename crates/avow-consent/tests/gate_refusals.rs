//! The refusal matrix every surface is tested with (tests/support/gate_matrix.rs)
//! checked at its source, the verifier, with the trust and revocation stores
//! resolved from directories as the engine resolves them: each case is
//! refused with its own error, and the good record passes until revoked.

#[path = "support/gate_matrix.rs"]
mod gate_matrix;

use avow_consent::{verify_files, ConsentError, Purpose, RevocationStore, TrustStore, VerifyRequest};
use gate_matrix::{GateMatrix, LANGUAGE};

fn request() -> VerifyRequest {
    VerifyRequest::new(Purpose::Accessibility, LANGUAGE)
}

#[test]
fn every_refusal_case_gets_its_own_error_and_the_good_record_passes() {
    let m = GateMatrix::new(b"any bytes stand in for a voice pack here");
    let trust = TrustStore::resolve(std::slice::from_ref(&m.trust)).unwrap();
    assert_eq!(trust.len(), 1, "only the test issuer is trusted (no built-in keys)");
    let revocations = RevocationStore::resolve(std::slice::from_ref(&m.revocations)).unwrap();

    let ok = verify_files(&m.record, &m.pack, &request(), &trust, &revocations).expect("the good record verifies");
    assert_eq!(ok.watermark_payload(), m.payload);
    assert_eq!(ok.record_id(), m.record_id);

    assert_eq!(m.refusals().len(), 10);
    for case in m.refusals() {
        let err = verify_files(&case.record, &case.pack, &request(), &trust, &revocations)
            .err()
            .unwrap_or_else(|| panic!("{}: accepted", case.name));
        assert_eq!(err.exit_code(), case.exit_code, "{}: {err}", case.name);
        assert!(err.to_string().contains(case.message), "{}: `{err}` lacks `{}`", case.name, case.message);
    }

    // Revoking the good record takes effect for the next verification.
    m.revoke(&m.record_id);
    let revocations = RevocationStore::resolve(std::slice::from_ref(&m.revocations)).unwrap();
    let err = verify_files(&m.record, &m.pack, &request(), &trust, &revocations).unwrap_err();
    assert!(matches!(err, ConsentError::Revoked { .. }), "{err}");
}
