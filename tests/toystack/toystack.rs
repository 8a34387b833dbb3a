//! A toy TCP receiver on the sandbox's link, for the tests of `prop reassembly`: a
//! user-space stack that attaches like lwIP or smoltcp (an adapter with the `link`
//! capability, the TAP named by `SOCKSPEC_LINK`) and does just enough TCP to be told a
//! stream: a listener, the passive open, in-order and out-of-order data, the FIN, and
//! the application's `accept`, `recv` and `close`; and, for `prop retransmission`, just
//! enough of a sender: `send` queues data that goes out within the peer's window, is
//! retransmitted from the first unacknowledged byte when its timer runs out (doubling),
//! probes a shut window with one byte, and ends with a FIN after `close`.
//!
//! `toystack` alone is a correct receiver: every reassembly property holds. With a
//! fault it is a mutant, wrong in one classic way (tests/reassembly.rs names the
//! property that catches each):
//!
//! - `early-delivery`: out-of-order bytes go to the application at once;
//! - `drop-gap-filler`: the segment at RCV.NXT is dropped while later data is held;
//! - `overlap-appended`: a segment that begins in delivered data (overlapping RCV.NXT,
//!   or a duplicate) is delivered whole, the old bytes again;
//! - `ack-beyond`: the ACK covers the highest byte received, gaps and all;
//! - `wrap-loss`: bytes of a segment past 2^32 arrive as zeros;
//! - `stall-when-full`: with two runs of data held beyond a gap, every further segment is
//!   dropped, the one that would fill the gap too (smoltcp #452's shape);
//! - `garbled-retransmission` (sending): a retransmission carries other bytes;
//! - `ignore-window` (sending): data goes out whatever window the peer offers;
//! - `no-retransmit` (sending): the retransmission timer runs out and nothing is sent;
//! - `close-drops-unsent` (sending): close sends the FIN at once, after what has gone
//!   out, and the bytes still waiting for the window are dropped.
//!
//! Usage: `toystack [FAULT]`, run by sockspec as `--adapter`.

use sockspec::protocol::{Call, Done, Failure, Reply, Request, Response};
use sockspec::wire::ethernet::{self, Arp, Mac, ARP_REPLY, ARP_REQUEST};
use sockspec::wire::segment::{self, Checksum, Flags, Packet, Segment, TcpOption};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    EarlyDelivery,
    DropGapFiller,
    OverlapAppended,
    AckBeyond,
    WrapLoss,
    StallWhenFull,
    GarbledRetransmission,
    IgnoreWindow,
    NoRetransmit,
    CloseDropsUnsent,
}

impl Fault {
    fn from_name(name: &str) -> Option<Fault> {
        Some(match name {
            "early-delivery" => Fault::EarlyDelivery,
            "drop-gap-filler" => Fault::DropGapFiller,
            "overlap-appended" => Fault::OverlapAppended,
            "ack-beyond" => Fault::AckBeyond,
            "wrap-loss" => Fault::WrapLoss,
            "stall-when-full" => Fault::StallWhenFull,
            "garbled-retransmission" => Fault::GarbledRetransmission,
            "ignore-window" => Fault::IgnoreWindow,
            "no-retransmit" => Fault::NoRetransmit,
            "close-drops-unsent" => Fault::CloseDropsUnsent,
            _ => return None,
        })
    }
}

const MAC: Mac = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x77];
const ISS: u32 = 7000;
/// The window the toy advertises, less what the application has not read.
const BUFFER: usize = 65535;
/// The first retransmission timeout of what the toy sends.
const RTO: std::time::Duration = std::time::Duration::from_millis(200);
const MSS: u64 = 1460;

