//! One reassembly case: a byte stream and the segments the harness, as the sending TCP,
//! delivers it in: cut at random boundaries, reordered, duplicated, overlapping (with
//! the same bytes), some held back to be sent only when the target's ACKs show them
//! missing, the FIN early or late, from an initial sequence number that may wrap past
//! 2^32; segments placed at the target's window edge, partly or wholly beyond it
//! (RFC 9293 3.10.7.4 trims them, 3.8.6 bounds what a sender may send), with a small
//! receive buffer where asked so that the edge falls inside the stream; and how the
//! target's application reads it. The strategy builds the segments
//! from parts proptest can shrink each on its own (the stream's length, the cuts, the
//! extra pieces, the order), so a failure shrinks to a few short segments.
//!
//! Knows nothing of wires or targets: `deliver` sends what this describes.

use crate::protocol::pattern;
use proptest::prelude::*;
use std::fmt::Write;

/// One segment of the first pass: bytes `[start, start + len)` of the stream, with
/// the FIN after them when `fin` (then `start + len` is the stream's length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub start: u32,
    pub len: u32,
    pub fin: bool,
}

impl Piece {
    pub fn end(&self) -> u32 {
        self.start + self.len
    }
}

/// A segment placed where the target's window ends, known only when it is sent (from
/// the target's latest ACK): `back` bytes before the right edge and `beyond` after it,
/// sent after the first pass's segment `after` (folded into range). Bytes outside the
/// stream are left out; an edge past the stream's end sends nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub after: u32,
    pub back: u32,
    pub beyond: u32,
}

impl Edge {
    /// The stream's bytes of this edge segment when the target's right edge is at
    /// stream offset `right`: `None` when none of the stream is there.
    pub fn bytes(&self, right: u32, len: u32) -> Option<(u32, u32)> {
        let start = right.saturating_sub(self.back).min(len);
        let end = right.saturating_add(self.beyond).min(len);
        (start < end).then_some((start, end))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblyCase {
    /// Bytes in the stream.
    pub len: u32,
    /// The stream's bytes are `pattern::fill(seed, 0, len)`: no two offsets alike, so
    /// a byte in the wrong place shows.
    pub seed: u64,
    /// The harness's initial sequence number.
    pub isn: u32,
    /// The first pass, in the order sent. Pieces left out of it (held back) are sent
    /// when the target's ACKs ask for them.
    pub segments: Vec<Piece>,
    /// The application's read sizes, used in turn.
    pub reads: Vec<u32>,
    /// Segments at the window's edge, sent among the first pass.
    pub edges: Vec<Edge>,
    /// The receive buffer (SO_RCVBUF) the target's listener is asked for, where it
    /// can set one: small, the window's edge falls inside the stream.
    pub rcvbuf: Option<u32>,
}

/// About the most reads the application makes in a case.
const MAX_READS: u32 = 64;

/// Bounds of the generated cases.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The longest stream.
    pub max_len: u32,
    /// The most segments in the first pass.
    pub max_segments: usize,
    /// The largest segment; the harness cuts it further to the MSS the target
    /// announced (RFC 9293 3.7.1).
    pub max_segment: u32,
    /// A receive buffer to ask for in some cases (`--rcvbuf`); none by default.
    pub rcvbuf: Option<u32>,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_len: 64 << 10,
            max_segments: 64,
            max_segment: 1460,
            rcvbuf: None,
        }
    }
}

impl ReassemblyCase {
    /// The stream the application must read.
    pub fn stream(&self) -> Vec<u8> {
        pattern::fill(self.seed, 0, self.len as usize)
    }

    /// Whether the FIN is sent before some data it follows (out of order).
    pub fn fin_early(&self) -> bool {
        let at = self.segments.iter().position(|p| p.fin);
        let covered_before = |k: usize| {
            let mut ranges: Vec<(u32, u32)> = self.segments[..k]
                .iter()
                .map(|p| (p.start, p.end()))
                .collect();
            ranges.sort_unstable();
            let mut prefix = 0;
            for (s, e) in ranges {
                if s > prefix {
                    break;
                }
                prefix = prefix.max(e);
            }
            prefix
        };
        at.is_some_and(|k| covered_before(k) < self.segments[k].start)
    }

