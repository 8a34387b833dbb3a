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

use super::acks::{Answer, SendCase};
use super::segments::{Edge, Piece, ReassemblyCase};
use crate::adapter::{Fault, Session};
use crate::protocol::{self, capability, Call, Done, Family, Reply, Request};
use crate::remote::sendbuf::Ranges;
use crate::remote::{Connection, ExpectError, Outgoing, Wire};
use crate::run::{close_sandbox, lan_wire, wire_of, Sessions, Settings, WireEnds};
use crate::wire::segment::{Flags, Segment, TcpOption};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
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
    /// The other direction: a retransmission carries other bytes than the original.
    Retransmission,
    /// The other direction: the target sends beyond the window the harness offered.
    BeyondWindow,
}

impl Property {
    pub const ALL: [Property; 9] = [
        Property::Stream,
        Property::EarlyDelivery,
        Property::AckBeyondData,
        Property::AckBackwards,
        Property::WindowShrank,
        Property::FinalAck,
        Property::Progress,
        Property::Retransmission,
        Property::BeyondWindow,
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
            Property::Retransmission => "retransmission",
            Property::BeyondWindow => "beyond window",
        }
    }

    /// Whether a failure of `other` is the same bug for the shrinker. Wrong bytes read
    /// and bytes read too early are one: which a case shows depends on whether the
    /// application's read comes before or after the segment that fills the gap (a
    /// stack that delivers a duplicate gives both), and a shrinker that took only one
    /// kept segments whose removal merely changed the timing.
    pub fn same_failure(self, other: Property) -> bool {
        let delivered = |p| matches!(p, Property::Stream | Property::EarlyDelivery);
        self == other || (delivered(self) && delivered(other))
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
            Property::Retransmission => "RFC 9293 3.8.1: a retransmission repeats the bytes at those sequence numbers",
            Property::BeyondWindow => "RFC 9293 3.8.6: a sender sends no further than the right edge of the offered window (a zero-window probe may carry one byte)",
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
    /// The application's reads, in order.
    pub reads: Vec<Read>,
    /// The receive buffer the target's listener had, when the case asked for a small
    /// one and the target could set it.
    pub rcvbuf: Option<u32>,
}

/// The reads that returned before segment `k` went, in a line: the data as one
/// range (a long stream read in small pieces would be hundreds of lines), the end of
/// the stream on its own.
fn tell_reads<'a>(
    out: &mut Vec<String>,
    reads: &mut std::iter::Peekable<impl Iterator<Item = &'a Read>>,
    k: usize,
) {
    let mut data: Option<(usize, usize, usize)> = None;
    let flush = |out: &mut Vec<String>, data: &mut Option<(usize, usize, usize)>| match data.take()
    {
        Some((from, to, 1)) => out.push(format!(
            "the application reads {} bytes: {from}..{to}",
            to - from
        )),
        Some((from, to, n)) => out.push(format!(
            "the application reads {} bytes in {n} reads: {from}..{to}",
            to - from
        )),
        None => {}
    };
    while let Some(r) = reads.next_if(|r| r.after <= k) {
        if r.to == r.from {
            flush(out, &mut data);
            out.push("the application reads the end of the stream".to_string());
            continue;
        }
        data = match data {
            Some((from, _, n)) => Some((from, r.to, n + 1)),
            None => Some((r.from, r.to, 1)),
        };
    }
    flush(out, &mut data);
}

/// A scenario line without its payload's hex, which the written scenario keeps: the
/// segment's numbers tell the story on a terminal.
fn without_payload(line: &str) -> String {
    match line.split_once(" hex\"") {
        Some((head, rest)) if rest.ends_with(" lost") => format!("{head} lost"),
        Some((head, _)) => head.to_string(),
        None => line.to_string(),
    }
}

/// One read of the application: the bytes it returned (none at end of stream), and
/// how far the harness had got when it returned: the number of first-pass segments
/// sent, one more once the retransmissions began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub after: usize,
    pub from: usize,
    pub to: usize,
}

