//! One stream-integrity case: what is sent, how it is cut into writes and reads, and
//! how the connection ends; its strategy (small cases first, shrinking toward fewer and
//! smaller pieces); its description in words; and a scenario file that replays it.

use crate::protocol::pattern;
use proptest::prelude::*;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The sender closes after the payload; the receiver reads it, then EOF.
    Close,
    /// The sender shuts down its writing side; the receiver reads to EOF and answers
    /// with `reply` bytes on the still-open direction, then closes.
    HalfCloseThenReply { reply: usize },
    /// Both sides send at once (`back` bytes the other way), shut down writing, and
    /// read to EOF.
    BothDirections { back: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCase {
    /// Bytes the target sends to the peer.
    pub len: usize,
    /// The pattern seed of the payload (the reply uses `seed ^ 1`).
    pub seed: u64,
    /// Write sizes, used in turn (cycled).
    pub writes: Vec<usize>,
    /// Read sizes, used in turn (cycled).
    pub reads: Vec<usize>,
    pub nodelay: bool,
    /// Milliseconds the writer waits between writes (0: none), so that segments also
    /// leave one by one instead of coalescing in the send buffer.
    pub pause_ms: u64,
    pub ending: Ending,
}

fn size(max: usize) -> impl Strategy<Value = usize> {
    let max = max.max(1);
    prop_oneof![4 => 0..=16usize, 3 => 0..=4096usize, 2 => 0..=(256 << 10).min(max), 1 => 0..=max]
        .prop_map(move |n| n.min(max))
}

fn chunk() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 1..=16usize, 3 => 1..=4096usize, 2 => 1..=(256usize << 10)]
}

/// At most this many writes (or reads) per direction: small pieces go with small
/// payloads, so no case needs a million protocol calls.
pub const MAX_PIECES: usize = 256;

/// Cases up to `max_len` bytes each way.
pub fn strategy(max_len: usize) -> impl Strategy<Value = StreamCase> {
    let ending = prop_oneof![
        2 => Just(Ending::Close),
        1 => size(max_len).prop_map(|reply| Ending::HalfCloseThenReply { reply }),
        1 => size((64usize << 10).min(max_len)).prop_map(|back| Ending::BothDirections { back }),
    ];
    (
        size(max_len),
        any::<u64>(),
        proptest::collection::vec(chunk(), 1..5),
        proptest::collection::vec(chunk(), 1..5),
        any::<bool>(),
        prop_oneof![3 => Just(0u64), 1 => 1..=20u64],
        ending,
    )
        .prop_map(|(len, seed, writes, reads, nodelay, pause_ms, ending)| {
            let mut case = StreamCase {
                len,
                seed,
                writes,
                reads,
                nodelay,
                pause_ms,
                ending,
            };
            let floor = case.largest().div_ceil(MAX_PIECES).max(1);
            for n in case.writes.iter_mut().chain(case.reads.iter_mut()) {
                *n = (*n).max(floor);
            }
            case
        })
}

impl StreamCase {
    /// The longest direction's byte count.
    pub fn largest(&self) -> usize {
        match self.ending {
            Ending::Close => self.len,
            Ending::HalfCloseThenReply { reply: n } | Ending::BothDirections { back: n } => {
                self.len.max(n)
            }
        }
    }

    /// The sizes of the writes (or reads) that carry `total` bytes with sizes `sizes`.
    pub fn pieces(sizes: &[usize], total: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut left = total;
        let mut i = 0;
        while left > 0 {
            let n = sizes[i % sizes.len()].max(1).min(left);
            out.push(n);
            left -= n;
            i += 1;
        }
        out
    }