/// One connection, from the SYN on.
struct Conn {
    remote: SocketAddr,
    /// The remote's ISN + 1: stream offset 0.
    base: u32,
    established: bool,
    /// Stream offset of RCV.NXT.
    next: u64,
    /// Bytes held beyond RCV.NXT, by stream offset.
    held: BTreeMap<u64, u8>,
    /// The highest stream offset received + 1 (for `ack-beyond`).
    high: u64,
    /// Bytes for the application.
    app: VecDeque<u8>,
    fin: Option<u64>,
    reset: bool,
    closed: bool,
    /// Sending: everything the application wrote (offset 0 is ISS + 1).
    out: Vec<u8>,
    /// Offsets of SND.UNA and SND.NXT in `out`, and the most ever sent.
    una: u64,
    nxt: u64,
    sent_high: u64,
    /// The peer's window from its last ACK.
    peer_window: u32,
    /// The FIN went out (it follows all of `out`).
    fin_sent: bool,
    rto: std::time::Duration,
    timer: Option<std::time::Instant>,
}

impl Conn {
    /// The ACK number: RCV.NXT, plus the FIN once everything before it arrived.
    fn ack(&self, fault: Fault) -> u32 {
        let next = if fault == Fault::AckBeyond {
            self.high.max(self.next)
        } else {
            self.next
        };
        let fin = u64::from(self.fin == Some(self.next));
        self.base.wrapping_add((next + fin) as u32)
    }

    /// What is free of the buffer past RCV.NXT: held bytes lie inside the window, so
    /// they do not shrink it (its right edge never moves left, RFC 9293 3.8.6).
    fn window(&self, fault: Fault) -> u16 {
        let free = BUFFER.saturating_sub(self.app.len()) as u64;
        // `ack-beyond` keeps the right edge where it belongs, so it breaks one rule only.
        let ahead = match fault {
            Fault::AckBeyond => self.high.max(self.next) - self.next,
            _ => 0,
        };
        free.saturating_sub(ahead) as u16
    }

    fn eof(&self) -> bool {
        self.fin == Some(self.next) && self.app.is_empty()
    }

    /// The sequence number of sending offset `off`.
    fn seq(&self, off: u64) -> u32 {
        ISS.wrapping_add(1).wrapping_add(off as u32)
    }

    fn fin_acked(&self) -> bool {
        self.fin_sent && self.una > self.out.len() as u64
    }

    /// An ACK from the peer: SND.UNA moves up (the FIN counts one past the data), the
    /// window is the peer's latest word, the timer restarts or stops.
    fn acknowledged(&mut self, ack: u32, window: u16) {
        let off = u64::from(ack.wrapping_sub(ISS.wrapping_add(1)));
        let most = self.out.len() as u64 + u64::from(self.fin_sent);
        if off > most {
            return;
        }
        if off > self.una {
            self.una = off;
            self.rto = RTO;
            self.timer = None;
            let data_una = self.una.min(self.out.len() as u64);
            if self.nxt < data_una {
                self.nxt = data_una;
            }
        }
        if off >= self.una {
            self.peer_window = u32::from(window);
        }
    }

    /// Runs of held bytes: how many separate blocks lie beyond the gap.
    fn runs(&self) -> usize {
        let mut runs = 0;
        let mut last = None;
        for &off in self.held.keys() {
            if last != Some(off.wrapping_sub(1)) {
                runs += 1;
            }
            last = Some(off);
        }
        runs
    }

    /// Takes a segment's bytes at stream offset `start` (absolute sequence `seq`).
    fn take(&mut self, seq: u32, start: u64, data: &[u8], fault: Fault) {
        let in_order = start <= self.next;
        match fault {
            Fault::DropGapFiller if in_order && !self.held.is_empty() => return,
            Fault::StallWhenFull if self.runs() >= 2 => return,
            Fault::OverlapAppended if start < self.next && !data.is_empty() => {
                // The whole segment, the part already delivered included.
                self.app.extend(data);
                self.next = self.next.max(start + data.len() as u64);
                self.high = self.high.max(self.next);
                return;
            }
            Fault::EarlyDelivery if start > self.next => {
                self.app.extend(data);
                self.high = self.high.max(start + data.len() as u64);
                return;
            }
            _ => {}
        }
        let room = self.next + u64::from(self.window(Fault::None));
        for (i, &byte) in data.iter().enumerate() {
            let off = start + i as u64;
            if off < self.next || off >= room {
                continue;
            }
            // A segment that crosses 2^32: the bytes past it "lost" to a bad comparison.
            let wrapped = seq.checked_add(i as u32).is_none();
            let byte = if fault == Fault::WrapLoss && wrapped {
                0
            } else {
                byte
            };
            self.held.entry(off).or_insert(byte);
            self.high = self.high.max(off + 1);
        }
        while let Some(b) = self.held.remove(&self.next) {
            self.app.push_back(b);
            self.next += 1;
        }
    }
}

