//! The state of one running scenario ([`Runner`]): both sides' protocol sessions with
//! their request bookkeeping ([`Conn`]), the names steps bound, the programs started,
//! and the helpers every kind of step shares to decode an answer, check it against the
//! expectation and record the outcome. The step kinds themselves live in `execute`
//! (socket calls), `bulk` (bulk echo) and `programs` (programs under test).

use super::describe::{self, Actual, Value};
use super::outcome::{Failure, FailureKind, StepRecord};
use super::settings::{Settings, CANCEL_POLL};
use super::wires::WireEnds;
use crate::adapter::{Fault, Session};
use crate::program::Program;
use crate::protocol::{self, errno, Call, Done, Reply, Request, Response};
use crate::remote::{Connection, Wire};
use crate::script::{
    AddrExpr, Expect, Ident, Op, OptValue, Outcome, PollEvent, Side, Step, StepKind, Yield,
};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What ends a scenario early.
pub(super) enum Stop {
    Failed(Box<Failure>),
    Fault(Side, Box<Fault>, Box<Failure>),
}

impl Stop {
    pub(super) fn fault(side: Side, fault: Fault, at: Failure) -> Self {
        Stop::Fault(side, Box::new(fault), Box::new(at))
    }
}

/// One side's protocol session with request bookkeeping.
pub(super) struct Conn {
    pub(super) session: Option<Box<dyn Session>>,
    cancel: Arc<AtomicBool>,
    next_id: u64,
    outstanding: HashSet<u64>,
    arrived: HashMap<u64, Response>,
    /// The last request sent and the last line received, for error messages.
    last_request: String,
    last_response: String,
}

impl Conn {
    /// A conversation over `session`; `None` for a program scenario, which has no
    /// target.
    pub(super) fn new(session: Option<Box<dyn Session>>, cancel: Arc<AtomicBool>) -> Self {
        Conn {
            session,
            cancel,
            next_id: 0,
            outstanding: HashSet::new(),
            arrived: HashMap::new(),
            last_request: String::new(),
            last_response: String::new(),
        }
    }

    pub(super) fn session(&mut self) -> &mut Box<dyn Session> {
        self.session
            .as_mut()
            .expect("session is open until teardown")
    }

    pub(super) fn start(&mut self, call: Call) -> Result<u64, Fault> {
        self.next_id += 1;
        let request = Request {
            id: self.next_id,
            call,
        };
        self.last_request = serde_json::to_string(&request).unwrap_or_default();
        self.session().send(&request)?;
        self.outstanding.insert(request.id);
        Ok(request.id)
    }

    /// The answer to `id`, or `None` if it has not come by `deadline`.
    pub(super) fn wait(&mut self, id: u64, deadline: Instant) -> Result<Option<Response>, Fault> {
        loop {
            if let Some(r) = self.arrived.remove(&id) {
                return Ok(Some(r));
            }
            if self.cancel.load(Ordering::SeqCst) {
                return Err(Fault::Cancelled);
            }
            let slice = deadline.min(Instant::now() + CANCEL_POLL);
            let Some(r) = self.session().recv(slice)? else {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                continue;
            };
            self.last_response = serde_json::to_string(&r).unwrap_or_default();
            if !self.outstanding.remove(&r.id) {
                return Err(Fault::UnknownId { id: r.id });
            }
            self.arrived.insert(r.id, r);
        }
    }

    pub(super) fn call(
        &mut self,
        call: Call,
        deadline: Instant,
    ) -> Result<Option<Response>, Fault> {
        let id = self.start(call)?;
        self.wait(id, deadline)
    }

    pub(super) fn exchange(&self) -> String {
        match (self.last_request.is_empty(), self.last_response.is_empty()) {
            (true, _) => "nothing was exchanged yet".into(),
            (false, true) => format!("last request {}; no answer yet", self.last_request),
            (false, false) => format!(
                "last request {}; last answer {}",
                self.last_request, self.last_response
            ),
        }
    }

    pub(super) fn close(&mut self) -> Vec<String> {
        let hurry = self.cancel.load(Ordering::SeqCst);
        self.session
            .take()
            .map(|s| s.close(hurry))
            .unwrap_or_default()
    }
}

/// What a name holds at run time.
#[derive(Debug, Clone)]
pub(super) enum Slot {
    Socket {
        side: Side,
        handle: u64,
    },
    Pending {
        side: Side,
        id: u64,
        op: Op,
    },
    Addr(SocketAddr),
    /// A socket option value read earlier.
    Value(OptValue),
}