impl Delivery {
    /// The case as it went, in scenario lines: each segment the harness sent, the
    /// retransmissions (`w < resend`), and the application's reads where they
    /// returned. A read that returned while a segment was on its way is shown after it.
    pub fn story(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut reads = self.reads.iter().peekable();
        for (k, line) in self.sent.iter().enumerate() {
            tell_reads(&mut out, &mut reads, k);
            out.push(format!("w < {}", without_payload(line)));
        }
        tell_reads(&mut out, &mut reads, self.sent.len());
        out.push("w < resend".to_string());
        tell_reads(&mut out, &mut reads, usize::MAX);
        out
    }
}

/// The first port of the harness's side; each case takes the next.
const FIRST_PORT: u16 = 20000;
/// How long the harness waits for the target's FIN after the application closes.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A listening socket of the target's application.
#[derive(Debug, Clone, Copy)]
struct Listener {
    sock: u64,
    port: u16,
}

/// What [`prepare`] finds and makes.
struct Prepared {
    wire: Wire,
    ends: WireEnds,
    listener: Listener,
    implementation: String,
}

/// A target ready for cases: its sandbox and session, the wire, and a listener; more,
/// each with the receive buffer a case asked for, made when first asked.
pub struct Target {
    sessions: Sessions,
    wire: Wire,
    ends: WireEnds,
    listener: Listener,
    /// By receive buffer: `None` where the target could not set it.
    sized: Vec<(u32, Option<Listener>)>,
    /// The listener of the case under way.
    current: Listener,
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
            Ok(Prepared {
                wire,
                ends,
                listener,
                implementation,
            }) => Ok(Target {
                sessions,
                wire,
                ends,
                listener,
                sized: Vec::new(),
                current: listener,
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
        let sized = match case.rcvbuf {
            Some(n) => match self.sized_listener(n) {
                Ok(l) => l.map(|l| (n, l)),
                Err(e) => return (Delivery::default(), Err(e)),
            },
            None => None,
        };
        self.current = sized.map_or(self.listener, |(_, l)| l);
        let mut conn = self.connection(case.isn);
        let mut delivery = Delivery {
            rcvbuf: sized.map(|(n, _)| n),
            ..Delivery::default()
        };
        let outcome = self.exchange(case, &mut conn, &mut delivery);
        self.wire.forget(&conn);
        (delivery, outcome)
    }

    /// The listener with receive buffer `n`, made on first use; `None` for a target
    /// that cannot set SO_RCVBUF (its cases keep the one window it has).
    fn sized_listener(&mut self, n: u32) -> Result<Option<Listener>, ReassemblyError> {
        if let Some((_, l)) = self.sized.iter().find(|(m, _)| *m == n) {
            return Ok(*l);
        }
        let session = self.sessions.target.as_mut().expect("opened with a target");
        let l = listen(session.as_mut(), &mut self.next_id, self.timeout, Some(n))
            .map_err(|e| violated(Property::Progress, format!("the application's {e}")))?;
        self.sized.push((n, l));
        Ok(l)
    }

    /// A connection of the next case: from a port of its own, to the listener.
    fn connection(&mut self, isn: u32) -> Connection {
        self.cases += 1;
        let port = FIRST_PORT + (self.cases % 40000) as u16;
        let local = SocketAddr::from((self.ends.remote_v4, port));
        let peer = SocketAddr::from((self.ends.target_v4, self.current.port));
        Connection::new(local, peer, isn)
    }

    /// The application accepts the connection the harness opened.
    fn accept(&mut self) -> Result<u64, ReassemblyError> {
        let session = self.sessions.target.as_mut().expect("opened with a target");
        let accept = Call::Accept {
            sock: self.current.sock,
        };
        call(session.as_mut(), &mut self.next_id, accept, self.timeout)
            .map_err(|e| violated(Property::Progress, format!("the application's {e}")))?
            .sock
            .ok_or_else(|| violated(Property::Progress, "`accept` answered without `sock`"))
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
        let s = self.accept()?;
        let session = self.sessions.target.as_mut().expect("opened with a target");
        conn.log = Some(Vec::new());
        conn.strict_acks = true;
        let stream = case.stream();
        // Bytes of the stream that went on the wire contiguously from the first: the
        // most the application may have read. Raised before a segment is sent.
        let prefix = AtomicU32::new(0);
        // First-pass segments sent, one more once the retransmissions begin: where
        // each read returned, for the story.
        let went = AtomicUsize::new(0);
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
                    (&prefix, &went),
                    timeout,
                )
            });
            let sent = send_all(wire, conn, case, &stream, (&prefix, &went), stall, delivery);
            if sent.is_err() {
                // An RST wakes a read that would otherwise wait out its deadline.
                let _ = wire.send_rst(conn);
            }
            let read = match reader.join() {
                Ok((read, reads)) => {
                    delivery.reads = reads;
                    read
                }
                Err(_) => Err(violated(Property::Progress, "the reading thread panicked")),
            };
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

