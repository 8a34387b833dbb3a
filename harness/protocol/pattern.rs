//! The seeded byte pattern of the `bulk` capability: both ends compute byte `i` of
//! stream `seed` on their own, so megabytes are sent and checked without crossing the
//! JSON pipe. Defined in docs/adapter-protocol.md; every adapter must compute it
//! exactly like this.
//!
//! `word(seed, k) = splitmix64(seed ^ splitmix64(k))`, and byte `i` is byte `i % 8`
//! (little-endian) of `word(seed, i / 8)`. All values appear, NUL and high bytes too.

/// The splitmix64 finaliser (Steele, Lea, Flood 2014), all arithmetic modulo 2^64.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Byte `i` of pattern `seed`.
pub fn byte(seed: u64, i: u64) -> u8 {
    splitmix64(seed ^ splitmix64(i / 8)).to_le_bytes()[(i % 8) as usize]
}

/// Bytes `[offset, offset + len)` of pattern `seed`.
pub fn fill(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = offset;
    while out.len() < len {
        let word = splitmix64(seed ^ splitmix64(i / 8)).to_le_bytes();
        let from = (i % 8) as usize;
        let take = (8 - from).min(len - out.len());
        out.extend_from_slice(&word[from..from + take]);
        i += take as u64;
    }
    out
}

/// The first index in `data` (which holds bytes from `offset` on) that differs from
/// the pattern.
pub fn first_mismatch(seed: u64, offset: u64, data: &[u8]) -> Option<usize> {
    let expected = fill(seed, offset, data.len());
    data.iter().zip(&expected).position(|(a, b)| a != b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_agrees_with_byte_and_has_fixed_values() {
        let v = fill(7, 3, 40);
        for (k, &b) in v.iter().enumerate() {
            assert_eq!(b, byte(7, 3 + k as u64));
        }
        // Pinned (and computed independently in Python) so adapters in other languages
        // can check theirs.
        assert_eq!(
            fill(0, 0, 8),
            [0x6f, 0x7e, 0x19, 0x4d, 0x2f, 0xdd, 0x06, 0xa7]
        );
        assert_eq!(first_mismatch(7, 3, &v), None);
        let mut bad = v.clone();
        bad[17] ^= 1;
        assert_eq!(first_mismatch(7, 3, &bad), Some(17));
    }
}
