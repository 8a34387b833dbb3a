//! Reassembly of a TCP byte stream from segments that arrive out of order, overlap, or
//! repeat (RFC 9293 3.10.7.4, "segment text": data beyond RCV.NXT is held until the gap
//! before it fills; data before RCV.NXT was already delivered).
//!
//! Sequence numbers wrap at 2^32 (RFC 9293 3.4): a segment's position is its distance
//! from RCV.NXT taken as a signed 32-bit number, so the stream may cross the wrap any
//! number of times. Memory is bounded by the receive window: held data lies in
//! `[RCV.NXT, RCV.NXT + window)`, and the last `window` delivered bytes are kept only
//! to check retransmissions against.
//!
//! Overlapping data that disagrees with what is held or was delivered is reported as a
//! [`ReassemblyError::Conflict`], never silently merged: RFC 9293 leaves the choice to
//! the receiver, and a conformance harness must see it.

use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// Bytes at `offset` (from the initial sequence number) differ from those already
    /// held or delivered there.
    #[error("conflicting data at stream offset {offset}: had {had:#04x}, got {got:#04x}")]
    Conflict { offset: u64, had: u8, got: u8 },
    /// The segment reaches beyond RCV.NXT + window, or lies further back than the
    /// sequence space allows (more than 2^31 away).
    #[error("segment at sequence {seq} with {len} bytes lies outside the window [{next}, {next}+{window})")]
    OutsideWindow {
        seq: u32,
        len: usize,
        next: u32,
        window: usize,
    },
}

/// The receive side of one direction of a connection.
#[derive(Debug, Clone)]
pub struct Reassembler {
    /// RCV.NXT: the next sequence number expected.
    next_seq: u32,
    /// The stream offset of RCV.NXT (0 at the initial sequence number).
    next_off: u64,
    window: usize,
    /// Held segments beyond RCV.NXT, by stream offset; they never overlap.
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
    /// The last delivered bytes (at most `window`), ending at `next_off`.
    history: VecDeque<u8>,
}

impl Reassembler {
    /// A receiver expecting `next_seq` first (ISN + 1 after a SYN), holding at most
    /// `window` bytes.
    pub fn new(next_seq: u32, window: usize) -> Self {
        Reassembler {
            next_seq,
            next_off: 0,
            window,
            held: BTreeMap::new(),
            held_bytes: 0,
            history: VecDeque::new(),
        }
    }

    /// RCV.NXT: what a cumulative ACK acknowledges.
    pub fn ack(&self) -> u32 {
        self.next_seq
    }

    /// Bytes delivered so far.
    pub fn delivered(&self) -> u64 {
        self.next_off
    }

    /// Bytes held beyond a gap.
    pub fn held(&self) -> usize {
        self.held_bytes
    }

    /// Takes one segment; returns the bytes that became contiguous (possibly none).
    /// A rejected segment changes nothing.
    pub fn insert(&mut self, seq: u32, data: &[u8]) -> Result<Vec<u8>, ReassemblyError> {
        let outside = || ReassemblyError::OutsideWindow {
            seq,
            len: data.len(),
            next: self.next_seq,
            window: self.window,
        };
        let rel = i64::from(seq.wrapping_sub(self.next_seq) as i32);
        let start = self.next_off as i64 + rel;
        let end = start + data.len() as i64;
        if end > self.next_off as i64 + self.window as i64 || start < 0 && rel < -(i32::MAX as i64)
        {
            return Err(outside());
        }
        // Check everything before changing anything.
        for (i, &got) in data.iter().enumerate() {
            let off = start + i as i64;
            if off < 0 {
                continue; // before the initial sequence number: nothing to compare with
            }
            if let Some(had) = self.byte_at(off as u64) {
                if had != got {
                    return Err(ReassemblyError::Conflict {
                        offset: off as u64,
                        had,
                        got,
                    });
                }
            }
        }
        // Keep the new bytes beyond RCV.NXT that fill gaps.
        let from = (self.next_off as i64).max(start) as u64;
        let mut run: Option<(u64, Vec<u8>)> = None;
        for off in from..end.max(0) as u64 {
            let byte = data[(off as i64 - start) as usize];
            if self.held_byte(off).is_some() {
                if let Some((at, bytes)) = run.take() {
                    self.hold(at, bytes);
                }
                continue;
            }
            match &mut run {
                Some((_, bytes)) => bytes.push(byte),
                None => run = Some((off, vec![byte])),
            }
        }
        if let Some((at, bytes)) = run {
            self.hold(at, bytes);
        }
        Ok(self.deliver())
    }

    fn hold(&mut self, at: u64, bytes: Vec<u8>) {
        self.held_bytes += bytes.len();
        self.held.insert(at, bytes);
    }

    /// The byte at a stream offset if it is held or still in the history.
    fn byte_at(&self, off: u64) -> Option<u8> {
        if off < self.next_off {
            let back = (self.next_off - off) as usize;
            return (back <= self.history.len()).then(|| self.history[self.history.len() - back]);
        }
        self.held_byte(off)
    }

