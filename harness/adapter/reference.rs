//! The reference adapter: the adapter protocol executed on the Linux kernel's sockets
//! through socket2.
//!
//! Calls that can block (accept, connect, send, recv, poll) each run on their own
//! thread, so a blocked call never holds up the next request, as the protocol requires.
//! Handles are never reused, so a closed handle answers EBADF for good, even when the
//! kernel reuses the descriptor number. A socket is held by `Arc`: `close` drops the
//! table's reference while a call blocked on it keeps its own, which is exactly the
//! kernel's rule (close(2) NOTES: close does not wake a thread blocked in recv).

use crate::protocol::{
    self, errno, Call, Done, Family, How, RecvFlag, Request, Response, SendFlag,
};
use rustix::event::{PollFd, PollFlags, Timespec};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// The largest `recv` the reference adapter serves in one call, so a bad request cannot
/// make it allocate without bound.
pub const MAX_RECV: u64 = 16 << 20;

/// The capabilities of the reference adapter: everything protocol v1 defines.
pub fn capabilities() -> Vec<String> {
    use protocol::capability::{BULK, CONCURRENT, IPV4, IPV6, NONBLOCKING, OOB, POLL};
    let mut caps: Vec<String> = [BULK, CONCURRENT, IPV4, IPV6, NONBLOCKING, OOB, POLL]
        .iter()
        .map(|s| s.to_string())
        .collect();
    caps.extend(protocol::SockOpt::ALL.iter().map(|o| o.name().to_string()));
    caps
}

/// The kernel release, for the adapter's name.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

type Answer = Result<Done, (String, String)>;

#[derive(Default)]
struct Workers {
    count: Mutex<usize>,
    idle: Condvar,
}

/// Decrements the worker count when a blocking call's thread ends, however it ends.
struct WorkerGuard(Arc<Workers>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let mut n = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        self.0.idle.notify_all();
    }
}

/// One adapter instance: a table of sockets and the threads of its blocked calls.
#[derive(Default)]
pub struct ReferenceAdapter {
    table: Mutex<HashMap<u64, Arc<Socket>>>,
    /// Every socket ever created, so teardown can wake calls blocked on closed ones.
    created: Mutex<Vec<Weak<Socket>>>,
    next_handle: AtomicU64,
    workers: Arc<Workers>,
}

