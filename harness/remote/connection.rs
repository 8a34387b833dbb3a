//! The remote TCP the harness plays: connections on one wire, each with sequence
//! numbers relative to its side's initial sequence number, segments sent as written
//! and segments expected field by field.
//!
//! Relative numbers are packetdrill's convention, and RFC 9293's reasoning: what a
//! scenario states is "the first byte after the SYN" (1), not whatever ISN the
//! target chose (RFC 9293 3.4.1 requires it be unpredictable). The harness's own ISN is
//! chosen by the caller, so a property test can put it just below 2^32 and cross the
//! wrap on purpose.
//!
//! Segments for other connections are queued for them (several connections share a
//! wire); packets that are not TCP (the kernel's MLD reports, ICMP) are kept for the
//! record and never match.

use super::link::{Arrival, Link, LinkError};
use super::sendbuf::SendBuffer;
use crate::wire::icmp::IcmpError;
use crate::wire::notation::{Field, OptionSpec, OptionsSpec, SegmentSpec};
use crate::wire::reassembly::Reassembler;
use crate::wire::segment::{Checksum, Flags, Packet, Segment, TcpOption};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How many recent segments a connection keeps for diagnostics.
const HISTORY: usize = 8;
/// How far beyond RCV.NXT the harness keeps the target's data: more than any window a
/// 16-bit field with a scale of 14 can announce is never needed for a scenario's data,
/// and a megabyte bounds what one connection holds.
const RECEIVE_WINDOW: usize = 1 << 20;
/// The most delivered data a connection keeps for steps to take: beyond it the
/// harness's advertised window is shut ([`Connection::window`]) and data is dropped, so
/// a target that floods one connection cannot exhaust the harness's memory.
pub const RECEIVED_LIMIT: usize = 4 << 20;
/// How many segments from the target wait, all connections together, for a step that
/// expects them: a target that floods the wire is stopped here, with a verdict.
const QUEUE_LIMIT: usize = 4096;

/// Which way a segment went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the harness to the target (`<` in packetdrill's notation: injected).
    In,
    /// From the target (`>`: expected).
    Out,
}

/// A segment the harness sends, numbers relative to the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub flags: Flags,
    /// Relative to the harness's ISN: a SYN is 0, the first data byte 1.
    pub seq: u32,
    /// Relative to the target's ISN; ignored unless `flags` has ACK.
    pub ack: u32,
    pub window: u16,
    pub options: Vec<TcpOption>,
    pub payload: Vec<u8>,
    pub checksum: Checksum,
    /// Another source or destination address than the connection's (`from ADDR`,
    /// `to ADDR`): a segment from an address no host may have, or to a broadcast one.
    pub from: Option<IpAddr>,
    pub to: Option<IpAddr>,
    /// The urgent pointer (RFC 9293 3.8.5); sent as it is, whether URG is set or not.
    pub urgent: u16,
    /// Options for the IPv4 header (RFC 791 3.1), empty for none.
    pub ip_options: Vec<u8>,
    /// Recorded as sent but never put on the wire: a segment the network lost, which
    /// a correct sender retransmits (`w < resend`).
    pub lost: bool,
}

