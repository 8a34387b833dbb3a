//! Delivering a [`ReassemblyCase`] to a target over its wire, with the harness as the
//! sending TCP, and checking what the target does with it.
//!
//! One sandbox, one adapter session and one listener serve every case of a run (a
//! fresh sandbox per case would cost more than the case); each case is a connection of
//! its own from a new port. The harness opens it (offering SACK), the application
//! accepts, and then two things run at once: the harness sends the case's segments
//! (those held back are recorded as sent and lost, `lost` in a scenario) and then
//! retransmits, as a correct sender would, whatever the target's ACKs show missing
//! (`w < resend`); the application reads with the case's read sizes on a thread of its
//! own until end of stream. A case that fails leaves its target to be thrown away.
//!
//! The properties, each named in a failure (RFC 9293 3.10.7.4 unless said):
//! - `stream`: the application reads exactly the stream, in order, then end of stream;
//! - `early delivery`: no byte is read before every earlier byte went on the wire;
//! - `ack beyond data`: no ACK covers a byte that never went on the wire, no SACK block
//!   names one (RFC 2018 3);
//! - `ack backwards`: the cumulative ACK never moves back;
//! - `window shrank`: the window's right edge never moves left (3.8.6, SHOULD NOT);
//! - `final ack`: the last ACK covers the FIN, ISN + 1 + length + 1;
//! - `progress`: with a correct sender's retransmissions everything is acknowledged
//!   and read within the timeout; a reset or a broken adapter also ends here.

use super::segments::ReassemblyCase;
use crate::adapter::{Fault, Session};
use crate::protocol::{self, capability, Call, Done, Family, Reply, Request};
use crate::remote::sendbuf::Ranges;
use crate::remote::{Connection, ExpectError, Outgoing, Wire};
use crate::run::{close_sandbox, lan_wire, wire_of, Sessions, Settings, WireEnds};
use crate::wire::segment::{Flags, Segment, TcpOption};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// What a case checks; a failure names the one it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    Stream,
    EarlyDelivery,
    AckBeyondData,
    AckBackwards,
    WindowShrank,
    FinalAck,
    Progress,
}

impl Property {
    pub const ALL: [Property; 7] = [
        Property::Stream,
        Property::EarlyDelivery,
        Property::AckBeyondData,
        Property::AckBackwards,
        Property::WindowShrank,
        Property::FinalAck,
        Property::Progress,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Property::Stream => "stream",
            Property::EarlyDelivery => "early delivery",
            Property::AckBeyondData => "ack beyond data",
            Property::AckBackwards => "ack backwards",
            Property::WindowShrank => "window shrank",
            Property::FinalAck => "final ack",
            Property::Progress => "progress",
        }
    }

    /// The rule it checks, for the report.
    pub fn rule(self) -> &'static str {
        match self {
            Property::Stream => "RFC 9293 3.10.7.4: data is delivered to the user in order, exactly once",
            Property::EarlyDelivery => "RFC 9293 3.10.7.4: only data at RCV.NXT is delivered; later data waits for the gap",
            Property::AckBeyondData => "RFC 9293 3.10.7.4: the ACK is RCV.NXT; RFC 2018 3: SACK blocks name data received",
            Property::AckBackwards => "RFC 9293 3.4: RCV.NXT only advances",
            Property::WindowShrank => "RFC 9293 3.8.6: the receiver should not shrink the window (move its right edge left)",
            Property::FinalAck => "RFC 9293 3.10.7.4 (eighth, the FIN): the last ACK covers the FIN",
            Property::Progress => "RFC 9293 3.8.1, 3.10.7.4: with a correct sender's retransmissions, the stream gets through",
        }
    }
}

/// Why a case failed, or why no case can run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReassemblyError {
    /// A property the target broke: the case's verdict.
    #[error("{}: {detail}", property.name())]
    Violated { property: Property, detail: String },
    /// The harness cannot run cases against this target (no wire, no sandbox): the
    /// run's error, not a verdict.
    #[error("{0}")]
    Setup(String),
}

impl ReassemblyError {
    pub fn property(&self) -> Option<Property> {
        match self {
            ReassemblyError::Violated { property, .. } => Some(*property),
            ReassemblyError::Setup(_) => None,
        }
    }
}

