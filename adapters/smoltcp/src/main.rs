//! sockspec adapter for smoltcp: the `smoltcp` crate's TCP on the TAP device the harness
//! gives every scenario's sandbox (docs/adapter-protocol.md, "A user-space stack on a
//! link of its own").
//!
//! smoltcp has no socket API: it has sockets in a set, an interface to poll, and no
//! threads. So this adapter is one event loop: it reads requests from stdin without
//! blocking, answers those that cannot block at once, keeps the others pending, and
//! after every poll of the interface answers the pending ones that can now complete.
//! How the POSIX calls map onto smoltcp, where smoltcp has no equivalent:
//!
//! - `bind` records the endpoint (smoltcp binds when it listens or connects); a port
//!   another socket of this adapter holds is EADDRINUSE; an address the interface does
//!   not have is EADDRNOTAVAIL.
//! - `listen` has no backlog in smoltcp: a listening socket takes one connection and
//!   becomes it. The adapter keeps `backlog + 1` listening sockets on the port (Linux
//!   completes `backlog + 1` connections) and `accept` takes an established one and
//!   puts a fresh listener in its place. A SYN that finds none listening gets an RST.
//! - `close` sends a FIN (smoltcp's `close`) and forgets the handle; the socket stays
//!   in the set until smoltcp is done with it. `shutdown(wr)` is the same FIN.
//! - Errors: smoltcp's are few (InvalidState, Unaddressable, Finished); the adapter
//!   answers with the errno POSIX gives for the state the socket is in.
//!
//! `--timestamps` gives smoltcp a timestamp clock, so its sockets offer and echo RFC 7323
//! timestamps; without it they use none.

use serde_json::{json, Value};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Medium, TunTapInterface};
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

const BUFFER: usize = 256 * 1024;
const FIRST_EPHEMERAL: u16 = 49152;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

enum Kind {
    Fresh,
    Listening {
        port: u16,
        addr: Option<IpAddress>,
        pool: Vec<SocketHandle>,
    },
    Conn(SocketHandle),
}

struct Sock {
    /// Closed by the application: new calls get EBADF, but a call already waiting
    /// goes on (Linux keeps the connection until a blocked recv returns).
    closed: bool,
    family: Family,
    bound: Option<IpListenEndpoint>,
    kind: Kind,
    nonblocking: bool,
    read_shut: bool,
    nodelay: bool,
    keepalive: bool,
}

impl Sock {
    /// (TCP_NODELAY, SO_KEEPALIVE), as set on this socket.
    fn options(&self) -> (bool, bool) {
        (self.nodelay, self.keepalive)
    }

    fn new(family: Family, kind: Kind) -> Sock {
        Sock {
            closed: false,
            family,
            bound: None,
            kind,
            nonblocking: false,
            read_shut: false,
            nodelay: false,
            keepalive: false,
        }
    }
}

/// Why a call did not complete: an errno name and words.
type Errno = (&'static str, &'static str);

enum Step {
    Done(Value),
    Failed(Errno),
    /// Not yet: try again after the next poll.
    Wait,
}

struct Adapter {
    iface: Interface,
    device: TunTapInterface,
    set: SocketSet<'static>,
    socks: HashMap<u64, Sock>,
    next_handle: u64,
    next_port: u16,
    /// Sockets closed by the application, kept until smoltcp is done with them.
    closing: Vec<SocketHandle>,
    v4: Option<IpAddress>,
    v6: Option<IpAddress>,
    /// The data of blocking sends still in progress, by request id.
    outgoing: HashMap<String, Vec<u8>>,
}

/// Set once by `--timestamps`: every socket then offers and echoes RFC 7323
/// timestamps. Off by default: smoltcp 0.12 does not leave room for the option in a
/// full-sized segment, so with timestamps a bulk send stalls (docs/findings.md).
static TIMESTAMPS: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The timestamp clock: milliseconds since the adapter started.
fn tsval() -> u32 {
    TIMESTAMPS
        .get()
        .map_or(0, |start| start.elapsed().as_millis() as u32)
}

