//! Runs one scenario: opens the sessions, executes the steps in order, checks each
//! expectation, and stops at the first step that does not hold (later steps depend on
//! earlier ones). Teardown always runs.

use super::describe::{self, Actual, Value};
use super::outcome::{Failure, ScenarioResult, Status, StepRecord};
use super::sessions::{close_sandbox, Sessions};
use crate::program::Program;
use crate::protocol::{self, errno, Call, Done, Reply, Request, Response};
use crate::sandbox::SandboxSpec;
use crate::script::{
    AddrExpr, Expect, Family, Ident, Op, OptValue, Outcome, PollEvent, Scenario, ShutdownHow, Side,
    Step, StepKind, Yield,
};
use crate::target::{Fault, Session, TargetSpec};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a run executes scenarios.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: TargetSpec,
    /// Which profile's expectations apply (`linux`, `posix`, ...).
    pub profile: String,
    /// How long a background call must stay pending for `-> blocks` to hold; also how
    /// long `fill_backlog` waits before it calls a connection stalled.
    pub block_window: Duration,
    /// The longest any single wait for an answer may take.
    pub timeout: Duration,
    /// How long teardown waits for an adapter to exit before it signals.
    pub grace: Duration,
    /// Per-scenario namespaces and limits; `None` runs everything in this process's
    /// network namespace without limits.
    pub sandbox: Option<SandboxSpec>,
    /// Set to stop the run: every wait notices within [`CANCEL_POLL`], scenarios end
    /// early and teardown kills without grace.
    pub cancel: Arc<AtomicBool>,
    /// Commands for program roles (`server` -> `./server {port}`); `{port}` and
    /// `{host}` are filled in when a scenario starts the program.
    pub programs: BTreeMap<String, String>,
    /// The working directory of programs under test (a submission's folder).
    pub program_dir: PathBuf,
}

/// How often a wait looks at [`Settings::cancel`].
pub const CANCEL_POLL: Duration = Duration::from_millis(50);

impl Settings {
    /// The target in words, for reports.
    pub fn describe_target(&self) -> String {
        if !self.programs.is_empty() {
            let bound: Vec<String> = self
                .programs
                .iter()
                .map(|(role, command)| format!("{role}=`{command}`"))
                .collect();
            let boxed = if self.sandbox.is_some() {
                " (sandboxed)"
            } else {
                ""
            };
            return format!("{}{boxed}", bound.join(", "));
        }
        match (&self.target, &self.sandbox) {
            (TargetSpec::Reference, Some(_)) => "the Linux reference (sandboxed)".into(),
            (t, Some(_)) => format!("{} (sandboxed)", t.describe()),
            (t, None) => t.describe(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            target: TargetSpec::Reference,
            profile: "linux".into(),
            block_window: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
            grace: Duration::from_secs(1),
            sandbox: None,
            cancel: Arc::new(AtomicBool::new(false)),
            programs: BTreeMap::new(),
            program_dir: PathBuf::from("."),
        }
    }
}

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
    session: Option<Box<dyn Session>>,
    cancel: Arc<AtomicBool>,
    next_id: u64,
    outstanding: HashSet<u64>,
    arrived: HashMap<u64, Response>,
    /// The last request sent and the last line received, for error messages.
    last_request: String,
    last_response: String,
}

impl Conn {
    fn new(session: Box<dyn Session>, cancel: Arc<AtomicBool>) -> Self {
        Conn {
            session: Some(session),
            cancel,
            next_id: 0,
            outstanding: HashSet::new(),
            arrived: HashMap::new(),
            last_request: String::new(),
            last_response: String::new(),
        }
    }

    /// No session: a program scenario has no target.
    fn absent(cancel: Arc<AtomicBool>) -> Self {
        Conn {
            session: None,
            cancel,
            next_id: 0,
            outstanding: HashSet::new(),
            arrived: HashMap::new(),
            last_request: String::new(),
            last_response: String::new(),
        }
    }