fn violated(property: Property, detail: impl Into<String>) -> ReassemblyError {
    ReassemblyError::Violated {
        property,
        detail: detail.into(),
    }
}

/// What the harness sent in a case, as scenario lines: the story a failure tells.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// Every segment of the first pass, in packetdrill's notation, `lost` for those
    /// held back.
    pub sent: Vec<String>,
}

/// The first port of the harness's side; each case takes the next.
const FIRST_PORT: u16 = 20000;
/// How long the harness waits for the target's FIN after the application closes.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A target ready for cases: its sandbox and session, the wire, and a listener.
pub struct Target {
    sessions: Sessions,
    wire: Wire,
    ends: WireEnds,
    listener: u64,
    port: u16,
    next_id: u64,
    cases: u32,
    timeout: Duration,
    /// How long the retransmissions may go without the target acknowledging anything
    /// new before the case fails for want of progress.
    stall: Duration,
    /// The adapter's name from `hello`.
    pub implementation: String,
}

/// A call on the target's session that failed: an errno, or the adapter broke.
fn call(
    session: &mut dyn Session,
    next_id: &mut u64,
    call: Call,
    timeout: Duration,
) -> Result<Done, String> {
    let op = call.op_name();
    *next_id += 1;
    let id = *next_id;
    session
        .send(&Request { id, call })
        .map_err(|f| format!("`{op}`: {f}"))?;
    // One call at a time on this session: the next answer is this call's.
    match session.recv(Instant::now() + timeout) {
        Ok(Some(r)) if r.id == id => match r.result {
            Reply::Ok(done) => Ok(done),
            Reply::Err(e) => Err(format!("`{op}` failed with {}", e.errno)),
        },
        Ok(Some(r)) => Err(format!("`{op}`: {}", Fault::UnknownId { id: r.id })),
        Ok(None) => Err(format!("`{op}` still blocked after {timeout:?}")),
        Err(f) => Err(format!("`{op}`: {f}")),
    }
}

impl Target {
    /// Opens the sandbox and the target's session, finds its wire and listens.
    pub fn open(settings: &Settings, stall: Duration) -> Result<Target, ReassemblyError> {
        if settings.sandbox.is_none() {
            return Err(ReassemblyError::Setup(
                "reassembly cases need the sandbox: the wire lives in its namespace".into(),
            ));
        }
        let mut sessions = Sessions::open(settings, true, false)
            .map_err(|e| ReassemblyError::Setup(format!("{} {}", e.stage, e.fault)))?;
        let mut next_id = 0;
        match prepare(&mut sessions, &mut next_id, settings.timeout) {
            Ok((wire, ends, listener, port, implementation)) => Ok(Target {
                sessions,
                wire,
                ends,
                listener,
                port,
                next_id,
                cases: 0,
                timeout: settings.timeout,
                stall,
                implementation,
            }),
            Err(e) => {
                if let Some(t) = sessions.target {
                    t.close(true);
                }
                sessions.peer.close(true);
                close_sandbox(sessions.sandbox, true);
                Err(e)
            }
        }
    }

