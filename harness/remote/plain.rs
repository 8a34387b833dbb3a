//! The harness as a plain, correct TCP: the handshake, data sent and retransmitted until
//! acknowledged, data received and acknowledged, FINs, so a scenario spells out only
//! the segments it is about (`w < handshake`, `w < "hello"`, `w > "world"`, `w > fin`).
//!
//! Deliberately simple and predictable rather than fast: the harness offers only an
//! MSS in its SYN (no SACK, no window scale, no timestamps, so the target's segments
//! carry nothing the harness would have to honour), advertises what is left of a
//! bounded buffer, acknowledges every segment that carries data or a FIN at once, and retransmits from
//! SND.UNA on its own timer with exponential backoff (RFC 6298 5.5). Everything it
//! sends goes through [`Wire::send`], so it mixes with explicit segment lines: each
//! step reads the connection's numbers as the previous steps left them.

use super::connection::{Connection, Direction, ExpectError, Outgoing, Wire};
use crate::wire::segment::{Checksum, Flags, Segment, TcpOption};
use std::time::{Duration, Instant};

/// The MSS the harness announces; also the most it sends in one segment.
pub const HARNESS_MSS: u16 = 1460;
/// The window the harness advertises in its SYN; later, what is left of its buffer
/// ([`Connection::window`]).
pub const HARNESS_WINDOW: u16 = 65535;
/// RFC 6298 2.1: the RTO before any round trip was measured, used for the SYN.
const SYN_RTO: Duration = Duration::from_secs(1);
/// The harness's RTO for data. Shorter than RFC 6298's 1 s minimum on purpose: the
/// wire is a device in the same machine, and a scenario should not wait a second for
/// each loss it stages; long enough that a target's delayed ACK (at most 200 ms on
/// Linux, 500 ms by RFC 9293 3.8.6.3) never draws a needless retransmission.
const DATA_RTO: Duration = Duration::from_millis(600);
const MAX_RTO: Duration = Duration::from_secs(8);
/// The most `w < fill` sends before it gives up on the target's window ever shutting.
pub const FILL_LIMIT: usize = 16 << 20;

impl Wire {
    /// `w < handshake`: the harness opens the connection (SYN, the target's SYN-ACK,
    /// ACK; RFC 9293 3.5), retransmitting its SYN until `within` passes.
    pub fn open(&mut self, conn: &mut Connection, within: Duration) -> Result<(), ExpectError> {
        self.open_offering(conn, vec![TcpOption::Mss(HARNESS_MSS)], within)
    }

    /// [`Wire::open`] with a SYN that offers `options` (`sackOK` for a receiver whose
    /// SACK blocks a property test checks).
    pub fn open_offering(
        &mut self,
        conn: &mut Connection,
        options: Vec<TcpOption>,
        within: Duration,
    ) -> Result<(), ExpectError> {
        let deadline = Instant::now() + within;
        let syn = Outgoing {
            flags: Flags::SYN,
            seq: 0,
            ack: 0,
            // What the connection may advertise (a case can offer less).
            window: conn.window(),
            options,
            payload: Vec::new(),
            checksum: Checksum::Correct,
            from: None,
            to: None,
            urgent: 0,
            ip_options: Vec::new(),
            lost: false,
        };
        let mut rto = SYN_RTO;
        self.send(conn, &syn)?;
        let mut timer = Instant::now() + rto;
        loop {
            match self.next_segment(conn, timer.min(deadline))? {
                Some(s) if s.flags.contains(Flags::RST) => {
                    return Err(reset(conn, &s, "instead of answering the harness's SYN"))
                }
                Some(s) if s.flags == Flags::SYN | Flags::ACK && conn.snd_una == 1 => break,
                Some(_) => {}
                None if Instant::now() >= deadline => {
                    return Err(ExpectError::Stalled {
                        during: "the harness's handshake".into(),
                        waited: within,
                        state: "no SYN-ACK answered the harness's SYN".into(),
                        recent: conn.recent(),
                    })
                }
                None => {
                    self.send(conn, &syn)?;
                    rto = (rto * 2).min(MAX_RTO);
                    timer = Instant::now() + rto;
                }
            }
        }
        self.acknowledge(conn)
    }