pub(super) struct Runner<'a> {
    pub(super) settings: &'a Settings,
    pub(super) target: Conn,
    pub(super) peer: Conn,
    pub(super) names: HashMap<String, Slot>,
    pub(super) records: Vec<StepRecord>,
    /// Started programs by name.
    pub(super) programs: HashMap<String, Program>,
    /// How programs enter the scenario's sandbox, if there is one.
    pub(super) program_join: Option<crate::sandbox::Join>,
    /// `/proc/PID/net` of the namespace the programs run in.
    pub(super) net_dir: PathBuf,
    /// Programs whose ending an `exit` step has already reported.
    pub(super) exit_checked: HashSet<String>,
    /// Programs whose ending a failure has already explained.
    pub(super) explained: HashSet<String>,
    /// Whether a `listening` step of this scenario has passed: a later one that fails
    /// (a restarted server, a second instance) is the scenario's finding, not a
    /// submission that never began.
    pub(super) listened: bool,
    /// Sockets shut down for reading (`shutdown(s, rd)`): their end of stream is their
    /// own doing, not the peer's, and messages say so.
    pub(super) read_shut: HashSet<(Side, u64)>,
    /// The scenario's wire (a wire scenario with a wire device), or why there is none.
    pub(super) wire: Result<Option<Wire>, String>,
    /// Wire connections by name.
    pub(super) connections: HashMap<String, Connection>,
    /// What `target:0` and `peer:0` mean in this scenario: the run's hosts, or the
    /// stack's link when the adapter declares `link`.
    pub(super) hosts: crate::run::Hosts,
    /// The addresses at the two ends of the scenario's wire.
    pub(super) wire_ends: WireEnds,
    /// Peer sockets that bind a fixed-port client's port instead of a free one.
    pub(super) fixed_port_sockets: HashMap<String, u16>,
}

