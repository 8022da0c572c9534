//! Fixed geometry of the mark and the key-derived pseudo-random patterns.

use sha2::{Digest, Sha256};

/// Sample rate the mark is defined at.
pub const RATE: u32 = 24_000;
/// STFT frame length (samples at [`RATE`]).
pub const N: usize = 512;
/// STFT hop.
pub const HOP: usize = 256;
/// First STFT bin that carries the mark (≈ 516 Hz).
pub const BIN_LO: usize = 11;
/// Bins per band.
pub const BAND_BINS: usize = 2;
/// Number of marked bands (bins 11..107, ≈ 516–5016 Hz).
pub const BANDS: usize = 48;
/// Frames per unit: one unit carries one symbol with one gain per band.
pub const UNIT_FRAMES: usize = 2;
/// Units per block; the block repeats, so any excerpt of one block length
/// (≈ 2.99 s) holds every symbol once.
pub const UNITS: usize = 140;
/// Frames per block.
pub const BLOCK_FRAMES: usize = UNITS * UNIT_FRAMES;
/// Units that carry the known synchronization sequence.
pub const SYNC_UNITS: usize = 48;
pub use crate::code::CODED_BITS;
/// Interleaved band groups (band `b` is in group `b % GROUPS`). Each group of
/// a sync unit is a separate, independently signed sync term, which is what
/// lets the p-value reach far below 1e-6 within one block. A self-normalized
/// score over `n` terms cannot exceed `√n`, and in an utterance of a second
/// that cap, not the mark's strength, is what decides detection: eight
/// groups of six bands give twice the terms of four groups of twelve
/// (measured in BENCHMARKS.md: 4, 8 and 12 groups).
pub const GROUPS: usize = 8;

/// What one unit position of the block carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Known symbols, one per band group (see [`Layout::sync`]).
    Sync,
    /// Coded payload bits, one per band group (see [`Layout::bits`]).
    Data,
}

/// Key-derived patterns: a ±1 sign per band for each unit position, the
/// role of each unit position, and the coded bit each band group of a
/// data position carries (every coded bit once per group and block).
#[derive(Clone)]
pub struct Layout {
    /// `signs[j * BANDS + b]` is the sign of band `b` in unit position `j`.
    pub signs: Vec<f32>,
    /// Role of each unit position.
    pub roles: Vec<Role>,
    /// `sync[j * GROUPS + g]`: known symbol of group `g` of sync position `j`.
    pub sync: Vec<f32>,
    /// `bits[j * GROUPS + g]`: coded bit carried by group `g` of data
    /// position `j` (unused for sync positions).
    pub bits: Vec<u8>,
}

/// Deterministic generator seeded from the key (splitmix64 on a SHA-256 seed).
struct Prng(u64);

impl Prng {
    fn new(key: &[u8], label: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"avow-watermark-v1\0");
        h.update(label.as_bytes());
        h.update([0]);
        h.update(key);
        let d = h.finalize();
        let mut s = [0u8; 8];
        s.copy_from_slice(&d[..8]);
        Prng(u64::from_le_bytes(s))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

impl Layout {
    /// Derives the patterns for a key.
    pub fn new(key: &[u8]) -> Self {
        let mut rng = Prng::new(key, "signs");
        let mut signs = Vec::with_capacity(UNITS * BANDS);
        let per = BANDS / GROUPS;
        for _ in 0..UNITS {
            // Signs balanced within each band group: a gain change common to
            // the group's bands cancels out of its statistic, and the groups'
            // signs are independent of each other.
            let mut row = vec![0.0f32; BANDS];
            for g in 0..GROUPS {
                let mut grp: Vec<f32> = (0..per)
                    .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
                    .collect();
                for i in (1..per).rev() {
                    grp.swap(i, rng.below(i + 1));
                }
                for (i, v) in grp.into_iter().enumerate() {
                    row[i * GROUPS + g] = v;
                }
            }
            signs.extend(row);
        }
        let mut rng = Prng::new(key, "roles");
        let sync = (0..UNITS * GROUPS)
            .map(|_| if rng.next() & 1 == 0 { 1.0 } else { -1.0 })
            .collect();
        // Slot k of the unshuffled order: sync for k < SYNC_UNITS, else
        // data slot k - SYNC_UNITS.
        let mut slots: Vec<usize> = (0..UNITS).collect();
        for i in (1..UNITS).rev() {
            slots.swap(i, rng.below(i + 1));
        }
        let data_units = UNITS - SYNC_UNITS;
        // Group g of data slot d carries coded bit perm_g[d]: every coded
        // bit appears once in each group, in (generally) different units,
        // so a unit lost to a pause or a loud attack erases an eighth of
        // eight bits' evidence rather than all of one bit's.
        let mut perms: Vec<Vec<usize>> = Vec::with_capacity(GROUPS);
        let mut brng = Prng::new(key, "bits");
        for g in 0..GROUPS {
            let mut p: Vec<usize> = (0..data_units).map(|d| d % CODED_BITS).collect();
            if g > 0 {
                for i in (1..data_units).rev() {
                    p.swap(i, brng.below(i + 1));
                }
            }
            perms.push(p);
        }
        let mut roles = Vec::with_capacity(UNITS);
        let mut bits = vec![0u8; UNITS * GROUPS];
        for (j, &k) in slots.iter().enumerate() {
            if k < SYNC_UNITS {
                roles.push(Role::Sync);
            } else {
                roles.push(Role::Data);
                for g in 0..GROUPS {
                    bits[j * GROUPS + g] = perms[g][k - SYNC_UNITS] as u8;
                }
            }
        }
        Layout { signs, roles, sync, bits }
    }