    /// `w > handshake`: the target opens the connection; the harness answers its SYN
    /// and waits for the ACK of its SYN-ACK, answering a retransmitted SYN again.
    pub fn answer_open(
        &mut self,
        conn: &mut Connection,
        within: Duration,
    ) -> Result<(), ExpectError> {
        let deadline = Instant::now() + within;
        let syn_ack = Outgoing {
            flags: Flags::SYN | Flags::ACK,
            seq: 0,
            ack: 1,
            window: HARNESS_WINDOW,
            options: vec![TcpOption::Mss(HARNESS_MSS)],
            payload: Vec::new(),
            checksum: Checksum::Correct,
            from: None,
            to: None,
            urgent: 0,
            ip_options: Vec::new(),
            lost: false,
        };
        loop {
            let Some(s) = self.next_segment(conn, deadline)? else {
                return Err(ExpectError::Stalled {
                    during: "the target's handshake".into(),
                    waited: within,
                    state: if conn.irs.is_none() {
                        "the target sent no SYN".into()
                    } else {
                        "the target did not acknowledge the harness's SYN-ACK".into()
                    },
                    recent: conn.recent(),
                });
            };
            if s.flags.contains(Flags::RST) {
                return Err(reset(conn, &s, "during its handshake"));
            }
            if s.flags == Flags::SYN {
                self.send(conn, &syn_ack)?;
            } else if conn.snd_una == 1 {
                if needs_ack(conn, &s) {
                    self.acknowledge(conn)?;
                }
                return Ok(());
            }
        }
    }

    /// `w < "..."`: sends `data` as a correct sender would (at most the target's MSS a
    /// segment, never beyond its window, RFC 9293 3.8.6) and returns once the target
    /// acknowledged all of it, retransmitting from SND.UNA on timeout and probing a
    /// zero window (RFC 9293 3.8.6.1). Data the target sends meanwhile is taken and
    /// acknowledged.
    pub fn send_data(
        &mut self,
        conn: &mut Connection,
        data: &[u8],
        within: Duration,
    ) -> Result<(), ExpectError> {
        self.send_until_acked(conn, data, false, within)
    }

    /// `w < fin`: the harness closes its side (RFC 9293 3.10.4) and waits until the
    /// target acknowledges the FIN.
    pub fn send_fin(&mut self, conn: &mut Connection, within: Duration) -> Result<(), ExpectError> {
        self.send_until_acked(conn, &[], true, within)
    }

    /// `w < fill`: sends the alphabet, as a correct sender would, until the target has
    /// acknowledged all of it and advertises a zero window (its application stopped
    /// reading and its buffer is full); returns how many bytes that took. A target
    /// whose window stays open after [`FILL_LIMIT`] bytes fails the step.
    pub fn fill_window(
        &mut self,
        conn: &mut Connection,
        within: Duration,
    ) -> Result<u32, ExpectError> {
        let start = conn.snd_nxt;
        self.send_until(conn, &pattern(FILL_LIMIT), false, true, within)?;
        Ok(conn.snd_nxt.wrapping_sub(start))
    }