    /// Ends the session and the sandbox; `hurry` after a failure.
    pub fn close(self, hurry: bool) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(t) = self.sessions.target {
            notes.extend(t.close(hurry));
        }
        notes.extend(self.sessions.peer.close(hurry));
        notes.extend(close_sandbox(self.sessions.sandbox, hurry));
        notes
    }

    /// Runs one case: what the harness sent, and the verdict. After a failure the
    /// target should be closed.
    pub fn deliver(&mut self, case: &ReassemblyCase) -> (Delivery, Result<(), ReassemblyError>) {
        self.cases += 1;
        let port = FIRST_PORT + (self.cases % 40000) as u16;
        let local = SocketAddr::from((self.ends.remote_v4, port));
        let peer = SocketAddr::from((self.ends.target_v4, self.port));
        let mut conn = Connection::new(local, peer, case.isn);
        let mut delivery = Delivery::default();
        let outcome = self.exchange(case, &mut conn, &mut delivery);
        self.wire.forget(&conn);
        (delivery, outcome)
    }

    /// The wire's recording, as a pcap file.
    pub fn pcap(&self) -> Vec<u8> {
        self.wire.link().pcap()
    }

    fn exchange(
        &mut self,
        case: &ReassemblyCase,
        conn: &mut Connection,
        delivery: &mut Delivery,
    ) -> Result<(), ReassemblyError> {
        let (timeout, stall) = (self.timeout, self.stall);
        let progress = |e: ExpectError| violated(Property::Progress, e.to_string());
        self.wire
            .open_offering(
                conn,
                vec![
                    TcpOption::Mss(crate::remote::plain::HARNESS_MSS),
                    TcpOption::SackPermitted,
                ],
                timeout,
            )
            .map_err(progress)?;
        let session = self.sessions.target.as_mut().expect("opened with a target");
        let s = call(
            session.as_mut(),
            &mut self.next_id,
            Call::Accept {
                sock: self.listener,
            },
            timeout,
        )
        .map_err(|e| violated(Property::Progress, format!("the application's {e}")))?
        .sock
        .ok_or_else(|| violated(Property::Progress, "`accept` answered without `sock`"))?;
        conn.log = Some(Vec::new());
        conn.strict_acks = true;
        let stream = case.stream();
        // Bytes of the stream that went on the wire contiguously from the first: the
        // most the application may have read. Raised before a segment is sent.
        let prefix = AtomicU32::new(0);
        let next_id = &mut self.next_id;
        let wire = &mut self.wire;
        let (sent, read) = std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                read_all(
                    session.as_mut(),
                    next_id,
                    s,
                    &stream,
                    &case.reads,
                    &prefix,
                    timeout,
                )
            });
            let sent = send_all(wire, conn, case, &stream, &prefix, stall, delivery);
            if sent.is_err() {
                // An RST wakes a read that would otherwise wait out its deadline.
                let _ = wire.send_rst(conn);
            }
            let read = reader.join().unwrap_or_else(|_| {
                Err(violated(Property::Progress, "the reading thread panicked"))
            });
            (sent, read)
        });
        match (sent, read) {
            // A target that died answers nothing: the application's side says how.
            (Err(_), Err(e)) if e.to_string().contains("the adapter exited") => return Err(e),
            (sent, read) => {
                sent?;
                read?;
            }
        }
        check_acks(case, conn)?;
        // The application closes; the harness acknowledges the target's FIN.
        let session = self.sessions.target.as_mut().expect("opened with a target");
        call(
            session.as_mut(),
            &mut self.next_id,
            Call::Close { sock: s },
            timeout,
        )
        .map_err(|e| violated(Property::Progress, format!("the application's {e}")))?;
        let _ = self.wire.recv_fin(conn, CLOSE_WAIT);
        Ok(())
    }
}

/// `hello`, the wire the adapter's answer calls for, and a listener: the wire, its
/// ends, the listener's handle and port, and the implementation's name.
fn prepare(
    sessions: &mut Sessions,
    next_id: &mut u64,
    timeout: Duration,
) -> Result<(Wire, WireEnds, u64, u16, String), ReassemblyError> {
    let setup = |e: String| ReassemblyError::Setup(format!("the target: {e}"));
    let session = sessions.target.as_mut().expect("opened with a target");
    let mut c = |call_: Call| call(session.as_mut(), next_id, call_, timeout);
    let hello = c(Call::Hello {
        protocol: protocol::VERSION,
    })
    .map_err(setup)?;
    let implementation = hello.name.unwrap_or_default();
    let caps = hello.capabilities.unwrap_or_default();
    let sandbox = sessions.sandbox.as_ref().expect("checked in open");
    let (wire, ends) = if caps.iter().any(|c| c == capability::LINK) {
        let tap = sandbox
            .stack_link()
            .map_err(|why| ReassemblyError::Setup(format!("no link for the stack: {why}")))?;
        (lan_wire(tap), WireEnds::STACK)
    } else {
        (wire_of(Some(sandbox)), WireEnds::KERNEL)
    };
    let wire = wire
        .map_err(ReassemblyError::Setup)?
        .ok_or_else(|| ReassemblyError::Setup("no wire".into()))?;
    let l = c(Call::Socket {
        family: Family::Ipv4,
    })
    .map_err(setup)?
    .sock
    .ok_or_else(|| setup("`socket` answered without `sock`".into()))?;
    c(Call::Bind {
        sock: l,
        addr: "0.0.0.0:0".into(),
    })
    .map_err(setup)?;
    c(Call::Listen {
        sock: l,
        backlog: 8,
    })
    .map_err(setup)?;
    let addr = c(Call::Getsockname { sock: l })
        .map_err(setup)?
        .addr
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .ok_or_else(|| setup("`getsockname` answered without an address".into()))?;
    Ok((wire, ends, l, addr.port(), implementation))
}