impl Target {
    /// Runs one case of the other direction: the target sends, the harness answers as
    /// the case says. The verdict; after a failure the target should be closed.
    pub fn receive(&mut self, case: &SendCase) -> Result<(), ReassemblyError> {
        self.current = self.listener;
        let mut conn = self.connection(1_000_000);
        let outcome = self.take_stream(case, &mut conn);
        self.wire.forget(&conn);
        outcome
    }

    fn take_stream(
        &mut self,
        case: &SendCase,
        conn: &mut Connection,
    ) -> Result<(), ReassemblyError> {
        let timeout = self.timeout;
        let progress = |e: ExpectError| violated(Property::Progress, e.to_string());
        conn.advertise = Some(case.window);
        self.wire.open(conn, timeout).map_err(progress)?;
        let s = self.accept()?;
        let session = self.sessions.target.as_mut().expect("opened with a target");
        let stream = case.stream();
        let next_id = &mut self.next_id;
        let wire = &mut self.wire;
        let (wrote, taken) = std::thread::scope(|scope| {
            let writer = scope
                .spawn(|| write_all(session.as_mut(), next_id, s, &stream, &case.writes, timeout));
            let taken = answer_all(wire, conn, case, timeout);
            if taken.is_err() {
                // An RST wakes a send that waits for room.
                let _ = wire.send_rst(conn);
            }
            let wrote = writer.join().unwrap_or_else(|_| {
                Err(violated(Property::Progress, "the writing thread panicked"))
            });
            (wrote, taken)
        });
        taken?;
        wrote?;
        let got: Vec<u8> = conn.received.drain(..).collect();
        if got != stream {
            let at = got.iter().zip(&stream).position(|(a, b)| a != b);
            return Err(violated(
                Property::Stream,
                match at {
                    Some(k) => format!(
                        "byte {k} of the stream is {:#04x}, not {:#04x}",
                        got[k], stream[k]
                    ),
                    None => format!("{} bytes arrived, not {}", got.len(), stream.len()),
                },
            ));
        }
        // The harness closes its side too, so the target's connection ends.
        let fin = Outgoing::data(
            conn.snd_nxt,
            conn.rcv_nxt(),
            conn.window(),
            Vec::new(),
            true,
        );
        let _ = self.wire.send(conn, &fin);
        Ok(())
    }
}

/// The application's side: writes the stream with the case's sizes, then closes.
fn write_all(
    session: &mut dyn Session,
    next_id: &mut u64,
    sock: u64,
    stream: &[u8],
    writes: &[u32],
    timeout: Duration,
) -> Result<(), ReassemblyError> {
    let mut off = 0;
    let mut k = 0;
    while off < stream.len() {
        let n = (writes[k % writes.len()].max(1) as usize).min(stream.len() - off);
        k += 1;
        let data = protocol::hex_encode(&stream[off..off + n]);
        let done = call(
            session,
            next_id,
            Call::Send {
                sock,
                data,
                flags: vec![],
            },
            timeout,
        )
        .map_err(|e| {
            violated(
                Property::Progress,
                format!(
                    "the application's {e} after sending {off} of {} bytes",
                    stream.len()
                ),
            )
        })?;
        let sent = done.sent.unwrap_or(0) as usize;
        if sent == 0 || sent > n {
            return Err(violated(
                Property::Progress,
                format!("a send of {n} bytes reported {sent}"),
            ));
        }
        off += sent;
    }
    call(session, next_id, Call::Close { sock }, timeout)
        .map(drop)
        .map_err(|e| violated(Property::Progress, format!("the application's {e}")))
}