    fn held_byte(&self, off: u64) -> Option<u8> {
        let (&at, bytes) = self.held.range(..=off).next_back()?;
        bytes.get((off - at) as usize).copied()
    }

    /// Moves held bytes that now start at RCV.NXT into the output.
    fn deliver(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = self.held.remove(&self.next_off) {
            self.held_bytes -= bytes.len();
            self.next_off += bytes.len() as u64;
            self.next_seq = self.next_seq.wrapping_add(bytes.len() as u32);
            out.extend_from_slice(&bytes);
        }
        self.history.extend(out.iter().copied());
        let excess = self.history.len().saturating_sub(self.window);
        self.history.drain(..excess);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, FileFailurePersistence};

    fn config() -> Config {
        Config {
            cases: 500,
            failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
            ..Config::default()
        }
    }

    /// A stream, cut into segments at random points, some duplicated, shuffled.
    fn scrambled() -> impl Strategy<Value = (u32, Vec<u8>, Vec<(usize, usize)>)> {
        (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..600)).prop_flat_map(
            |(isn, stream)| {
                let len = stream.len();
                let cuts = proptest::collection::vec(0..=len, 0..20);
                let extra = proptest::collection::vec((0..=len, 0..=len), 0..6);
                (Just(isn), Just(stream), cuts, extra).prop_flat_map(
                    |(isn, stream, mut cuts, extra)| {
                        cuts.push(0);
                        cuts.push(stream.len());
                        cuts.sort();
                        cuts.dedup();
                        let mut segs: Vec<(usize, usize)> =
                            cuts.windows(2).map(|w| (w[0], w[1])).collect();
                        // Duplicates and overlapping retransmissions of arbitrary ranges.
                        segs.extend(extra.into_iter().map(|(a, b)| (a.min(b), a.max(b))));
                        (Just(isn), Just(stream), Just(segs).prop_shuffle())
                    },
                )
            },
        )
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_scrambling_reassembles_to_the_stream((isn, stream, segs) in scrambled()) {
            let mut r = Reassembler::new(isn, 1 << 16);
            let mut out = Vec::new();
            for (a, b) in segs {
                out.extend(r.insert(isn.wrapping_add(a as u32), &stream[a..b]).unwrap());
                prop_assert!(r.held() <= 1 << 16);
            }
            prop_assert_eq!(&out, &stream);
            prop_assert_eq!(r.ack(), isn.wrapping_add(stream.len() as u32));
            prop_assert_eq!(r.held(), 0);
        }

        #[test]
        fn conflicting_overlaps_are_reported(
            (isn, stream, segs) in scrambled(),
            pick in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            prop_assume!(!stream.is_empty());
            let mut r = Reassembler::new(isn, 1 << 16);
            for (a, b) in segs {
                r.insert(isn.wrapping_add(a as u32), &stream[a..b]).unwrap();
            }
            // Every byte is now delivered and in the history: any altered copy conflicts.
            let i = pick.index(stream.len());
            let mut bad = stream[i..].to_vec();
            bad[0] ^= flip;
            let err = r.insert(isn.wrapping_add(i as u32), &bad).unwrap_err();
            prop_assert_eq!(err, ReassemblyError::Conflict { offset: i as u64, had: stream[i], got: stream[i] ^ flip });
            prop_assert_eq!(r.ack(), isn.wrapping_add(stream.len() as u32), "a rejected segment changes nothing");
        }

        #[test]
        fn memory_stays_within_the_window(
            isn in any::<u32>(),
            window in 1usize..256,
            segs in proptest::collection::vec((0u32..1024, 0usize..300), 0..40),
        ) {
            let mut r = Reassembler::new(isn, window);
            for (off, len) in segs {
                let data = vec![0xab; len];
                match r.insert(isn.wrapping_add(off), &data) {
                    Ok(_) => {}
                    Err(ReassemblyError::OutsideWindow { .. }) => prop_assert!(off as usize + len > r.delivered() as usize + window),
                    Err(e) => return Err(TestCaseError::fail(format!("unexpected {e}"))),
                }
                prop_assert!(r.held() <= window);
                prop_assert!(r.history.len() <= window);
            }
        }
    }

    #[test]
    fn crosses_the_sequence_wrap() {
        let isn = u32::MAX - 2;
        let mut r = Reassembler::new(isn, 100);
        assert_eq!(r.insert(isn.wrapping_add(5), b"fgh").unwrap(), b"");
        assert_eq!(r.insert(isn, b"abcde").unwrap(), b"abcdefgh");
        assert_eq!(r.ack(), 5);
        assert_eq!(
            r.insert(0, b"def").unwrap(),
            b"",
            "an old retransmission is accepted and ignored"
        );
        assert!(matches!(
            r.insert(0, b"dXf"),
            Err(ReassemblyError::Conflict { offset: 4, .. })
        ));
    }
}
