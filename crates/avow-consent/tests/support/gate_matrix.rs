//! The consent-gate refusal matrix shared by the tests of every surface
//! (Rust API, CLI, C ABI, HTTP): one set of records and packs, built with the
//! avow-consent API in a temporary directory (freshly generated keys, nothing
//! binary committed), and the refusal each surface must give for each.
//!
//! Included by path from the other crates' tests
//! (`#[path = "../../avow-consent/tests/support/gate_matrix.rs"] mod gate_matrix;`),
//! so it depends only on `avow_consent`, `tempfile` and the standard library.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use avow_consent::{dsse, statement, ConsentStatement, Envelope, Evidence, RevocationStatement, SecretKey, Subject, VoicePackRef};

/// The purpose every case is requested for.
pub const PURPOSE: &str = "accessibility";
/// The language every case is requested for (the records grant `en`).
pub const LANGUAGE: &str = "en-us";
/// The watermark fingerprint of the accepted record (8 hex digits).
pub const FINGERPRINT: &str = "9a7e5eed";

/// One way a voice must be refused.
#[derive(Debug, Clone)]
pub struct RefusalCase {
    /// Short name, for failure messages and tables.
    pub name: &'static str,
    /// The voice pack presented.
    pub pack: PathBuf,
    /// The consent record presented (may not exist).
    pub record: PathBuf,
    /// `avow consent verify` exit code of the refusal (also the CLI's exit
    /// code and the C ABI's status number).
    pub exit_code: u8,
    /// A part of the error message that names the reason precisely.
    pub message: &'static str,
}

/// Keys, trust and revocation directories, a good pack and record, and one
/// record (or pack) per refusal, all in a temporary directory.
pub struct GateMatrix {
    /// Holds everything below; removed on drop.
    pub dir: tempfile::TempDir,
    /// Trust directory: only the test issuer's public key.
    pub trust: PathBuf,
    /// Revocation directory: the revocation of the `revoked` case's record.
    pub revocations: PathBuf,
    /// The voice pack every record names.
    pub pack: PathBuf,
    /// A record that verifies for [`PURPOSE`] and [`LANGUAGE`].
    pub record: PathBuf,
    /// The record id of [`GateMatrix::record`].
    pub record_id: String,
    /// The 32-bit watermark payload of the good record.
    pub payload: u32,
    issuer: SecretKey,
    cases: Vec<RefusalCase>,
}

impl GateMatrix {
    /// Builds the matrix around `pack_bytes` (a real voice pack when the
    /// accepted case is to be synthesized; any bytes otherwise).
    pub fn new(pack_bytes: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let d = dir.path().to_path_buf();
        let trust = d.join("trust");
        let revocations = d.join("revoked");
        let keys = d.join("keys");
        for sub in [&trust, &revocations, &keys] {
            std::fs::create_dir_all(sub).expect("create fixture directory");
        }
        // Fresh keys on every run, written as a user would keep them; only
        // the issuer's public half goes into the trust directory.
        let issuer = SecretKey::generate();
        let stranger = SecretKey::generate();
        issuer.write_pair(&keys.join("issuer"), "gate test issuer").expect("write issuer key");
        stranger.write_pair(&keys.join("stranger"), "gate test stranger").expect("write stranger key");
        std::fs::copy(keys.join("issuer.pub"), trust.join("issuer.pub")).expect("trust the issuer");
        let issuer = SecretKey::read(&keys.join("issuer.key")).expect("read issuer key");
        let stranger = SecretKey::read(&keys.join("stranger.key")).expect("read stranger key");

        let pack = d.join("voice.voicepack");
        std::fs::write(&pack, pack_bytes).expect("write pack");
        let write = |name: &str, bytes: &[u8]| {
            let p = d.join(name);
            std::fs::write(&p, bytes).expect("write fixture");
            p
        };
        let statement = |id: &str| base_statement(pack_bytes, id);

        let record_id = "gate-good".to_string();
        let good_statement = statement(&record_id);
        let good_envelope = signed(&good_statement, &issuer);
        let record = write("good.consent.json", good_envelope.as_bytes());
        let payload = u32::from_str_radix(FINGERPRINT, 16).expect("hex fingerprint");

        let mut cases = Vec::new();
        let mut case = |name: &'static str, pack: &Path, record: PathBuf, exit_code: u8, message: &'static str| {
            cases.push(RefusalCase { name, pack: pack.to_path_buf(), record, exit_code, message });
        };

        case("pack without a record", &pack, d.join("missing.consent.json"), 1, "missing.consent.json");

        let mut st = statement("gate-expired");
        st.not_after = "2025-06-01T00:00:00Z".into();
        case("expired record", &pack, write("expired.consent.json", signed(&st, &issuer).as_bytes()), 16, "expired");

        let mut st = statement("gate-future");
        st.not_before = "2124-01-01T00:00:00Z".into();
        case("not yet valid record", &pack, write("future.consent.json", signed(&st, &issuer).as_bytes()), 15, "not yet valid");

        let st = statement("gate-revoked");
        let revoked = write("revoked.consent.json", signed(&st, &issuer).as_bytes());
        write_revocation(&revocations, "gate-revoked", &issuer);
        case("revoked record", &pack, revoked, 17, "revoked");

        let mut st = statement("gate-dubbing");
        st.purposes = vec!["dubbing".into()];
        case("out-of-scope purpose", &pack, write("dubbing.consent.json", signed(&st, &issuer).as_bytes()), 18, "purpose `accessibility` is not granted");

        let mut st = statement("gate-french");
        st.languages = vec!["fr".into()];
        case("out-of-scope language", &pack, write("french.consent.json", signed(&st, &issuer).as_bytes()), 18, "language `en-us` is not granted");

        case(
            "untrusted signer",
            &pack,
            write("stranger.consent.json", signed(&statement("gate-stranger"), &stranger).as_bytes()),
            13,
            "untrusted signer",
        );

        // The trusted issuer's genuine signature, but over another statement
        // (the same record granting more): grafted onto the good payload.
        let mut wider = good_statement.clone();
        wider.purposes = vec!["*".into()];
        let mut grafted = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, good_statement.to_payload());
        *grafted.signatures_mut() = envelope(&wider, &issuer).signatures().to_vec();
        case("trusted signature over other content", &pack, write("grafted.consent.json", grafted.to_json().as_bytes()), 12, "bad signature");