/// The harness's side: answers the target's segments as the case says, then plainly,
/// until the target's FIN came after all its data; checks each segment against the
/// window offered and each retransmission against the original.
fn answer_all(
    wire: &mut Wire,
    conn: &mut Connection,
    case: &SendCase,
    within: Duration,
) -> Result<(), ReassemblyError> {
    let mut answers = case.answers.iter().copied();
    let mut window: u16 = case.window;
    // The furthest right edge offered, relative to the target's ISN, and the ACKs sent.
    let mut edge = 1u32.wrapping_add(u32::from(window));
    let mut sent_acks: Vec<u32> = vec![1];
    let mut idle = 0;
    let mut deadline = Instant::now() + within;
    // However busy the target keeps the wire, a case ends.
    let end_of_case = Instant::now() + within * 6;
    loop {
        if Instant::now() >= end_of_case {
            return Err(violated(
                Property::Progress,
                format!(
                    "the stream did not get through in {:?}: {} of {} bytes arrived in order{}",
                    within * 6,
                    conn.received.len(),
                    case.len,
                    conn.recent()
                ),
            ));
        }
        // Everything and the FIN: the case's answers end here, with a full ACK.
        if conn.fin_received() {
            ack(
                wire,
                conn,
                conn.rcv_nxt(),
                crate::remote::plain::HARNESS_WINDOW,
            )?;
            return Ok(());
        }
        // A shut window opens again on its own after a while, as when the receiving
        // application reads: a window update, not only an answer to a probe (RFC 9293
        // 3.8.6.2.2), so a sender that does not probe is not stranded.
        let wait = if window == 0 {
            deadline.min(Instant::now() + REOPEN_AFTER)
        } else {
            deadline
        };
        let next = wire
            .next_segment(conn, wait)
            .map_err(|e| violated(Property::Progress, e.to_string()))?;
        if next.is_none() && window == 0 && Instant::now() < deadline {
            window = crate::remote::plain::HARNESS_WINDOW;
            ack(wire, conn, conn.rcv_nxt(), window)?;
            let right = conn.rcv_nxt().wrapping_add(u32::from(window));
            if (right.wrapping_sub(edge) as i32) > 0 {
                edge = right;
            }
            continue;
        }
        let Some(seg) = next else {
            return Err(violated(
                Property::Progress,
                format!(
                    "the target sent nothing for {within:?}: {} of {} bytes arrived in order{}",
                    conn.received.len(),
                    case.len,
                    conn.recent()
                ),
            ));
        };
        if seg.flags.contains(Flags::RST) {
            return Err(violated(
                Property::Progress,
                format!(
                    "the target reset the connection: `{}`",
                    describe(conn, &seg)
                ),
            ));
        }
        // Any segment is the target still at work; its backoff may stretch the gaps.
        deadline = Instant::now() + within;
        if let Some(c) = conn.conflict.take() {
            return Err(violated(
                Property::Retransmission,
                format!("{c}: `{}`", describe(conn, &seg)),
            ));
        }
        let irs = conn.irs.unwrap_or(seg.seq);
        let end = seg
            .seq
            .wrapping_sub(irs)
            .wrapping_add(seg.payload.len() as u32);
        // A probe of a shut window may carry one byte past it (RFC 9293 3.8.6.1).
        let allowed = edge.wrapping_add(u32::from(window == 0));
        if !seg.payload.is_empty() && (end.wrapping_sub(allowed) as i32) > 0 {
            return Err(violated(
                Property::BeyondWindow,
                format!(
                    "the segment ends at {end}, past the right edge {edge} the harness offered: `{}`",
                    describe(conn, &seg)
                ),
            ));
        }
        // A bare ACK needs no answer, but a probe of a shut window does.
        if seg.payload.is_empty() && !seg.flags.contains(Flags::FIN) && window != 0 {
            continue;
        }
        let answer = match answers.next() {
            // Two answers in a row that acknowledge nothing new at most: each sends the
            // target's retransmission timer into backoff (RFC 6298 5.5), and a third
            // would wait out more than a slow stack's (lwIP starts at 3 s) fourth RTO.
            Some(Answer::Withhold | Answer::Repeat | Answer::Older) if idle >= 2 => Answer::Ack,
            Some(a) => a,
            None if window < crate::remote::plain::HARNESS_WINDOW => {
                // The answers are spent: open the window for the rest.
                Answer::Window(crate::remote::plain::HARNESS_WINDOW)
            }
            None => Answer::Ack,
        };
        idle = match answer {
            Answer::Withhold | Answer::Repeat | Answer::Older => idle + 1,
            Answer::Ack | Answer::Window(_) => 0,
        };
        let (number, win) = match answer {
            Answer::Withhold => continue,
            // A plain ACK reopens a shut window: the receiver's application read.
            Answer::Ack => {
                if window == 0 {
                    window = case.window.max(1);
                }
                (conn.rcv_nxt(), window)
            }
            Answer::Repeat => (*sent_acks.last().unwrap_or(&1), window),
            Answer::Older => {
                let k = sent_acks.len().saturating_sub(2);
                (sent_acks[k], window)
            }
            Answer::Window(w) => {
                window = w;
                (conn.rcv_nxt(), w)
            }
        };
        ack(wire, conn, number, win)?;
        sent_acks.push(number);
        let right = number.wrapping_add(u32::from(win));
        if (right.wrapping_sub(edge) as i32) > 0 {
            edge = right;
        }
    }
}