/// Why an expected segment did not come as expected.
#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    #[error("{field}: expected {expected}, got {actual} in `{segment}`{recent}")]
    Mismatch {
        field: &'static str,
        expected: String,
        actual: String,
        /// The segment that arrived, in packetdrill's notation, relative numbers.
        segment: String,
        recent: String,
    },
    #[error("no segment within {}; {what}{recent}", ms(*waited))]
    Nothing {
        waited: Duration,
        what: String,
        recent: String,
    },
    #[error("{segment}: arrived {} after the connection's previous segment, expected between {} and {}{recent}", ms(*after), ms(*earliest), ms(*latest))]
    Early {
        after: Duration,
        earliest: Duration,
        latest: Duration,
        segment: String,
        recent: String,
    },
    #[error("the target reset the connection {during}: `{segment}`{recent}")]
    Reset {
        during: String,
        segment: String,
        recent: String,
    },
    #[error("{during} made no progress within {}: {state}{recent}", ms(*waited))]
    Stalled {
        during: String,
        waited: Duration,
        state: String,
        recent: String,
    },
    #[error("the target sent {actual}, expected {expected}{recent}")]
    Data {
        expected: String,
        actual: String,
        recent: String,
    },
    #[error("the target sent {sent} new bytes within {}, more than the {allowed} allowed: `{segment}`{recent}", ms(*window))]
    TooMuch {
        sent: u32,
        allowed: u32,
        window: Duration,
        /// The segment that went over.
        segment: String,
        recent: String,
    },
    #[error("the target acknowledged {ack}, beyond the data it was sent (every byte up to {received} went on the wire, contiguously): `{segment}`{recent}")]
    AckBeyondSent {
        ack: u32,
        received: u32,
        segment: String,
        recent: String,
    },
    #[error("the target's SACK block {left}:{right} names bytes that never went on the wire: `{segment}`{recent}")]
    SackBeyondSent {
        left: u32,
        right: u32,
        segment: String,
        recent: String,
    },
    #[error("a segment with a wrong checksum: `{segment}`")]
    BadChecksum { segment: String },
    #[error("the target sent more than {limit} segments that no step expected (it floods the wire){recent}")]
    Flood { limit: usize, recent: String },
    #[error("an ICMP error needs {0}")]
    NothingToQuote(&'static str),
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// One connection's numbers and its recent segments.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The harness's address: the remote TCP's.
    pub local: SocketAddr,
    /// The target's address; a listening harness learns the port from the SYN.
    pub peer: SocketAddr,
    /// The harness's initial sequence number.
    pub iss: u32,
    /// The target's, learned from its SYN or SYN-ACK.
    pub irs: Option<u32>,
    /// What the harness has sent and the target acknowledged, both relative to `iss`
    /// (SND.NXT and SND.UNA of RFC 9293 3.3.1), kept from every segment either way so
    /// that explicit lines and the plain TCP of [`crate::remote::plain`] mix.
    pub snd_nxt: u32,
    pub snd_una: u32,
    /// SND.WND: what the target's latest ACK lets the harness send past `snd_una`,
    /// scaled when both SYNs carried a window scale (RFC 7323 2.3).
    pub snd_wnd: u32,
    /// The MSS the target announced in its SYN; 536 without one (RFC 9293 3.7.1).
    pub peer_mss: u16,
    /// The window scale each side's SYN offered, if any.
    our_wscale: Option<u8>,
    their_wscale: Option<u8>,
    /// The target's byte stream as it arrives (RCV.NXT is its ACK).
    receiver: Option<Reassembler>,
    /// The target's FIN, relative to `irs`, once a segment carried it.
    fin_seq: Option<u32>,
    /// Bytes the target sent, in order, that no step has taken yet.
    pub received: VecDeque<u8>,
    /// The most the harness advertises (`w < window 0`), below what its buffer allows.
    pub advertise: Option<u16>,
    /// When the last segment went either way: timing windows count from it.
    pub last_event: Option<Instant>,
    history: VecDeque<(Direction, String)>,
    /// The target's last segment on the connection: what an ICMP error quotes.
    pub last_from_target: Option<Segment>,
    /// One past the furthest sequence number the target has sent, relative to `irs`
    /// (its SND.MAX): what it sends below this is a retransmission.
    pub target_high: u32,
    /// Everything the harness sent on the connection, for `w < resend` and for
    /// checking the target's ACKs against it.
    pub sendbuf: SendBuffer,
    /// When set, an ACK beyond the data that went on the wire, or a SACK block of data
    /// that never did, fails the step that reads it (`w > acks only data sent`): no
    /// correct receiver sends either (RFC 9293 3.10.7.4; RFC 2018 3).
    pub strict_acks: bool,
    /// With `strict_acks`, how long the harness waits for the target's answers before
    /// it sends more, so that an ACK is judged by what it answered (a scenario's lines
    /// follow each other in microseconds; a stack on a link answers in tens).
    pub settle: Duration,
    /// When set, every segment from the target is kept here, for a caller that checks
    /// properties over the whole conversation.
    pub log: Option<Vec<Segment>>,
    /// The first time the target sent bytes that differ from those it sent before at
    /// the same place in its stream (a retransmission that is not one).
    pub conflict: Option<String>,
}

impl Connection {
    pub fn new(local: SocketAddr, peer: SocketAddr, iss: u32) -> Connection {
        Connection {
            local,
            peer,
            iss,
            irs: None,
            snd_nxt: 0,
            snd_una: 0,
            snd_wnd: 0,
            peer_mss: 536,
            our_wscale: None,
            their_wscale: None,
            receiver: None,
            fin_seq: None,
            received: VecDeque::new(),
            advertise: None,
            last_event: None,
            history: VecDeque::new(),
            last_from_target: None,
            target_high: 0,
            sendbuf: SendBuffer::default(),
            strict_acks: false,
            settle: Duration::ZERO,
            log: None,
            conflict: None,
        }
    }