impl Runner<'_> {
    pub(super) fn conn(&mut self, side: Side) -> &mut Conn {
        match side {
            Side::Target => &mut self.target,
            Side::Peer => &mut self.peer,
            Side::Harness => unreachable!("harness steps use no adapter"),
        }
    }

    pub(super) fn deadline(&self) -> Instant {
        Instant::now() + self.settings.timeout
    }

    pub(super) fn fail(
        &self,
        step: &Step,
        expected: String,
        actual: String,
        detail: Option<String>,
    ) -> Stop {
        Stop::Failed(Box::new(self.failure(step, expected, actual, detail)))
    }

    pub(super) fn failure(
        &self,
        step: &Step,
        expected: String,
        actual: String,
        detail: Option<String>,
    ) -> Failure {
        Failure {
            kind: FailureKind::Expectation,
            line: step.line,
            column: 1,
            step: step.text.clone(),
            expected,
            actual,
            detail,
        }
    }

    pub(super) fn record(&mut self, step: &Step, outcome: String, passed: bool) {
        self.records.push(StepRecord {
            line: step.line,
            step: step.text.clone(),
            outcome,
            passed,
        });
    }

    /// The adapter broke (crashed, hung, garbled) during `step`.
    pub(super) fn broke(&self, step: &Step, side: Side, fault: Fault) -> Stop {
        Stop::fault(
            side,
            fault,
            self.failure(step, "an answer".into(), String::new(), None),
        )
    }

    /// A socket name that the parser knows but whose creating step may have yielded no
    /// socket (an `accept` expected to fail). Using it is a failure, not a panic.
    pub(super) fn bound(&self, step: &Step, id: &Ident) -> Result<(Side, u64), Stop> {
        match self.names.get(&id.name) {
            Some(Slot::Socket { side, handle }) => Ok((*side, *handle)),
            _ => Err(self.fail(
                step,
                format!("a socket named `{}`", id.name),
                "the step that creates it did not yield one".into(),
                None,
            )),
        }
    }

    /// Whether the step reads from a socket that an earlier step shut down for reading.
    fn reads_shut_socket(&self, step: &Step) -> bool {
        let StepKind::Call {
            side,
            op: Op::Recv { sock, .. } | Op::RecvAll { sock, .. },
            ..
        } = &step.kind
        else {
            return false;
        };
        match self.names.get(&sock.name) {
            Some(Slot::Socket { handle, .. }) => self.read_shut.contains(&(*side, *handle)),
            _ => false,
        }
    }

    /// The option value `id` holds. The parser knows the name, but the step that read
    /// it may have failed (an errno was expected there).
    fn value(&self, step: &Step, id: &Ident) -> Result<OptValue, Stop> {
        match self.names.get(&id.name) {
            Some(Slot::Value(v)) => Ok(*v),
            _ => Err(self.fail(
                step,
                format!("an option value named `{}`", id.name),
                "the step that reads it did not yield one".into(),
                None,
            )),
        }
    }

    pub(super) fn addr(&mut self, step: &Step, expr: &AddrExpr) -> Result<SocketAddr, Stop> {
        // A name resolved at parse time whose creating step may not have yielded it.
        let (found, expected, why) = match expr {
            AddrExpr::Literal(a) => return Ok(*a),
            AddrExpr::Host(h, port) => return Ok(SocketAddr::new(self.hosts.ip(*h), *port)),
            AddrExpr::HostWithPortOf(h, id) => {
                let source = match self.names.get(&id.name) {
                    Some(Slot::Addr(_)) => AddrExpr::Saved(id.clone()),
                    _ => AddrExpr::LocalOf(id.clone()),
                };
                let port = self.addr(step, &source)?.port();
                return Ok(SocketAddr::new(self.hosts.ip(*h), port));
            }
            AddrExpr::LocalOf(id) => return self.socket_addr(step, id, true),
            AddrExpr::RemoteOf(id) => return self.socket_addr(step, id, false),
            AddrExpr::Saved(id) => (
                match self.names.get(&id.name) {
                    Some(Slot::Addr(a)) => Some(*a),
                    _ => None,
                },
                format!("the address `{}`", id.name),
                "the step that saves it did not yield one",
            ),
            AddrExpr::WireAddr(id) => (
                self.connections.get(&id.name).map(|c| c.local),
                format!("the wire connection `{}`", id.name),
                "the step that makes it did not run",
            ),
            AddrExpr::ProgramAddr(id) => (
                self.programs.get(&id.name).map(|p| p.addr),
                format!("the address of program `{}`", id.name),
                "the step that starts it did not start it",
            ),
        };
        found.ok_or_else(|| self.fail(step, expected, why.into(), None))
    }

    /// `s.local` or `s.remote`: asked of the side that owns `s` when the step runs.
    fn socket_addr(&mut self, step: &Step, id: &Ident, local: bool) -> Result<SocketAddr, Stop> {
        let (side, handle) = self.bound(step, id)?;
        let call = if local {
            Call::Getsockname { sock: handle }
        } else {
            Call::Getpeername { sock: handle }
        };
        let what = format!("{}.{}", id.name, if local { "local" } else { "remote" });
        let deadline = self.deadline();
        let r = self.conn(side).call(call, deadline);
        let err =
            |me: &Self, actual: String| me.fail(step, format!("the address {what}"), actual, None);
        match r {
            Ok(Some(Response {
                result: Reply::Ok(Done { addr: Some(a), .. }),
                ..
            })) => a
                .parse()
                .map_err(|_| err(self, format!("an unparsable address {a:?}"))),
            Ok(Some(Response {
                result: Reply::Err(e),
                ..
            })) => {
                let actual = format!(
                    "{} from {}",
                    e.errno,
                    if local { "getsockname" } else { "getpeername" }
                );
                // The usual cause in a program's test: the program closed the
                // connection (and unread data made that a reset) before this step.
                let detail = (!local && e.errno == "ENOTCONN").then(|| {
                    format!("`{}` is no longer connected: the other end closed or reset the connection before this step", id.name)
                });
                Err(self.fail(step, format!("the address {what}"), actual, detail))
            }
            Ok(Some(_)) => Err(err(self, "an answer without `addr`".into())),
            Ok(None) => Err(err(self, "no answer".into())),
            Err(f) => Err(Stop::fault(
                side,
                f,
                self.failure(step, format!("the address {what}"), String::new(), None),
            )),
        }
    }

    /// Reads the answer to `op` into what it yielded, checking the fields it must have.
    pub(super) fn actual(&self, op: &Op, r: Option<Response>) -> Result<Actual, Fault> {
        self.decode(op.name(), op.yields(), r)
    }

    /// Reads an answer as a call named `name` that yields `yields`.
    pub(super) fn decode(
        &self,
        name: &'static str,
        yields: Yield,
        r: Option<Response>,
    ) -> Result<Actual, Fault> {
        let Some(r) = r else {
            return Ok(Actual::Blocked(self.settings.timeout));
        };
        let done = match r.result {
            Reply::Err(e) => {
                return Ok(Actual::Errno {
                    name: e.errno,
                    message: e.message,
                })
            }
            Reply::Ok(d) => d,
        };
        let missing = |field| Fault::MissingField { op: name, field };
        let invalid = |field, value: String| Fault::InvalidField {
            op: name,
            field,
            value,
        };
        let value = match yields {
            Yield::Nothing
            | Yield::Backlog
            | Yield::Program
            | Yield::Output
            | Yield::Exit
            | Yield::Connection => Value::Nothing,
            Yield::Socket => Value::Socket(done.sock.ok_or_else(|| missing("sock"))?),
            Yield::Count => Value::Sent(done.sent.ok_or_else(|| missing("sent"))?),
            Yield::Data => {
                let hex = done.data.ok_or_else(|| missing("data"))?;
                Value::Data(
                    protocol::hex_decode(&hex)
                        .ok_or_else(|| invalid("data", hex.chars().take(40).collect()))?,
                )
            }
            Yield::Addr => {
                let a = done.addr.ok_or_else(|| missing("addr"))?;
                Value::Addr(a.parse().map_err(|_| invalid("addr", a.clone()))?)
            }
            Yield::OptValue => match (done.errno, done.value.ok_or_else(|| missing("value"))?) {
                (Some(name), _) => Value::PendingError(name),
                (None, None) => Value::Opt(OptValue::Off),
                (None, Some(v)) => Value::Opt(OptValue::Int(v)),
            },
            Yield::Events => {
                let names = done.revents.ok_or_else(|| missing("revents"))?;
                let mut ev = Vec::new();
                for n in &names {
                    ev.push(PollEvent::from_name(n).ok_or_else(|| invalid("revents", n.clone()))?);
                }
                ev.sort();
                ev.dedup();
                Value::Events(ev)
            }
        };
        Ok(Actual::Done(value))
    }

    /// Checks `actual` against the step's expectation under the run's profile.
    pub(super) fn check(
        &mut self,
        step: &Step,
        yields: Yield,
        expect: Option<&Expect>,
        actual: &Actual,
    ) -> Result<(), Stop> {
        let text = describe::actual(actual);
        let profile = self.settings.profile.clone();
        let alternatives: Vec<_> = expect
            .map(|e| e.for_profile(&profile).cloned().collect())
            .unwrap_or_default();
        if expect.is_some() && alternatives.is_empty() {
            // The scenario states nothing for this profile: any outcome is accepted.
            self.record(
                step,
                format!("{text} (not checked under profile {profile})"),
                true,
            );
            return Ok(());
        }
        let mut wanted = Vec::new();
        let mut ok = false;
        if alternatives.is_empty() {
            wanted.push("success".to_string());
            ok = matches!(actual, Actual::Done(_));
        }
        for alt in &alternatives {
            let addr = match &alt.outcome {
                Outcome::Addr(e) => Some(self.addr(step, e)?),
                _ => None,
            };
            match &alt.outcome {
                Outcome::SameAs(id) => {
                    let value = self.value(step, id)?;
                    wanted.push(format!("{value} (the value `{}` holds)", id.name));
                    ok |= matches!(actual, Actual::Done(Value::Opt(got)) if *got == value);
                }
                Outcome::Eof if self.reads_shut_socket(step) => {
                    wanted.push("eof (0 bytes: this socket was shut down for reading)".into());
                    ok |= matches(&Outcome::Eof, actual, None);
                }
                outcome => {
                    wanted.push(describe::expected(outcome, yields, addr));
                    ok |= matches(outcome, actual, addr);
                }
            }
        }
        self.record(step, text.clone(), ok);
        if ok {
            return Ok(());
        }
        let detail = hint(step, &alternatives, actual);
        Err(self.fail(step, wanted.join(" or "), text, detail))
    }
}