/// How long the harness keeps its window shut before it opens it with an update.
const REOPEN_AFTER: Duration = Duration::from_millis(300);

/// An ACK of relative `number` with window `window`.
fn ack(
    wire: &mut Wire,
    conn: &mut Connection,
    number: u32,
    window: u16,
) -> Result<(), ReassemblyError> {
    // No data: a bare ACK.
    let out = Outgoing::data(conn.snd_nxt, number, window, Vec::new(), false);
    wire.send(conn, &out)
        .map_err(|e| violated(Property::Progress, ExpectError::from(e).to_string()))
}

/// `hello`, the wire the adapter's answer calls for, and a listener: the wire, its
/// ends, the listener's handle and port, and the implementation's name.
fn prepare(
    sessions: &mut Sessions,
    next_id: &mut u64,
    timeout: Duration,
) -> Result<Prepared, ReassemblyError> {
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
    let listener = listen(session.as_mut(), next_id, timeout, None)
        .map_err(setup)?
        .expect("no buffer to set, no way to decline");
    Ok(Prepared {
        wire,
        ends,
        listener,
        implementation,
    })
}

/// A listener of the target's application on any port, with receive buffer `rcvbuf`
/// where given; `None` when the target cannot set that.
fn listen(
    session: &mut dyn Session,
    next_id: &mut u64,
    timeout: Duration,
    rcvbuf: Option<u32>,
) -> Result<Option<Listener>, String> {
    let mut c = |call_: Call| call(session, next_id, call_, timeout);
    let sock = c(Call::Socket {
        family: Family::Ipv4,
    })?
    .sock
    .ok_or("`socket` answered without `sock`")?;
    if let Some(n) = rcvbuf {
        let set = Call::Setsockopt {
            sock,
            opt: crate::protocol::SockOpt::RcvBuf.name().into(),
            value: Some(i64::from(n)),
        };
        if c(set).is_err() {
            c(Call::Close { sock })?;
            return Ok(None);
        }
    }
    c(Call::Bind {
        sock,
        addr: "0.0.0.0:0".into(),
    })?;
    c(Call::Listen { sock, backlog: 8 })?;
    let port = c(Call::Getsockname { sock })?
        .addr
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .ok_or("`getsockname` answered without an address")?
        .port();
    Ok(Some(Listener { sock, port }))
}

