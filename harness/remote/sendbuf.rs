//! What the harness has sent on a connection, byte by byte: so it can send it again as
//! a correct sender retransmits (RFC 9293 3.8.1), and so it can tell an ACK of bytes
//! the target received from an ACK of bytes it never saw.
//!
//! Two records of the same stream: what the harness *sent* (including segments it
//! declared lost, which a sender believes sent and must retransmit) and what went *on
//! the wire* (what a receiver may have). Offsets are relative sequence numbers, the
//! first data byte after the harness's SYN being 1.

/// The most stream a connection records: beyond it bytes are neither kept nor resent.
/// A scenario's data, a property case's stream and a filled window all fit.
pub const RECORD_LIMIT: u32 = 64 << 20;

/// Disjoint, sorted half-open ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges(Vec<(u32, u32)>);

impl Ranges {
    pub fn insert(&mut self, start: u32, end: u32) {
        if start >= end {
            return;
        }
        let (mut s, mut e) = (start, end);
        self.0.retain(|&(a, b)| {
            if b < s || a > e {
                true
            } else {
                s = s.min(a);
                e = e.max(b);
                false
            }
        });
        let at = self.0.partition_point(|&(a, _)| a < s);
        self.0.insert(at, (s, e));
    }

    /// Where the range that holds `from` ends, or `from` when none does.
    pub fn reach(&self, from: u32) -> u32 {
        self.0
            .iter()
            .find(|&&(a, b)| a <= from && from < b)
            .map_or(from, |&(_, b)| b)
    }

    /// Whether `[start, end)` lies inside the ranges.
    pub fn covers(&self, start: u32, end: u32) -> bool {
        start >= end || self.0.iter().any(|&(a, b)| a <= start && end <= b)
    }
}

#[derive(Debug, Clone, Default)]
pub struct SendBuffer {
    /// When each piece went on the wire: an ACK can only acknowledge what went
    /// before it arrived.
    wired_at: Vec<(std::time::Instant, u32, u32, bool)>,
    /// Byte `k` is relative sequence number `k + 1`.
    bytes: Vec<u8>,
    sent: Ranges,
    wired: Ranges,
    /// The relative sequence number of the FIN, once sent.
    fin: Option<u32>,
    fin_wired: bool,
}

impl SendBuffer {
    /// Notes a data segment (and its FIN) at relative `seq`; `on_wire` is false for a
    /// segment declared lost. Bytes outside `[1, RECORD_LIMIT]` are not kept (a
    /// scenario's deliberately old or far segments).
    pub fn record(&mut self, seq: u32, payload: &[u8], fin: bool, on_wire: bool) {
        let end = seq.wrapping_add(payload.len() as u32);
        let in_range = seq >= 1 && end >= seq && end <= RECORD_LIMIT;
        if in_range && !payload.is_empty() {
            let (from, to) = (seq as usize - 1, end as usize - 1);
            if self.bytes.len() < to {
                self.bytes.resize(to, 0);
            }
            self.bytes[from..to].copy_from_slice(payload);
            self.sent.insert(seq, end);
            if on_wire {
                self.wired.insert(seq, end);
            }
        }
        if fin && in_range {
            self.fin = Some(end);
            self.fin_wired |= on_wire;
        }
        if on_wire && in_range {
            self.wired_at
                .push((std::time::Instant::now(), seq, end, fin));
        }
    }

    /// What had gone on the wire by `t`, contiguously from 1, with the FIN: the
    /// most an ACK that arrived at `t` may acknowledge.
    pub fn wired_end_by(&self, t: std::time::Instant) -> u32 {
        let (ranges, fin) = self.wired_by(t);
        let end = ranges.reach(1);
        end + u32::from(fin == Some(end))
    }

    /// Whether `[start, end)` (the FIN counting as one) had all gone on the wire by `t`.
    pub fn wired_covers_by(&self, t: std::time::Instant, start: u32, end: u32) -> bool {
        let (ranges, fin) = self.wired_by(t);
        let end = match fin {
            Some(f) if end == f + 1 => f,
            _ => end,
        };
        ranges.covers(start, end)
    }

    fn wired_by(&self, t: std::time::Instant) -> (Ranges, Option<u32>) {
        let mut ranges = Ranges::default();
        let mut fin = None;
        for &(at, s, e, f) in &self.wired_at {
            if at <= t {
                ranges.insert(s, e);
                if f {
                    fin = Some(e);
                }
            }
        }
        (ranges, fin)
    }

    /// One past the last byte of the contiguous stream sent from 1, the FIN included
    /// when everything before it was sent: how far a correct ACK may go once every
    /// segment arrived.
    pub fn sent_end(&self) -> u32 {
        let end = self.sent.reach(1);
        end + u32::from(self.fin == Some(end))
    }

    /// The same for what went on the wire: no correct receiver acknowledges beyond it.
    pub fn wired_end(&self) -> u32 {
        let end = self.wired.reach(1);
        end + u32::from(self.fin_wired && self.fin == Some(end))
    }

    /// Whether every byte of `[start, end)` went on the wire (a SACK block a receiver
    /// may send; the FIN counts, RFC 2018 3).
    pub fn wired_covers(&self, start: u32, end: u32) -> bool {
        let fin_end = match self.fin {
            Some(f) if self.fin_wired && end == f + 1 => f,
            _ => end,
        };
        self.wired.covers(start, fin_end)
    }

    /// Up to `n` sent bytes from relative `seq`, as far as they run contiguously.
    pub fn bytes(&self, seq: u32, n: u32) -> &[u8] {
        let end = self.sent.reach(seq).min(seq.saturating_add(n));
        if seq == 0 || end <= seq {
            return &[];
        }
        &self.bytes[seq as usize - 1..end as usize - 1]
    }

    /// The FIN's relative sequence number, if one was sent.
    pub fn fin(&self) -> Option<u32> {
        self.fin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_reach() {
        let mut r = Ranges::default();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(20, 25);
        assert_eq!(r.0, [(10, 25), (30, 40)]);
        r.insert(24, 31);
        assert_eq!(r.0, [(10, 40)]);
        assert_eq!(r.reach(15), 40);
        assert_eq!(r.reach(40), 40);
        assert!(r.covers(12, 40));
        assert!(!r.covers(5, 12));
    }

    /// Out of order, one segment lost: the sent stream is whole, the wire's has a gap,
    /// and the FIN counts only where everything before it went.
    #[test]
    fn what_was_sent_and_what_went_on_the_wire() {
        let mut b = SendBuffer::default();
        b.record(6, b"world", true, true);
        assert_eq!((b.sent_end(), b.wired_end()), (1, 1));
        b.record(1, b"hello", false, false);
        assert_eq!(b.sent_end(), 12, "the data and the FIN");
        assert_eq!(b.wired_end(), 1, "the first five bytes were lost");
        assert_eq!(b.bytes(1, 100), b"helloworld");
        assert_eq!(b.bytes(4, 3), b"low");
        assert!(b.wired_covers(6, 12), "the FIN is covered");
        assert!(!b.wired_covers(1, 6));
        b.record(1, b"hello", false, true);
        assert_eq!(b.wired_end(), 12);
    }

    #[test]
    fn far_segments_are_not_kept() {
        let mut b = SendBuffer::default();
        b.record(1_000_001, b"x", false, true);
        b.record(u32::MAX - 2, b"old", false, true);
        assert_eq!(b.sent_end(), 1);
        assert!(b.bytes.len() <= 1_000_001);
    }
}
