//! Ties audio a surface handed out to the audit ledger: the bytes must split,
//! in order and with nothing left over, into pieces whose sha256 are the
//! `audio_sha256` of consecutive ledger entries. That is "one ledger entry
//! per synthesized piece, covering exactly the audio given out".

#![allow(dead_code)]

use std::path::Path;

use sha2::{Digest, Sha256};

/// The ledger's entries from line `first` (0-based) on: (record id, watermark, audio sha256).
pub fn entries_from(ledger: &Path, first: usize) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(ledger).unwrap_or_default();
    text.lines()
        .skip(first)
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("ledger line {line:?}: {e}"));
            let field = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("ledger line lacks `{k}`: {line}")).to_string();
            (field("record_id"), field("watermark"), field("audio_sha256"))
        })
        .collect()
}

/// How many of `hashes` (in order) cover `pcm` (16-bit samples) exactly,
/// piece after piece; an error names where the correspondence breaks.
pub fn pieces_covering(pcm: &[u8], hashes: &[String]) -> Result<usize, String> {
    let mut at = 0usize;
    for (k, expected) in hashes.iter().enumerate() {
        let mut hasher = Sha256::new();
        if hex::encode(hasher.clone().finalize()) == *expected {
            continue; // an empty piece
        }
        let mut found = None;
        // Pieces hold whole 16-bit samples and at least one.
        while at + 2 <= pcm.len() {
            hasher.update(&pcm[at..at + 2]);
            at += 2;
            if hex::encode(hasher.clone().finalize()) == *expected {
                found = Some(at);
                break;
            }
        }
        if found.is_none() {
            return Err(format!("no run of the audio after piece {k} hashes to ledger entry {k}'s audio_sha256"));
        }
    }
    if at != pcm.len() {
        return Err(format!("{} bytes of audio after the last ledgered piece", pcm.len() - at));
    }
    Ok(hashes.len())
}

/// The bytes of a WAV file's `data` chunk (whatever its declared size, to the end).
pub fn wav_data(wav: &[u8]) -> &[u8] {
    let at = wav.windows(4).position(|w| w == b"data").expect("a data chunk");
    &wav[at + 8..]
}