/// The case's segments, then the correct sender's retransmissions.
fn send_all(
    wire: &mut Wire,
    conn: &mut Connection,
    case: &ReassemblyCase,
    stream: &[u8],
    (prefix, went): (&AtomicU32, &AtomicUsize),
    stall: Duration,
    delivery: &mut Delivery,
) -> Result<(), ReassemblyError> {
    let mss = u32::from(conn.peer_mss.clamp(1, crate::remote::plain::HARNESS_MSS));
    let beyond = |e: ExpectError| match e {
        ExpectError::AckBeyondSent { .. } | ExpectError::SackBeyondSent { .. } => {
            violated(Property::AckBeyondData, e.to_string())
        }
        e => violated(Property::Progress, e.to_string()),
    };
    // The whole story first, so that a case that fails midway still tells all of it.
    let plan = plan(case, mss);
    delivery.sent = plan
        .iter()
        .map(|(p, lost)| {
            let line = crate::prop::segments::segment_line(case, p);
            if *lost {
                line + " lost"
            } else {
                line
            }
        })
        .collect();
    let mut on_wire = Ranges::default();
    let mut first_pass = plan.iter().enumerate().peekable();
    // Where the next line goes in the story: edge segments are added as they go.
    let mut line = 0;
    let sent_first = plan.iter().filter(|(_, lost)| !lost).count().max(1);
    while let Some((k, (p, lost))) = first_pass.next() {
        if !lost {
            on_wire.insert(p.start, p.end());
            prefix.store(on_wire.reach(0), Ordering::SeqCst);
        }
        let out = piece(conn, stream, p.start, p.len, p.fin, *lost);
        // Counted before it goes: a read it makes possible returns after this.
        went.fetch_add(1, Ordering::SeqCst);
        wire.send(conn, &out).map_err(|e| beyond(e.into()))?;
        line += 1;
        // The target's answers to a segment of the case, before the next: the last
        // split of a piece, or the lost pieces all at once.
        let next_lost = first_pass.peek().is_some_and(|(_, (_, l))| *l);
        if !lost && !next_lost {
            drain(wire, conn).map_err(beyond)?;
        }
        if *lost {
            continue;
        }
        for edge in case
            .edges
            .iter()
            .filter(|e| e.after as usize % sent_first == k)
        {
            for p in edge_pieces(conn, case.len, edge, mss) {
                on_wire.insert(p.start, p.end());
                prefix.store(on_wire.reach(0), Ordering::SeqCst);
                delivery
                    .sent
                    .insert(line, crate::prop::segments::segment_line(case, &p));
                let out = piece(conn, stream, p.start, p.len, false, false);
                went.fetch_add(1, Ordering::SeqCst);
                wire.send(conn, &out).map_err(|e| beyond(e.into()))?;
                line += 1;
            }
            drain(wire, conn).map_err(beyond)?;
        }
    }
    // The retransmissions fill what is missing; the prefix the application may read
    // is then the whole stream.
    prefix.store(case.len, Ordering::SeqCst);
    went.fetch_add(1, Ordering::SeqCst);
    wire.resend(conn, stall).map_err(beyond)?;
    Ok(())
}

/// What the harness sends of a case, in order: its segments cut to `mss` (RFC 9293
/// 3.7.1), then what they left out, recorded as sent and lost (`true`), for the
/// retransmissions to bring.
fn plan(case: &ReassemblyCase, mss: u32) -> Vec<(Piece, bool)> {
    let mut out = Vec::new();
    let mut covered = Ranges::default();
    for p in &case.segments {
        for cut in cut_to_mss(*p, mss) {
            covered.insert(cut.start, cut.end());
            out.push((cut, false));
        }
    }
    let mut at = 0;
    while at < case.len {
        let reach = covered.reach(at);
        if reach > at {
            at = reach;
            continue;
        }
        let mut end = at + 1;
        while end < case.len && covered.reach(end) == end {
            end += 1;
        }
        let gap = Piece {
            start: at,
            len: end - at,
            fin: false,
        };
        out.extend(cut_to_mss(gap, mss).map(|cut| (cut, true)));
        at = end;
    }
    out
}