/// The case's segments, then the correct sender's retransmissions.
fn send_all(
    wire: &mut Wire,
    conn: &mut Connection,
    case: &ReassemblyCase,
    stream: &[u8],
    prefix: &AtomicU32,
    stall: Duration,
    delivery: &mut Delivery,
) -> Result<(), ReassemblyError> {
    let mss = u32::from(conn.peer_mss.clamp(1, crate::remote::plain::HARNESS_MSS));
    let mut on_wire = Ranges::default();
    let beyond = |e: ExpectError| match e {
        ExpectError::AckBeyondSent { .. } | ExpectError::SackBeyondSent { .. } => {
            violated(Property::AckBeyondData, e.to_string())
        }
        e => violated(Property::Progress, e.to_string()),
    };
    // Held back: recorded as sent and lost, so the retransmissions send them.
    let mut held = Ranges::default();
    held.insert(0, case.len);
    for p in &case.segments {
        // Split to the target's MSS: a correct sender never sends more (RFC 9293 3.7.1).
        let mut at = p.start;
        loop {
            let n = (p.end() - at).min(mss);
            let last = at + n == p.end();
            let out = piece(conn, stream, at, n, last && p.fin, false);
            on_wire.insert(at, at + n);
            prefix.store(on_wire.reach(0), Ordering::SeqCst);
            delivery.sent.push(crate::prop::segments::segment_line(
                case,
                &crate::prop::segments::Piece {
                    start: at,
                    len: n,
                    fin: last && p.fin,
                },
            ));
            wire.send(conn, &out).map_err(|e| beyond(e.into()))?;
            at += n;
            if last {
                break;
            }
        }
        drain(wire, conn).map_err(beyond)?;
    }
    // What the first pass left out: sent (as far as the sender knows) and lost.
    let mut at = 0;
    while at < case.len {
        if on_wire.reach(at) > at {
            at = on_wire.reach(at);
            continue;
        }
        let mut end = at + 1;
        while end < case.len && on_wire.reach(end) == end {
            end += 1;
        }
        let mut from = at;
        while from < end {
            let n = (end - from).min(mss);
            let out = piece(conn, stream, from, n, false, true);
            let mut line = crate::prop::segments::segment_line(
                case,
                &crate::prop::segments::Piece {
                    start: from,
                    len: n,
                    fin: false,
                },
            );
            line.push_str(" lost");
            delivery.sent.push(line);
            wire.send(conn, &out).map_err(|e| beyond(e.into()))?;
            from += n;
        }
        at = end;
    }
    // The retransmissions fill what is missing; the prefix the application may read
    // is then the whole stream.
    prefix.store(case.len, Ordering::SeqCst);
    wire.resend(conn, stall).map_err(beyond)?;
    Ok(())
}

/// Bytes `[at, at + n)` of the stream as a segment (with the FIN when `fin`).
fn piece(conn: &Connection, stream: &[u8], at: u32, n: u32, fin: bool, lost: bool) -> Outgoing {
    let payload = stream[at as usize..(at + n) as usize].to_vec();
    let window = crate::remote::plain::HARNESS_WINDOW;
    Outgoing {
        lost,
        ..Outgoing::data(at + 1, conn.rcv_nxt(), window, payload, fin)
    }
}

/// Takes what the target has sent so far, without waiting; a strict ACK check may
/// fail here.
fn drain(wire: &mut Wire, conn: &mut Connection) -> Result<(), ExpectError> {
    while wire.next_segment(conn, Instant::now())?.is_some() {}
    Ok(())
}