    /// The case in a line: `300 bytes in 7 segments (2 held back, FIN early), ISN 4294967200`.
    pub fn describe(&self) -> String {
        let mut covered = vec![false; self.len as usize];
        for p in &self.segments {
            covered[p.start as usize..p.end() as usize].fill(true);
        }
        let missing = covered.iter().filter(|c| !**c).count();
        let mut out = format!("{} bytes in {} segments", self.len, self.segments.len());
        let mut notes = Vec::new();
        if missing > 0 {
            notes.push(format!("{missing} bytes held back"));
        }
        if self.fin_early() {
            notes.push("FIN early".to_string());
        }
        if self.isn.checked_add(self.len + 2).is_none() {
            notes.push("sequence numbers wrap".to_string());
        }
        if !self.edges.is_empty() {
            notes.push(format!("{} at the window's edge", self.edges.len()));
        }
        if let Some(n) = self.rcvbuf {
            notes.push(format!("receive buffer {n}"));
        }
        if !notes.is_empty() {
            let _ = write!(out, " ({})", notes.join(", "));
        }
        let _ = write!(out, ", ISN {}", self.isn);
        out
    }

    /// How many one-step simplifications [`Self::simplified`] numbers: each segment
    /// dropped, each edge segment dropped, the receive buffer left as it is.
    pub fn simplifications(&self) -> usize {
        self.segments.len() + self.edges.len() + usize::from(self.rcvbuf.is_some())
    }

    /// Simplification `k` of [`Self::simplifications`]: the case without segment `k`
    /// (its bytes then come only as retransmissions), or without an edge segment, or
    /// without the receive buffer; `None` for the lone FIN, which stays because it
    /// ends the stream the application must read.
    pub fn simplified(&self, k: usize) -> Option<ReassemblyCase> {
        let mut out = self.clone();
        if let Some(p) = self.segments.get(k) {
            if p.fin && p.len == 0 {
                return None;
            }
            out.segments.remove(k);
            if p.fin {
                out.segments.push(Piece {
                    start: self.len,
                    len: 0,
                    fin: true,
                });
            }
        } else if k - self.segments.len() < self.edges.len() {
            out.edges.remove(k - self.segments.len());
        } else {
            out.rcvbuf = None;
        }
        Some(out)
    }

    /// The first pass in packetdrill's notation (sequence numbers relative to the ISN:
    /// the first byte is 1), one segment a line.
    pub fn lines(&self) -> Vec<String> {
        self.segments
            .iter()
            .map(|p| segment_line(self, p))
            .collect()
    }
}

/// The longest stream a written scenario replays: the application reads it only after
/// the harness has sent everything, so it must fit any target's receive buffer.
pub const SCENARIO_LIMIT: u32 = 2048;

/// A wire scenario that replays the case: the handshake, the segments as `sent` (with
/// `lost` where held back), the correct sender's retransmissions (`w < resend`), and
/// the application reading the stream to its end; `None` for a stream too long.
pub fn scenario(
    case: &ReassemblyCase,
    sent: &[String],
    rcvbuf: Option<u32>,
    failure: &str,
    seed: u64,
) -> Option<String> {
    // With a receive buffer asked for, the window is about half of it (Linux doubles
    // the value asked for and offers about half of what it holds).
    let limit = rcvbuf.map_or(SCENARIO_LIMIT, |n| (n / 2).min(SCENARIO_LIMIT));
    if case.len > limit || sent.is_empty() {
        return None;
    }
    let mut s = String::new();
    let first = failure.lines().next().unwrap_or_default();
    let title = first.replace('\\', "\\\\").replace('"', "'");
    let _ = writeln!(
        s,
        "+++\ntitle = \"Reassembly: {}\"",
        title.chars().take(160).collect::<String>()
    );
    let _ = writeln!(
        s,
        "tags = [\"wire\", \"reassembly\", \"prop\", \"regression\"]"
    );
    let _ = writeln!(
        s,
        "refs = [\"RFC 9293 3.10.7.4 (segment arrival)\", \"RFC 9293 3.4 (sequence numbers modulo 2^32)\", \"RFC 2018 3\"]"
    );
    let _ = writeln!(
        s,
        "+++\n# Found and shrunk by `sockspec prop reassembly --seed {seed}`: {}",
        case.describe()
    );
    for line in failure.lines() {
        let _ = writeln!(s, "# {line}");
    }
    s.push_str("l = socket()\n");
    if let Some(n) = rcvbuf {
        let _ = writeln!(s, "setsockopt(l, SO_RCVBUF, {n})");
    }
    let _ = writeln!(
        s,
        "bind(l, 0.0.0.0:0)\nlisten(l, 1)\nw = wire(l, {})",
        case.isn
    );
    s.push_str("w < S 0:0(0) win 65535 <mss 1460,sackOK>\n");
    s.push_str("w > S. 0:0(0) ack 1 win * <...>\nw < . 1:1(0) ack 1 win 65535\n");
    s.push_str("w > acks only data sent\ns = accept(l)\n");
    for line in sent {
        let _ = writeln!(s, "w < {line}");
    }
    s.push_str("w < resend\n");
    if case.len > 0 {
        let _ = writeln!(
            s,
            "recvall(s, {}) -> hex\"{}\"",
            case.len,
            crate::protocol::hex_encode(&case.stream())
        );
    }
    s.push_str("recv(s, 1) -> eof\n");
    Some(s)
}

