//! Error-correcting code of the payload: the 40 information bits (32-bit
//! payload and CRC-8) through the constraint-length-7, rate-1/2
//! convolutional code (generators 133 and 171 octal, the one used by
//! 802.11 and deep-space links), terminated with six zero bits.
//!
//! The detector decodes with max-log-MAP (BCJR on log metrics): it takes
//! one soft value per coded bit and returns, per information bit, a
//! log-likelihood ratio. Its signs are the maximum-likelihood path's bits;
//! its magnitudes give the payload confidence. Against the previous plain
//! repetition this gains about 4–5 dB of payload robustness at the same
//! mark energy (free distance 10 instead of 2).

/// Information bits: 32 payload bits then the CRC-8.
pub const INFO_BITS: usize = 40;
/// Memory of the encoder (constraint length 7).
const MEMORY: usize = 6;
const STATES: usize = 1 << MEMORY;
/// Trellis steps: information bits plus the zero tail.
const STEPS: usize = INFO_BITS + MEMORY;
/// Coded bits.
pub const CODED_BITS: usize = 2 * STEPS;
const G0: u32 = 0o133;
const G1: u32 = 0o171;

/// Output pair (as ±1) of the branch leaving `state` on input `bit`, and
/// the next state.
fn branch(state: usize, bit: usize) -> (f32, f32, usize) {
    let reg = ((bit << MEMORY) | state) as u32;
    let out = |g: u32| {
        if (reg & g).count_ones() % 2 == 1 {
            1.0
        } else {
            -1.0
        }
    };
    (out(G0), out(G1), (reg >> 1) as usize)
}

/// Encodes information bits (each `true` = 1) into ±1 coded symbols.
pub fn encode(info: &[bool; INFO_BITS]) -> [f32; CODED_BITS] {
    let mut out = [0.0; CODED_BITS];
    let mut state = 0usize;
    for t in 0..STEPS {
        let bit = if t < INFO_BITS {
            usize::from(info[t])
        } else {
            0
        };
        let (a, b, next) = branch(state, bit);
        out[2 * t] = a;
        out[2 * t + 1] = b;
        state = next;
    }
    out
}

/// Max-log-MAP decoding. `llr[k]` is the channel log-likelihood ratio of
/// coded bit `k` (positive: +1 more likely). Returns the LLR of every
/// information bit (positive: 1).
pub fn decode(llr: &[f64; CODED_BITS]) -> [f64; INFO_BITS] {
    const NEG: f64 = f64::NEG_INFINITY;
    let gamma = |t: usize, state: usize, bit: usize| -> (f64, usize) {
        let (a, b, next) = branch(state, bit);
        (
            0.5 * (f64::from(a) * llr[2 * t] + f64::from(b) * llr[2 * t + 1]),
            next,
        )
    };
    // Forward metrics, one row per step boundary.
    let mut alpha = vec![[NEG; STATES]; STEPS + 1];
    alpha[0][0] = 0.0;
    for t in 0..STEPS {
        let bits: &[usize] = if t < INFO_BITS { &[0, 1] } else { &[0] };
        for s in 0..STATES {
            let a = alpha[t][s];
            if a == NEG {
                continue;
            }
            for &bit in bits {
                let (g, next) = gamma(t, s, bit);
                if a + g > alpha[t + 1][next] {
                    alpha[t + 1][next] = a + g;
                }
            }
        }
    }
    // Backward metrics; the tail forces the final state to zero.
    let mut beta = vec![[NEG; STATES]; STEPS + 1];
    beta[STEPS][0] = 0.0;
    for t in (0..STEPS).rev() {
        let bits: &[usize] = if t < INFO_BITS { &[0, 1] } else { &[0] };
        for s in 0..STATES {
            let mut best = NEG;
            for &bit in bits {
                let (g, next) = gamma(t, s, bit);
                let b = beta[t + 1][next];
                if b != NEG && g + b > best {
                    best = g + b;
                }
            }
            beta[t][s] = best;
        }
    }
    let mut out = [0.0; INFO_BITS];
    for (t, o) in out.iter_mut().enumerate() {
        let mut best = [NEG; 2];
        for (s, &a) in alpha[t].iter().enumerate() {
            if a == NEG {
                continue;
            }
            for (bit, b) in best.iter_mut().enumerate() {
                let (g, next) = gamma(t, s, bit);
                let m = a + g + beta[t + 1][next];
                if m > *b {
                    *b = m;
                }
            }
        }
        *o = best[1] - best[0];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info_of(x: u64) -> [bool; INFO_BITS] {
        std::array::from_fn(|i| (x >> (INFO_BITS - 1 - i)) & 1 == 1)
    }

    #[test]
    fn clean_codeword_decodes_to_its_information_bits() {
        let info = info_of(0xA5_1234_5678);
        let c = encode(&info);
        let llr: [f64; CODED_BITS] = std::array::from_fn(|k| 4.0 * f64::from(c[k]));
        let out = decode(&llr);
        for i in 0..INFO_BITS {
            assert_eq!(out[i] > 0.0, info[i], "bit {i}");
        }
    }

    #[test]
    fn corrects_scattered_hard_errors() {
        // Free distance 10: four well-separated flipped coded bits are
        // always corrected.
        let info = info_of(0x3C_DEAD_BEEF);
        let c = encode(&info);
        let mut llr: [f64; CODED_BITS] = std::array::from_fn(|k| f64::from(c[k]));
        for k in [3, 25, 50, 77] {
            llr[k] = -llr[k];
        }
        let out = decode(&llr);
        for i in 0..INFO_BITS {
            assert_eq!(out[i] > 0.0, info[i], "bit {i}");
        }
    }

    #[test]
    fn erased_bits_are_recovered_from_the_rest() {
        let info = info_of(0x01_8000_0001);
        let c = encode(&info);
        let llr: [f64; CODED_BITS] = std::array::from_fn(|k| {
            if k % 3 == 0 {
                0.0
            } else {
                2.0 * f64::from(c[k])
            }
        });
        let out = decode(&llr);
        for i in 0..INFO_BITS {
            assert_eq!(out[i] > 0.0, info[i], "bit {i}");
        }
    }
}