struct Stack {
    tap: std::fs::File,
    own: Ipv4Addr,
    fault: Fault,
    macs: HashMap<Ipv4Addr, Mac>,
    listener: Option<u16>,
    /// Handles: 1 is the listener; connections from 2.
    conns: HashMap<u64, Conn>,
    accept_queue: VecDeque<u64>,
    next_handle: u64,
    next_port: u16,
    bound: HashMap<u64, u16>,
}

impl Stack {
    fn send_segment(&mut self, s: &Segment) {
        let packet = s.to_packet(Checksum::Correct);
        let IpAddr4(dst) = IpAddr4::of(s.dst);
        let mac = self.macs.get(&dst).copied().unwrap_or([0xff; 6]);
        let frame = ethernet::build(mac, MAC, 0x0800, &packet);
        let _ = self.tap.write_all(&frame);
    }

    fn reply(&mut self, to: SocketAddr, port: u16, seq: u32, ack: u32, flags: Flags, window: u16) {
        let options = if flags.contains(Flags::SYN) {
            vec![TcpOption::Mss(1460)]
        } else {
            Vec::new()
        };
        let s = Segment {
            src: SocketAddr::from((self.own, port)),
            dst: to,
            seq,
            ack,
            flags,
            window,
            urgent: 0,
            options,
            payload: Vec::new(),
        };
        self.send_segment(&s);
    }

    fn frame(&mut self, bytes: &[u8]) {
        let Some(f) = ethernet::parse(bytes) else {
            return;
        };
        if !ethernet::is_for(f.dst, MAC) {
            return;
        }
        match f.ethertype {
            0x0806 => {
                if let Some(arp) = Arp::parse(f.payload) {
                    self.macs.insert(arp.sender_ip, arp.sender_mac);
                    if arp.op == ARP_REQUEST && arp.target_ip == self.own {
                        let answer = Arp {
                            op: ARP_REPLY,
                            sender_mac: MAC,
                            sender_ip: self.own,
                            target_mac: arp.sender_mac,
                            target_ip: arp.sender_ip,
                        };
                        let frame = ethernet::build(arp.sender_mac, MAC, 0x0806, &answer.encode());
                        let _ = self.tap.write_all(&frame);
                    }
                }
            }
            0x0800 => {
                if let Ok(Packet::Tcp {
                    segment,
                    checksum_ok: true,
                }) = segment::parse(f.payload)
                {
                    let IpAddr4(src) = IpAddr4::of(segment.src);
                    self.macs.insert(src, f.src);
                    self.tcp(segment);
                }
            }
            _ => {}
        }
    }