/// A segment of the stream as a scenario line sends it: `P. 6:11(5) ack 1 win 65535
/// hex"..."`, with `F` when it carries the FIN.
pub fn segment_line(case: &ReassemblyCase, p: &Piece) -> String {
    let bytes = pattern::fill(case.seed, u64::from(p.start), p.len as usize);
    let flags = match (p.fin, p.len) {
        (true, 0) => "F.",
        (true, _) => "FP.",
        (false, _) => "P.",
    };
    let mut line = format!(
        "{flags} {}:{}({}) ack 1 win 65535",
        p.start + 1,
        p.end() + 1,
        p.len
    );
    if p.len > 0 {
        let _ = write!(line, " hex\"{}\"", crate::protocol::hex_encode(&bytes));
    }
    line
}

/// The stream cut at the given sizes (cycled), each piece at most `max_segment`.
fn cut(len: u32, sizes: &[u32], max_segment: u32) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < len {
        let n = sizes[k % sizes.len()].clamp(1, max_segment).min(len - at);
        out.push(Piece {
            start: at,
            len: n,
            fin: false,
        });
        at += n;
        k += 1;
    }
    out
}

/// The parts a case is built from, each shrinking on its own toward the simplest: no
/// extra pieces, nothing held back, the order as cut, the FIN last.
#[derive(Debug, Clone)]
struct Parts {
    len: u32,
    seed: u64,
    isn: Isn,
    cuts: Vec<u32>,
    /// Extra pieces anywhere in the stream (`(at, len)`, folded into range): overlaps
    /// and duplicates of what the cuts send, with the same bytes.
    extras: Vec<(u32, u32)>,
    /// Indexes (folded) of cut pieces held back from the first pass.
    held: Vec<u32>,
    /// Sort keys of the pieces, the FIN's included: all zero is the order as cut.
    order: Vec<u32>,
    /// Whether the FIN rides on the last data segment or goes alone.
    fin_alone: bool,
    reads: Vec<u32>,
    edges: Vec<Edge>,
    small_window: bool,
}

#[derive(Debug, Clone, Copy)]
enum Isn {
    Any(u32),
    /// This many bytes before 2^32: the sequence numbers wrap inside the stream.
    BeforeWrap(u32),
}