    /// RCV.NXT relative to the target's ISN: the next byte the harness expects, one
    /// past the FIN once the FIN and everything before it arrived.
    pub fn rcv_nxt(&self) -> u32 {
        let (Some(irs), Some(r)) = (self.irs, &self.receiver) else {
            return 0;
        };
        let next = r.ack().wrapping_sub(irs);
        next + u32::from(self.fin_seq == Some(next))
    }

    /// The window the harness advertises when it plays a plain TCP: what is left of
    /// [`RECEIVED_LIMIT`], at most a 16-bit field's worth (no scaling), at most what a
    /// scenario set.
    pub fn window(&self) -> u16 {
        let left = RECEIVED_LIMIT
            .saturating_sub(self.received.len())
            .min(usize::from(u16::MAX)) as u16;
        left.min(self.advertise.unwrap_or(u16::MAX))
    }

    /// Whether the target's FIN arrived with everything before it.
    pub fn fin_received(&self) -> bool {
        self.receiver.is_some() && self.fin_seq.is_some_and(|f| f + 1 == self.rcv_nxt())
    }

    /// Whether window scaling is in force: both SYNs offered it (RFC 7323 2.2).
    fn scaling(&self) -> bool {
        self.our_wscale.is_some() && self.their_wscale.is_some()
    }

    /// Notes what a segment the harness sends does to SND.NXT.
    fn sent(&mut self, out: &Outgoing) {
        if out.flags.contains(Flags::SYN) {
            self.our_wscale = out.options.iter().find_map(|o| match o {
                TcpOption::WindowScale(s) => Some(*s),
                _ => None,
            });
        }
        let len = out.seq_len();
        // Only a segment that starts at or before SND.NXT extends it: a scenario that
        // sends out of window on purpose does not move the harness's own numbers.
        let ahead = out.seq.wrapping_sub(self.snd_nxt) as i32;
        let end = out.seq.wrapping_add(len);
        if ahead <= 0 && (end.wrapping_sub(self.snd_nxt) as i32) > 0 {
            self.snd_nxt = end;
        }
        if !out.flags.contains(Flags::SYN) && !out.flags.contains(Flags::RST) {
            let delivered = !out.lost
                && out.checksum == Checksum::Correct
                && out.from.is_none()
                && out.to.is_none();
            self.sendbuf.record(
                out.seq,
                &out.payload,
                out.flags.contains(Flags::FIN),
                delivered,
            );
            // Segments sent out of order join up: SND.NXT runs over all of them.
            let joined = self.sendbuf.sent_end();
            if self.snd_nxt >= 1 && (joined.wrapping_sub(self.snd_nxt) as i32) > 0 {
                self.snd_nxt = joined;
            }
        }
        self.last_event = Some(Instant::now());
    }

    /// Notes what a segment from the target says: its ISN and options on a SYN, how
    /// far it acknowledges, its window, and its data and FIN (RFC 9293 3.10.7.4).
    fn observe(&mut self, segment: &Segment, arrived: Instant) {
        if let Some(log) = self.log.as_mut() {
            log.push(segment.clone());
        }
        self.last_event = Some(arrived);
        self.last_from_target = Some(segment.clone());
        let syn = segment.flags.contains(Flags::SYN);
        if syn {
            if self.irs.is_none() {
                self.irs = Some(segment.seq);
            }
            self.peer_mss = segment
                .options
                .iter()
                .find_map(|o| match o {
                    TcpOption::Mss(m) => Some(*m),
                    _ => None,
                })
                .unwrap_or(536);
            self.their_wscale = segment.options.iter().find_map(|o| match o {
                TcpOption::WindowScale(s) => Some((*s).min(14)),
                _ => None,
            });
            if self.receiver.is_none() {
                let irs = self.irs.expect("set above");
                self.receiver = Some(Reassembler::new(irs.wrapping_add(1), RECEIVE_WINDOW));
            }
        }
        if segment.flags.contains(Flags::ACK) {
            let ack = segment.ack.wrapping_sub(self.iss);
            // An ACK of something never sent moves nothing (RFC 9293 3.10.7.4).
            let forward = ack.wrapping_sub(self.snd_una) as i32 >= 0;
            let sent = self.snd_nxt.wrapping_sub(ack) as i32 >= 0;
            if forward && sent {
                self.snd_una = ack;
                let shift = if self.scaling() && !syn {
                    self.their_wscale.unwrap_or(0)
                } else {
                    0
                };
                self.snd_wnd = u32::from(segment.window) << shift;
            }
        }
        let (Some(irs), Some(receiver)) = (self.irs, self.receiver.as_mut()) else {
            return;
        };
        let first = segment.seq.wrapping_add(u32::from(syn));
        let end = first
            .wrapping_add(segment.payload.len() as u32)
            .wrapping_sub(irs);
        if (end.wrapping_sub(self.target_high) as i32) > 0 {
            self.target_high = end;
        }
        if !segment.payload.is_empty() && self.received.len() < RECEIVED_LIMIT {
            // Data outside the window or that contradicts earlier bytes is left out of
            // the stream; the steps that read it say what arrived.
            match receiver.insert(first, &segment.payload) {
                Ok(bytes) => self.received.extend(bytes),
                Err(e @ crate::wire::reassembly::ReassemblyError::Conflict { .. }) => {
                    if self.conflict.is_none() {
                        self.conflict = Some(e.to_string());
                    }
                }
                Err(_) => {}
            }
        }
        if segment.flags.contains(Flags::FIN) && self.fin_seq.is_none() {
            self.fin_seq = Some(
                first
                    .wrapping_add(segment.payload.len() as u32)
                    .wrapping_sub(irs),
            );
        }
    }