        let mut changed_pack = pack_bytes.to_vec();
        let last = changed_pack.len() - 1;
        changed_pack[last] ^= 1;
        let changed_pack_path = write("changed.voicepack", &changed_pack);
        case("one byte changed in the pack", &changed_pack_path, record.clone(), 19, "hash mismatch");

        let changed_record = one_byte_changed_in_payload(&good_envelope, &good_statement.to_payload());
        case("one byte changed in the record", &pack, write("changed.consent.json", changed_record.as_bytes()), 12, "bad signature");

        GateMatrix { dir, trust, revocations, pack, record, record_id, payload, issuer, cases }
    }

    /// Every refusal case, in a fixed order.
    pub fn refusals(&self) -> &[RefusalCase] {
        &self.cases
    }

    /// Revokes `record_id` now (a revocation statement signed by the issuer
    /// in [`GateMatrix::revocations`]), as `avow consent revoke` would.
    pub fn revoke(&self, record_id: &str) {
        write_revocation(&self.revocations, record_id, &self.issuer);
    }

    /// A path inside the fixture directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn base_statement(pack: &[u8], record_id: &str) -> ConsentStatement {
    ConsentStatement {
        format: statement::CONSENT_FORMAT.into(),
        record_id: record_id.into(),
        subject: Subject { name: "Gate Test Subject".into(), public_key: None },
        voice_pack: VoicePackRef { sha256: avow_consent::sha256_hex(pack), name: "gate".into() },
        grantee: "anyone".into(),
        purposes: vec![PURPOSE.into()],
        languages: vec!["en".into()],
        not_before: "2025-01-01T00:00:00Z".into(),
        not_after: "2125-01-01T00:00:00Z".into(),
        issued_at: "2025-01-01T00:00:00Z".into(),
        evidence: Evidence {
            reference_recordings: vec![],
            consent_recording: None,
            statement_text: "I agree that this test voice may be used for accessibility in English.".into(),
        },
        watermark_fingerprint: FINGERPRINT.into(),
    }
}

fn envelope(st: &ConsentStatement, key: &SecretKey) -> Envelope {
    let mut e = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, st.to_payload());
    e.sign(key).expect("sign");
    e
}

fn signed(st: &ConsentStatement, key: &SecretKey) -> String {
    envelope(st, key).to_json()
}

fn write_revocation(dir: &Path, record_id: &str, by: &SecretKey) {
    let st = RevocationStatement {
        format: statement::REVOCATION_FORMAT.into(),
        record_id: record_id.into(),
        revoked_at: "2025-02-01T00:00:00Z".into(),
        reason: "the subject withdrew consent".into(),
    };
    let mut e = Envelope::new(dsse::REVOCATION_PAYLOAD_TYPE, st.to_payload());
    e.sign(by).expect("sign revocation");
    std::fs::write(dir.join(format!("{record_id}.json")), e.to_json()).expect("write revocation");
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The envelope text with exactly one byte of the file changed: a base64
/// digit of the payload that encodes the low six bits of a letter in the
/// statement text, swapped for the digit one bit away. The payload still
/// decodes (canonically) to valid JSON, with one letter changed; the
/// signature no longer matches it.
fn one_byte_changed_in_payload(envelope_json: &str, payload: &[u8]) -> String {
    let text_at = payload.windows(5).position(|w| w == b"agree").expect("statement text in payload");
    // The third byte of a 3-byte group is encoded alone by the group's
    // fourth base64 digit; pick such a byte inside the word.
    let byte = (text_at..text_at + 5).find(|i| i % 3 == 2).expect("a group's third byte");
    let digit = byte / 3 * 4 + 3;
    let start = envelope_json.find("\"payload\"").expect("payload field");
    let open = start + 9 + envelope_json[start + 9..].find('"').expect("payload value");
    let at = open + 1 + digit;
    let mut bytes = envelope_json.as_bytes().to_vec();
    let value = BASE64.iter().position(|&c| c == bytes[at]).expect("base64 digit");
    bytes[at] = BASE64[value ^ 1];
    String::from_utf8(bytes).expect("ASCII")
}
