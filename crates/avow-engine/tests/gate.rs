//! The consent gate and the mark through the Rust API: every case of the
//! refusal matrix (crates/avow-consent/tests/support/gate_matrix.rs) is
//! refused by `Engine::load_voice` with its consent error and no ledger
//! entry; the good record gives a voice whose `speak` and `stream` output
//! carries the record's watermark payload, with one verifying ledger entry per
//! synthesis; and a revocation written while the engine runs refuses the
//! next load.
//!
//! Needs the converted weights in the model cache (`avow models fetch`); skips
//! with a message when absent unless `AVOW_REQUIRE_MODELS=1` (CI).

#[path = "../../avow-consent/tests/support/gate_matrix.rs"]
mod gate_matrix;

use avow_engine::{ConsentPurpose, Engine, EngineError, EngineOptions, SAMPLE_RATE};
use gate_matrix::{GateMatrix, LANGUAGE};

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

fn detected_payload(samples: &[f32]) -> Option<u32> {
    let d = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(samples, SAMPLE_RATE).unwrap();
    d.detected.then_some(d.payload).flatten()
}

#[test]
fn the_rust_api_refuses_every_matrix_case_and_marks_and_ledgers_the_accepted_voice() {
    let Some(cache) = cache_dir() else { return };
    let pack = std::fs::read(cache.join("voices/jf_alpha.voicepack")).unwrap();
    let m = GateMatrix::new(&pack);
    let ledger = m.path("ledger.jsonl");
    let engine = Engine::open(&EngineOptions {
        cache_dir: Some(cache.clone()),
        trust_dirs: vec![m.trust.clone()],
        revocation_dirs: vec![m.revocations.clone()],
        ledger: Some(ledger.clone()),
        progress: false,
    })
    .unwrap();
    let entries = || avow_consent::ledger::verify(&ledger).expect("the ledger verifies").entries;

    for case in m.refusals() {
        match engine.load_voice(&case.pack, &case.record, ConsentPurpose::Accessibility, LANGUAGE) {
            Ok(_) => panic!("{}: the gate let the voice through", case.name),
            Err(EngineError::Consent(e)) => {
                assert_eq!(e.exit_code(), case.exit_code, "{}: {e}", case.name);
                assert!(e.to_string().contains(case.message), "{}: `{e}` lacks `{}`", case.name, case.message);
            }
            Err(other) => panic!("{}: refused, but not by the consent gate: {other}", case.name),
        }
    }
    assert_eq!(entries(), 0, "refusals must not reach the ledger");

    let voice = engine.load_voice(&m.pack, &m.record, ConsentPurpose::Accessibility, LANGUAGE).expect("the good record is accepted");
    assert_eq!(voice.consent().watermark_payload(), m.payload);

    // Long enough (about 5 s) for the payload to decode reliably.
    let text = "The engine speaks for the test. Every sample it hands back carries the consent record's mark.";
    let speech = engine.speak(&voice, text, 1.0).unwrap();
    assert_eq!(speech.watermark, m.payload);
    assert_eq!(detected_payload(&speech.samples), Some(m.payload), "speak output lacks the record's payload");
    assert_eq!(entries(), 1, "one ledger entry for one speak");

    let pieces: Vec<Vec<f32>> = engine.stream(&voice, text, 1.0).unwrap().collect::<Result<_, _>>().unwrap();
    assert!(pieces.len() >= 2, "two sentences came as {} piece(s)", pieces.len());
    assert_eq!(detected_payload(&pieces.concat()), Some(m.payload), "streamed output lacks the record's payload");
    assert_eq!(entries(), 1 + pieces.len() as u64, "one ledger entry per streamed piece");

    // Revoked while the engine runs: the next load is refused.
    m.revoke(&m.record_id);
    match engine.load_voice(&m.pack, &m.record, ConsentPurpose::Accessibility, LANGUAGE) {
        Err(EngineError::Consent(e @ avow_consent::ConsentError::Revoked { .. })) => assert_eq!(e.exit_code(), 17),
        Err(other) => panic!("expected a revocation refusal, got {other}"),
        Ok(_) => panic!("a revocation written while the engine runs was ignored"),
    }
}