pub(super) fn matches(outcome: &Outcome, actual: &Actual, addr: Option<SocketAddr>) -> bool {
    let Actual::Done(value) = actual else {
        return match (outcome, actual) {
            (Outcome::Errno(want), Actual::Errno { name, .. }) => {
                errno::canonical(want) == errno::canonical(name)
            }
            // `fill_backlog(l, 32) -> ok`: 32 clients connected, none had to stall.
            (Outcome::Ok, Actual::NeverStalled(_)) => true,
            _ => false,
        };
    };
    match (outcome, value) {
        (Outcome::Ok, Value::Exit(s)) => s.code() == Some(0),
        (Outcome::Count(n), Value::Exit(s)) => s.code().map(i64::from) == i64::try_from(*n).ok(),
        (Outcome::NonZero, Value::Exit(s)) => s.code().is_some_and(|c| c != 0),
        (Outcome::Signal(name), Value::Exit(s)) => {
            std::os::unix::process::ExitStatusExt::signal(s) == crate::signals::signal_number(name)
        }
        (Outcome::Ok, _) => true,
        // `getsockopt(s, SO_ERROR) -> ECONNREFUSED`: the error pending, read as a value.
        (Outcome::Errno(want), Value::PendingError(got)) => {
            errno::canonical(want) == errno::canonical(got)
        }
        (Outcome::Count(n), Value::Sent(m)) => n == m,
        (Outcome::Count(n), Value::Data(d)) => *n == d.len() as u64,
        (Outcome::Count(n), Value::Opt(OptValue::Int(v))) => i64::try_from(*n) == Ok(*v),
        (Outcome::Count(n), Value::Backlog(m)) => *n == u64::from(*m),
        (Outcome::Data(want), Value::Data(d)) => want == d,
        (Outcome::Eof, Value::Data(d)) => d.is_empty(),
        (Outcome::Off, Value::Opt(OptValue::Off | OptValue::Int(0))) => true,
        (Outcome::On, Value::Opt(OptValue::Int(v))) => *v != 0,
        (Outcome::Addr(_), Value::Addr(a)) => Some(*a) == addr,
        (Outcome::Events(want), Value::Events(got)) => want == got,
        _ => false,
    }
}