fn new_tcp() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; BUFFER]),
        tcp::SocketBuffer::new(vec![0; BUFFER]),
    );
    if TIMESTAMPS.get().is_some() {
        s.set_tsval_generator(Some(tsval));
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn endpoint_text(e: IpEndpoint) -> String {
    let addr: std::net::IpAddr = e.addr.into();
    SocketAddr::new(addr, e.port).to_string()
}

impl Adapter {
    fn family_of(addr: &SocketAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    fn own_addr(&self, family: Family) -> Option<IpAddress> {
        match family {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
        }
    }

    fn port_in_use(&self, port: u16, except: u64) -> bool {
        self.socks.iter().any(|(h, s)| {
            *h != except
                && !s.closed
                && match &s.kind {
                    Kind::Listening { port: p, .. } => *p == port,
                    Kind::Conn(c) => {
                        self.set
                            .get::<tcp::Socket>(*c)
                            .local_endpoint()
                            .map(|e| e.port)
                            == Some(port)
                    }
                    Kind::Fresh => s.bound.map(|b| b.port) == Some(port),
                }
        })
    }

    fn ephemeral(&mut self) -> u16 {
        loop {
            let p = self.next_port;
            self.next_port = if p == u16::MAX {
                FIRST_EPHEMERAL
            } else {
                p + 1
            };
            if !self.port_in_use(p, u64::MAX) {
                return p;
            }
        }
    }

    fn sock(&mut self, req: &Value) -> Result<u64, Errno> {
        let h = req["sock"].as_u64().ok_or(("EINVAL", "no sock"))?;
        let waiting = req["_retry"].as_bool() == Some(true);
        match self.socks.get(&h) {
            Some(s) if !s.closed || waiting => Ok(h),
            _ => Err(("EBADF", "no open socket with this handle")),
        }
    }

    fn addr(req: &Value) -> Result<SocketAddr, Errno> {
        req["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or(("EINVAL", "bad address"))
    }

    /// One attempt at a request: done, failed, or to be tried again after a poll.
    fn attempt(&mut self, req: &mut Value) -> Step {
        match self.try_op(req) {
            Ok(Some(v)) => Step::Done(v),
            Ok(None) => Step::Wait,
            Err(e) => Step::Failed(e),
        }
    }

    /// One attempt at a request. A blocking send that queued part of its data records
    /// how much in the request (`_sent`), so the next attempt goes on from there.
    fn try_op(&mut self, req: &mut Value) -> Result<Option<Value>, Errno> {
        let op = req["op"].as_str().unwrap_or("");
        match op {
            "hello" => {
                if req["protocol"].as_u64() != Some(1) {
                    return Err(("EPROTO", "this adapter speaks protocol 1"));
                }
                Ok(Some(json!({
                    "name": "smoltcp 0.12.0 (sockspec smoltcp adapter)",
                    "protocol": 1,
                    "capabilities": ["concurrent", "ipv4", "ipv6", "link", "nonblocking", "poll", "TCP_NODELAY", "SO_KEEPALIVE"],
                })))
            }
            "socket" => {
                let family = match req["family"].as_str() {
                    Some("ipv4") => Family::V4,
                    Some("ipv6") => Family::V6,
                    _ => return Err(("ENOSYS", "unknown family")),
                };
                self.next_handle += 1;
                self.socks
                    .insert(self.next_handle, Sock::new(family, Kind::Fresh));
                Ok(Some(json!({"sock": self.next_handle})))
            }
            "bind" => {
                let h = self.sock(req)?;
                let a = Self::addr(req)?;
                let s = &self.socks[&h];
                if Self::family_of(&a) != s.family {
                    return Err(("EINVAL", "an address of the other family"));
                }
                if !matches!(s.kind, Kind::Fresh) || s.bound.is_some() {
                    return Err(("EINVAL", "already bound"));
                }
                let ip: IpAddress = a.ip().into();
                let addr = if a.ip().is_unspecified() {
                    None
                } else if Some(ip) == self.own_addr(s.family) {
                    Some(ip)
                } else {
                    return Err(("EADDRNOTAVAIL", "not an address of this interface"));
                };
                let port = if a.port() == 0 {
                    self.ephemeral()
                } else {
                    a.port()
                };
                if self.port_in_use(port, h) {
                    return Err(("EADDRINUSE", "port in use"));
                }
                self.socks.get_mut(&h).unwrap().bound = Some(IpListenEndpoint { addr, port });
                Ok(Some(json!({})))
            }
            "listen" => {
                let h = self.sock(req)?;
                let backlog = req["backlog"].as_u64().unwrap_or(0).clamp(0, 127) as usize;
                let options = self.socks[&h].options();
                let (port, addr, mut pool) =
                    match std::mem::replace(&mut self.socks.get_mut(&h).unwrap().kind, Kind::Fresh)
                    {
                        Kind::Fresh => match self.socks[&h].bound {
                            Some(b) => (b.port, b.addr, Vec::new()),
                            None => (self.ephemeral(), None, Vec::new()),
                        },
                        // listen again: a larger backlog gets more listening sockets.
                        Kind::Listening { port, addr, pool } => (port, addr, pool),
                        kind @ Kind::Conn(_) => {
                            self.socks.get_mut(&h).unwrap().kind = kind;
                            return Err(("EINVAL", "connected"));
                        }
                    };
                while pool.len() <= backlog {
                    pool.push(self.listener(port, addr, options)?);
                }
                self.socks.get_mut(&h).unwrap().kind = Kind::Listening { port, addr, pool };
                Ok(Some(json!({})))
            }
            "accept" => {
                let h = self.sock(req)?;
                let nonblocking = self.socks[&h].nonblocking;
                let Kind::Listening { port, addr, pool } = &self.socks[&h].kind else {
                    return Err(("EINVAL", "not listening"));
                };
                let (port, addr) = (*port, *addr);
                let ready = pool.iter().position(|c| {
                    let s = self.set.get::<tcp::Socket>(*c);
                    !matches!(s.state(), State::Listen | State::SynReceived)
                });
                let Some(i) = ready else {
                    return if nonblocking {
                        Err(("EAGAIN", "no connection waiting"))
                    } else {
                        Ok(None)
                    };
                };
                let options = self.socks[&h].options();
                let fresh = self.listener(port, addr, options)?;
                let family = self.socks[&h].family;
                let Kind::Listening { pool, .. } = &mut self.socks.get_mut(&h).unwrap().kind else {
                    unreachable!()
                };
                let c = pool.remove(i);
                pool.push(fresh);
                let remote = self.set.get::<tcp::Socket>(c).remote_endpoint();
                self.next_handle += 1;
                // The accepted socket inherits the listener's options, as on Linux.
                let mut accepted = Sock::new(family, Kind::Conn(c));
                (accepted.nodelay, accepted.keepalive) = options;
                self.socks.insert(self.next_handle, accepted);
                Ok(Some(
                    json!({"sock": self.next_handle, "addr": remote.map(endpoint_text)}),
                ))
            }
            "connect" => {
                let h = self.sock(req)?;
                let a = Self::addr(req)?;
                match self.socks[&h].kind {
                    Kind::Conn(c) => {
                        // A connect in progress (the first attempt made the socket).
                        let state = self.set.get::<tcp::Socket>(c).state();
                        return match state {
                            State::SynSent => {
                                if self.socks[&h].nonblocking {
                                    Err(("EALREADY", "connecting"))
                                } else {
                                    Ok(None)
                                }
                            }
                            State::Closed if req["_retry"].as_bool() == Some(true) => {
                                Err(("ECONNREFUSED", "the connection was refused"))
                            }
                            // A new connect after a failed one starts afresh, as Linux
                            // allows.
                            State::Closed => {
                                self.set.remove(c);
                                self.socks.get_mut(&h).unwrap().kind = Kind::Fresh;
                                return self.try_op(req);
                            }
                            _ if req["_retry"].as_bool() == Some(true) => Ok(Some(json!({}))),
                            _ => Err(("EISCONN", "already connected")),
                        };
                    }
                    Kind::Listening { .. } => return Err(("EISCONN", "listening")),
                    Kind::Fresh => {}
                }
                if Self::family_of(&a) != self.socks[&h].family {
                    return Err(("EINVAL", "an address of the other family"));
                }
                let local = match self.socks[&h].bound {
                    Some(b) => b,
                    None => IpListenEndpoint {
                        addr: None,
                        port: self.ephemeral(),
                    },
                };
                let mut s = new_tcp();
                s.set_nagle_enabled(!self.socks[&h].nodelay);
                let remote = IpEndpoint::new(a.ip().into(), a.port());
                s.connect(self.iface.context(), remote, local)
                    .map_err(|_| ("EADDRNOTAVAIL", "cannot connect to that address"))?;
                let c = self.set.add(s);
                let sock = self.socks.get_mut(&h).unwrap();
                sock.kind = Kind::Conn(c);
                if sock.nonblocking {
                    Err(("EINPROGRESS", "connecting"))
                } else {
                    Ok(None)
                }
            }
            "send" => {
                let h = self.sock(req)?;
                // Decoded once: a blocking send of a megabyte is attempted many times.
                let id = req["id"].to_string();
                let data = match self.outgoing.remove(&id) {
                    Some(data) => data,
                    None => req["data"]
                        .as_str()
                        .and_then(unhex)
                        .ok_or(("EINVAL", "data is not hex"))?,
                };
                let c = self.conn(h)?;
                let nonblocking = self.socks[&h].nonblocking;
                let s = self.set.get_mut::<tcp::Socket>(c);
                if !s.may_send() {
                    // A connection that broke after part of a blocking send was queued:
                    // that part is the answer.
                    if let Some(sent) = req["_sent"].as_u64() {
                        return Ok(Some(json!({"sent": sent})));
                    }
                    return Err(match s.state() {
                        State::SynSent | State::SynReceived => ("ENOTCONN", "not connected yet"),
                        _ => ("EPIPE", "the connection is closed for sending"),
                    });
                }
                if data.is_empty() {
                    return Ok(Some(json!({"sent": 0})));
                }
                // A blocking send returns once all of its data is queued (POSIX), so it
                // goes on from what earlier attempts queued; a non-blocking one takes
                // what fits.
                let before = req["_sent"].as_u64().unwrap_or(0) as usize;
                let n = s
                    .send_slice(&data[before..])
                    .map_err(|_| ("EPIPE", "cannot send"))?;
                let sent = before + n;
                if nonblocking {
                    return if n == 0 {
                        Err(("EAGAIN", "the send buffer is full"))
                    } else {
                        Ok(Some(json!({"sent": n})))
                    };
                }
                if sent < data.len() {
                    req["_sent"] = json!(sent);
                    self.outgoing.insert(id, data);
                    return Ok(None);
                }
                Ok(Some(json!({"sent": sent})))
            }
            "recv" => {
                let h = self.sock(req)?;
                let max = req["max"].as_u64().unwrap_or(0).min(16 << 20) as usize;
                let mut peek = false;
                let mut waitall = false;
                let mut trunc = false;
                let mut dontwait = self.socks[&h].nonblocking;
                for f in req["flags"].as_array().into_iter().flatten() {
                    match f.as_str() {
                        Some("peek") => peek = true,
                        Some("waitall") => waitall = true,
                        Some("dontwait") => dontwait = true,
                        Some("trunc") => trunc = true,
                        _ => return Err(("ENOSYS", "unknown recv flag")),
                    }
                }
                let c = self.conn(h)?;
                let read_shut = self.socks[&h].read_shut;
                let s = self.set.get_mut::<tcp::Socket>(c);
                // After shutdown(rd), what was queued is still read (as on Linux); then
                // end of stream.
                if read_shut && s.recv_queue() == 0 {
                    return Ok(Some(json!({"data": ""})));
                }
                if matches!(s.state(), State::SynSent | State::SynReceived) {
                    return if dontwait {
                        Err(("EAGAIN", "nothing to read"))
                    } else {
                        Ok(None)
                    };
                }
                let queued = s.recv_queue();
                let ended = read_shut || remote_finished(s.state());
                if queued == 0 && ended {
                    if s.state() == State::Closed {
                        return Err(("ECONNRESET", "the connection was reset"));
                    }
                    return Ok(Some(json!({"data": ""})));
                }
                let enough = if waitall {
                    queued >= max || ended
                } else {
                    queued > 0
                };
                if !enough || max == 0 && queued == 0 {
                    return if dontwait && !waitall {
                        Err(("EAGAIN", "nothing to read"))
                    } else {
                        Ok(None)
                    };
                }
                let mut buf = vec![0u8; max.min(queued)];
                let n = if peek {
                    s.peek_slice(&mut buf)
                } else {
                    s.recv_slice(&mut buf)
                }
                .map_err(|_| ("ECONNRESET", "cannot read"))?;
                if trunc {
                    // MSG_TRUNC as Linux has it for TCP: the bytes are discarded.
                    buf.fill(0);
                }
                Ok(Some(json!({"data": hex(&buf[..n])})))
            }
            "shutdown" => {
                let h = self.sock(req)?;
                let how = req["how"].as_str().unwrap_or("");
                let c = self.conn(h)?;
                if matches!(how, "rd" | "rdwr") {
                    self.socks.get_mut(&h).unwrap().read_shut = true;
                }
                if matches!(how, "wr" | "rdwr") {
                    self.set.get_mut::<tcp::Socket>(c).close();
                }
                if !matches!(how, "rd" | "wr" | "rdwr") {
                    return Err(("ENOSYS", "unknown shutdown direction"));
                }
                Ok(Some(json!({})))
            }
            "close" => {
                let h = self.sock(req)?;
                let sock = self.socks.get_mut(&h).unwrap();
                sock.closed = true;
                match std::mem::replace(&mut sock.kind, Kind::Fresh) {
                    Kind::Conn(c) => {
                        // Kept in the handle for a call still waiting on it.
                        sock.kind = Kind::Conn(c);
                        // Unread data makes it an abort (RFC 9293 3.6, SHLD-3): the peer
                        // learns at once that it was not read.
                        let s = self.set.get_mut::<tcp::Socket>(c);
                        if s.recv_queue() > 0 {
                            s.abort();
                        } else {
                            s.close();
                        }
                        self.closing.push(c);
                    }
                    Kind::Listening { pool, .. } => {
                        for c in pool {
                            self.set.get_mut::<tcp::Socket>(c).abort();
                            self.closing.push(c);
                        }
                    }
                    Kind::Fresh => {}
                }
                Ok(Some(json!({})))
            }
            "getsockname" => {
                let h = self.sock(req)?;
                let s = &self.socks[&h];
                let unspecified = match s.family {
                    Family::V4 => IpAddress::v4(0, 0, 0, 0),
                    Family::V6 => IpAddress::v6(0, 0, 0, 0, 0, 0, 0, 0),
                };
                let e = match &s.kind {
                    Kind::Conn(c) => self.set.get::<tcp::Socket>(*c).local_endpoint(),
                    Kind::Listening { port, addr, .. } => {
                        Some(IpEndpoint::new(addr.unwrap_or(unspecified), *port))
                    }
                    Kind::Fresh => s
                        .bound
                        .map(|b| IpEndpoint::new(b.addr.unwrap_or(unspecified), b.port)),
                }
                .unwrap_or(IpEndpoint::new(unspecified, 0));
                Ok(Some(json!({"addr": endpoint_text(e)})))
            }
            "getpeername" => {
                let h = self.sock(req)?;
                let c = self.conn(h)?;
                let s = self.set.get::<tcp::Socket>(c);
                match (s.state(), s.remote_endpoint()) {
                    (State::SynSent | State::Closed, _) | (_, None) => {
                        Err(("ENOTCONN", "not connected"))
                    }
                    (_, Some(e)) => Ok(Some(json!({"addr": endpoint_text(e)}))),
                }
            }
            "setsockopt" | "getsockopt" => {
                let h = self.sock(req)?;
                let opt = req["opt"].as_str().unwrap_or("");
                let set = op == "setsockopt";
                let on = req["value"].as_i64().unwrap_or(0) != 0;
                let sock = self.socks.get_mut(&h).unwrap();
                let value = match opt {
                    "TCP_NODELAY" => {
                        if set {
                            sock.nodelay = on;
                        }
                        sock.nodelay
                    }
                    "SO_KEEPALIVE" => {
                        if set {
                            sock.keepalive = on;
                        }
                        sock.keepalive
                    }
                    _ => return Err(("ENOPROTOOPT", "smoltcp has no such option")),
                };
                let options = sock.options();
                let handles = match &sock.kind {
                    Kind::Conn(c) => vec![*c],
                    Kind::Listening { pool, .. } => pool.clone(),
                    Kind::Fresh => vec![],
                };
                for c in handles {
                    apply(self.set.get_mut::<tcp::Socket>(c), options);
                }
                Ok(Some(if set {
                    json!({})
                } else {
                    json!({"value": i64::from(value)})
                }))
            }
            "nonblocking" => {
                let h = self.sock(req)?;
                self.socks.get_mut(&h).unwrap().nonblocking = req["on"].as_bool().unwrap_or(false);
                Ok(Some(json!({})))
            }
            "poll" => {
                let h = self.sock(req)?;
                let mut want = Vec::new();
                for e in req["events"].as_array().into_iter().flatten() {
                    match e.as_str() {
                        Some(n @ ("in" | "out" | "rdhup")) => want.push(n),
                        _ => return Err(("EINVAL", "unknown poll event")),
                    }
                }
                let got = self.revents(h);
                let hit: Vec<&str> = got
                    .iter()
                    .copied()
                    .filter(|e| want.contains(e) || matches!(*e, "err" | "hup"))
                    .collect();
                let expired = req["_deadline_passed"].as_bool() == Some(true)
                    || req["timeout_ms"].as_u64() == Some(0);
                if hit.is_empty() && !expired {
                    return Ok(None);
                }
                Ok(Some(json!({"revents": hit})))
            }
            _ => Err(("ENOSYS", "unknown op")),
        }
    }

    fn conn(&self, h: u64) -> Result<SocketHandle, Errno> {
        match self.socks[&h].kind {
            Kind::Conn(c) => Ok(c),
            _ => Err(("ENOTCONN", "not connected")),
        }
    }

    fn listener(
        &mut self,
        port: u16,
        addr: Option<IpAddress>,
        options: (bool, bool),
    ) -> Result<SocketHandle, Errno> {
        let mut s = new_tcp();
        apply(&mut s, options);
        s.listen(IpListenEndpoint { addr, port })
            .map_err(|_| ("EADDRINUSE", "cannot listen"))?;
        Ok(self.set.add(s))
    }

    /// poll(2)'s events for a socket, in the protocol's order.
    fn revents(&self, h: u64) -> Vec<&'static str> {
        let sock = &self.socks[&h];
        let mut out = Vec::new();
        match &sock.kind {
            Kind::Fresh => out.push("hup"),
            Kind::Listening { pool, .. } => {
                if pool.iter().any(|c| {
                    !matches!(
                        self.set.get::<tcp::Socket>(*c).state(),
                        State::Listen | State::SynReceived
                    )
                }) {
                    out.push("in");
                }
            }
            Kind::Conn(c) => {
                let s = self.set.get::<tcp::Socket>(*c);
                let state = s.state();
                if s.can_recv() || sock.read_shut || remote_finished(state) {
                    out.push("in");
                }
                // Writable when a send would not block: room in the buffer, or a send
                // that fails at once (the write side is shut, the connection is gone).
                let write_shut = matches!(
                    state,
                    State::FinWait1
                        | State::FinWait2
                        | State::Closing
                        | State::TimeWait
                        | State::LastAck
                );
                if s.can_send() || write_shut || state == State::Closed {
                    out.push("out");
                }
                if s.state() == State::Closed {
                    out.push("err");
                }
                if matches!(
                    s.state(),
                    State::Closed | State::TimeWait | State::Closing | State::LastAck
                ) {
                    out.push("hup");
                }
                if remote_finished(state) {
                    out.push("rdhup");
                }
            }
        }
        out
    }
}

/// The peer has finished sending (its FIN came, or the connection is gone): what is
/// queued is all there will be.
fn remote_finished(state: State) -> bool {
    matches!(
        state,
        State::CloseWait | State::LastAck | State::Closing | State::TimeWait | State::Closed
    )
}

/// TCP_NODELAY and SO_KEEPALIVE onto a smoltcp socket.
fn apply(s: &mut tcp::Socket, (nodelay, keepalive): (bool, bool)) {
    s.set_nagle_enabled(!nodelay);
    s.set_keep_alive(keepalive.then(|| smoltcp::time::Duration::from_secs(75)));
}

fn respond(id: &Value, step: Result<Value, Errno>) {
    let line = match step {
        Ok(v) => json!({"id": id, "ok": v}),
        Err((errno, message)) => json!({"id": id, "err": {"errno": errno, "message": message}}),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("no link: {name} is not set (run sandboxed)");
        std::process::exit(1)
    })
}

fn main() {
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--timestamps" => {
                let _ = TIMESTAMPS.set(std::time::Instant::now());
            }
            other => {
                eprintln!("unknown argument {other:?} (the one option is --timestamps)");
                std::process::exit(2)
            }
        }
    }
    let name = env("SOCKSPEC_LINK");
    let addr = env("SOCKSPEC_LINK_ADDR");
    let gateway: std::net::Ipv4Addr = env("SOCKSPEC_LINK_GATEWAY")
        .parse()
        .expect("an IPv4 gateway");
    let mut device = TunTapInterface::new(&name, Medium::Ethernet).unwrap_or_else(|e| {
        eprintln!("attaching to {name}: {e}");
        std::process::exit(1)
    });
    let mut config = Config::new(EthernetAddress([0x02, 0x00, 0x5e, 0x00, 0x53, 0x02]).into());
    config.random_seed = std::process::id() as u64 ^ 0x5eed;
    let mut iface = Interface::new(config, &mut device, Instant::now());
    let v4: IpCidr = addr.parse().expect("SOCKSPEC_LINK_ADDR is ADDR/PREFIX");
    let v6: Option<IpCidr> = std::env::var("SOCKSPEC_LINK_ADDR6")
        .ok()
        .and_then(|a| a.parse().ok());
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(v4);
        if let Some(v6) = v6 {
            let _ = addrs.push(v6);
        }
    });
    let _ = iface.routes_mut().add_default_ipv4_route(gateway);
    let mut adapter = Adapter {
        iface,
        device,
        set: SocketSet::new(vec![]),
        socks: HashMap::new(),
        next_handle: 0,
        next_port: FIRST_EPHEMERAL,
        closing: Vec::new(),
        v4: Some(v4.address()),
        v6: v6.map(|c| c.address()),
        outgoing: HashMap::new(),
    };
    // stdin without blocking: the loop waits on it and on the device together.
    // SAFETY: fcntl on our own stdin.
    unsafe {
        let fl = libc::fcntl(0, libc::F_GETFL);
        libc::fcntl(0, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let mut input = Vec::new();
    let mut pending: Vec<(Value, Option<std::time::Instant>)> = Vec::new();
    let mut eof = false;
    while !eof {
        let now = Instant::now();
        adapter
            .iface
            .poll(now, &mut adapter.device, &mut adapter.set);
        // New requests.
        let mut buf = [0u8; 65536];
        loop {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => input.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        while let Some(nl) = input.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = input.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(&text) {
                Ok(req) => {
                    let deadline = req["timeout_ms"]
                        .as_u64()
                        .map(|ms| std::time::Instant::now() + std::time::Duration::from_millis(ms));
                    pending.push((req, deadline));
                }
                Err(_) => respond(
                    &json!(0),
                    Err(("EINVAL", "a request this adapter cannot read")),
                ),
            }
        }
        // Everything pending, in order: answered when it can complete.
        let mut progressed = true;
        while progressed {
            progressed = false;
            let mut still = Vec::new();
            for (mut req, deadline) in std::mem::take(&mut pending) {
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    req["_deadline_passed"] = json!(true);
                }
                match adapter.attempt(&mut req) {
                    Step::Done(v) => {
                        respond(&req["id"], Ok(v));
                        progressed = true;
                    }
                    Step::Failed(e) => {
                        respond(&req["id"], Err(e));
                        progressed = true;
                    }
                    Step::Wait => {
                        req["_retry"] = json!(true);
                        still.push((req, deadline));
                    }
                }
            }
            pending = still;
            if progressed {
                adapter
                    .iface
                    .poll(Instant::now(), &mut adapter.device, &mut adapter.set);
            }
        }
        // Sockets the application closed leave the set once smoltcp is done with them,
        // TIME-WAIT included (RFC 9293 3.6.1: it is what keeps an old duplicate from
        // opening the connection again). Data that arrives for a socket the
        // application closed can never be read: it is answered with a reset (RFC 9293
        // 3.6, SHLD-3), as a kernel does.
        let set = &mut adapter.set;
        let socks = &mut adapter.socks;
        adapter.closing.retain(|c| {
            let s = set.get_mut::<tcp::Socket>(*c);
            // Judged before an abort, so that the reset goes out on the next poll
            // before the socket leaves the set.
            let done = s.state() == State::Closed;
            if !done && s.recv_queue() > 0 {
                s.abort();
            }
            if done {
                // The closed handle that kept it for a waiting call goes with it.
                socks.retain(|_, s| !(s.closed && matches!(s.kind, Kind::Conn(x) if x == *c)));
                set.remove(*c);
            }
            !done
        });
        // Wait for the device, stdin, or smoltcp's next timer (at most 10 ms while
        // calls are pending, for their deadlines).
        let delay = adapter
            .iface
            .poll_delay(Instant::now(), &adapter.set)
            .map_or(1000, |d| d.total_millis().min(1000) as i32);
        let delay = if pending.is_empty() {
            delay
        } else {
            delay.min(10)
        };
        let mut fds = [
            libc::pollfd {
                fd: adapter.device.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, delay) };
    }
}
