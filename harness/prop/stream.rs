//! Running one [`StreamCase`]: the target connects to a peer listener, then each
//! direction's writer and reader run on their own threads (a writer may block until the
//! reader drains the window) and the reader checks every byte against the pattern.
//!
//! With the `bulk` capability the bytes are made and checked inside the adapters
//! (`send_pattern`, `recv_pattern`); without it they cross the protocol as hex.

use super::case::{Ending, StreamCase};
use crate::adapter::{Fault, RequestSender, Session};
use crate::protocol::{self, capability, pattern, Call, Done, Reply, Request, Response};
use crate::run::{close_sandbox, Sessions, Settings};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// A session shared by the threads of one side. Requests go out through the session's
/// sender, so nobody waits to send; one waiting thread at a time reads answers and
/// hands each to the thread that asked (a condition variable wakes it), so an answer is
/// taken the moment it arrives: nothing polls.
struct Link<'a> {
    name: &'static str,
    sender: Box<dyn RequestSender>,
    inbox: Mutex<Inbox>,
    arrived: Condvar,
    timeout: Duration,
    /// Set by the first flow that fails: the others stop instead of waiting out a send
    /// that nobody will ever read.
    abort: &'a AtomicBool,
}

struct Inbox {
    /// The session, unless a thread has it out, reading.
    session: Option<Box<dyn Session>>,
    next_id: u64,
    outstanding: HashSet<u64>,
    answers: HashMap<u64, Response>,
    /// Why reading failed, for every thread still waiting.
    broken: Option<Fault>,
}

