//! The consent gate without the model ([`avow_engine::ConsentGate`]): every
//! case of the refusal matrix (crates/avow-consent/tests/support/gate_matrix.rs)
//! is refused with its consent error, and the good record opens a voice with
//! its watermark payload, while the model cache is a path that cannot exist,
//! so that any attempt to fetch or load the model would fail instead. A
//! revocation written after the gate opened refuses the next load.
//!
//! Needs no model cache: it runs everywhere.

#[path = "../../avow-consent/tests/support/gate_matrix.rs"]
mod gate_matrix;

use avow_engine::{ConsentGate, ConsentPurpose, EngineError, EngineOptions};
use avow_voice::{VoiceMeta, VoicePackData, STYLE_DIM, STYLE_ROWS};
use gate_matrix::{GateMatrix, LANGUAGE};

/// A well-formed voice pack that no model has seen: the gate only parses it.
fn synthetic_pack() -> Vec<u8> {
    VoicePackData {
        meta: VoiceMeta { name: "gate".into(), language: "en-us".into(), model: "kokoro-82m-v1.0".into() },
        style: (0..STYLE_ROWS * STYLE_DIM).map(|i| (i % 7) as f32 * 0.01).collect(),
        adapters: Vec::new(),
        speaker: None,
    }
    .to_bytes()
    .unwrap()
}

#[test]
fn the_gate_alone_refuses_every_matrix_case_and_opens_the_good_voice_without_a_model() {
    let m = GateMatrix::new(&synthetic_pack());
    // Under a regular file: creating, fetching or reading a cache there fails at once.
    let no_cache = m.record.join("no-cache");
    let gate = ConsentGate::open(&EngineOptions {
        cache_dir: Some(no_cache.clone()),
        trust_dirs: vec![m.trust.clone()],
        revocation_dirs: vec![m.revocations.clone()],
        ledger: Some(m.path("ledger.jsonl")),
        progress: false,
    })
    .unwrap();

    for case in m.refusals() {
        match gate.load_voice(&case.pack, &case.record, ConsentPurpose::Accessibility, LANGUAGE) {
            Ok(_) => panic!("{}: the gate let the voice through", case.name),
            Err(EngineError::Consent(e)) => {
                assert_eq!(e.exit_code(), case.exit_code, "{}: {e}", case.name);
                assert!(e.to_string().contains(case.message), "{}: `{e}` lacks `{}`", case.name, case.message);
            }
            Err(other) => panic!("{}: refused, but not by the consent gate: {other}", case.name),
        }
    }

    let voice = gate.load_voice(&m.pack, &m.record, ConsentPurpose::Accessibility, LANGUAGE).expect("the good record is accepted");
    assert_eq!(voice.consent().watermark_payload(), m.payload);
    assert_eq!(voice.meta().name, "gate");
    assert!(!m.path("ledger.jsonl").exists(), "the gate alone writes no ledger");

    // Read again at each load, as the engine's gate does.
    m.revoke(&m.record_id);
    match gate.load_voice(&m.pack, &m.record, ConsentPurpose::Accessibility, LANGUAGE) {
        Err(EngineError::Consent(e @ avow_consent::ConsentError::Revoked { .. })) => assert_eq!(e.exit_code(), 17),
        Err(other) => panic!("expected a revocation refusal, got {other}"),
        Ok(_) => panic!("a revocation written after the gate opened was ignored"),
    }

    // A stock voice's pack lives in the model cache: here the gate has to
    // reach for it, and says that the cache is what failed.
    match gate.stock_voice("jf_alpha", ConsentPurpose::Accessibility, LANGUAGE) {
        Err(EngineError::Models(_)) => {}
        Err(other) => panic!("expected a model cache error, got {other}"),
        Ok(_) => panic!("a stock voice opened without its pack"),
    }
    assert!(matches!(
        gate.load_voice(&m.pack, &m.record, ConsentPurpose::Accessibility, "tlh"),
        Err(EngineError::Invalid(_))
    ));
}
