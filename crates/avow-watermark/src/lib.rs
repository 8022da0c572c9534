//! The avow audio watermark: an inaudible, keyed mark carrying a 32-bit
//! payload (the consent record's watermark fingerprint), with a streaming
//! embedder and a detector that reports a calibrated p-value, the payload
//! and the marked time ranges.
//!
//! For: marking avow's 24 kHz output (one call per buffer or chunk) and
//! checking any audio file for the mark. Not for: file formats (see
//! `avow-audio`), consent logic, or encryption of the payload.
//!
//! # How it works
//! Audio at 24 kHz is cut into STFT frames (512 samples, hop 256,
//! sqrt-Hann). The levels of 48 bands (two bins each, 516 Hz–5 kHz) are
//! whitened across frequency (each band minus its ±2 neighbours' mean, so
//! gain, EQ and the spectral envelope drop out). Two frames form a *unit*;
//! each unit position of a 140-unit block (2.99 s) has a key-derived ±1 sign
//! per band and carries one symbol per band group (eight interleaved
//! groups of 6 bands): 48 positions hold a known sync sequence, 92 hold
//! the 92 coded bits of the payload (32 payload bits and a CRC-8 through a
//! rate-1/2, constraint-length-7 convolutional code), each coded bit once
//! in every group and so in eight different units per block. A group's
//! symbol is the sign of `Σ sign_b · whitened_level_b` over its bands.
//! Units whose marked-band power is more than 22 dB below a running peak
//! (decaying 1 dB/s, remembering 3 s) carry no mark at all: quiet speech masks little and is
//! the first to be buried by added noise, and spreading each bit over eight
//! units keeps the payload decodable across the gaps. For the others, the
//! embedder computes each group's sum
//! on the host and changes band gains just enough to push it past a target
//! (informed embedding: the host's own projection is cancelled, so little
//! mark energy is needed), distributing the change across bands in
//! proportion to a masking headroom (a band's own level minus 18 dB, or the
//! spreading of louder neighbours, whichever is higher) times a power
//! weight `(P_mean / P_band)^0.75` (capped at 8): the detector reads dB but
//! SNR pays for power, so loud bands get the smallest dB changes. Bands
//! whose change the detector's clipped statistic cannot see are left
//! alone. The mark is thus a tiny, masked, time-varying equalization, never
//! a tone or a band of noise.
//!
//! The detector applies the same loudness gate to every frame, weighs
//! every cell by the share of its power above the
//! band's noise floor (additive noise compresses the mark by that factor),
//! tries every alignment (2 sub-hop offsets × 280 frame phases), folds
//! frames onto unit positions, and scores the self-normalized sum
//! `W = Σ d_k / sqrt(Σ d_k²)` whose terms are the sync cells times their
//! known symbols and, at weight 0.8, the data cells times the sign of the
//! earlier cells of the same coded bit (decision feedback). Under "no
//! mark" the key's signs make every term a fair random sign times a fixed
//! magnitude, so `P(W ≥ w) ≤ min(e^{-w²/2}, 3.18·P(Z ≥ w))` whatever the
//! audio (Hoeffding; Bentkus and Dzindzalieta); the reported `p_value` is
//! that bound times the number of alignments tried, divided by the share
//! of the false-positive budget the test was given. Half the budget goes to
//! one alignment: a stream that starts at the file's first sample, as every
//! file avow writes does, so a short phrase marked on its own needs a score
//! of 5.11 rather than 6.20. The other half goes to the search over all
//! alignments; signals of about 11 s to 96 s are also scored over windows
//! of one and two blocks (for marked speech spliced into unmarked audio),
//! with that half split 90/10 between the whole-signal search and the
//! windows. The payload
//! is decoded with max-log-MAP from per-coded-bit log-likelihood ratios.
//!
//! # Keys
//! The key is an arbitrary byte string that seeds every pattern. avow ships
//! a **public default key** ([`Key::default_public`], id `avow-public-v1`)
//! so that anyone can run `avow detect` on avow output: attribution and
//! disclosure matter more for this project than secrecy. The cost is that a
//! public detector helps an attacker who wants to remove the mark (they can
//! test their removal attempts); deployments that need removal resistance
//! can use their own secret key, with which marks are invisible to the
//! public detector.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod code;
mod detect;
mod dsp;
mod embed;
mod layout;
mod rate;

/// Length of one complete watermark block (sync and payload) at the 24 kHz
/// embedding rate: marks laid on a grid of this period stay in phase.
pub const BLOCK_SAMPLES: usize = layout::BLOCK_FRAMES * layout::HOP;

/// Audio I/O re-exported for callers that read files to check (the CLI).
pub use avow_audio as audio;
pub use detect::{diag_units, Detection, Detector, DEFAULT_THRESHOLD};
pub use embed::{EmbedStream, Watermarker};
pub use layout::RATE;

/// Errors from embedding or detection.
#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    /// The audio could not be used (non-finite samples, bad rate, ...).
    #[error(transparent)]
    Audio(#[from] avow_audio::AudioError),
    /// The signal is too short to analyse at all.
    #[error("audio is too short to carry the mark ({seconds:.3} s)")]
    TooShort {
        /// Length of the input in seconds.
        seconds: f64,
    },
    /// A parameter outside what the mark supports.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A key or payload string that does not parse.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being parsed.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

/// The key that seeds the mark's patterns.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    bytes: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material; the id is enough to tell keys apart.
        write!(f, "Key({})", self.id)
    }
}

/// Identifier of the public default key.
pub const DEFAULT_KEY_ID: &str = "avow-public-v1";

impl Key {
    /// The project's public default key, used by `avow say` and `avow detect`.
    pub fn default_public() -> Self {
        Key {
            bytes: DEFAULT_KEY_ID.as_bytes().to_vec(),
            id: DEFAULT_KEY_ID.to_string(),
        }
    }

    /// A key from secret bytes (at least 16). Its id is a short hash.
    pub fn from_secret(bytes: &[u8]) -> Result<Self, WatermarkError> {
        if bytes.len() < 16 {
            return Err(WatermarkError::Invalid {
                what: "key",
                reason: format!("{} bytes; a secret key needs at least 16", bytes.len()),
            });
        }
        use sha2::Digest;
        let h = sha2::Sha256::digest(bytes);
        Ok(Key {
            bytes: bytes.to_vec(),
            id: format!("secret-{}", hex::encode(&h[..4])),
        })
    }

    /// Parses a key argument: `avow-public-v1` (or empty) for the default,
    /// otherwise hex of at least 16 bytes.
    pub fn parse(arg: &str) -> Result<Self, WatermarkError> {
        let arg = arg.trim();
        if arg.is_empty() || arg == DEFAULT_KEY_ID {
            return Ok(Self::default_public());
        }
        let bytes = hex::decode(arg).map_err(|e| WatermarkError::Invalid {
            what: "key",
            reason: format!("expected `{DEFAULT_KEY_ID}` or hex bytes: {e}"),
        })?;
        Self::from_secret(&bytes)
    }

    /// Short printable id (never the key itself).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Parses a payload given as 1–8 hex digits (optional `0x`).
pub fn parse_payload(s: &str) -> Result<u32, WatermarkError> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 8 {
        return Err(WatermarkError::Invalid {
            what: "payload",
            reason: format!("`{s}`: expected 1 to 8 hex digits (32 bits)"),
        });
    }
    u32::from_str_radix(t, 16).map_err(|e| WatermarkError::Invalid {
        what: "payload",
        reason: format!("`{s}`: {e}"),
    })
}