    pub fn describe(&self) -> String {
        let ending = match &self.ending {
            Ending::Close => "then closes".to_string(),
            Ending::HalfCloseThenReply { reply } => {
                format!("then shuts down writing; the peer answers {reply} bytes")
            }
            Ending::BothDirections { back } => {
                format!("while the peer sends {back} bytes back at once")
            }
        };
        format!(
            "the target sends {} bytes (pattern seed {}) in writes of {:?}, read in pieces of {:?}{}, {ending}",
            self.len,
            self.seed,
            self.writes,
            self.reads,
            if self.nodelay { ", TCP_NODELAY on" } else { "" },
        ) + &if self.pause_ms > 0 { format!(", pausing {} ms between writes", self.pause_ms) } else { String::new() }
    }

    /// A scenario file that replays this case with literal data, or `None` when the
    /// case is too large to write out (more than 256 KiB in either direction).
    pub fn to_scenario(&self, failure: &str) -> Option<String> {
        let back = match self.ending {
            Ending::Close => 0,
            Ending::HalfCloseThenReply { reply } => reply,
            Ending::BothDirections { back } => back,
        };
        if self.len > 256 << 10 || back > 256 << 10 {
            return None;
        }
        let hex = |seed: u64, off: usize, n: usize| {
            crate::protocol::hex_encode(&pattern::fill(seed, off as u64, n))
        };
        let mut s = String::new();
        let title = failure.replace('\\', "\\\\").replace('"', "'");
        let _ = writeln!(
            s,
            "+++\ntitle = \"Stream integrity: {}\"",
            title.chars().take(160).collect::<String>()
        );
        let _ = writeln!(s, "tags = [\"stream\", \"prop\", \"regression\"]");
        let _ = writeln!(
            s,
            "refs = [\"RFC 9293 3.10.7.4 (segment text)\", \"tcp(7)\"]"
        );
        let _ = writeln!(
            s,
            "+++\n# Found and shrunk by `sockspec prop stream`: {}",
            self.describe()
        );
        s.push_str(
            "l = peer.socket()\npeer.bind(l, 127.0.0.1:0)\npeer.listen(l, 1)\nc = socket()\n",
        );
        if self.nodelay {
            s.push_str("setsockopt(c, TCP_NODELAY, 1)\n");
        }
        s.push_str("connect(c, l.local)\ns = peer.accept(l)\n");
        let sends = |s: &mut String, side: &str, sock: &str, seed: u64, total: usize| {
            let mut off = 0;
            for n in Self::pieces(&self.writes, total) {
                let _ = writeln!(s, "{side}send({sock}, hex\"{}\") -> {n}", hex(seed, off, n));
                off += n;
            }
        };
        let reads = |s: &mut String, side: &str, sock: &str, seed: u64, total: usize| {
            let mut off = 0;
            for n in Self::pieces(&self.reads, total) {
                let _ = writeln!(
                    s,
                    "{side}recv({sock}, {n}, waitall) -> hex\"{}\"",
                    hex(seed, off, n)
                );
                off += n;
            }
            let _ = writeln!(s, "{side}recv({sock}, 1) -> eof");
        };
        sends(&mut s, "", "c", self.seed, self.len);
        match self.ending {
            Ending::Close => {
                s.push_str("close(c)\n");
                reads(&mut s, "peer.", "s", self.seed, self.len);
            }
            Ending::HalfCloseThenReply { reply } => {
                s.push_str("shutdown(c, wr)\n");
                reads(&mut s, "peer.", "s", self.seed, self.len);
                sends(&mut s, "peer.", "s", self.seed ^ 1, reply);
                s.push_str("peer.close(s)\n");
                reads(&mut s, "", "c", self.seed ^ 1, reply);
            }
            Ending::BothDirections { back } => {
                sends(&mut s, "peer.", "s", self.seed ^ 1, back);
                s.push_str("shutdown(c, wr)\npeer.shutdown(s, wr)\n");
                reads(&mut s, "peer.", "s", self.seed, self.len);
                reads(&mut s, "", "c", self.seed ^ 1, back);
            }
        }
        Some(s)
    }
}
