//! DSSE envelopes (Dead Simple Signing Envelope, v1): a payload, its type, and
//! signatures over the PAE encoding of both, so signatures cover exact bytes.
//!
//! Stricter than DSSE requires, on purpose: unknown fields are refused, every
//! signature must carry a `keyid`, base64 must be standard and canonical, and
//! sizes are bounded before anything is decoded.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::keys::{KeyId, SecretKey};
use crate::ConsentError;

/// `payloadType` of a consent record.
pub const CONSENT_PAYLOAD_TYPE: &str = "application/vnd.avow.consent+json";
/// `payloadType` of a revocation statement.
pub const REVOCATION_PAYLOAD_TYPE: &str = "application/vnd.avow.revocation+json";
/// Largest envelope file accepted, in bytes.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;
/// Largest decoded payload accepted, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024;
/// Most signatures one envelope may carry.
pub const MAX_SIGNATURES: usize = 16;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    keyid: String,
    sig: String,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// Id of the key that claims to have signed.
    pub keyid: KeyId,
    /// The 64 signature bytes.
    pub sig: [u8; 64],
}

/// A decoded DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<EnvelopeSignature>,
}

/// The DSSE v1 pre-authentication encoding: what signatures are made over.
/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// An unsigned envelope around `payload`.
    pub fn new(payload_type: &str, payload: Vec<u8>) -> Self {
        Envelope { payload_type: payload_type.to_string(), payload, signatures: Vec::new() }
    }

    /// Parses envelope JSON within the size limits.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConsentError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(ConsentError::Malformed(format!(
                "envelope is {} bytes, over the {MAX_ENVELOPE_BYTES} byte limit",
                bytes.len()
            )));
        }
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| ConsentError::Malformed(format!("envelope: {e}")))?;
        // Base64 of MAX_PAYLOAD_BYTES is 4/3 as long; checking first bounds the decode.
        if raw.payload.len() > MAX_PAYLOAD_BYTES / 3 * 4 + 4 {
            return Err(ConsentError::Malformed(format!("payload is over the {MAX_PAYLOAD_BYTES} byte limit")));
        }
        let payload =
            B64.decode(&raw.payload).map_err(|e| ConsentError::Malformed(format!("payload is not canonical base64: {e}")))?;
        if raw.signatures.len() > MAX_SIGNATURES {
            return Err(ConsentError::Malformed(format!(
                "{} signatures, over the limit of {MAX_SIGNATURES}",
                raw.signatures.len()
            )));
        }
        let mut signatures: Vec<EnvelopeSignature> = Vec::with_capacity(raw.signatures.len());
        for s in raw.signatures {
            let keyid = KeyId::parse(&s.keyid)
                .ok_or_else(|| ConsentError::Malformed(format!("signature keyid `{}` is not 16 lowercase hex digits", clip(&s.keyid))))?;
            if signatures.iter().any(|o| o.keyid == keyid) {
                return Err(ConsentError::Malformed(format!("two signatures claim key {keyid}")));
            }
            if s.sig.len() > 100 {
                return Err(ConsentError::Malformed(format!("signature by {keyid} is too long")));
            }
            let sig = B64
                .decode(&s.sig)
                .ok()
                .and_then(|v| <[u8; 64]>::try_from(v).ok())
                .ok_or_else(|| ConsentError::Malformed(format!("signature by {keyid} is not 64 bytes of canonical base64")))?;
            signatures.push(EnvelopeSignature { keyid, sig });
        }
        Ok(Envelope { payload_type: raw.payload_type, payload, signatures })
    }

    /// The payload type.
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The exact payload bytes that signatures cover (through PAE).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signatures, in file order.
    pub fn signatures(&self) -> &[EnvelopeSignature] {
        &self.signatures
    }

    /// The bytes every signature is over.
    pub fn signed_bytes(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Adds a signature by `key`. Refuses a second signature by the same key.
    pub fn sign(&mut self, key: &SecretKey) -> Result<(), ConsentError> {
        let keyid = key.public().id().clone();
        if self.signatures.iter().any(|s| s.keyid == keyid) {
            return Err(ConsentError::AlreadySigned(keyid));
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(ConsentError::Malformed(format!("already {MAX_SIGNATURES} signatures")));
        }
        let sig = key.sign(&self.signed_bytes());
        self.signatures.push(EnvelopeSignature { keyid, sig });
        Ok(())
    }

    /// Test and tooling hook: the signatures, mutable (e.g. to strip one).
    pub fn signatures_mut(&mut self) -> &mut Vec<EnvelopeSignature> {
        &mut self.signatures
    }

    /// Serializes as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let raw = RawEnvelope {
            payload: B64.encode(&self.payload),
            payload_type: self.payload_type.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| RawSignature { keyid: s.keyid.to_string(), sig: B64.encode(s.sig) })
                .collect(),
        };
        let mut s = serde_json::to_string_pretty(&raw).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Shortens attacker-controlled text before it goes into an error message.
pub(crate) fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).filter(|c| !c.is_control()).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // Example from the DSSE v1 protocol description.
        assert_eq!(pae("http://example.com/HelloWorld", b"hello world"), b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec());
    }

    #[test]
    fn round_trip_and_limits() {
        let k = SecretKey::from_seed(&[1; 32]);
        let mut e = Envelope::new(CONSENT_PAYLOAD_TYPE, b"{}".to_vec());
        e.sign(&k).unwrap();
        assert!(matches!(e.sign(&k), Err(ConsentError::AlreadySigned(_))));
        let back = Envelope::parse(e.to_json().as_bytes()).unwrap();
        assert_eq!(back, e);
        let big = vec![b' '; MAX_ENVELOPE_BYTES + 1];
        assert!(matches!(Envelope::parse(&big), Err(ConsentError::Malformed(_))));
        let extra = r#"{"payload":"e30=","payloadType":"x","signatures":[],"extra":1}"#;
        assert!(matches!(Envelope::parse(extra.as_bytes()), Err(ConsentError::Malformed(_))));
        let noncanonical = r#"{"payload":"e31=","payloadType":"x","signatures":[]}"#;
        assert!(matches!(Envelope::parse(noncanonical.as_bytes()), Err(ConsentError::Malformed(_))));
        let dup = r#"{"payload":"e30=","payload":"e30=","payloadType":"x","signatures":[]}"#;
        assert!(matches!(Envelope::parse(dup.as_bytes()), Err(ConsentError::Malformed(_))));
    }
}