    /// `w < resend`: sends again what the harness sent and the target has not
    /// acknowledged (segments a scenario declared `lost` among them), as a correct
    /// sender retransmits (RFC 9293 3.8.1): at once from SND.UNA as far as the window
    /// reaches, then again from SND.UNA whenever its timer runs out without progress,
    /// probing a zero window; it holds until everything, the FIN included, is
    /// acknowledged, and fails when the target acknowledges nothing new for `within`.
    pub fn resend(&mut self, conn: &mut Connection, within: Duration) -> Result<(), ExpectError> {
        let mut deadline = Instant::now() + within;
        let end = conn.sendbuf.sent_end();
        let fin = conn.sendbuf.fin();
        let mss = u32::from(conn.peer_mss.clamp(1, HARNESS_MSS));
        let mut next = conn.snd_una;
        let mut rto = DATA_RTO;
        let mut timer = Instant::now() + rto;
        loop {
            if ahead_or_at(conn.snd_una, end) {
                return Ok(());
            }
            if !ahead_or_at(next, conn.snd_una) {
                next = conn.snd_una;
            }
            // As far as the window reaches; one byte into a shut one, as a probe.
            let edge = conn.snd_una.wrapping_add(conn.snd_wnd.max(1));
            while !ahead_or_at(next, end) && !ahead_or_at(next, edge) {
                let room = edge.wrapping_sub(next).min(mss);
                let bytes = conn.sendbuf.bytes(next, room).to_vec();
                let at_fin = bytes.is_empty() && fin == Some(next);
                if bytes.is_empty() && !at_fin {
                    break;
                }
                let out = Outgoing::data(next, conn.rcv_nxt(), conn.window(), bytes, at_fin);
                next = next.wrapping_add(out.seq_len());
                self.send(conn, &out)?;
            }
            let before = conn.snd_una;
            match self.receive(conn, timer.min(deadline), "while the harness resent")? {
                Some(_) if conn.snd_una != before => {
                    rto = DATA_RTO;
                    timer = Instant::now() + rto;
                    deadline = Instant::now() + within;
                }
                Some(_) => {}
                None if Instant::now() >= deadline => {
                    return Err(ExpectError::Stalled {
                        during: "resending".into(),
                        waited: within,
                        state: format!(
                            "the target acknowledged up to {} of {end}, its window is {}",
                            conn.snd_una, conn.snd_wnd
                        ),
                        recent: conn.recent(),
                    });
                }
                None => {
                    next = conn.snd_una;
                    rto = (rto * 2).min(MAX_RTO);
                    timer = Instant::now() + rto;
                }
            }
        }
    }

    /// `w < rst`: an RST with ACK at SND.NXT (RFC 9293 3.10.7.4: in the window, and
    /// exactly at RCV.NXT for the target, so accepted under RFC 5961 3.2 as well).
    pub fn send_rst(&mut self, conn: &mut Connection) -> Result<(), ExpectError> {
        let out = Outgoing {
            flags: Flags::RST | Flags::ACK,
            seq: conn.snd_nxt,
            ack: conn.rcv_nxt(),
            window: 0,
            options: Vec::new(),
            payload: Vec::new(),
            checksum: Checksum::Correct,
            from: None,
            to: None,
            urgent: 0,
            ip_options: Vec::new(),
            lost: false,
        };
        Ok(self.send(conn, &out)?)
    }

    /// `w > at most N bytes for D`: takes every segment the target sends for `within`
    /// without acknowledging any, and fails as soon as they carry more than `allowed`
    /// bytes beyond what it had sent before (retransmissions are free). How a first
    /// flight's size is bounded (RFC 5681 3.1) and a silly segment ruled out (RFC
    /// 9293 3.8.6.2.1). Returns the new bytes counted.
    pub fn expect_at_most(
        &mut self,
        conn: &mut Connection,
        allowed: u32,
        within: Duration,
    ) -> Result<u32, ExpectError> {
        let base = conn.target_high;
        let deadline = Instant::now() + within;
        while let Some(s) = self.next_segment(conn, deadline)? {
            if s.flags.contains(Flags::RST) {
                return Err(reset(conn, &s, "while the harness counted what it sent"));
            }
            let sent = conn.target_high.wrapping_sub(base);
            if sent > allowed {
                return Err(ExpectError::TooMuch {
                    sent,
                    allowed,
                    window: within,
                    segment: conn.describe(&s, Direction::Out),
                    recent: conn.recent(),
                });
            }
        }
        Ok(conn.target_high.wrapping_sub(base))
    }

    fn send_until_acked(
        &mut self,
        conn: &mut Connection,
        data: &[u8],
        fin: bool,
        within: Duration,
    ) -> Result<(), ExpectError> {
        self.send_until(conn, data, fin, false, within)
    }