impl ReferenceAdapter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Executes a request; `reply` is called exactly once, possibly from another thread.
    pub fn handle(
        self: &Arc<Self>,
        request: Request,
        reply: impl FnOnce(Response) + Send + 'static,
    ) {
        let id = request.id;
        if let Call::Close { sock } = request.call {
            // The handle dies at once, so a request after this one sees EBADF whatever
            // order the answers come in. The last reference's drop is close(2), which
            // with SO_LINGER on waits for the data to be delivered: that wait has a
            // thread of its own, and the answer follows it.
            let taken = self
                .table
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&sock);
            match taken {
                None => reply(to_response(id, self.execute(request.call))),
                Some(socket) if socket.linger().ok().flatten().is_some_and(|d| !d.is_zero()) => {
                    self.on_worker("close", move || {
                        drop(socket);
                        reply(to_response(id, Ok(Done::default())));
                    })
                }
                Some(socket) => {
                    drop(socket);
                    reply(to_response(id, Ok(Done::default())));
                }
            }
            return;
        }
        let blocking = matches!(
            request.call,
            Call::Accept { .. }
                | Call::Connect { .. }
                | Call::Send { .. }
                | Call::Recv { .. }
                | Call::Poll { .. }
                | Call::SendPattern { .. }
                | Call::RecvPattern { .. }
        );
        if !blocking {
            reply(to_response(id, self.execute(request.call)));
            return;
        }
        let me = self.clone();
        self.on_worker(request.call.op_name(), move || {
            reply(to_response(id, me.execute(request.call)));
        });
    }

    /// Runs a call that may block on a thread of its own, counted among the workers
    /// that teardown waits for.
    fn on_worker(&self, op: &str, work: impl FnOnce() + Send + 'static) {
        *self.workers.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let guard = WorkerGuard(self.workers.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("ref-{op}"))
            .spawn(move || {
                let _guard = guard;
                work();
            });
        if let Err(e) = spawned {
            // The closure (and with it `reply`) is gone; the caller sees no answer and
            // times out, which names the call. Nothing else can be done without a thread.
            eprintln!("sockspec: failed to start a thread for a blocking call: {e}");
        }
    }

    /// Wakes every blocked call (shutdown of every socket ever made), closes all
    /// sockets, and waits up to `grace` for the call threads. Returns how many are left.
    pub fn shutdown(&self, grace: Duration) -> usize {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let created = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        for sock in created.iter().filter_map(Weak::upgrade) {
            let _ = sock.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + grace;
        let mut n = self.workers.count.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            n = self
                .workers
                .idle
                .wait_timeout(n, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *n
    }

    fn register(&self, sock: Socket) -> u64 {
        let sock = Arc::new(sock);
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed) + 1;
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&sock));
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(handle, sock);
        handle
    }

    fn get(&self, handle: u64) -> Result<Arc<Socket>, (String, String)> {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&handle)
            .cloned()
            .ok_or_else(|| {
                (
                    "EBADF".to_string(),
                    format!("no open socket with handle {handle}"),
                )
            })
    }

    fn execute(&self, call: Call) -> Answer {
        let done = Done::default();
        match call {
            Call::Unknown => Err(("ENOSYS".into(), "unknown op".into())),
            Call::Hello { protocol: v } => {
                if v != protocol::VERSION {
                    return Err((
                        "EPROTO".into(),
                        format!(
                            "protocol {v} is not supported; this adapter speaks {}",
                            protocol::VERSION
                        ),
                    ));
                }
                Ok(Done {
                    name: Some(format!("linux {} (sockspec reference)", kernel_release())),
                    protocol: Some(protocol::VERSION),
                    capabilities: Some(capabilities()),
                    ..done
                })
            }
            Call::Socket { family } => {
                let domain = match family {
                    Family::Ipv4 => Domain::IPV4,
                    Family::Ipv6 => Domain::IPV6,
                    Family::Unknown => return Err(unknown_word("family")),
                };
                let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(os)?;
                Ok(Done {
                    sock: Some(self.register(sock)),
                    ..done
                })
            }
            Call::Bind { sock, addr } => {
                let s = self.get(sock)?;
                s.bind(&parse_addr(&addr)?).map_err(os)?;
                Ok(done)
            }
            Call::Listen { sock, backlog } => {
                self.get(sock)?.listen(backlog).map_err(os)?;
                Ok(done)
            }
            Call::Accept { sock } => {
                let (new, peer) = self.get(sock)?.accept().map_err(os)?;
                Ok(Done {
                    sock: Some(self.register(new)),
                    addr: peer.as_socket().map(|a| a.to_string()),
                    ..done
                })
            }
            Call::Connect { sock, addr } => {
                let s = self.get(sock)?;
                s.connect(&parse_addr(&addr)?).map_err(os)?;
                Ok(done)
            }
            Call::Send { sock, data, flags } => {
                let bytes = protocol::hex_decode(&data)
                    .ok_or_else(|| ("EINVAL".to_string(), "`data` is not hex".to_string()))?;
                let s = self.get(sock)?;
                let mut f = libc::MSG_NOSIGNAL;
                for flag in flags {
                    f |= match flag {
                        SendFlag::Oob => libc::MSG_OOB,
                        SendFlag::Unknown => return Err(unknown_word("send flag")),
                    };
                }
                let n = s.send_with_flags(&bytes, f).map_err(os)?;
                Ok(Done {
                    sent: Some(n as u64),
                    ..done
                })
            }
            Call::Recv { sock, max, flags } => {
                let s = self.get(sock)?;
                let mut f = 0;
                for flag in flags {
                    f |= match flag {
                        RecvFlag::Oob => libc::MSG_OOB,
                        RecvFlag::Peek => libc::MSG_PEEK,
                        RecvFlag::Waitall => libc::MSG_WAITALL,
                        RecvFlag::Dontwait => libc::MSG_DONTWAIT,
                        RecvFlag::Trunc => libc::MSG_TRUNC,
                        RecvFlag::Unknown => return Err(unknown_word("recv flag")),
                    };
                }
                let bytes = recv_bytes(&s, max, f).map_err(os)?;
                Ok(Done {
                    data: Some(protocol::hex_encode(&bytes)),
                    ..done
                })
            }
            Call::Shutdown { sock, how } => {
                let how = match how {
                    How::Rd => Shutdown::Read,
                    How::Wr => Shutdown::Write,
                    How::Rdwr => Shutdown::Both,
                    How::Unknown => return Err(unknown_word("`how`")),
                };
                self.get(sock)?.shutdown(how).map_err(os)?;
                Ok(done)
            }
            Call::Close { sock } => {
                self.get(sock)?;
                self.table
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&sock);
                Ok(done)
            }
            Call::Getsockname { sock } => {
                let a = self.get(sock)?.local_addr().map_err(os)?;
                Ok(Done {
                    addr: Some(format_addr(&a)),
                    ..done
                })
            }
            Call::Getpeername { sock } => {
                let a = self.get(sock)?.peer_addr().map_err(os)?;
                Ok(Done {
                    addr: Some(format_addr(&a)),
                    ..done
                })
            }
            Call::Setsockopt { sock, opt, value } => {
                let s = self.get(sock)?;
                set_option(&s, &opt, value)?;
                Ok(done)
            }
            Call::Getsockopt { sock, opt } if opt == "SO_ERROR" => {
                // Reading SO_ERROR clears it (socket(7)): one read, answered by name.
                let pending = self.get(sock)?.take_error().map_err(os)?;
                Ok(Done {
                    value: Some(Some(
                        pending
                            .as_ref()
                            .map_or(0, |e| i64::from(e.raw_os_error().unwrap_or(libc::EIO))),
                    )),
                    errno: pending.map(|e| errno::describe(&e).0),
                    ..done
                })
            }
            Call::Getsockopt { sock, opt } => {
                let s = self.get(sock)?;
                Ok(Done {
                    value: Some(get_option(&s, &opt)?),
                    ..done
                })
            }
            Call::Sockatmark { sock } => {
                let s = self.get(sock)?;
                // sockatmark(3) is the SIOCATMARK ioctl on Linux (asm-generic/sockios.h).
                const SIOCATMARK: libc::c_ulong = 0x8905;
                let mut at: libc::c_int = 0;
                // SAFETY: the descriptor is one this table owns, and SIOCATMARK writes
                // one int through the pointer.
                let r = unsafe {
                    libc::ioctl(
                        std::os::fd::AsRawFd::as_raw_fd(&*s),
                        SIOCATMARK as _,
                        &mut at as *mut libc::c_int,
                    )
                };
                if r < 0 {
                    return Err(os(io::Error::last_os_error()));
                }
                Ok(Done {
                    value: Some(Some(i64::from(at))),
                    ..done
                })
            }
            Call::Nonblocking { sock, on } => {
                self.get(sock)?.set_nonblocking(on).map_err(os)?;
                Ok(done)
            }
            Call::SendPattern {
                sock,
                seed,
                offset,
                len,
            } => {
                let s = self.get(sock)?;
                let bytes = protocol::pattern::fill(seed, offset, len.min(MAX_RECV) as usize);
                let n = s.send_with_flags(&bytes, libc::MSG_NOSIGNAL).map_err(os)?;
                Ok(Done {
                    sent: Some(n as u64),
                    ..done
                })
            }
            Call::RecvPattern {
                sock,
                seed,
                offset,
                max,
            } => {
                let s = self.get(sock)?;
                let bytes = recv_bytes(&s, max, 0).map_err(os)?;
                let mismatch = protocol::pattern::first_mismatch(seed, offset, &bytes)
                    .map(|i| Box::new(protocol::Mismatch::found(offset, &bytes, i)));
                Ok(Done {
                    received: Some(bytes.len() as u64),
                    mismatch,
                    ..done
                })
            }
            Call::Poll {
                sock,
                events,
                timeout_ms,
            } => {
                let s = self.get(sock)?;
                Ok(Done {
                    revents: Some(poll(&s, &events, timeout_ms)?),
                    ..done
                })
            }
        }
    }
}