    fn tcp(&mut self, s: Segment) {
        let Some(port) = self.listener.filter(|p| *p == s.dst.port()) else {
            return;
        };
        let found = self
            .conns
            .iter()
            .find(|(_, c)| c.remote == s.src)
            .map(|(h, _)| *h);
        let Some(h) = found else {
            if s.flags == Flags::SYN {
                let handle = self.next_handle;
                self.next_handle += 1;
                self.conns.insert(
                    handle,
                    Conn {
                        remote: s.src,
                        base: s.seq.wrapping_add(1),
                        established: false,
                        next: 0,
                        held: BTreeMap::new(),
                        high: 0,
                        app: VecDeque::new(),
                        fin: None,
                        reset: false,
                        closed: false,
                        out: Vec::new(),
                        una: 0,
                        nxt: 0,
                        sent_high: 0,
                        peer_window: u32::from(s.window),
                        fin_sent: false,
                        rto: RTO,
                        timer: None,
                    },
                );
                let ack = s.seq.wrapping_add(1);
                self.reply(
                    s.src,
                    port,
                    ISS,
                    ack,
                    Flags::SYN | Flags::ACK,
                    BUFFER as u16,
                );
            }
            return;
        };
        let fault = self.fault;
        let conn = self.conns.get_mut(&h).expect("found");
        if s.flags.contains(Flags::RST) {
            conn.reset = true;
            return;
        }
        if s.flags == Flags::SYN {
            // The SYN again: the SYN-ACK was lost.
            let ack = conn.base;
            self.reply(
                s.src,
                port,
                ISS,
                ack,
                Flags::SYN | Flags::ACK,
                BUFFER as u16,
            );
            return;
        }
        if !conn.established {
            if s.flags.contains(Flags::ACK) && s.ack == ISS.wrapping_add(1) {
                conn.established = true;
                self.accept_queue.push_back(h);
            } else {
                return;
            }
        }
        if s.flags.contains(Flags::ACK) {
            conn.acknowledged(s.ack, s.window);
        }
        let start = u64::from(s.seq.wrapping_sub(conn.base));
        if !s.payload.is_empty() {
            conn.take(s.seq, start, &s.payload, fault);
        }
        if s.flags.contains(Flags::FIN) {
            let at = start + s.payload.len() as u64;
            conn.fin.get_or_insert(at);
        }
        if !s.payload.is_empty() || s.flags.contains(Flags::FIN) {
            let (ack, window) = (conn.ack(fault), conn.window(fault));
            let seq = conn.seq(conn.nxt);
            self.reply(s.src, port, seq, ack, Flags::ACK, window);
        }
        self.transmit(h, false);
    }

    /// Sends what the window allows of connection `h`'s data, then its FIN; with
    /// `expired`, the retransmission timer ran out: back to SND.UNA, or a probe.
    fn transmit(&mut self, h: u64, expired: bool) {
        let fault = self.fault;
        let port = self.listener.unwrap_or(0);
        let Some(c) = self.conns.get_mut(&h) else {
            return;
        };
        if !c.established || c.reset {
            return;
        }
        if expired && fault == Fault::NoRetransmit {
            c.timer = None;
            return;
        }
        if expired {
            c.nxt = c.una.min(c.out.len() as u64);
            c.rto = (c.rto * 2).min(std::time::Duration::from_secs(2));
            c.timer = None;
        }
        let mut segments = Vec::new();
        if fault == Fault::CloseDropsUnsent && c.closed && !c.fin_sent {
            let sent = c.sent_high.max(c.nxt) as usize;
            c.out.truncate(sent.min(c.out.len()));
        }
        let len = c.out.len() as u64;
        let window = if fault == Fault::IgnoreWindow {
            u64::MAX / 2
        } else {
            u64::from(c.peer_window)
        };
        let mut edge = c.una + window;
        // A shut window gets a probe of one byte when the timer runs out (RFC 9293 3.8.6.1).
        if window == 0 && expired && c.una < len {
            edge = c.una + 1;
        }
        while c.nxt < len && c.nxt < edge {
            let n = MSS.min(len - c.nxt).min(edge - c.nxt);
            let mut payload = c.out[c.nxt as usize..(c.nxt + n) as usize].to_vec();
            if fault == Fault::GarbledRetransmission && c.nxt < c.sent_high {
                for b in &mut payload {
                    *b ^= 0x55;
                }
            }
            segments.push((c.seq(c.nxt), payload, false));
            c.nxt += n;
        }
        if c.closed && c.nxt == len && (!c.fin_sent || (expired && !c.fin_acked())) {
            segments.push((c.seq(len), Vec::new(), true));
            c.fin_sent = true;
        }
        c.sent_high = c.sent_high.max(c.nxt);
        let outstanding = c.una < len || (c.fin_sent && !c.fin_acked());
        if outstanding && c.timer.is_none() {
            c.timer = Some(std::time::Instant::now() + c.rto);
        }
        let (remote, ack, win) = (c.remote, c.ack(fault), c.window(fault));
        for (seq, payload, fin) in segments {
            let flags = if fin {
                Flags::FIN | Flags::ACK
            } else {
                Flags::PSH | Flags::ACK
            };
            let seg = Segment {
                src: SocketAddr::from((self.own, port)),
                dst: remote,
                seq,
                ack,
                flags,
                window: win,
                urgent: 0,
                options: Vec::new(),
                payload,
            };
            self.send_segment(&seg);
        }
    }