    fn session(&mut self) -> &mut Box<dyn Session> {
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

    fn exchange(&self) -> String {
        match (self.last_request.is_empty(), self.last_response.is_empty()) {
            (true, _) => "nothing was exchanged yet".into(),
            (false, true) => format!("last request {}; no answer yet", self.last_request),
            (false, false) => format!(
                "last request {}; last answer {}",
                self.last_request, self.last_response
            ),
        }
    }

    fn close(&mut self) -> Vec<String> {
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
    Socket { side: Side, handle: u64 },
    Pending { side: Side, id: u64, op: Op },
    Addr(SocketAddr),
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
}

/// Runs one scenario against a fresh session of `settings.target`.
pub fn run_scenario(scenario: &Scenario, settings: &Settings) -> (ScenarioResult, Option<String>) {
    let started = Instant::now();
    let mut result = ScenarioResult::new(scenario);
    let profiles = &scenario.meta.profiles;
    if !profiles.is_empty() && !profiles.contains(&settings.profile) {
        result.status = Status::Skipped;
        result.skip_reason = Some(format!(
            "applies to profile {} only; this run uses profile {}",
            profiles.join(", "),
            settings.profile
        ));
        return (result, None);
    }
    let unbound: Vec<&String> = scenario
        .roles
        .iter()
        .filter(|r| !settings.programs.contains_key(*r))
        .collect();
    if !unbound.is_empty() {
        result.status = Status::Skipped;
        result.skip_reason = Some(format!(
            "needs a program for role{} {}: pass {}",
            if unbound.len() == 1 { "" } else { "s" },
            unbound
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", "),
            unbound
                .iter()
                .map(|r| format!("--program {r}='COMMAND {{port}}'"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        return (result, None);
    }
    let first = scenario.steps.first().map_or((1, 1), |s| (s.line, 1));
    let (sandbox, session, peer) =
        match Sessions::open(settings, scenario.uses_target(), !scenario.roles.is_empty()) {
            Ok(Sessions {
                sandbox,
                target,
                peer,
            }) => (sandbox, target, peer),
            Err(e) => {
                result.status = Status::Error;
                let detail = format!("{}; nothing was exchanged yet", settings.describe_target());
                result.failure = Some(fault_failure(first, e.stage, &e.fault, &detail));
                result.teardown.extend(e.teardown);
                result.duration = started.elapsed();
                return (result, None);
            }
        };
    let program_join = sandbox
        .as_ref()
        .zip(settings.sandbox.as_ref())
        .map(|(sb, spec)| sb.join(&spec.exe, Some(spec.limits)).for_program());
    let net_dir = sandbox
        .as_ref()
        .map_or_else(|| PathBuf::from("/proc/self/net"), |sb| sb.net_dir());
    let mut runner = Runner {
        settings,
        target: match session {
            Some(s) => Conn::new(s, settings.cancel.clone()),
            None => Conn::absent(settings.cancel.clone()),
        },
        peer: Conn::new(peer, settings.cancel.clone()),
        names: HashMap::new(),
        records: Vec::new(),
        programs: HashMap::new(),
        program_join,
        net_dir,
        exit_checked: HashSet::new(),
        explained: HashSet::new(),
    };
    let mut implementation = None;
    match runner.hello() {
        Err(f) => {
            result.status = Status::Error;
            let detail = format!(
                "{}; {}",
                settings.target.describe(),
                runner.target.exchange()
            );
            result.failure = Some(fault_failure(first, "(hello)", &f, &detail));
        }
        Ok((name, caps)) => {
            implementation = Some(name.clone());
            let missing: Vec<&String> = scenario
                .requires
                .iter()
                .filter(|r| !caps.contains(r))
                .collect();
            if !missing.is_empty() {
                result.status = Status::Skipped;
                result.skip_reason = Some(format!(
                    "{name} lacks capabilit{} {}",
                    if missing.len() == 1 { "y" } else { "ies" },
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            } else {
                for step in &scenario.steps {
                    match runner.step(step) {
                        Ok(()) => {}
                        Err(Stop::Failed(mut f)) => {
                            result.status = Status::Failed;
                            // A peer step that failed because the program died says
                            // so: "connection refused" alone teaches nothing.
                            if let Some(note) = runner.programs_that_died() {
                                f.detail = Some(match f.detail.take() {
                                    Some(d) => format!("{note}; {d}"),
                                    None => note,
                                });
                            }
                            result.failure = Some(*f);
                            break;
                        }
                        Err(Stop::Fault(side, fault, mut f)) => {
                            result.status = Status::Error;
                            let who = match side {
                                Side::Target => settings.describe_target(),
                                Side::Peer => "the peer (reference adapter)".into(),
                                Side::Harness => "the harness".into(),
                            };
                            let conn = if side == Side::Target {
                                &runner.target
                            } else {
                                &runner.peer
                            };
                            f.actual = fault.to_string();
                            f.detail = Some(format!("{who}; {}", conn.exchange()));
                            result.failure = Some(*f);
                            break;
                        }
                    }
                }
            }
        }
    }
    let mut hurry = settings.cancel.load(Ordering::SeqCst);
    let mut programs: Vec<(String, Program)> = runner.programs.drain().collect();
    programs.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, program) in programs {
        let (problems, killed) = program.close(settings.grace, hurry);
        result.teardown.extend(problems);
        // A program killed outright leaves a zombie in the PID namespace that only
        // the host reaps: do not wait for the namespace to empty.
        hurry |= killed;
    }
    result.teardown.extend(runner.target.close());
    result.teardown.extend(runner.peer.close());
    // A limit the scenario ran into explains its failure better than the step does
    // ("connection reset" after the kernel killed the server for memory).
    if let (Some(sb), Some(f)) = (&sandbox, result.failure.as_mut()) {
        let notes = describe::limit_notes(&sb.limits_hit());
        if !notes.is_empty() {
            let mut detail = notes.join("; ");
            if let Some(d) = f.detail.take() {
                detail = format!("{detail}; {d}");
            }
            f.detail = Some(detail);
        }
    }
    result.teardown.extend(close_sandbox(sandbox, hurry));
    result.steps = runner.records;
    result.duration = started.elapsed();
    (result, implementation)
}

/// The adapter's name and capabilities from its answer to `hello`, or why the answer
/// will not do.
pub(super) fn hello_answer(r: Response) -> Result<(String, Vec<String>), Fault> {
    match r.result {
        Reply::Err(e) => Err(Fault::BadHello(format!("it answered {}", e.errno))),
        Reply::Ok(d) => {
            if d.protocol != Some(protocol::VERSION) {
                return Err(Fault::BadHello(format!(
                    "it speaks protocol {:?}; sockspec speaks {}",
                    d.protocol,
                    protocol::VERSION
                )));
            }
            Ok((
                d.name.unwrap_or_else(|| "unnamed adapter".into()),
                d.capabilities.unwrap_or_default(),
            ))
        }
    }
}

fn fault_failure(at: (u32, u32), step: &str, fault: &Fault, detail: &str) -> Failure {
    Failure {
        line: at.0,
        column: at.1,
        step: step.into(),
        expected: "an adapter that speaks protocol v1".into(),
        actual: fault.to_string(),
        detail: Some(detail.to_string()),
    }
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

    fn hello(&mut self) -> Result<(String, Vec<String>), Fault> {
        let deadline = self.deadline();
        let timeout = self.settings.timeout;
        let call = Call::Hello {
            protocol: protocol::VERSION,
        };
        if self.target.session.is_none() {
            self.peer
                .call(call, deadline)?
                .ok_or(Fault::NoHello(timeout))?;
            return Ok(("programs under test".into(), Vec::new()));
        }
        let r = self
            .target
            .call(call.clone(), deadline)?
            .ok_or(Fault::NoHello(timeout))?;
        self.peer
            .call(call, deadline)?
            .ok_or(Fault::NoHello(timeout))?;
        hello_answer(r)
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

    fn step(&mut self, step: &Step) -> Result<(), Stop> {
        match &step.kind {
            StepKind::Call {
                bind,
                side: Side::Harness,
                op,
                expect,
                ..
            } => self.harness_step(step, bind.as_ref(), op, expect.as_ref()),
            StepKind::Call {
                bind,
                side,
                op,
                background: true,
                ..
            } => {
                let call = self.call_for(step, op)?;
                let id = self
                    .conn(*side)
                    .start(call)
                    .map_err(|f| self.broke(step, *side, f))?;
                let name = bind.as_ref().expect("parser requires a name").name.clone();
                self.names.insert(
                    name,
                    Slot::Pending {
                        side: *side,
                        id,
                        op: op.clone(),
                    },
                );
                self.record(step, "started in the background".into(), true);
                Ok(())
            }
            StepKind::Call {
                bind,
                side,
                op,
                background: false,
                expect,
            } => {
                let actual = match op {
                    Op::RecvAll { sock, len } => self.recv_all(step, *side, sock, *len)?,
                    Op::FillBacklog { sock, limit } => {
                        self.fill_backlog(step, bind.as_ref(), sock, *limit)?
                    }
                    Op::BulkEcho { sock, len } => self.bulk_echo(step, *side, sock, *len)?,
                    _ => {
                        let call = self.call_for(step, op)?;
                        let deadline = self.deadline();
                        let r = self
                            .conn(*side)
                            .call(call, deadline)
                            .map_err(|f| self.broke(step, *side, f))?;
                        if r.is_none() && !op.can_block() {
                            let f = Fault::NoAnswer {
                                op: op.name(),
                                after: self.settings.timeout,
                            };
                            return Err(self.broke(step, *side, f));
                        }
                        self.actual(op, r).map_err(|f| self.broke(step, *side, f))?
                    }
                };
                self.check(step, op.yields(), expect.as_ref(), &actual)?;
                match (bind, &actual) {
                    (Some(b), Actual::Done(Value::Socket(handle))) => {
                        self.names.insert(
                            b.name.clone(),
                            Slot::Socket {
                                side: *side,
                                handle: *handle,
                            },
                        );
                    }
                    (Some(b), Actual::Done(Value::Addr(a))) => {
                        self.names.insert(b.name.clone(), Slot::Addr(*a));
                    }
                    _ => {}
                }
                Ok(())
            }
            StepKind::StillBlocked { handle } => {
                let (side, id, op) = self.pending(handle);
                let window = self.settings.block_window;
                let started = Instant::now();
                match self
                    .conn(side)
                    .wait(id, started + window)
                    .map_err(|f| self.broke(step, side, f))?
                {
                    None => {
                        self.record(step, describe::blocked_window(window), true);
                        Ok(())
                    }
                    Some(r) => {
                        let actual = self
                            .actual(&op, Some(r))
                            .map_err(|f| self.broke(step, side, f))?;
                        let text = describe::returned_within(&actual, started.elapsed());
                        self.record(step, text.clone(), false);
                        Err(self.fail(step, describe::blocked_window(window), text, None))
                    }
                }
            }
            StepKind::Await {
                bind,
                handle,
                expect,
            } => {
                let (side, id, op) = self.pending(handle);
                let deadline = self.deadline();
                let r = self
                    .conn(side)
                    .wait(id, deadline)
                    .map_err(|f| self.broke(step, side, f))?;
                // Awaiting a fill awaits its stalled connect, which yields nothing.
                let (name, yields) = match &op {
                    Op::FillBacklog { .. } => ("connect", Yield::Nothing),
                    _ => (op.name(), op.yields()),
                };
                let actual = self
                    .decode(name, yields, r)
                    .map_err(|f| self.broke(step, side, f))?;
                self.check(step, yields, expect.as_ref(), &actual)?;
                if let (Some(b), Actual::Done(Value::Socket(h))) = (bind, &actual) {
                    self.names
                        .insert(b.name.clone(), Slot::Socket { side, handle: *h });
                }
                Ok(())
            }
        }
    }

    fn pending(&self, handle: &Ident) -> (Side, u64, Op) {
        match self.names.get(&handle.name) {
            Some(Slot::Pending { side, id, op }) => (*side, *id, op.clone()),
            _ => unreachable!("the parser resolved `{}` to a background call", handle.name),
        }
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

    pub(super) fn addr(&mut self, step: &Step, expr: &AddrExpr) -> Result<SocketAddr, Stop> {
        let (id, local) = match expr {
            AddrExpr::Literal(a) => return Ok(*a),
            AddrExpr::Saved(id) => match self.names.get(&id.name) {
                Some(Slot::Addr(a)) => return Ok(*a),
                _ => {
                    return Err(self.fail(
                        step,
                        format!("the address `{}`", id.name),
                        "the step that saves it did not yield one".into(),
                        None,
                    ))
                }
            },
            AddrExpr::ProgramAddr(id) => {
                return match self.programs.get(&id.name) {
                    Some(p) => Ok(p.addr),
                    None => Err(self.fail(
                        step,
                        format!("the address of program `{}`", id.name),
                        "the step that starts it did not start it".into(),
                        None,
                    )),
                }
            }
            AddrExpr::LocalOf(id) => (id, true),
            AddrExpr::RemoteOf(id) => (id, false),
        };
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
            })) => Err(err(
                self,
                format!(
                    "{} from {}",
                    e.errno,
                    if local { "getsockname" } else { "getpeername" }
                ),
            )),
            Ok(Some(_)) => Err(err(self, "an answer without `addr`".into())),
            Ok(None) => Err(err(self, "no answer".into())),
            Err(f) => Err(Stop::fault(
                side,
                f,
                self.failure(step, format!("the address {what}"), String::new(), None),
            )),
        }
    }

    /// The protocol call for a primitive op.
    fn call_for(&mut self, step: &Step, op: &Op) -> Result<Call, Stop> {
        Ok(match op {
            Op::Socket { family } => Call::Socket {
                family: match family {
                    Family::Ipv4 => protocol::Family::Ipv4,
                    Family::Ipv6 => protocol::Family::Ipv6,
                },
            },
            Op::Bind { sock, addr } => {
                let a = self.addr(step, addr)?;
                Call::Bind {
                    sock: self.bound(step, sock)?.1,
                    addr: a.to_string(),
                }
            }
            Op::Connect { sock, addr } => {
                let a = self.addr(step, addr)?;
                Call::Connect {
                    sock: self.bound(step, sock)?.1,
                    addr: a.to_string(),
                }
            }
            Op::Listen { sock, backlog } => Call::Listen {
                sock: self.bound(step, sock)?.1,
                backlog: *backlog,
            },
            Op::Accept { sock } => Call::Accept {
                sock: self.bound(step, sock)?.1,
            },
            Op::Send { sock, data } => Call::Send {
                sock: self.bound(step, sock)?.1,
                data: protocol::hex_encode(data),
            },
            Op::Recv { sock, max, flags } => {
                let mut f = Vec::new();
                if flags.peek {
                    f.push(protocol::RecvFlag::Peek);
                }
                if flags.waitall {
                    f.push(protocol::RecvFlag::Waitall);
                }
                if flags.dontwait {
                    f.push(protocol::RecvFlag::Dontwait);
                }
                Call::Recv {
                    sock: self.bound(step, sock)?.1,
                    max: *max,
                    flags: f,
                }
            }
            Op::Shutdown { sock, how } => Call::Shutdown {
                sock: self.bound(step, sock)?.1,
                how: match how {
                    ShutdownHow::Read => protocol::How::Rd,
                    ShutdownHow::Write => protocol::How::Wr,
                    ShutdownHow::Both => protocol::How::Rdwr,
                },
            },
            Op::Close { sock } => Call::Close {
                sock: self.bound(step, sock)?.1,
            },
            Op::GetSockName { sock } => Call::Getsockname {
                sock: self.bound(step, sock)?.1,
            },
            Op::GetPeerName { sock } => Call::Getpeername {
                sock: self.bound(step, sock)?.1,
            },
            Op::SetSockOpt { sock, opt, value } => Call::Setsockopt {
                sock: self.bound(step, sock)?.1,
                opt: opt.name().into(),
                value: match value {
                    OptValue::Int(v) => Some(*v),
                    OptValue::Off => None,
                },
            },
            Op::GetSockOpt { sock, opt } => Call::Getsockopt {
                sock: self.bound(step, sock)?.1,
                opt: opt.name().into(),
            },
            Op::SetNonBlocking { sock, on } => Call::Nonblocking {
                sock: self.bound(step, sock)?.1,
                on: *on,
            },
            Op::Poll {
                sock,
                events,
                timeout_ms,
            } => Call::Poll {
                sock: self.bound(step, sock)?.1,
                events: events.iter().map(|e| e.name().to_string()).collect(),
                timeout_ms: *timeout_ms,
            },
            Op::RecvAll { .. } | Op::FillBacklog { .. } | Op::BulkEcho { .. } => {
                unreachable!("composites are not protocol calls")
            }
            _ => unreachable!("harness steps are not protocol calls"),
        })
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
            Yield::Nothing | Yield::Backlog | Yield::Program | Yield::Output | Yield::Exit => {
                Value::Nothing
            }
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
            Yield::OptValue => match done.value.ok_or_else(|| missing("value"))? {
                None => Value::Opt(OptValue::Off),
                Some(v) => Value::Opt(OptValue::Int(v)),
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
            wanted.push(describe::expected(&alt.outcome, yields, addr));
            ok |= matches(&alt.outcome, actual, addr);
        }
        self.record(step, text.clone(), ok);
        if ok {
            return Ok(());
        }
        let detail = hint(step, &alternatives, actual);
        Err(self.fail(step, wanted.join(" or "), text, detail))
    }

    /// `recvall(s, n)`: recv until n bytes, EOF, or an error.
    fn recv_all(
        &mut self,
        step: &Step,
        side: Side,
        sock: &Ident,
        len: u64,
    ) -> Result<Actual, Stop> {
        let handle = self.bound(step, sock)?.1;
        let mut got = Vec::new();
        let deadline = self.deadline();
        while (got.len() as u64) < len {
            let call = Call::Recv {
                sock: handle,
                max: len - got.len() as u64,
                flags: vec![],
            };
            let r = self
                .conn(side)
                .call(call, deadline)
                .map_err(|f| self.broke(step, side, f))?;
            let op = Op::Recv {
                sock: sock.clone(),
                max: len,
                flags: Default::default(),
            };
            match self.actual(&op, r).map_err(|f| self.broke(step, side, f))? {
                Actual::Done(Value::Data(d)) if d.is_empty() => break,
                Actual::Done(Value::Data(d)) => got.extend_from_slice(&d),
                other if got.is_empty() => return Ok(other),
                Actual::Blocked(t) => {
                    return Err(self.fail(
                        step,
                        format!("{len} bytes"),
                        format!(
                            "{} and then no more: still blocked after {}",
                            describe::bytes(&got),
                            describe::duration(t)
                        ),
                        None,
                    ))
                }
                other => {
                    return Err(self.fail(
                        step,
                        format!("{len} bytes"),
                        format!(
                            "{} and then {}",
                            describe::bytes(&got),
                            describe::actual(&other)
                        ),
                        None,
                    ))
                }
            }
        }
        Ok(Actual::Done(Value::Data(got)))
    }

    /// `fill_backlog(l)`: peer connections to the target listener until one stalls.
    fn fill_backlog(
        &mut self,
        step: &Step,
        bind: Option<&Ident>,
        listener: &Ident,
        limit: u32,
    ) -> Result<Actual, Stop> {
        let addr = self.addr(step, &AddrExpr::LocalOf(listener.clone()))?;
        let family = if addr.is_ipv4() {
            protocol::Family::Ipv4
        } else {
            protocol::Family::Ipv6
        };
        let window = self.settings.block_window;
        for completed in 0..limit {
            let deadline = self.deadline();
            let r = self
                .peer
                .call(Call::Socket { family }, deadline)
                .map_err(|f| self.broke(step, Side::Peer, f))?;
            let sock = match self
                .actual(
                    &Op::Socket {
                        family: Family::Ipv4,
                    },
                    r,
                )
                .map_err(|f| self.broke(step, Side::Peer, f))?
            {
                Actual::Done(Value::Socket(s)) => s,
                other => return Ok(other),
            };
            let id = self
                .peer
                .start(Call::Connect {
                    sock,
                    addr: addr.to_string(),
                })
                .map_err(|f| self.broke(step, Side::Peer, f))?;
            match self
                .peer
                .wait(id, Instant::now() + window)
                .map_err(|f| self.broke(step, Side::Peer, f))?
            {
                None => {
                    if let Some(b) = bind {
                        self.names.insert(
                            b.name.clone(),
                            Slot::Pending {
                                side: Side::Peer,
                                id,
                                op: Op::FillBacklog {
                                    sock: listener.clone(),
                                    limit,
                                },
                            },
                        );
                    }
                    return Ok(Actual::Done(Value::Backlog(completed)));
                }
                Some(Response {
                    result: Reply::Ok(_),
                    ..
                }) => {}
                Some(Response {
                    result: Reply::Err(e),
                    ..
                }) => {
                    return Ok(Actual::Errno {
                        name: e.errno,
                        message: Some(format!("connection {} of the fill failed", completed + 1)),
                    })
                }
            }
        }
        Ok(Actual::NeverStalled(limit))
    }
}

pub(super) fn matches(outcome: &Outcome, actual: &Actual, addr: Option<SocketAddr>) -> bool {
    let Actual::Done(value) = actual else {
        return match (outcome, actual) {
            (Outcome::Errno(want), Actual::Errno { name, .. }) => {
                errno::canonical(want) == errno::canonical(name)
            }
            _ => false,
        };
    };
    match (outcome, value) {
        (Outcome::Ok, Value::Exit(s)) => s.code() == Some(0),
        (Outcome::Count(n), Value::Exit(s)) => s.code().map(i64::from) == i64::try_from(*n).ok(),
        (Outcome::NonZero, Value::Exit(s)) => s.code().is_some_and(|c| c != 0),
        (Outcome::Signal(name), Value::Exit(s)) => {
            std::os::unix::process::ExitStatusExt::signal(s) == crate::process::signal_number(name)
        }
        (Outcome::Ok, _) => true,
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

/// A teaching sentence for common confusions.
fn hint(
    step: &Step,
    alternatives: &[crate::script::Alternative],
    actual: &Actual,
) -> Option<String> {
    match actual {
        // Fewer or more bytes than one expected chunk, from a plain recv: the classic
        // "one send is one recv" assumption.
        Actual::Done(Value::Data(got)) if !got.is_empty() && !step.text.contains("waitall") => {
            let split = alternatives.iter().any(|a| match &a.outcome {
                Outcome::Data(want) => {
                    want != got && (want.starts_with(got) || got.starts_with(want))
                }
                _ => false,
            });
            split.then(|| "TCP is a byte stream: one recv may return fewer or more bytes than one send wrote".into())
        }
        Actual::Blocked(_) => Some(
            "the call never returned; raise --timeout if the implementation is just slow".into(),
        ),
        _ => None,
    }
}