fn to_response(id: u64, answer: Answer) -> Response {
    match answer {
        Ok(done) => Response::ok(id, done),
        Err((errno, message)) => Response::err(id, errno, message),
    }
}

fn os(e: io::Error) -> (String, String) {
    errno::describe(&e)
}

/// One recv of at most `max` bytes (capped at [`MAX_RECV`]). With MSG_TRUNC a TCP
/// socket discards what it counts without copying: those bytes are answered as zeros.
fn recv_bytes(s: &Socket, max: u64, flags: libc::c_int) -> io::Result<Vec<u8>> {
    // Zeroed by the allocator (fresh pages for large buffers), so every byte is
    // initialised whatever recv copies.
    let mut buf = vec![0u8; max.min(MAX_RECV) as usize];
    // SAFETY: u8 and MaybeUninit<u8> have the same layout, and recv only writes bytes.
    let uninit = unsafe { &mut *(buf.as_mut_slice() as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let n = s.recv_with_flags(uninit, flags)?.min(buf.len());
    buf.truncate(n);
    Ok(buf)
}

/// A word this adapter does not know in a field of fixed words: `ENOSYS`, as the
/// protocol asks.
fn unknown_word(field: &str) -> (String, String) {
    ("ENOSYS".into(), format!("unknown {field}"))
}

fn parse_addr(text: &str) -> Result<SockAddr, (String, String)> {
    text.parse::<SocketAddr>().map(SockAddr::from).map_err(|_| {
        (
            "EINVAL".to_string(),
            format!("`{text}` is not an ip:port address"),
        )
    })
}

fn format_addr(a: &SockAddr) -> String {
    a.as_socket()
        .map_or_else(|| "unknown".to_string(), |a| a.to_string())
}

fn bool_value(value: Option<i64>) -> Result<bool, (String, String)> {
    value.map(|v| v != 0).ok_or_else(|| {
        (
            "EINVAL".to_string(),
            "this option takes an integer value".to_string(),
        )
    })
}

fn set_option(s: &Socket, opt: &str, value: Option<i64>) -> Result<(), (String, String)> {
    let size = |v: Option<i64>| -> Result<usize, (String, String)> {
        v.and_then(|v| usize::try_from(v).ok()).ok_or_else(|| {
            (
                "EINVAL".to_string(),
                "buffer sizes are non-negative integers".to_string(),
            )
        })
    };
    match opt {
        "SO_REUSEADDR" => s.set_reuse_address(bool_value(value)?),
        "SO_REUSEPORT" => s.set_reuse_port(bool_value(value)?),
        "TCP_NODELAY" => s.set_tcp_nodelay(bool_value(value)?),
        "SO_KEEPALIVE" => s.set_keepalive(bool_value(value)?),
        "TCP_CORK" => s.set_tcp_cork(bool_value(value)?),
        "TCP_KEEPIDLE" => set_secs(value, |d| rustix::net::sockopt::set_tcp_keepidle(s, d)),
        "TCP_KEEPINTVL" => set_secs(value, |d| rustix::net::sockopt::set_tcp_keepintvl(s, d)),
        "TCP_KEEPCNT" => {
            let n = value.and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
                (
                    "EINVAL".to_string(),
                    "TCP_KEEPCNT takes a count".to_string(),
                )
            })?;
            rustix::net::sockopt::set_tcp_keepcnt(s, n).map_err(io::Error::from)
        }
        "SO_LINGER" => {
            let secs = match value {
                None => None,
                Some(v) => Some(Duration::from_secs(u64::try_from(v).map_err(|_| {
                    (
                        "EINVAL".to_string(),
                        "SO_LINGER takes null or seconds >= 0".to_string(),
                    )
                })?)),
            };
            s.set_linger(secs)
        }
        "SO_RCVBUF" => s.set_recv_buffer_size(size(value)?),
        "SO_SNDBUF" => s.set_send_buffer_size(size(value)?),
        "SO_RCVTIMEO" => s.set_read_timeout(millis(value)?),
        "SO_SNDTIMEO" => s.set_write_timeout(millis(value)?),
        "TCP_USER_TIMEOUT" => s.set_tcp_user_timeout(millis(value)?),
        "IPV6_V6ONLY" => s.set_only_v6(bool_value(value)?),
        "IP_TTL" => set_int(s, libc::IPPROTO_IP, libc::IP_TTL, value),
        "IP_TOS" => set_int(s, libc::IPPROTO_IP, libc::IP_TOS, value),
        "SO_OOBINLINE" => s.set_out_of_band_inline(bool_value(value)?),
        // Passed on as given, so that the kernel judges the range (TCP_MAXSEG below 88
        // is EINVAL).
        "TCP_MAXSEG" => set_int(s, libc::IPPROTO_TCP, libc::TCP_MAXSEG, value),
        "SO_RCVLOWAT" => set_int(s, libc::SOL_SOCKET, libc::SO_RCVLOWAT, value),
        // Read-only options: the kernel's own answer.
        "SO_ACCEPTCONN" => set_int(s, libc::SOL_SOCKET, libc::SO_ACCEPTCONN, value),
        "SO_ERROR" => set_int(s, libc::SOL_SOCKET, libc::SO_ERROR, value),
        other => return Err(("ENOPROTOOPT".into(), format!("unknown option {other}"))),
    }
    .map_err(os)
}