    /// The earliest retransmission timer, and its connection.
    fn next_timer(&self) -> Option<(std::time::Instant, u64)> {
        self.conns
            .iter()
            .filter_map(|(h, c)| c.timer.map(|t| (t, *h)))
            .min()
    }
}

/// An IPv4 address out of a socket address (the toy speaks IPv4 only).
struct IpAddr4(Ipv4Addr);

impl IpAddr4 {
    fn of(a: SocketAddr) -> IpAddr4 {
        match a.ip() {
            std::net::IpAddr::V4(v4) => IpAddr4(v4),
            std::net::IpAddr::V6(_) => IpAddr4(Ipv4Addr::UNSPECIFIED),
        }
    }
}

fn ok(id: u64, done: Done) -> Response {
    Response {
        id,
        result: Reply::Ok(done),
    }
}

fn err(id: u64, errno: &str) -> Response {
    Response {
        id,
        result: Reply::Err(Failure {
            errno: errno.into(),
            message: Some(format!("toystack: {errno}")),
        }),
    }
}

/// Answers `req` now, or `None` when it must wait (an accept with nothing queued, a
/// recv with nothing to read).
fn answer(stack: &mut Stack, req: &Request) -> Option<Response> {
    let id = req.id;
    Some(match &req.call {
        Call::Hello { .. } => ok(
            id,
            Done {
                name: Some("toystack".into()),
                protocol: Some(1),
                capabilities: Some(vec!["link".into(), "ipv4".into(), "concurrent".into()]),
                ..Done::default()
            },
        ),
        Call::Socket { .. } => {
            let h = stack.next_handle;
            stack.next_handle += 1;
            ok(
                id,
                Done {
                    sock: Some(h),
                    ..Done::default()
                },
            )
        }
        Call::Bind { sock, addr } => {
            let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) else {
                return Some(err(id, "EINVAL"));
            };
            let port = if port == 0 {
                stack.next_port += 1;
                stack.next_port
            } else {
                port
            };
            stack.bound.insert(*sock, port);
            ok(id, Done::default())
        }
        Call::Listen { sock, .. } => {
            stack.listener = stack.bound.get(sock).copied();
            ok(id, Done::default())
        }
        Call::Getsockname { sock } => match stack.bound.get(sock) {
            Some(port) => ok(
                id,
                Done {
                    addr: Some(format!("{}:{port}", stack.own)),
                    ..Done::default()
                },
            ),
            None => err(id, "EINVAL"),
        },
        Call::Accept { .. } => {
            let h = stack.accept_queue.pop_front()?;
            let remote = stack.conns[&h].remote;
            ok(
                id,
                Done {
                    sock: Some(h),
                    addr: Some(remote.to_string()),
                    ..Done::default()
                },
            )
        }
        Call::Recv { sock, max, .. } => {
            let Some(c) = stack.conns.get_mut(sock) else {
                return Some(err(id, "EBADF"));
            };
            if c.reset {
                return Some(err(id, "ECONNRESET"));
            }
            if c.app.is_empty() && !c.eof() {
                return None;
            }
            let n = (*max as usize).min(c.app.len());
            let data: Vec<u8> = c.app.drain(..n).collect();
            ok(
                id,
                Done {
                    data: Some(sockspec::protocol::hex_encode(&data)),
                    ..Done::default()
                },
            )
        }
        Call::Close { sock } => {
            if let Some(c) = stack.conns.get_mut(sock) {
                if !c.closed && !c.reset {
                    c.closed = true;
                    stack.transmit(*sock, false);
                }
            }
            ok(id, Done::default())
        }
        Call::Send { sock, data, .. } => {
            let Some(bytes) = sockspec::protocol::hex_decode(data) else {
                return Some(err(id, "EINVAL"));
            };
            let Some(c) = stack.conns.get_mut(sock) else {
                return Some(err(id, "EBADF"));
            };
            if c.reset || c.closed {
                return Some(err(id, "EPIPE"));
            }
            c.out.extend_from_slice(&bytes);
            stack.transmit(*sock, false);
            ok(
                id,
                Done {
                    sent: Some(bytes.len() as u64),
                    ..Done::default()
                },
            )
        }
        _ => err(id, "ENOSYS"),
    })
}