/// Why a stream case failed, or could not be run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StreamError {
    #[error("{stage} {fault}")]
    Open { stage: &'static str, fault: Fault },
    #[error("{side}: {fault}")]
    Broke { side: &'static str, fault: Fault },
    #[error("{side} `{op}` failed with {errno}")]
    Errno {
        side: &'static str,
        op: &'static str,
        errno: String,
    },
    #[error("{side} `{op}` still blocked after {after:?}")]
    Blocked {
        side: &'static str,
        op: &'static str,
        after: Duration,
    },
    #[error("{side}: `{op}` answered without {field}")]
    Missing {
        side: &'static str,
        op: &'static str,
        field: &'static str,
    },
    #[error("{side} send of {len} bytes reported {sent} sent")]
    BadSent {
        side: &'static str,
        len: u64,
        sent: u64,
    },
    /// A byte that is not the pattern's; the text has the bytes around it.
    #[error("{0}")]
    Mismatch(String),
    #[error("end of stream after {got} of {total} bytes")]
    EndedEarly { got: u64, total: usize },
    #[error("received {got} bytes, more than the {total} sent")]
    TooMuch { got: u64, total: usize },
    #[error("the target lacks the `concurrent` capability, which stream properties need")]
    NotConcurrent,
    /// What a flow stopped by another flow's failure reports; never the verdict.
    #[error("stopped because another flow failed")]
    Aborted,
    #[error("{0} panicked")]
    Panicked(&'static str),
    #[error("{direction}: {source}")]
    InDirection {
        direction: &'static str,
        #[source]
        source: Box<StreamError>,
    },
}

/// How often a reading thread looks up from the session to see whether another flow
/// failed. Only a failing case waits for it: answers are taken as they arrive.
const ABORT_CHECK: Duration = Duration::from_millis(100);

impl<'a> Link<'a> {
    fn new(
        name: &'static str,
        session: Box<dyn Session>,
        timeout: Duration,
        abort: &'a AtomicBool,
    ) -> Self {
        Link {
            name,
            abort,
            sender: session.sender(),
            inbox: Mutex::new(Inbox {
                session: Some(session),
                next_id: 0,
                outstanding: HashSet::new(),
                answers: HashMap::new(),
                broken: None,
            }),
            arrived: Condvar::new(),
            timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls and waits; an errno, a timeout or a broken adapter is an `Err` in words.
    fn call(&self, call: Call) -> Result<Done, StreamError> {
        let op = call.op_name();
        let broke = |fault| StreamError::Broke {
            side: self.name,
            fault,
        };
        let id = {
            let mut inbox = self.lock();
            inbox.next_id += 1;
            let id = inbox.next_id;
            inbox.outstanding.insert(id);
            id
        };
        self.sender.send(&Request { id, call }).map_err(broke)?;
        let deadline = Instant::now() + self.timeout;
        let mut inbox = self.lock();
        loop {
            if let Some(r) = inbox.answers.remove(&id) {
                return match r.result {
                    Reply::Ok(done) => Ok(done),
                    Reply::Err(e) => Err(StreamError::Errno {
                        side: self.name,
                        op,
                        errno: e.errno,
                    }),
                };
            }
            if let Some(fault) = &inbox.broken {
                return Err(broke(fault.clone()));
            }
            if Instant::now() >= deadline {
                return Err(StreamError::Blocked {
                    side: self.name,
                    op,
                    after: self.timeout,
                });
            }
            if self.abort.load(Ordering::SeqCst) {
                return Err(StreamError::Aborted);
            }
            let until = deadline.min(Instant::now() + ABORT_CHECK);
            match inbox.session.take() {
                // Another thread is reading: wait for it to hand something over.
                None => {
                    let left = until.saturating_duration_since(Instant::now());
                    inbox = self
                        .arrived
                        .wait_timeout(inbox, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                // This thread reads, without holding the inbox.
                Some(mut session) => {
                    drop(inbox);
                    let got = session.recv(until);
                    inbox = self.lock();
                    inbox.session = Some(session);
                    match got {
                        Ok(Some(r)) => {
                            if inbox.outstanding.remove(&r.id) {
                                inbox.answers.insert(r.id, r);
                            } else {
                                inbox.broken = Some(Fault::UnknownId { id: r.id });
                            }
                        }
                        Ok(None) => {}
                        Err(fault) => inbox.broken = Some(fault),
                    }
                    self.arrived.notify_all();
                }
            }
        }
    }

    fn sock(&self, call: Call) -> Result<u64, StreamError> {
        let op = call.op_name();
        self.call(call)?.sock.ok_or(self.missing(op, "`sock`"))
    }

    fn missing(&self, op: &'static str, field: &'static str) -> StreamError {
        StreamError::Missing {
            side: self.name,
            op,
            field,
        }
    }

    fn into_session(self) -> Box<dyn Session> {
        self.inbox
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .session
            .expect("no thread reads once the flows have ended")
    }
}

/// One side of a connection: its link, socket, and whether it has `bulk`.
struct End<'a> {
    link: &'a Link<'a>,
    sock: u64,
    bulk: bool,
}

impl End<'_> {
    /// shutdown(SHUT_WR): the other side reads end of stream, this side can still read.
    fn shutdown_write(&self) -> Result<(), StreamError> {
        self.link
            .call(Call::Shutdown {
                sock: self.sock,
                how: protocol::How::Wr,
            })
            .map(drop)
    }

    /// Sends pattern bytes `[0, total)` with the write sizes, retrying partial sends.
    fn send_all(
        &self,
        seed: u64,
        sizes: &[usize],
        total: usize,
        pause: Duration,
    ) -> Result<(), StreamError> {
        let mut off = 0;
        for (k, n) in StreamCase::pieces(sizes, total).into_iter().enumerate() {
            if k > 0 && !pause.is_zero() {
                // The pause is the case's point (segments leave one by one), not a wait
                // for an event.
                std::thread::sleep(pause);
            }
            let end = off + n;
            while off < end {
                let len = (end - off) as u64;
                let call = if self.bulk {
                    Call::SendPattern {
                        sock: self.sock,
                        seed,
                        offset: off as u64,
                        len,
                    }
                } else {
                    Call::Send {
                        sock: self.sock,
                        data: protocol::hex_encode(&pattern::fill(seed, off as u64, len as usize)),
                        flags: Vec::new(),
                    }
                };
                let sent = self
                    .link
                    .call(call)?
                    .sent
                    .ok_or(self.link.missing("send", "`sent`"))?;
                if sent == 0 || sent > len {
                    return Err(StreamError::BadSent {
                        side: self.link.name,
                        len,
                        sent,
                    });
                }
                off += sent as usize;
            }
        }
        Ok(())
    }

    /// Reads with the read sizes until end of stream; every byte must match the pattern
    /// and the stream must end exactly after `total` bytes.
    fn recv_all(&self, seed: u64, sizes: &[usize], total: usize) -> Result<(), StreamError> {
        let mut off = 0u64;
        let mut i = 0;
        loop {
            let max = sizes[i % sizes.len()].max(1) as u64;
            i += 1;
            let (received, mismatch) = if self.bulk {
                let d = self.link.call(Call::RecvPattern {
                    sock: self.sock,
                    seed,
                    offset: off,
                    max,
                })?;
                (
                    d.received
                        .ok_or(self.link.missing("recv_pattern", "`received`"))?,
                    d.mismatch.map(|m| *m),
                )
            } else {
                let d = self.link.call(Call::Recv {
                    sock: self.sock,
                    max,
                    flags: vec![],
                })?;
                let data = d
                    .data
                    .as_deref()
                    .and_then(protocol::hex_decode)
                    .ok_or(self.link.missing("recv", "valid `data`"))?;
                let mismatch = pattern::first_mismatch(seed, off, &data)
                    .map(|k| protocol::Mismatch::found(off, &data, k));
                (data.len() as u64, mismatch)
            };
            if let Some(m) = mismatch {
                let mut text = format!(
                    "byte {} of the stream differs: expected {:#04x}, got {:#04x} (in a read of {max} that returned {received} bytes from offset {off})",
                    m.at,
                    pattern::byte(seed, m.at),
                    m.got
                );
                if let (Some(at), Some(got)) = (
                    m.context_at,
                    m.context.as_deref().and_then(protocol::hex_decode),
                ) {
                    let want = pattern::fill(seed, at, got.len());
                    text.push_str(&format!(
                        "; around it, from byte {at}: expected {}, received {}",
                        protocol::hex_encode(&want),
                        protocol::hex_encode(&got)
                    ));
                }
                return Err(StreamError::Mismatch(text));
            }
            if received == 0 {
                return if off == total as u64 {
                    Ok(())
                } else {
                    Err(StreamError::EndedEarly { got: off, total })
                };
            }
            off += received;
            if off > total as u64 {
                return Err(StreamError::TooMuch { got: off, total });
            }
        }
    }
}

/// Runs the case against a fresh session; `Err` says what went wrong.
pub fn run_case(settings: &Settings, case: &StreamCase) -> Result<(), StreamError> {
    let sessions = Sessions::open(settings, true, false).map_err(|e| StreamError::Open {
        stage: e.stage,
        fault: e.fault,
    })?;
    let abort = AtomicBool::new(false);
    let target = sessions.target.expect("opened with a target");
    let target = Link::new("target", target, settings.timeout, &abort);
    let peer = Link::new("peer", sessions.peer, settings.timeout, &abort);
    let outcome = exercise(&target, &peer, case, &abort);
    let hurry = outcome.is_err();
    let _ = target.into_session().close(hurry);
    let _ = peer.into_session().close(hurry);
    let _ = close_sandbox(sessions.sandbox, hurry);
    outcome
}

fn exercise(
    target: &Link,
    peer: &Link,
    case: &StreamCase,
    abort: &AtomicBool,
) -> Result<(), StreamError> {
    let hello = Call::Hello {
        protocol: protocol::VERSION,
    };
    let caps = target.call(hello.clone())?.capabilities.unwrap_or_default();
    peer.call(hello)?;
    if !caps.iter().any(|c| c == capability::CONCURRENT) {
        return Err(StreamError::NotConcurrent);
    }
    let bulk = caps.iter().any(|c| c == capability::BULK);
    let l = peer.sock(Call::Socket {
        family: protocol::Family::Ipv4,
    })?;
    peer.call(Call::Bind {
        sock: l,
        addr: "127.0.0.1:0".into(),
    })?;
    peer.call(Call::Listen {
        sock: l,
        backlog: 1,
    })?;
    let addr = peer
        .call(Call::Getsockname { sock: l })?
        .addr
        .ok_or(peer.missing("getsockname", "`addr`"))?;
    let c = target.sock(Call::Socket {
        family: protocol::Family::Ipv4,
    })?;
    if case.nodelay {
        target.call(Call::Setsockopt {
            sock: c,
            opt: "TCP_NODELAY".into(),
            value: Some(1),
        })?;
    }
    target.call(Call::Connect { sock: c, addr })?;
    let s = peer.sock(Call::Accept { sock: l })?;
    let pause = Duration::from_millis(case.pause_ms);
    let (t, p) = (
        End {
            link: target,
            sock: c,
            bulk,
        },
        End {
            link: peer,
            sock: s,
            bulk: true,
        },
    );
    // A failing flow stops the others; their "stopped" never hides the real cause.
    let note = |r: Result<(), StreamError>, direction: &'static str| {
        r.map_err(|e| {
            abort.store(true, Ordering::SeqCst);
            match e {
                StreamError::Aborted => e,
                e => StreamError::InDirection {
                    direction,
                    source: Box::new(e),
                },
            }
        })
    };
    let out = |r: Result<(), StreamError>| note(r, "target to peer");
    let back = |r: Result<(), StreamError>| note(r, "peer to target");
    match case.ending {
        Ending::Close => std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                t.send_all(case.seed, &case.writes, case.len, pause)
                    .and_then(|_| target.call(Call::Close { sock: c }).map(drop))
            });
            let read = out(p.recv_all(case.seed, &case.reads, case.len));
            let wrote = writer
                .join()
                .unwrap_or(Err(StreamError::Panicked("the writer")));
            verdict([read, out(wrote)])
        }),
        Ending::HalfCloseThenReply { reply } => {
            std::thread::scope(|scope| {
                let writer = scope.spawn(|| {
                    t.send_all(case.seed, &case.writes, case.len, pause)
                        .and_then(|_| t.shutdown_write())
                });
                let read = out(p.recv_all(case.seed, &case.reads, case.len));
                let wrote = writer
                    .join()
                    .unwrap_or(Err(StreamError::Panicked("the writer")));
                verdict([read, out(wrote)])
            })?;
            std::thread::scope(|scope| {
                let writer = scope.spawn(|| {
                    p.send_all(case.seed ^ 1, &case.writes, reply, pause)
                        .and_then(|_| peer.call(Call::Close { sock: s }).map(drop))
                });
                let read = back(t.recv_all(case.seed ^ 1, &case.reads, reply));
                let wrote = writer
                    .join()
                    .unwrap_or(Err(StreamError::Panicked("the writer")));
                verdict([read, back(wrote)])
            })
        }
        Ending::BothDirections { back: n } => std::thread::scope(|scope| {
            let w1 = scope.spawn(|| {
                t.send_all(case.seed, &case.writes, case.len, pause)
                    .and_then(|_| t.shutdown_write())
            });
            let w2 = scope.spawn(|| {
                p.send_all(case.seed ^ 1, &case.writes, n, pause)
                    .and_then(|_| p.shutdown_write())
            });
            let r1 = scope.spawn(|| out(p.recv_all(case.seed, &case.reads, case.len)));
            let r2 = back(t.recv_all(case.seed ^ 1, &case.reads, n));
            let joined = |h: std::thread::ScopedJoinHandle<'_, Result<(), StreamError>>| {
                h.join().unwrap_or(Err(StreamError::Panicked("a flow")))
            };
            verdict([joined(r1), r2, out(joined(w1)), back(joined(w2))])
        }),
    }
}

/// The case's verdict from its flows: the first real failure, not a flow that was only
/// stopped because of it.
fn verdict<const N: usize>(results: [Result<(), StreamError>; N]) -> Result<(), StreamError> {
    let errors: Vec<StreamError> = results.into_iter().filter_map(Result::err).collect();
    let real = errors.iter().find(|e| !matches!(e, StreamError::Aborted));
    match real.or(errors.first()) {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}