/// The ACKs of the whole conversation: never backwards, the window's right edge never
/// left, and the last one covers the FIN.
fn check_acks(case: &ReassemblyCase, conn: &Connection) -> Result<(), ReassemblyError> {
    let log: Vec<&Segment> = conn
        .log
        .iter()
        .flatten()
        .filter(|s| s.flags.contains(Flags::ACK) && !s.flags.contains(Flags::SYN))
        .filter(|s| !s.flags.contains(Flags::RST))
        .collect();
    let mut last: Option<(u32, u32)> = None;
    for s in &log {
        let ack = s.ack.wrapping_sub(conn.iss);
        let edge = ack.wrapping_add(u32::from(s.window));
        if let Some((a, e)) = last {
            if (ack.wrapping_sub(a) as i32) < 0 {
                return Err(violated(
                    Property::AckBackwards,
                    format!(
                        "the ACK went back from {a} to {ack}: `{}`",
                        describe(conn, s)
                    ),
                ));
            }
            if (edge.wrapping_sub(e) as i32) < 0 {
                return Err(violated(
                    Property::WindowShrank,
                    format!(
                        "the window's right edge moved left from {e} to {edge} (ack {ack} win {}): `{}`",
                        s.window,
                        describe(conn, s)
                    ),
                ));
            }
        }
        last = Some((ack, edge));
    }
    let want = case.len + 2;
    match last {
        Some((ack, _)) if ack == want => Ok(()),
        Some((ack, _)) => Err(violated(
            Property::FinalAck,
            format!(
                "the last ACK is {ack}, not {want} (the {} bytes and the FIN)",
                case.len
            ),
        )),
        None => Err(violated(
            Property::FinalAck,
            "the target sent no ACK at all",
        )),
    }
}

fn describe(conn: &Connection, s: &Segment) -> String {
    conn.describe(s, crate::remote::Direction::Out)
}

/// The application's side: reads with the case's sizes until end of stream, checking
/// every byte and that none comes before the bytes ahead of it went on the wire.
fn read_all(
    session: &mut dyn Session,
    next_id: &mut u64,
    sock: u64,
    stream: &[u8],
    reads: &[u32],
    prefix: &AtomicU32,
    timeout: Duration,
) -> Result<(), ReassemblyError> {
    let mut off = 0usize;
    for k in 0.. {
        let max = u64::from(reads[k % reads.len()].max(1));
        let done = call(
            session,
            next_id,
            Call::Recv {
                sock,
                max,
                flags: vec![],
            },
            timeout,
        )
        .map_err(|e| {
            violated(
                Property::Progress,
                format!(
                    "the application's {e} after reading {off} of {} bytes",
                    stream.len()
                ),
            )
        })?;
        let data = done
            .data
            .as_deref()
            .and_then(protocol::hex_decode)
            .ok_or_else(|| violated(Property::Progress, "`recv` answered without valid `data`"))?;
        if data.is_empty() {
            if off == stream.len() {
                return Ok(());
            }
            return Err(violated(
                Property::Stream,
                format!("end of stream after {off} of {} bytes", stream.len()),
            ));
        }
        let end = off + data.len();
        let sent = prefix.load(Ordering::SeqCst) as usize;
        if end > sent {
            return Err(violated(
                Property::EarlyDelivery,
                format!(
                    "the application read bytes {off}..{end} when only bytes 0..{sent} had gone on the wire without a gap"
                ),
            ));
        }
        if end > stream.len() {
            return Err(violated(
                Property::Stream,
                format!(
                    "the application read {end} bytes of a {}-byte stream",
                    stream.len()
                ),
            ));
        }
        if let Some(k) = (0..data.len()).find(|&k| data[k] != stream[off + k]) {
            let at = off + k;
            let around = |b: &[u8], from: usize| {
                protocol::hex_encode(
                    &b[from.saturating_sub(off)..(from.saturating_sub(off) + 8).min(b.len())],
                )
            };
            return Err(violated(
                Property::Stream,
                format!(
                    "byte {at} of the stream is {:#04x}, not {:#04x} (a read of {max} that returned bytes {off}..{end}; from byte {at}: got {}, expected {})",
                    data[k],
                    stream[at],
                    around(&data, at),
                    protocol::hex_encode(&stream[at..(at + 8).min(stream.len())]),
                ),
            ));
        }
        off = end;
    }
    unreachable!("the loop returns")
}