fn build(parts: Parts, bounds: Bounds) -> ReassemblyCase {
    let len = parts.len;
    // No more cut pieces than the bound allows: larger cuts for longer streams.
    let floor = len.div_ceil(bounds.max_segments as u32).max(1);
    let sizes: Vec<u32> = parts.cuts.iter().map(|n| (*n).max(floor)).collect();
    let cuts = cut(len, &sizes, bounds.max_segment.max(floor));
    let mut pieces: Vec<Piece> = cuts
        .iter()
        .enumerate()
        .filter(|(k, _)| {
            !parts
                .held
                .iter()
                .any(|h| *h as usize % cuts.len().max(1) == *k)
        })
        .map(|(_, p)| *p)
        .collect();
    if len > 0 {
        for (at, n) in &parts.extras {
            if pieces.len() >= bounds.max_segments {
                break;
            }
            let start = at % len;
            let n = (*n).clamp(1, bounds.max_segment).min(len - start);
            pieces.push(Piece {
                start,
                len: n,
                fin: false,
            });
        }
    }
    // The FIN: alone at the end of the stream, or on a piece that ends there.
    match pieces.iter_mut().find(|p| p.end() == len && p.len > 0) {
        Some(last) if !parts.fin_alone => last.fin = true,
        _ => pieces.push(Piece {
            start: len,
            len: 0,
            fin: true,
        }),
    }
    // Reorder by the keys (stable: equal keys keep the order as cut).
    let mut keyed: Vec<(u32, Piece)> = pieces
        .into_iter()
        .enumerate()
        .map(|(k, p)| (parts.order.get(k).copied().unwrap_or(0), p))
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    let isn = match parts.isn {
        Isn::Any(n) => n,
        Isn::BeforeWrap(k) => 0u32.wrapping_sub(k % (len + 2)),
    };
    // Small reads of a long stream would be thousands of calls: at most about
    // `MAX_READS` reads a case.
    let read_floor = len.div_ceil(MAX_READS).max(1);
    ReassemblyCase {
        len,
        seed: parts.seed,
        isn,
        segments: keyed.into_iter().map(|(_, p)| p).collect(),
        reads: parts.reads.iter().map(|n| (*n).max(read_floor)).collect(),
        edges: parts.edges,
        rcvbuf: bounds.rcvbuf.filter(|_| parts.small_window),
    }
}