/// Advice for a call that never returned when nothing better is known; dropped where
/// the programs' activity explains the wait, and from grading (a student cannot
/// change the timeout).
pub const RAISE_TIMEOUT: &str = "; raise --timeout if the implementation is just slow";

/// A teaching sentence for common confusions.
fn hint(
    step: &Step,
    alternatives: &[crate::script::Alternative],
    actual: &Actual,
) -> Option<String> {
    match actual {
        // Fewer or more bytes than one expected chunk, from a plain recv: the classic
        // "one send is one recv" assumption.
        Actual::Done(Value::Data(got)) if !got.is_empty() && !waits_for_all(step) => {
            let split = alternatives.iter().any(|a| match &a.outcome {
                Outcome::Data(want) => {
                    want != got && (want.starts_with(got) || got.starts_with(want))
                }
                _ => false,
            });
            split.then(|| "TCP is a byte stream: one recv may return fewer or more bytes than one send wrote".into())
        }
        Actual::Blocked(_) => Some(format!("the call never returned{RAISE_TIMEOUT}")),
        _ => None,
    }
}

/// Whether the step is a `recv` with MSG_WAITALL, which does wait for every byte.
fn waits_for_all(step: &Step) -> bool {
    matches!(
        &step.kind,
        StepKind::Call {
            op: Op::Recv { flags, .. },
            ..
        } if flags.waitall
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{parse, SourceFile};

    fn steps(lines: &str) -> Vec<Step> {
        let text = format!("+++\ntitle = \"t\"\n+++\n{lines}");
        parse(&SourceFile::new("t.scn", &text), "t")
            .unwrap_or_else(|d| panic!("{d:?}"))
            .steps
    }

    fn alternatives(step: &Step) -> Vec<crate::script::Alternative> {
        match &step.kind {
            StepKind::Call {
                expect: Some(e), ..
            } => e.alternatives.clone(),
            _ => panic!("a call with an expectation"),
        }
    }

    #[test]
    fn a_short_plain_recv_gets_the_byte_stream_hint_and_waitall_does_not() {
        let s = steps(
            "c = socket()\nrecv(c, 10) -> \"helloworld\"\nrecv(c, 10, waitall) -> \"helloworld\"\n",
        );
        let short = Actual::Done(Value::Data(b"hello".to_vec()));
        let plain = hint(&s[1], &alternatives(&s[1]), &short);
        assert!(plain.is_some_and(|h| h.contains("byte stream")));
        assert_eq!(hint(&s[2], &alternatives(&s[2]), &short), None);
    }
}