    /// Signs of unit position `j`.
    pub fn unit_signs(&self, j: usize) -> &[f32] {
        &self.signs[j * BANDS..(j + 1) * BANDS]
    }

    /// Target symbol of each band group of unit position `j`, given the
    /// coded bits.
    pub fn symbols(&self, j: usize, coded: &[f32; CODED_BITS]) -> [f32; GROUPS] {
        match self.roles[j] {
            Role::Sync => {
                let mut s = [0.0; GROUPS];
                s.copy_from_slice(&self.sync[j * GROUPS..(j + 1) * GROUPS]);
                s
            }
            Role::Data => std::array::from_fn(|g| coded[usize::from(self.bits[j * GROUPS + g])]),
        }
    }
}

/// CRC-8 (polynomial 0x07) over the payload's big-endian bytes.
pub fn crc8(payload: u32) -> u8 {
    let mut crc = 0u8;
    for byte in payload.to_be_bytes() {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The 40 information bits of a payload: 32 payload bits, MSB first, then
/// the CRC-8.
pub fn info_bits(payload: u32) -> [bool; crate::code::INFO_BITS] {
    let crc = crc8(payload);
    std::array::from_fn(|i| {
        if i < 32 {
            (payload >> (31 - i)) & 1 == 1
        } else {
            (crc >> (39 - i)) & 1 == 1
        }
    })
}

/// The coded bits (as ±1) for a payload: its information bits through the
/// convolutional code.
pub fn codeword(payload: u32) -> [f32; CODED_BITS] {
    crate::code::encode(&info_bits(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_coded_bit_is_spread_over_the_block_one_copy_per_group() {
        // A unit lost to a pause (the loudness gate) or to an attack must
        // cost each bit at most a share of its evidence, not all of it.
        let layout = Layout::new(b"layout test key");
        let mut seen = vec![Vec::new(); CODED_BITS];
        for (j, role) in layout.roles.iter().enumerate() {
            if *role == Role::Data {
                for g in 0..GROUPS {
                    seen[usize::from(layout.bits[j * GROUPS + g])].push((j, g));
                }
            }
        }
        let mut same_unit = 0;
        for (bit, places) in seen.iter().enumerate() {
            let mut groups: Vec<usize> = places.iter().map(|p| p.1).collect();
            groups.sort_unstable();
            assert_eq!(groups, (0..GROUPS).collect::<Vec<_>>(), "bit {bit}");
            let mut units: Vec<usize> = places.iter().map(|p| p.0).collect();
            units.sort_unstable();
            units.dedup();
            same_unit += GROUPS - units.len();
        }
        // Independent permutations put a few bits twice in one unit, not
        // more than chance would (a pair of copies shares a unit with
        // probability 1 / data units).
        let data_units = (UNITS - SYNC_UNITS) as f64;
        let expected = CODED_BITS as f64 * (GROUPS * (GROUPS - 1) / 2) as f64 / data_units;
        assert!((same_unit as f64) < 2.0 * expected, "{same_unit} repeats, {expected:.0} expected");
        assert_eq!(layout.roles.iter().filter(|r| **r == Role::Sync).count(), SYNC_UNITS);
    }
}