fn open_tap(name: &str) -> std::io::Result<std::fs::File> {
    let path = std::env::var("SOCKSPEC_TUN").unwrap_or_else(|_| "/dev/net/tun".into());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    // SAFETY: an ifreq zeroed, then its name and flags set, as TUNSETIFF reads it.
    unsafe {
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in name.bytes().take(libc::IFNAMSIZ - 1).enumerate() {
            ifr.ifr_name[i] = b as libc::c_char;
        }
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        if libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut ifr) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(file)
}

fn main() {
    let fault = match std::env::args().nth(1) {
        None => Fault::None,
        Some(name) => Fault::from_name(&name).unwrap_or_else(|| {
            eprintln!("toystack: unknown fault {name}");
            std::process::exit(2)
        }),
    };
    let (Ok(name), Ok(addr)) = (
        std::env::var("SOCKSPEC_LINK"),
        std::env::var("SOCKSPEC_LINK_ADDR"),
    ) else {
        eprintln!("toystack: no link (SOCKSPEC_LINK, SOCKSPEC_LINK_ADDR): run it sandboxed");
        std::process::exit(1)
    };
    let own: Ipv4Addr = addr
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("SOCKSPEC_LINK_ADDR is ADDR/PREFIX");
    let tap = open_tap(&name).unwrap_or_else(|e| {
        eprintln!("toystack: attaching to {name}: {e}");
        std::process::exit(1)
    });
    let mut stack = Stack {
        tap,
        own,
        fault,
        macs: HashMap::new(),
        listener: None,
        conns: HashMap::new(),
        accept_queue: VecDeque::new(),
        next_handle: 1,
        next_port: 40000,
        bound: HashMap::new(),
    };
    // SAFETY: stdin is ours for the process's life.
    let stdin = unsafe { OwnedFd::from_raw_fd(0) };
    let mut input: Vec<u8> = Vec::new();
    let mut waiting: Vec<Request> = Vec::new();
    let mut out = std::io::stdout();
    let mut buf = vec![0u8; 65536];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: stdin.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stack.tap.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let wait = stack.next_timer().map_or(-1, |(t, _)| {
            t.saturating_duration_since(std::time::Instant::now())
                .as_millis()
                .min(1000) as i32
        });
        // SAFETY: two pollfds we own.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, wait) } < 0 {
            continue;
        }
        while let Some((t, h)) = stack.next_timer() {
            if t > std::time::Instant::now() {
                break;
            }
            stack.transmit(h, true);
        }
        if fds[1].revents & libc::POLLIN != 0 {
            if let Ok(n) = stack.tap.read(&mut buf) {
                let frame = buf[..n].to_vec();
                stack.frame(&frame);
            }
        }
        if fds[0].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            // SAFETY: reading into our buffer from our stdin.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
            input.extend_from_slice(&buf[..n as usize]);
            while let Some(end) = input.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = input.drain(..=end).collect();
                match serde_json::from_slice::<Request>(&line) {
                    Ok(req) => waiting.push(req),
                    Err(e) => eprintln!("toystack: bad request: {e}"),
                }
            }
        }
        // Whatever can be answered now, in order of arrival.
        let mut still = Vec::new();
        for req in waiting.drain(..) {
            match answer(&mut stack, &req) {
                Some(r) => {
                    let mut line = serde_json::to_vec(&r).expect("responses serialize");
                    line.push(b'\n');
                    let _ = out.write_all(&line);
                }
                None => still.push(req),
            }
        }
        let _ = out.flush();
        waiting = still;
    }
}