/// Cases within `bounds`: short streams and few segments first.
pub fn strategy(bounds: Bounds) -> impl Strategy<Value = ReassemblyCase> {
    let max_len = bounds.max_len.max(1);
    let max_seg = bounds.max_segment.max(1);
    let n = bounds.max_segments.max(1);
    let len = prop_oneof![
        3 => 0..=64u32,
        3 => 0..=4096u32.min(max_len),
        2 => 0..=max_len,
    ];
    let isn = prop_oneof![
        2 => any::<u32>().prop_map(Isn::Any),
        1 => any::<u32>().prop_map(Isn::BeforeWrap),
    ];
    let size = prop_oneof![3 => 1..=16u32, 2 => 1..=max_seg];
    (
        (len, any::<u64>(), isn),
        proptest::collection::vec(size.clone(), 1..8),
        proptest::collection::vec((any::<u32>(), size), 0..n.min(16)),
        proptest::collection::vec(any::<u32>(), 0..n.min(8)),
        proptest::collection::vec(0..4u32, 0..n + 2),
        any::<bool>(),
        proptest::collection::vec(prop_oneof![1..=16u32, 1..=65536u32], 1..4),
        (
            proptest::collection::vec(
                (any::<u32>(), 0..=max_seg, 1..=max_seg).prop_map(|(after, back, beyond)| Edge {
                    after,
                    back,
                    beyond,
                }),
                0..4,
            ),
            prop::bool::weighted(0.3),
        ),
    )
        .prop_map(
            move |(
                (len, seed, isn),
                cuts,
                extras,
                held,
                order,
                fin_alone,
                reads,
                (edges, small_window),
            )| {
                build(
                    Parts {
                        len,
                        seed,
                        isn,
                        cuts,
                        extras,
                        held,
                        order,
                        fin_alone,
                        reads,
                        edges,
                        small_window,
                    },
                    bounds,
                )
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};

    fn parts(len: u32) -> Parts {
        Parts {
            len,
            seed: 7,
            isn: Isn::Any(1000),
            cuts: vec![100],
            extras: vec![],
            held: vec![],
            order: vec![],
            fin_alone: false,
            reads: vec![10],
            edges: vec![],
            small_window: false,
        }
    }

    #[test]
    fn the_simplest_case_is_the_stream_in_order_with_the_fin_on_the_last_segment() {
        let case = build(parts(250), Bounds::default());
        let got: Vec<(u32, u32, bool)> = case
            .segments
            .iter()
            .map(|p| (p.start, p.len, p.fin))
            .collect();
        assert_eq!(got, [(0, 100, false), (100, 100, false), (200, 50, true)]);
        assert!(!case.fin_early());
        assert_eq!(case.describe(), "250 bytes in 3 segments, ISN 1000");
        assert!(case.lines()[2].starts_with("FP. 201:251(50) ack 1 win 65535 hex\""));
    }

    #[test]
    fn held_pieces_extras_order_and_wrap_are_described() {
        let case = build(
            Parts {
                held: vec![1],
                extras: vec![(150, 100)],
                order: vec![3, 0, 1, 2],
                fin_alone: true,
                isn: Isn::BeforeWrap(10),
                ..parts(250)
            },
            Bounds::default(),
        );
        let got: Vec<(u32, u32, bool)> = case
            .segments
            .iter()
            .map(|p| (p.start, p.len, p.fin))
            .collect();
        // Cut 0..100, 100..200 (held), 200..250; extra 150..250; FIN alone; reordered.
        assert_eq!(
            got,
            [
                (200, 50, false),
                (150, 100, false),
                (250, 0, true),
                (0, 100, false)
            ]
        );
        assert!(case.fin_early());
        assert_eq!(case.isn, u32::MAX - 9);
        assert_eq!(
            case.describe(),
            "250 bytes in 4 segments (50 bytes held back, FIN early, sequence numbers wrap), ISN 4294967286"
        );
        assert_eq!(case.lines()[2], "F. 251:251(0) ack 1 win 65535");
    }

    #[test]
    fn simplifications_drop_a_segment_an_edge_or_the_buffer_and_keep_the_lone_fin() {
        let edge = Edge {
            after: 0,
            back: 1,
            beyond: 1,
        };
        let case = ReassemblyCase {
            edges: vec![edge],
            rcvbuf: Some(2048),
            ..build(
                Parts {
                    fin_alone: true,
                    ..parts(250)
                },
                Bounds::default(),
            )
        };
        // Three cut pieces, the lone FIN, the edge, the buffer.
        assert_eq!(case.simplifications(), 6);
        assert_eq!(case.simplified(0).unwrap().segments.len(), 3);
        assert_eq!(case.simplified(3), None);
        assert!(case.simplified(4).unwrap().edges.is_empty());
        assert_eq!(case.simplified(5).unwrap().rcvbuf, None);
        // A piece that carries the FIN leaves it behind, alone.
        let on_last = build(parts(250), Bounds::default());
        let fewer = on_last.simplified(2).unwrap();
        assert_eq!(
            fewer.segments.last(),
            Some(&Piece {
                start: 250,
                len: 0,
                fin: true
            })
        );
    }

    #[test]
    fn an_edge_segment_is_the_stream_around_the_right_edge() {
        let edge = Edge {
            after: 0,
            back: 10,
            beyond: 20,
        };
        assert_eq!(edge.bytes(100, 250), Some((90, 120)));
        // Cut at the stream's ends; nothing when the edge lies past the stream.
        assert_eq!(edge.bytes(5, 250), Some((0, 25)));
        assert_eq!(edge.bytes(240, 250), Some((230, 250)));
        assert_eq!(edge.bytes(260, 250), None);
        let beyond_only = Edge { back: 0, ..edge };
        assert_eq!(beyond_only.bytes(250, 250), None);
    }

    #[test]
    fn an_empty_stream_is_a_lone_fin() {
        let case = build(parts(0), Bounds::default());
        assert_eq!(
            case.segments,
            [Piece {
                start: 0,
                len: 0,
                fin: true
            }]
        );
    }

    proptest! {
        /// Every generated case stays within its bounds, and its segments (with the
        /// repairs that fill what is held back) describe the stream exactly once.
        #[test]
        fn generated_cases_keep_their_bounds(seed in any::<u64>()) {
            let bounds = Bounds { max_len: 4096, max_segments: 16, max_segment: 536, rcvbuf: Some(2048) };
            let mut runner = TestRunner::new(Config {
                rng_algorithm: RngAlgorithm::ChaCha,
                rng_seed: RngSeed::Fixed(seed),
                ..Config::default()
            });
            let case = strategy(bounds).new_tree(&mut runner).unwrap().current();
            prop_assert!(case.len <= 4096);
            // The cut pieces, the extras and the FIN.
            prop_assert!(case.segments.len() <= 16 + 1);
            prop_assert_eq!(case.segments.iter().filter(|p| p.fin).count(), 1);
            prop_assert!(case.rcvbuf.is_none() || case.rcvbuf == Some(2048));
            prop_assert!(case.edges.len() < 4);
            for p in &case.segments {
                prop_assert!(p.end() <= case.len);
                prop_assert!(p.len <= 536 || p.len <= case.len.div_ceil(16));
            }
        }
    }
}