/// An edge segment where the target's window ends now (its latest ACK plus its
/// window, RFC 9293 3.3.1's SND.UNA + SND.WND), cut to `mss`.
fn edge_pieces(conn: &Connection, len: u32, edge: &Edge, mss: u32) -> Vec<Piece> {
    // Relative sequence number 1 is the stream's byte 0.
    let right = conn.snd_una.wrapping_add(conn.snd_wnd).wrapping_sub(1);
    let Some((start, end)) = edge.bytes(right, len) else {
        return Vec::new();
    };
    let whole = Piece {
        start,
        len: end - start,
        fin: false,
    };
    cut_to_mss(whole, mss).collect()
}

/// A piece cut into segments of at most `mss` bytes (RFC 9293 3.7.1), the FIN on the
/// last; a lone FIN stays one segment.
fn cut_to_mss(p: Piece, mss: u32) -> impl Iterator<Item = Piece> {
    let mss = mss.max(1);
    let count = p.len.div_ceil(mss).max(1);
    (0..count).map(move |i| {
        let start = p.start + i * mss;
        Piece {
            start,
            len: (p.end() - start).min(mss),
            fin: p.fin && i + 1 == count,
        }
    })
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
    (prefix, went): (&AtomicU32, &AtomicUsize),
    timeout: Duration,
) -> (Result<(), ReassemblyError>, Vec<Read>) {
    let mut story = Vec::new();
    let mut read = || {
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
                .ok_or_else(|| {
                    violated(Property::Progress, "`recv` answered without valid `data`")
                })?;
            story.push(Read {
                after: went.load(Ordering::SeqCst),
                from: off,
                to: off + data.len(),
            });
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
    };
    let outcome = read();
    (outcome, story)
}

#[cfg(test)]
mod tests {
    use super::{cut_to_mss, Delivery, Piece, Property, Read};

    #[test]
    fn a_piece_is_cut_to_the_mss_with_the_fin_on_the_last_cut() {
        let piece = |start, len, fin| Piece { start, len, fin };
        let cuts: Vec<Piece> = cut_to_mss(piece(10, 25, true), 10).collect();
        assert_eq!(
            cuts,
            [
                piece(10, 10, false),
                piece(20, 10, false),
                piece(30, 5, true)
            ]
        );
        let lone: Vec<Piece> = cut_to_mss(piece(40, 0, true), 10).collect();
        assert_eq!(lone, [piece(40, 0, true)]);
    }

    #[test]
    fn wrong_bytes_and_early_bytes_are_one_failure_for_the_shrinker() {
        assert!(Property::Stream.same_failure(Property::EarlyDelivery));
        assert!(Property::EarlyDelivery.same_failure(Property::Stream));
        assert!(Property::Progress.same_failure(Property::Progress));
        assert!(!Property::Stream.same_failure(Property::Progress));
        assert!(!Property::AckBeyondData.same_failure(Property::AckBackwards));
    }

    #[test]
    fn the_story_puts_each_read_after_the_segments_sent_before_it() {
        let delivery = Delivery {
            sent: vec![
                "P. 5:9(4) ack 1 win 65535 hex\"04050607\"".into(),
                "P. 1:5(4) ack 1 win 65535 hex\"00010203\" lost".into(),
                "F. 9:9(0) ack 1 win 65535".into(),
            ],
            reads: vec![
                Read {
                    after: 0,
                    from: 0,
                    to: 0,
                },
                Read {
                    after: 3,
                    from: 0,
                    to: 4,
                },
                Read {
                    after: 4,
                    from: 4,
                    to: 8,
                },
                Read {
                    after: 4,
                    from: 8,
                    to: 9,
                },
                Read {
                    after: 4,
                    from: 9,
                    to: 9,
                },
            ],
            rcvbuf: None,
        };
        assert_eq!(
            delivery.story(),
            [
                "the application reads the end of the stream",
                "w < P. 5:9(4) ack 1 win 65535",
                "w < P. 1:5(4) ack 1 win 65535 lost",
                "w < F. 9:9(0) ack 1 win 65535",
                "the application reads 4 bytes: 0..4",
                "w < resend",
                "the application reads 5 bytes in 2 reads: 4..9",
                "the application reads the end of the stream",
            ]
        );
    }
}