/// A timeout in milliseconds; 0 is none, as a zero `timeval` is for the kernel.
fn millis(value: Option<i64>) -> Result<Option<Duration>, (String, String)> {
    let ms = value.and_then(|v| u64::try_from(v).ok()).ok_or_else(|| {
        (
            "EINVAL".to_string(),
            "timeouts are milliseconds >= 0".to_string(),
        )
    })?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// An integer option the libraries have no call for, set as the kernel takes it.
fn set_int(
    s: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: Option<i64>,
) -> io::Result<()> {
    let v = value
        .and_then(|v| libc::c_int::try_from(v).ok())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the pointer and length describe `v`, which outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// An integer option the libraries have no call for, read as the kernel gives it.
fn get_int(s: &Socket, level: libc::c_int, name: libc::c_int) -> io::Result<i64> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `v`, which outlives the call.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(i64::from(v))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A keepalive timer in whole seconds, as tcp(7) takes it.
fn set_secs(
    value: Option<i64>,
    set: impl FnOnce(Duration) -> rustix::io::Result<()>,
) -> io::Result<()> {
    let secs = value.and_then(|v| u64::try_from(v).ok());
    let secs = secs.ok_or_else(|| io::Error::from(rustix::io::Errno::INVAL))?;
    set(Duration::from_secs(secs)).map_err(io::Error::from)
}

fn secs(r: rustix::io::Result<Duration>) -> Result<Option<i64>, (String, String)> {
    r.map(|d| Some(d.as_secs() as i64))
        .map_err(|e| os(e.into()))
}

fn get_option(s: &Socket, opt: &str) -> Result<Option<i64>, (String, String)> {
    let b = |r: io::Result<bool>| r.map(|v| Some(i64::from(v))).map_err(os);
    let n = |r: io::Result<usize>| r.map(|v| Some(v as i64)).map_err(os);
    let int = |r: io::Result<i64>| r.map(Some).map_err(os);
    let ms = |r: io::Result<Option<Duration>>| {
        r.map(|d| Some(d.map_or(0, |d| d.as_millis() as i64)))
            .map_err(os)
    };
    match opt {
        "SO_REUSEADDR" => b(s.reuse_address()),
        "SO_REUSEPORT" => b(s.reuse_port()),
        "TCP_NODELAY" => b(s.tcp_nodelay()),
        "SO_KEEPALIVE" => b(s.keepalive()),
        "TCP_CORK" => b(s.tcp_cork()),
        "TCP_KEEPIDLE" => secs(rustix::net::sockopt::tcp_keepidle(s)),
        "TCP_KEEPINTVL" => secs(rustix::net::sockopt::tcp_keepintvl(s)),
        "TCP_KEEPCNT" => rustix::net::sockopt::tcp_keepcnt(s)
            .map(|n| Some(i64::from(n)))
            .map_err(|e| os(e.into())),
        "SO_LINGER" => s
            .linger()
            .map(|l| l.map(|d| d.as_secs() as i64))
            .map_err(os),
        "SO_RCVBUF" => n(s.recv_buffer_size()),
        "SO_SNDBUF" => n(s.send_buffer_size()),
        "SO_RCVTIMEO" => ms(s.read_timeout()),
        "SO_SNDTIMEO" => ms(s.write_timeout()),
        "TCP_USER_TIMEOUT" => ms(s.tcp_user_timeout()),
        "IPV6_V6ONLY" => b(s.only_v6()),
        "IP_TTL" => int(get_int(s, libc::IPPROTO_IP, libc::IP_TTL)),
        "IP_TOS" => int(get_int(s, libc::IPPROTO_IP, libc::IP_TOS)),
        "SO_ACCEPTCONN" => b(s.is_listener()),
        "SO_OOBINLINE" => b(s.out_of_band_inline()),
        "TCP_MAXSEG" => int(get_int(s, libc::IPPROTO_TCP, libc::TCP_MAXSEG)),
        "SO_RCVLOWAT" => int(get_int(s, libc::SOL_SOCKET, libc::SO_RCVLOWAT)),
        other => Err(("ENOPROTOOPT".into(), format!("unknown option {other}"))),
    }
}

const POLL_BITS: [(&str, PollFlags); 6] = [
    ("in", PollFlags::IN),
    ("pri", PollFlags::PRI),
    ("out", PollFlags::OUT),
    ("err", PollFlags::ERR),
    ("hup", PollFlags::HUP),
    ("rdhup", PollFlags::RDHUP),
];

fn poll(s: &Socket, events: &[String], timeout_ms: u64) -> Result<Vec<String>, (String, String)> {
    let mut mask = PollFlags::empty();
    for e in events {
        let bit = POLL_BITS.iter().find(|(n, _)| n == e).map(|(_, b)| *b);
        mask |= bit.ok_or_else(|| ("EINVAL".to_string(), format!("unknown poll event `{e}`")))?;
    }
    // As poll(2) takes an int of milliseconds, longer waits are cut to its maximum.
    let timeout = Duration::from_millis(timeout_ms.min(i32::MAX as u64));
    let timeout = Timespec::try_from(timeout).expect("fits a timespec");
    let mut fds = [PollFd::new(s, mask)];
    rustix::event::poll(&mut fds, Some(&timeout)).map_err(|e| os(io::Error::from(e)))?;
    let revents = fds[0].revents();
    Ok(POLL_BITS
        .iter()
        .filter(|(_, bit)| revents.intersects(*bit))
        .map(|(n, _)| n.to_string())
        .collect())
}

/// A session with a private reference adapter inside this process.
pub struct InProcess {
    adapter: Arc<ReferenceAdapter>,
    tx: Sender<Response>,
    rx: Receiver<Response>,
}

impl InProcess {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        InProcess {
            adapter: ReferenceAdapter::new(),
            tx,
            rx,
        }
    }
}

impl Default for InProcess {
    fn default() -> Self {
        Self::new()
    }
}

/// How long teardown waits for blocked calls to wake after their sockets shut down.
const TEARDOWN_GRACE: Duration = Duration::from_secs(5);

/// Requests to the in-process adapter, answered on the session's channel.
struct InProcessSender {
    adapter: Arc<ReferenceAdapter>,
    tx: Sender<Response>,
}

impl super::RequestSender for InProcessSender {
    fn send(&self, request: &Request) -> Result<(), super::Fault> {
        let tx = self.tx.clone();
        self.adapter.handle(request.clone(), move |r| {
            let _ = tx.send(r);
        });
        Ok(())
    }
}

impl super::Session for InProcess {
    fn send(&mut self, request: &Request) -> Result<(), super::Fault> {
        self.sender().send(request)
    }

    fn sender(&self) -> Box<dyn super::RequestSender> {
        Box::new(InProcessSender {
            adapter: self.adapter.clone(),
            tx: self.tx.clone(),
        })
    }

    fn recv(&mut self, deadline: Instant) -> Result<Option<Response>, super::Fault> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(r) => Ok(Some(r)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => unreachable!("the session holds a sender"),
        }
    }

    fn close(self: Box<Self>, _hurry: bool) -> Vec<String> {
        match self.adapter.shutdown(TEARDOWN_GRACE) {
            0 => Vec::new(),
            n => vec![format!("{n} blocked call(s) of the reference adapter did not end within {TEARDOWN_GRACE:?}")],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Session;

    /// The answer to this request: answers to earlier background calls (a connect that
    /// completes meanwhile) may come first and are passed over.
    fn call(s: &mut InProcess, id: u64, call: Call) -> Response {
        s.send(&Request { id, call }).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = s.recv(deadline).unwrap().expect("answer");
            if r.id == id {
                return r;
            }
        }
    }

    fn done(r: Response) -> Done {
        match r.result {
            protocol::Reply::Ok(d) => d,
            protocol::Reply::Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn teardown_wakes_a_blocked_accept_and_a_stalled_connect() {
        let mut s = InProcess::new();
        let l = done(call(
            &mut s,
            1,
            Call::Socket {
                family: Family::Ipv4,
            },
        ))
        .sock
        .unwrap();
        call(
            &mut s,
            2,
            Call::Bind {
                sock: l,
                addr: "127.0.0.1:0".into(),
            },
        );
        call(
            &mut s,
            3,
            Call::Listen {
                sock: l,
                backlog: 0,
            },
        );
        let addr = done(call(&mut s, 4, Call::Getsockname { sock: l }))
            .addr
            .unwrap();
        // listen(0) queues one connection; the second connect stalls in SYN_SENT.
        for id in [5, 7] {
            let c = done(call(
                &mut s,
                id,
                Call::Socket {
                    family: Family::Ipv4,
                },
            ))
            .sock
            .unwrap();
            s.send(&Request {
                id: id + 1,
                call: Call::Connect {
                    sock: c,
                    addr: addr.clone(),
                },
            })
            .unwrap();
        }
        s.send(&Request {
            id: 9,
            call: Call::Recv {
                sock: l + 1,
                max: 1,
                flags: vec![],
            },
        })
        .unwrap();
        let started = Instant::now();
        assert!(
            Box::new(s).close(false).is_empty(),
            "blocked calls must end at teardown"
        );
        assert!(started.elapsed() < TEARDOWN_GRACE);
    }

    #[test]
    fn closed_handles_answer_ebadf() {
        let mut s = InProcess::new();
        let a = done(call(
            &mut s,
            1,
            Call::Socket {
                family: Family::Ipv4,
            },
        ))
        .sock
        .unwrap();
        call(&mut s, 2, Call::Close { sock: a });
        match call(
            &mut s,
            3,
            Call::Listen {
                sock: a,
                backlog: 1,
            },
        )
        .result
        {
            protocol::Reply::Err(e) => assert_eq!(e.errno, "EBADF"),
            other => panic!("{other:?}"),
        }
    }
}