    /// Sends `data` (then a FIN when `fin`) until all is acknowledged or, when
    /// `until_shut`, until the target acknowledged everything sent and shut its window.
    fn send_until(
        &mut self,
        conn: &mut Connection,
        data: &[u8],
        fin: bool,
        until_shut: bool,
        within: Duration,
    ) -> Result<(), ExpectError> {
        let deadline = Instant::now() + within;
        let start = conn.snd_nxt;
        let data_end = start.wrapping_add(data.len() as u32);
        let end = data_end.wrapping_add(u32::from(fin));
        let mss = u32::from(conn.peer_mss.clamp(1, HARNESS_MSS));
        let mut rto = DATA_RTO;
        let mut timer: Option<Instant> = None;
        loop {
            // New data, as far as the window reaches.
            loop {
                let next = conn.snd_nxt;
                let edge = conn.snd_una.wrapping_add(conn.snd_wnd);
                let room = edge.wrapping_sub(next) as i32;
                let left = data_end.wrapping_sub(next) as i32;
                if left > 0 && room > 0 {
                    let n = (left as u32).min(room as u32).min(mss);
                    self.send_piece(conn, data, start, next, n, false)?;
                } else if left <= 0 && fin && conn.snd_nxt == data_end {
                    self.send_piece(conn, data, start, data_end, 0, true)?;
                } else {
                    break;
                }
                timer.get_or_insert_with(|| Instant::now() + rto);
            }
            if ahead_or_at(conn.snd_una, end) {
                if until_shut {
                    return Err(ExpectError::Stalled {
                        during: "filling the target's window".into(),
                        waited: within,
                        state: format!(
                            "the target took {} bytes and its window is still {}",
                            data.len(),
                            conn.snd_wnd
                        ),
                        recent: conn.recent(),
                    });
                }
                return Ok(());
            }
            if until_shut
                && conn.snd_wnd == 0
                && conn.snd_una == conn.snd_nxt
                && conn.snd_nxt != start
            {
                return Ok(());
            }
            // The window is shut: the probe timer runs even with nothing in flight.
            let wake = *timer.get_or_insert_with(|| Instant::now() + rto);
            let before = conn.snd_una;
            match self.receive(conn, wake.min(deadline), "while the harness was sending")? {
                Some(_) => {
                    if conn.snd_una != before {
                        rto = DATA_RTO;
                        timer = (conn.snd_una != conn.snd_nxt).then(|| Instant::now() + rto);
                    }
                }
                None if Instant::now() >= deadline => {
                    let acked = conn
                        .snd_una
                        .wrapping_sub(start)
                        .min(end.wrapping_sub(start));
                    return Err(ExpectError::Stalled {
                        during: if fin {
                            "the harness's FIN".into()
                        } else {
                            format!("sending {} bytes", data.len())
                        },
                        waited: within,
                        state: format!(
                            "the target acknowledged {acked} of {}, its window is {}",
                            end.wrapping_sub(start),
                            conn.snd_wnd
                        ),
                        recent: conn.recent(),
                    });
                }
                None => {
                    // Retransmit the first unacknowledged piece, or probe a shut window
                    // with one byte past it.
                    let una = conn.snd_una;
                    if ahead_or_at(una, data_end) {
                        self.send_piece(conn, data, start, data_end, 0, true)?;
                    } else {
                        let in_flight = conn.snd_nxt.wrapping_sub(una);
                        let n = in_flight.clamp(1, mss).min(data_end.wrapping_sub(una));
                        self.send_piece(conn, data, start, una, n, false)?;
                    }
                    rto = (rto * 2).min(MAX_RTO);
                    timer = Some(Instant::now() + rto);
                }
            }
        }
    }

    /// Sends `n` bytes of `data` (which starts at relative `start`) from relative `at`,
    /// or the FIN at `at` when `fin`.
    fn send_piece(
        &mut self,
        conn: &mut Connection,
        data: &[u8],
        start: u32,
        at: u32,
        n: u32,
        fin: bool,
    ) -> Result<(), ExpectError> {
        let from = at.wrapping_sub(start) as usize;
        let payload = data[from..from + n as usize].to_vec();
        let out = Outgoing::data(at, conn.rcv_nxt(), conn.window(), payload, fin);
        Ok(self.send(conn, &out)?)
    }

    /// `w > "..."`: waits until the target has sent `len` more bytes in order,
    /// acknowledging every segment with data at once, and returns them.
    pub fn recv_data(
        &mut self,
        conn: &mut Connection,
        len: usize,
        within: Duration,
    ) -> Result<Vec<u8>, ExpectError> {
        let deadline = Instant::now() + within;
        while conn.received.len() < len {
            if conn.fin_received() {
                return Err(ExpectError::Data {
                    expected: format!("{len} bytes"),
                    actual: format!(
                        "{} bytes, then its FIN: {}",
                        conn.received.len(),
                        shown(conn.received.make_contiguous())
                    ),
                    recent: conn.recent(),
                });
            }
            if self
                .receive(conn, deadline, "before it sent everything")?
                .is_none()
            {
                return Err(ExpectError::Stalled {
                    during: format!("receiving {len} bytes"),
                    waited: within,
                    state: format!("{} arrived in order", conn.received.len()),
                    recent: conn.recent(),
                });
            }
        }
        Ok(conn.received.drain(..len).collect())
    }