    /// `w > acks only data sent`: an ACK or SACK block from the target names only
    /// bytes that went on the wire.
    /// Judged by what had gone on the wire when the segment `arrived`: an ACK read
    /// later (queued while a scenario sent more) cannot cover what followed it.
    fn acks_only_data_sent(&self, segment: &Segment, arrived: Instant) -> Result<(), ExpectError> {
        if !segment.flags.contains(Flags::ACK) || segment.flags.contains(Flags::SYN) {
            return Ok(());
        }
        let ack = segment.ack.wrapping_sub(self.iss);
        let received = self.sendbuf.wired_end_by(arrived);
        if (ack.wrapping_sub(received) as i32) > 0 {
            return Err(ExpectError::AckBeyondSent {
                ack,
                received,
                segment: self.describe(segment, Direction::Out),
                recent: self.recent(),
            });
        }
        for o in &segment.options {
            if let TcpOption::Sack(blocks) = o {
                for (l, r) in blocks {
                    let (left, right) = (l.wrapping_sub(self.iss), r.wrapping_sub(self.iss));
                    if !self.sendbuf.wired_covers_by(arrived, left, right) {
                        return Err(ExpectError::SackBeyondSent {
                            left,
                            right,
                            segment: self.describe(segment, Direction::Out),
                            recent: self.recent(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// A segment in packetdrill's notation with this connection's relative numbers.
    pub fn describe(&self, segment: &Segment, direction: Direction) -> String {
        let (seq_base, ack_base) = match direction {
            Direction::In => (self.iss, self.irs.unwrap_or(0)),
            Direction::Out => (self.irs.unwrap_or(segment.seq), self.iss),
        };
        let options = segment
            .options
            .iter()
            .map(|o| sack_moved(o, ack_base.wrapping_neg()))
            .collect();
        let relative = Segment {
            seq: segment.seq.wrapping_sub(seq_base),
            ack: segment.ack.wrapping_sub(ack_base),
            options,
            ..segment.clone()
        };
        relative.to_string()
    }

    fn remember(&mut self, direction: Direction, text: String) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((direction, text));
    }

    /// The recent segments, one per line, `<` for sent and `>` for received.
    pub fn recent(&self) -> String {
        let mut out = String::new();
        for (d, text) in &self.history {
            let arrow = match d {
                Direction::In => '<',
                Direction::Out => '>',
            };
            let _ = write!(out, "\n    {arrow} {text}");
        }
        if out.is_empty() {
            out
        } else {
            format!("; recent segments:{out}")
        }
    }

    /// `segment` if it matches `pattern`, else the mismatch with the segment in relative
    /// notation and the recent ones.
    fn matched(&self, pattern: &SegmentSpec, segment: Segment) -> Result<Segment, ExpectError> {
        match self.check(pattern, &segment) {
            Ok(()) => Ok(segment),
            Err((field, expected, actual)) => Err(ExpectError::Mismatch {
                field,
                expected,
                actual,
                segment: self.describe(&segment, Direction::Out),
                recent: self.recent(),
            }),
        }
    }

    /// Checks `segment` (from the target) against `spec`, field by field (numbers
    /// relative: its sequence numbers to the target's ISN, its ACK to ours).
    fn check(
        &self,
        spec: &SegmentSpec,
        segment: &Segment,
    ) -> Result<(), (&'static str, String, String)> {
        let irs = self.irs.unwrap_or(segment.seq);
        if Flags(segment.flags.0 & !spec.maybe.0) != spec.flags {
            return Err((
                "flags",
                crate::wire::notation::flags_text(spec.flags, spec.maybe),
                segment.flags.to_string(),
            ));
        }
        let rel_seq = segment.seq.wrapping_sub(irs);
        if !spec.start.matches(rel_seq) {
            return Err(("seq", spec.start.to_string(), rel_seq.to_string()));
        }
        let len = segment.payload.len() as u32;
        if !spec.len.matches(len) {
            return Err(("length", spec.len.to_string(), len.to_string()));
        }
        let rel_ack = segment.ack.wrapping_sub(self.iss);
        if let Some(want) = spec.ack.filter(|w| !w.matches(rel_ack)) {
            return Err(("ack", want.to_string(), rel_ack.to_string()));
        }
        if let Some(want) = spec.win.filter(|w| !w.matches(segment.window)) {
            return Err(("win", want.to_string(), segment.window.to_string()));
        }
        if let Some(want) = spec.urgent.filter(|w| !w.matches(segment.urgent)) {
            return Err(("urg", want.to_string(), segment.urgent.to_string()));
        }
        if let Some(want) = spec.payload.as_ref().filter(|w| **w != segment.payload) {
            return Err((
                "payload",
                format!("{:?}", String::from_utf8_lossy(want)),
                format!("{:?}", String::from_utf8_lossy(&segment.payload)),
            ));
        }
        // Padding after the options is not an option of its own; SACK blocks name our
        // sequence numbers, so they are compared relative to our ISN (RFC 2018 3).
        let relative: Vec<TcpOption> = segment
            .options
            .iter()
            .filter(|o| **o != TcpOption::Eol)
            .map(|o| sack_moved(o, self.iss.wrapping_neg()))
            .collect();
        let got: Vec<&TcpOption> = relative.iter().collect();
        // Compared as a set: a sender lays its options out as it likes, in any order
        // and aligned with No-Operations or not (RFC 9293 3.1; Linux pads with NOPs to
        // word boundaries, smoltcp does not), so only the options themselves count.
        let laid_out = |o: &&TcpOption| !matches!(o, TcpOption::Nop | TcpOption::Eol);
        let listed = |o: &[&TcpOption]| {
            let words: Vec<String> = o.iter().map(|x| x.to_string()).collect();
            format!("<{}>", words.join(","))
        };
        let ok = match &spec.options {
            OptionsSpec::Any => true,
            OptionsSpec::None => got.is_empty(),
            OptionsSpec::Exact(want) => {
                let mut left: Vec<&TcpOption> = got.iter().copied().filter(laid_out).collect();
                let padding = |w: &&OptionSpec| matches!(w, OptionSpec::Nop | OptionSpec::Eol);
                let all_found = want.iter().filter(|w| !padding(w)).all(|w| {
                    match left.iter().position(|g| w.matches(g)) {
                        Some(i) => {
                            left.remove(i);
                            true
                        }
                        None => false,
                    }
                });
                all_found && left.is_empty()
            }
        };
        if !ok {
            let want = match &spec.options {
                OptionsSpec::None => "no options".to_string(),
                OptionsSpec::Any => "<...>".to_string(),
                OptionsSpec::Exact(w) => format!(
                    "<{}>",
                    w.iter()
                        .map(|o| o.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            };
            return Err(("options", want, listed(&got)));
        }
        Ok(())
    }
}

impl Outgoing {
    /// A segment of data at relative `seq` as a plain sender sends it: ACK, PSH when
    /// it carries data, FIN when `fin`.
    pub fn data(seq: u32, ack: u32, window: u16, payload: Vec<u8>, fin: bool) -> Outgoing {
        let mut flags = Flags::ACK;
        if !payload.is_empty() {
            flags = flags | Flags::PSH;
        }
        if fin {
            flags = flags | Flags::FIN;
        }
        Outgoing {
            flags,
            seq,
            ack,
            window,
            options: Vec::new(),
            payload,
            checksum: Checksum::Correct,
            from: None,
            to: None,
            urgent: 0,
            ip_options: Vec::new(),
            lost: false,
        }
    }

    /// Sequence space the segment occupies: its payload, one for SYN, one for FIN
    /// (RFC 9293 3.4), as [`Segment::seq_len`] counts it.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32
            + u32::from(self.flags.contains(Flags::SYN))
            + u32::from(self.flags.contains(Flags::FIN))
    }

    /// The segment a line describes, ready to send. `*` cannot be sent; a line without
    /// a payload carries `len` bytes of `x`.
    pub fn from_spec(spec: &SegmentSpec) -> Result<Outgoing, &'static str> {
        if let Some(why) = spec.unsendable() {
            return Err(why);
        }
        let known = "checked by unsendable";
        let len = spec.len.value().expect(known);
        let options = match &spec.options {
            OptionsSpec::Exact(list) => list.iter().map(|o| o.to_option().expect(known)).collect(),
            _ => Vec::new(),
        };
        Ok(Outgoing {
            flags: spec.flags,
            seq: spec.start.value().expect(known),
            ack: spec.ack.map_or(0, |f| f.value().expect(known)),
            window: spec.win.map_or(65535, |f| f.value().expect(known)),
            options,
            payload: spec
                .payload
                .clone()
                .unwrap_or_else(|| vec![b'x'; len as usize]),
            checksum: if spec.bad_checksum {
                Checksum::Wrong
            } else {
                Checksum::Correct
            },
            from: spec.from,
            to: spec.to,
            urgent: spec.urgent.map_or(0, |f| f.value().expect(known)),
            ip_options: spec.ip_options.clone().unwrap_or_default(),
            lost: spec.lost,
        })
    }
}

/// A wire and the connections the harness plays on it.
pub struct Wire {
    link: Link,
    /// Segments from the target that arrived for a connection before it asked.
    queued: HashMap<(SocketAddr, SocketAddr), VecDeque<(Segment, Instant)>>,
    /// Connections done with: what still arrives for them is dropped, not queued.
    forgotten: std::collections::HashSet<(SocketAddr, SocketAddr)>,
    /// A problem met while pumping the link before a send, for the next step that reads.
    deferred: Option<ExpectError>,
    /// Everything that was not TCP, in order.
    pub others: Vec<Packet>,
}

impl Wire {
    pub fn new(link: Link) -> Wire {
        Wire {
            link,
            queued: HashMap::new(),
            forgotten: Default::default(),
            deferred: None,
            others: Vec::new(),
        }
    }

    /// Done with `conn`: what it has queued and what still arrives for it is dropped,
    /// so a run of many connections (a property test's cases) holds no stale segments.
    pub fn forget(&mut self, conn: &Connection) {
        let key = (conn.local, conn.peer);
        self.queued.remove(&key);
        self.forgotten.insert(key);
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Sends `error` about the target's last segment on `conn`, from the remote's
    /// address as a host on the path would (RFC 792; RFC 9293 3.9.2.2).
    pub fn send_icmp(&mut self, conn: &Connection, error: IcmpError) -> Result<(), ExpectError> {
        let last = conn
            .last_from_target
            .as_ref()
            .ok_or(ExpectError::NothingToQuote(
                "a segment from the target to quote",
            ))?;
        let (IpAddr::V4(from), IpAddr::V4(to)) = (conn.local.ip(), conn.peer.ip()) else {
            return Err(ExpectError::NothingToQuote(
                "an IPv4 connection (ICMPv6 is not sent yet)",
            ));
        };
        let packet = error.packet(from, to, &last.to_packet(Checksum::Correct));
        self.link.send(&packet)?;
        Ok(())
    }

    /// Sends `out` on `conn`.
    pub fn send(&mut self, conn: &mut Connection, out: &Outgoing) -> Result<(), LinkError> {
        let segment = Segment {
            src: SocketAddr::new(out.from.unwrap_or(conn.local.ip()), conn.local.port()),
            dst: SocketAddr::new(out.to.unwrap_or(conn.peer.ip()), conn.peer.port()),
            seq: conn.iss.wrapping_add(out.seq),
            ack: if out.flags.contains(Flags::ACK) {
                conn.irs.unwrap_or(0).wrapping_add(out.ack)
            } else {
                0
            },
            flags: out.flags,
            window: out.window,
            urgent: out.urgent,
            // SACK blocks are written relative to the target's ISN, like the ACK.
            options: out
                .options
                .iter()
                .map(|o| sack_moved(o, conn.irs.unwrap_or(0)))
                .collect(),
            payload: out.payload.clone(),
        };
        if conn.strict_acks {
            self.pump(conn);
        }
        conn.remember(Direction::In, conn.describe(&segment, Direction::In));
        conn.sent(out);
        if out.lost {
            return Ok(());
        }
        self.link
            .send(&segment.to_packet_with(out.checksum, &out.ip_options))
    }

    /// The next segment the target sends on `conn`, checked against `pattern`. A
    /// listening connection (peer port 0) takes the first segment to its address and
    /// learns the target's port from it.
    pub fn expect(
        &mut self,
        conn: &mut Connection,
        pattern: &SegmentSpec,
        within: Duration,
    ) -> Result<Segment, ExpectError> {
        let Some(segment) = self.next_segment(conn, Instant::now() + within)? else {
            return Err(self.nothing(conn, within));
        };
        conn.matched(pattern, segment)
    }

    /// Like [`Wire::expect`], and the segment must arrive between `earliest` and
    /// `latest` after the connection's previous segment either way: a retransmission
    /// after about one RTO, a SYN's backoff (RFC 6298 5.5, RFC 9293 3.8.1).
    pub fn expect_between(
        &mut self,
        conn: &mut Connection,
        pattern: &SegmentSpec,
        earliest: Duration,
        latest: Duration,
    ) -> Result<Segment, ExpectError> {
        let from = conn.last_event.unwrap_or_else(Instant::now);
        let Some(segment) = self.next_segment(conn, from + latest)? else {
            return Err(self.nothing(conn, latest));
        };
        let segment = conn.matched(pattern, segment)?;
        let after = conn
            .last_event
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(from));
        if after < earliest {
            return Err(ExpectError::Early {
                after,
                earliest,
                latest,
                segment: conn.describe(&segment, Direction::Out),
                recent: conn.recent(),
            });
        }
        Ok(segment)
    }

    /// Why nothing came within `waited`, with what the wire saw.
    pub fn nothing(&self, conn: &Connection, waited: Duration) -> ExpectError {
        let n = self.link.arrived();
        ExpectError::Nothing {
            waited,
            what: format!(
                "the target sent {n} packet{} on the wire in all",
                if n == 1 { "" } else { "s" }
            ),
            recent: conn.recent(),
        }
    }

    /// Reads one packet from the link (waiting until `deadline`) and queues it for
    /// its connection; `false` when none came.
    fn read_one(&mut self, deadline: Instant, conn: &Connection) -> Result<bool, ExpectError> {
        match self.link.recv(deadline)? {
            None => return Ok(false),
            Some(Arrival::Packet(Packet::Tcp {
                segment,
                checksum_ok,
            })) => {
                if !checksum_ok {
                    return Err(ExpectError::BadChecksum {
                        segment: segment.to_string(),
                    });
                }
                if self.forgotten.contains(&(segment.dst, segment.src)) {
                    return Ok(true);
                }
                if self.queued.values().map(VecDeque::len).sum::<usize>() >= QUEUE_LIMIT {
                    return Err(ExpectError::Flood {
                        limit: QUEUE_LIMIT,
                        recent: conn.recent(),
                    });
                }
                self.queued
                    .entry((segment.dst, segment.src))
                    .or_default()
                    .push_back((segment, Instant::now()));
            }
            Some(Arrival::Packet(other)) => {
                // Kept for the record up to the same bound; the rest only counted.
                if self.others.len() < QUEUE_LIMIT {
                    self.others.push(other);
                }
            }
            Some(Arrival::Garbage(_)) => {}
        }
        Ok(true)
    }

    /// Queues what the link already holds, without waiting: each segment is stamped
    /// with the time it was read, before the harness sends more (see
    /// [`Connection::strict_acks`]). A problem is left for the step that reads.
    fn pump(&mut self, conn: &Connection) {
        while self.deferred.is_none() {
            match self.read_one(Instant::now() + conn.settle, conn) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => self.deferred = Some(e),
            }
        }
    }

    /// The next segment the target sends on `conn`, noted in the connection's numbers
    /// and history, or `None` once `deadline` passes. Segments for other connections
    /// wait in their queues.
    pub fn next_segment(
        &mut self,
        conn: &mut Connection,
        deadline: Instant,
    ) -> Result<Option<Segment>, ExpectError> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let (segment, arrived) = loop {
            if let Some(s) = self.take_queued(conn) {
                break s;
            }
            if !self.read_one(deadline, conn)? {
                return Ok(None);
            }
        };
        if conn.peer.port() == 0 {
            conn.peer = segment.src;
        }
        conn.observe(&segment, arrived);
        let text = conn.describe(&segment, Direction::Out);
        conn.remember(Direction::Out, text);
        if conn.strict_acks {
            conn.acks_only_data_sent(&segment, arrived)?;
        }
        Ok(Some(segment))
    }

    /// A queued segment for `conn`: its own 4-tuple, or for a listening connection
    /// any segment to its address.
    fn take_queued(&mut self, conn: &Connection) -> Option<(Segment, Instant)> {
        if conn.peer.port() != 0 {
            return self.queued.get_mut(&(conn.local, conn.peer))?.pop_front();
        }
        let key = self
            .queued
            .iter()
            .find(|((local, peer), q)| {
                *local == conn.local && peer.ip() == conn.peer.ip() && !q.is_empty()
            })
            .map(|(k, _)| *k)?;
        self.queued.get_mut(&key)?.pop_front()
    }

    /// Waits `window` and fails if the target sends anything on `conn` in that time
    /// (`expect no segment for a stated time`).
    pub fn expect_silence(
        &mut self,
        conn: &mut Connection,
        window: Duration,
    ) -> Result<(), ExpectError> {
        let broken = |segment: String, conn: &Connection| ExpectError::Mismatch {
            field: "segment",
            expected: format!("none for {}", ms(window)),
            actual: "one".into(),
            segment,
            recent: conn.recent(),
        };
        // Flags 0 matches no real segment: whatever arrives breaks the silence.
        let nothing = SegmentSpec {
            bad_checksum: false,
            from: None,
            to: None,
            flags: Flags(0),
            maybe: Flags(0),
            start: Field::Any,
            len: Field::Any,
            ack: None,
            win: None,
            options: OptionsSpec::Any,
            payload: None,
            urgent: None,
            ip_options: None,
            lost: false,
        };
        match self.expect(conn, &nothing, window) {
            Err(ExpectError::Nothing { .. }) => {
                // An answer to where a `from` line claimed to be (a multicast source)
                // is no segment of the connection's, but it breaks the silence too.
                let elsewhere = self.queued.iter().find_map(|((dst, src), q)| {
                    (*src == conn.peer && dst.port() == conn.local.port() && *dst != conn.local)
                        .then(|| q.front().map(|(s, _)| s.to_string()))
                        .flatten()
                });
                match elsewhere {
                    Some(segment) => Err(broken(segment, conn)),
                    None => Ok(()),
                }
            }
            Err(ExpectError::Mismatch { segment, .. }) => Err(broken(segment, conn)),
            Ok(s) => Err(broken(conn.describe(&s, Direction::Out), conn)),
            Err(e) => Err(e),
        }
    }
}

/// A duration as a reader wants it in a message: `850 ms`, `3 s`.
fn ms(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// `option` with its SACK block edges moved by `by` (mod 2^32): SACK blocks name
/// sequence numbers, so they go relative and back with the ISN like the ACK does
/// (RFC 2018 3). Every other option is unchanged.
fn sack_moved(option: &TcpOption, by: u32) -> TcpOption {
    match option {
        TcpOption::Sack(blocks) => TcpOption::Sack(
            blocks
                .iter()
                .map(|(l, r)| (l.wrapping_add(by), r.wrapping_add(by)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::notation::parse;

    /// A SYN-ACK from the target, with `options` laid out as the target likes.
    fn syn_ack(options: Vec<TcpOption>) -> Segment {
        Segment {
            src: "198.51.100.1:80".parse().unwrap(),
            dst: "198.51.100.2:40000".parse().unwrap(),
            seq: 7000,
            ack: 1001,
            flags: Flags::SYN | Flags::ACK,
            window: 65535,
            urgent: 0,
            options,
            payload: Vec::new(),
        }
    }

    #[test]
    fn options_are_compared_as_a_set_whatever_their_layout() {
        let conn = Connection::new(
            "198.51.100.2:40000".parse().unwrap(),
            "198.51.100.1:80".parse().unwrap(),
            1000,
        );
        // smoltcp's layout: no NOPs, window scale before SACK, End of Option List.
        let smoltcp = syn_ack(vec![
            TcpOption::Mss(1460),
            TcpOption::WindowScale(3),
            TcpOption::SackPermitted,
            TcpOption::Eol,
        ]);
        let linux_layout =
            parse("S. 0:0(0) ack 1 win * <mss 1460,nop,nop,sackOK,nop,wscale *>").unwrap();
        assert_eq!(conn.check(&linux_layout, &smoltcp), Ok(()));
        // Each listed option must be there, and no other.
        let fewer = parse("S. 0:0(0) ack 1 win * <mss 1460,sackOK>").unwrap();
        assert_eq!(conn.check(&fewer, &smoltcp).unwrap_err().0, "options");
        let more =
            parse("S. 0:0(0) ack 1 win * <mss 1460,sackOK,wscale *,TS val * ecr 0>").unwrap();
        assert_eq!(conn.check(&more, &smoltcp).unwrap_err().0, "options");
    }
}