    /// `w > fin`: waits for the target's FIN after everything a step took, and
    /// acknowledges it.
    pub fn recv_fin(&mut self, conn: &mut Connection, within: Duration) -> Result<(), ExpectError> {
        let deadline = Instant::now() + within;
        while !conn.fin_received() {
            if self
                .receive(conn, deadline, "instead of closing")?
                .is_none()
            {
                return Err(ExpectError::Stalled {
                    during: "waiting for the target's FIN".into(),
                    waited: within,
                    state: format!("{} bytes arrived that no step took", conn.received.len()),
                    recent: conn.recent(),
                });
            }
        }
        if !conn.received.is_empty() {
            return Err(ExpectError::Data {
                expected: "its FIN".into(),
                actual: format!(
                    "{} more bytes first: {}",
                    conn.received.len(),
                    shown(conn.received.make_contiguous())
                ),
                recent: conn.recent(),
            });
        }
        Ok(())
    }

    /// `w < window N`: from now on the harness advertises at most `n` bytes, and
    /// sends an ACK that says so (a window update, RFC 9293 3.8.6.2.2).
    pub fn advertise(&mut self, conn: &mut Connection, n: u16) -> Result<(), ExpectError> {
        conn.advertise = Some(n);
        self.acknowledge(conn)
    }

    /// The next segment on `conn` as a receiver takes it: acknowledged if it carries
    /// anything, an error if it resets the connection (`during` says when), `None`
    /// once `deadline` passes.
    fn receive(
        &mut self,
        conn: &mut Connection,
        deadline: Instant,
        during: &str,
    ) -> Result<Option<Segment>, ExpectError> {
        let Some(s) = self.next_segment(conn, deadline)? else {
            return Ok(None);
        };
        if s.flags.contains(Flags::RST) {
            return Err(reset(conn, &s, during));
        }
        if needs_ack(conn, &s) {
            self.acknowledge(conn)?;
        }
        Ok(Some(s))
    }

    /// A bare ACK of everything received so far.
    fn acknowledge(&mut self, conn: &mut Connection) -> Result<(), ExpectError> {
        let out = Outgoing::data(
            conn.snd_nxt,
            conn.rcv_nxt(),
            conn.window(),
            Vec::new(),
            false,
        );
        Ok(self.send(conn, &out)?)
    }
}

/// Whether a correct receiver answers `s` with an ACK: it carries data or a FIN, or it
/// lies before RCV.NXT (a window probe, a keepalive, a retransmission: RFC 9293
/// 3.10.7.4 answers an unacceptable segment with an ACK).
fn needs_ack(conn: &Connection, s: &Segment) -> bool {
    let old = conn.irs.is_some_and(|irs| {
        let rel = s.seq.wrapping_sub(irs);
        (rel.wrapping_sub(conn.rcv_nxt()) as i32) < 0 && !s.flags.contains(Flags::SYN)
    });
    !s.payload.is_empty() || s.flags.contains(Flags::FIN) || old
}

/// Whether relative `a` is at or past `b`, in sequence-space order (RFC 9293 3.4).
fn ahead_or_at(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) as i32 >= 0
}

fn reset(conn: &Connection, s: &Segment, during: &str) -> ExpectError {
    ExpectError::Reset {
        during: during.into(),
        segment: conn.describe(s, Direction::Out),
        recent: conn.recent(),
    }
}

/// Up to 64 bytes as text, for a message, with the count when there are more.
pub fn shown(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    let text = format!("{:?}", String::from_utf8_lossy(head));
    if bytes.len() > head.len() {
        format!("{text}... ({} bytes)", bytes.len())
    } else {
        text
    }
}

/// The bytes `N bytes` sends: the alphabet over and over, so a pcap shows where a
/// segment falls in the stream and misplaced data shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}
