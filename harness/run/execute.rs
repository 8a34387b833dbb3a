//! Runs one scenario: opens the sessions, executes the steps in order, checks each
//! expectation, and stops at the first step that does not hold (later steps depend on
//! earlier ones). Teardown always runs.

use super::describe::{self, Actual, Value};
use super::outcome::{Failure, FailureKind, ScenarioResult, Status};
use super::runner::{Conn, Runner, Slot, Stop};
use super::sessions::{close_sandbox, Sessions};
use super::settings::Hosts;
use super::settings::Settings;
use super::wires::{lan_wire, wire_of, WireEnds};
use crate::adapter::Fault;
use crate::program::Program;
use crate::protocol::{self, Call, Reply, Response};
use crate::remote::capture::Capture;
use crate::remote::{plain, Connection, Direction, ExpectError, Outgoing};
use crate::script::{
    AddrExpr, Family, Ident, Op, OptValue, Scenario, ShutdownHow, Side, Step, StepKind, Yield,
};
use crate::script::{Payload, WireAction, WireDirection};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The first port of the remote TCPs on a wire: addresses inside the scenario's own
/// namespace, which nothing else uses, so a fixed number collides with nothing.
const WIRE_FIRST_PORT: u16 = 40000;
/// The harness's initial sequence number on the wire. Fixed, so a scenario replays
/// exactly; scenarios see relative numbers anyway.
const WIRE_ISS: u32 = 1_000_000;
/// After `w > acks only data sent`, how long each sent line waits for the target's
/// answers to the lines before it.
const ACK_SETTLE: std::time::Duration = std::time::Duration::from_millis(5);

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
        target: Conn::new(session, settings.cancel.clone()),
        peer: Conn::new(Some(peer), settings.cancel.clone()),
        names: HashMap::new(),
        records: Vec::new(),
        programs: HashMap::new(),
        program_join,
        net_dir,
        exit_checked: HashSet::new(),
        explained: HashSet::new(),
        listened: false,
        read_shut: HashSet::new(),
        wire: if scenario.uses_wire() {
            wire_of(sandbox.as_ref())
        } else {
            Ok(None)
        },
        connections: HashMap::new(),
        hosts: settings.hosts,
        wire_ends: WireEnds::KERNEL,
        fixed_port_sockets: super::fixed_ports::sockets_on_fixed_ports(
            scenario,
            &settings.program_ports,
        ),
    };
    // A scenario without a wire gets its traffic recorded instead, from the loopback or,
    // for a stack on a link of its own, from the link (once `hello` said which).
    let mut capture = None;
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
            // A user-space stack brings its own TCP on the sandbox's link: the scenario's
            // hosts are the link's, and a wire scenario's remote is a host on its LAN.
            let on_a_link = caps.iter().any(|c| c == "link");
            let link = if on_a_link {
                match sandbox.as_ref().map(|sb| sb.stack_link()) {
                    Some(Ok(tap)) => {
                        runner.hosts = Hosts::STACK_LINK;
                        if scenario.uses_wire() {
                            runner.wire = lan_wire(tap);
                            runner.wire_ends = WireEnds::STACK;
                        }
                        Ok(())
                    }
                    Some(Err(why)) => Err(format!("the sandbox has no link for it ({why})")),
                    None => Err("the link lives in the scenario's sandbox, and this run has none (--sandbox off)".to_string()),
                }
            } else {
                Ok(())
            };
            capture = match (&runner.wire, &sandbox) {
                (Ok(None), Some(sb)) if settings.loopback_capture => {
                    let (tap, start): (_, fn(_) -> _) = if on_a_link {
                        (sb.stack_link(), Capture::lan)
                    } else {
                        (sb.loopback_tap(), Capture::loopback)
                    };
                    tap.ok()
                        .and_then(|tap| tap.try_clone().ok())
                        .and_then(|tap| start(tap).ok())
                }
                _ => None,
            };
            if let Err(why) = &runner.wire {
                result.status = Status::Skipped;
                result.skip_reason =
                    Some(format!("this scenario plays segments on a wire, but {why}"));
            } else if let Err(why) = link {
                result.status = Status::Skipped;
                result.skip_reason = Some(format!("{name} needs a link of its own, but {why}"));
            } else if !missing.is_empty() {
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
                            // A wait that ran out ("... after 2 s"): what the programs
                            // were doing meanwhile says more than the timeout does.
                            if f.actual.contains(" after ") {
                                if let Some(note) = runner.what_programs_do() {
                                    let said = f
                                        .detail
                                        .take()
                                        .map(|d| d.replace(super::runner::RAISE_TIMEOUT, ""));
                                    f.detail = Some(match said {
                                        Some(d) if !d.is_empty() => format!("{d}; {note}"),
                                        _ => note,
                                    });
                                }
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
    // Every scenario's pcap with `--pcap DIR`; a failed one's always (in the
    // temporary folder otherwise), so the evidence of a failure is never lost. The
    // wire's capture for a wire scenario, the loopback tap's for the others.
    let failed = matches!(result.status, Status::Failed | Status::Error);
    let keep = match &settings.pcap_dir {
        Some(dir) => Some(dir.clone()),
        None => failed.then(|| {
            settings
                .failed_pcap_dir
                .clone()
                .unwrap_or_else(failed_pcap_dir)
        }),
    };
    let pcap = match (&runner.wire, capture) {
        (Ok(Some(wire)), _) => Some(wire.link().pcap()),
        (_, Some(capture)) => Some(capture.finish()),
        _ => None,
    };
    if let (Some(pcap), Some(f)) = (&pcap, result.failure.as_mut()) {
        from_the_capture(f, pcap);
    }
    if let (Some(pcap), Some(dir)) = (pcap, keep) {
        // `bind/bind-twice` becomes `bind__bind-twice.pcap`: one folder, no nesting.
        let path = dir.join(format!("{}.pcap", scenario.name.replace('/', "__")));
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| crate::atomic::write_bytes_atomically(&path, &pcap));
        match written {
            Ok(()) => result.pcap = Some(path),
            Err(e) => result
                .teardown
                .push(format!("failed to write the pcap {}: {e}", path.display())),
        }
    }
    result.teardown.extend(close_sandbox(sandbox, hurry));
    result.steps = runner.records;
    result.duration = started.elapsed();
    (result, implementation)
}

/// What the scenario's capture adds to a program's ending, when the failure says one:
/// - a SIGPIPE death where connections were refused and none made: the program wrote
///   to a socket whose connect() failed, which the general SIGPIPE advice (a peer that
///   closed) would misname;
/// - a server that exited on its own (status 0) after connections reached it: how
///   many, and what that usually means.
fn from_the_capture(failure: &mut super::Failure, pcap: &[u8]) {
    use crate::program::explain;
    let Some(detail) = failure.detail.as_mut() else {
        return;
    };
    let sigpipe = detail.contains(explain::SIGPIPE);
    let exited = detail.contains("ended: exit status 0");
    if !sigpipe && !exited {
        return;
    }
    let seen = crate::remote::capture::Handshakes::of(pcap);
    if sigpipe && seen.refused > 0 && seen.answered == 0 {
        *detail = detail.replace(explain::SIGPIPE, explain::SIGPIPE_NEVER_CONNECTED);
    }
    if exited && seen.answered > 0 {
        detail.push_str(&format!(
            "; it took {} connection{} in this test and then exited by itself: a server \
             keeps accepting until it is stopped (a loop over a fixed number of clients, or \
             a return after serving one, ends it)",
            seen.answered,
            if seen.answered == 1 { "" } else { "s" }
        ));
    }
}

/// Where a failed wire scenario's pcap goes without `--pcap`: one folder per run in
/// the temporary folder.
fn failed_pcap_dir() -> PathBuf {
    std::env::temp_dir().join(format!("sockspec-pcap-{}", std::process::id()))
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
        kind: FailureKind::Adapter,
        line: at.0,
        column: at.1,
        step: step.into(),
        expected: "an adapter that speaks protocol v1".into(),
        actual: fault.to_string(),
        detail: Some(detail.to_string()),
    }
}

impl Runner<'_> {
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

    fn step(&mut self, step: &Step) -> Result<(), Stop> {
        match &step.kind {
            StepKind::Call {
                bind: Some(b),
                op: Op::Wire { listener, isn },
                ..
            } => self.open_wire(step, b, listener.as_ref(), *isn),
            StepKind::Wire {
                conn,
                direction,
                action,
            } => self.wire_step(step, conn, *direction, action),
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
                if let (Op::Shutdown { sock, how }, Actual::Done(_)) = (op, &actual) {
                    if matches!(how, ShutdownHow::Read | ShutdownHow::Both) {
                        let (side, handle) = self.bound(step, sock)?;
                        self.read_shut.insert((side, handle));
                    }
                }
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
                    (Some(b), Actual::Done(Value::Opt(v))) => {
                        self.names.insert(b.name.clone(), Slot::Value(*v));
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

    /// `w = wire(l)`: a remote TCP at the next port of the wire's remote address,
    /// talking to `l`'s port at the target's wire address (of `l`'s family); `l` may be
    /// a program under test, whose port is the one it was started with.
    fn open_wire(
        &mut self,
        step: &Step,
        bind: &Ident,
        listener: Option<&Ident>,
        isn: Option<u32>,
    ) -> Result<(), Stop> {
        let port = WIRE_FIRST_PORT + self.connections.len() as u16;
        let (local, peer) = match listener {
            Some(l) => {
                // A program's port, or a target socket's, on the target's wire address.
                let at = match self.programs.get(&l.name) {
                    Some(p) => {
                        let at = p.addr;
                        self.reachable_on_the_wire(step, &l.name, at)?;
                        at
                    }
                    None => self.addr(step, &AddrExpr::LocalOf(l.clone()))?,
                };
                let ends = self.wire_ends;
                if at.is_ipv6() {
                    (
                        SocketAddr::from((ends.remote_v6, port)),
                        SocketAddr::from((ends.target_v6, at.port())),
                    )
                } else {
                    (
                        SocketAddr::from((ends.remote_v4, port)),
                        SocketAddr::from((ends.target_v4, at.port())),
                    )
                }
            }
            None => (
                SocketAddr::from((self.wire_ends.remote_v4, port)),
                SocketAddr::from((self.wire_ends.target_v4, 0)),
            ),
        };
        self.connections.insert(
            bind.name.clone(),
            Connection::new(local, peer, isn.unwrap_or(WIRE_ISS)),
        );
        self.record(step, format!("a remote TCP at {local}"), true);
        Ok(())
    }

    /// The last step that was not a wire line nor a peer call, as "the target's last
    /// call: line N `STEP` => OUTCOME".
    fn last_call_on_the_target(&self) -> Option<String> {
        let wire_line = |text: &str| {
            self.connections.keys().any(|name| {
                text.strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with(['<', '>']))
            })
        };
        let last = self
            .records
            .iter()
            .rev()
            .find(|r| !wire_line(&r.step) && !r.step.trim_start().starts_with("peer."))?;
        Some(format!(
            "the target's last call: line {} `{}` => {}",
            last.line, last.step, last.outcome
        ))
    }

    /// A program that listens only on loopback cannot be reached from the wire, whose
    /// client comes from another host's address: say so in words a student can act
    /// on, instead of letting the SYN draw a bare RST.
    fn reachable_on_the_wire(
        &mut self,
        step: &Step,
        program: &str,
        at: SocketAddr,
    ) -> Result<(), Stop> {
        let entries = crate::program::tables::read(&self.net_dir).unwrap_or_default();
        let listening = crate::program::tables::listeners_on(&entries, at.port());
        if listening.is_empty() || listening.iter().any(|a| !a.ip().is_loopback()) {
            return Ok(());
        }
        let only: Vec<String> = listening.iter().map(|a| a.to_string()).collect();
        Err(self.fail(
            step,
            format!("`{program}` reachable from another host on port {}", at.port()),
            format!("it listens on {} only", only.join(", ")),
            Some(format!(
                "this scenario's client connects from another machine's address ({}): bind the listening socket to INADDR_ANY (0.0.0.0) or in6addr_any, not to 127.0.0.1",
                self.wire_ends.remote_v4
            )),
        ))
    }

    /// A wire line: `w < LINE` sends the segment, `w > LINE` waits for a matching one
    /// (in its timing window, if it has one); the other actions play a plain TCP
    /// ([`crate::remote::plain`]).
    fn wire_step(
        &mut self,
        step: &Step,
        conn: &Ident,
        direction: WireDirection,
        action: &WireAction,
    ) -> Result<(), Stop> {
        let timeout = self.settings.timeout;
        let scale = self.settings.time_scale;
        // `from`/`to` must be of the connection's family: the packet has one IP header.
        if let (WireAction::Segment { spec, .. }, Some(c)) =
            (action, self.connections.get(&conn.name))
        {
            let v4 = c.local.is_ipv4();
            if !v4 && spec.ip_options.is_some() {
                return Err(self.fail(
                    step,
                    "an IPv4 connection for `ipopt`".into(),
                    format!(
                        "the connection `{}` is IPv6, whose header has no options",
                        conn.name
                    ),
                    None,
                ));
            }
            if [spec.from, spec.to]
                .into_iter()
                .flatten()
                .any(|a| a.is_ipv4() != v4)
            {
                return Err(self.fail(
                    step,
                    "`from` and `to` addresses of the connection's family".into(),
                    format!(
                        "the connection `{}` is {}",
                        conn.name,
                        if v4 { "IPv4" } else { "IPv6" }
                    ),
                    None,
                ));
            }
        }
        let (Ok(Some(wire)), Some(c)) = (self.wire.as_mut(), self.connections.get_mut(&conn.name))
        else {
            return Err(self.fail(
                step,
                format!("the wire connection `{}`", conn.name),
                "the step that makes it did not run".into(),
                None,
            ));
        };
        let done: Result<String, ExpectError> = match (direction, action) {
            (WireDirection::Inject, WireAction::Segment { spec, .. }) => {
                let out = Outgoing::from_spec(spec).expect("the parser checked it can be sent");
                wire.send(c, &out)
                    .map(|()| "sent".into())
                    .map_err(Into::into)
            }
            (WireDirection::Expect, WireAction::Segment { spec, timing }) => match timing {
                None => wire
                    .expect(c, spec, timeout)
                    .map(|s| c.describe(&s, Direction::Out)),
                Some(window) => {
                    let from = c.last_event;
                    wire.expect_between(
                        c,
                        spec,
                        window.earliest.div_f64(scale),
                        window.latest.mul_f64(scale),
                    )
                    .map(|s| {
                        let after = match (from, c.last_event) {
                            (Some(a), Some(b)) => {
                                describe::duration(b.saturating_duration_since(a))
                            }
                            _ => "?".into(),
                        };
                        format!("{} after {after}", c.describe(&s, Direction::Out))
                    })
                }
            },
            (WireDirection::Inject, WireAction::Handshake) => {
                wire.open(c, timeout).map(|()| "connected".into())
            }
            (WireDirection::Expect, WireAction::Handshake) => {
                wire.answer_open(c, timeout).map(|()| "accepted".into())
            }
            (WireDirection::Inject, WireAction::Data(payload)) => {
                let bytes = match payload {
                    Payload::Bytes(b) => b.clone(),
                    Payload::Count(n) => plain::pattern(*n),
                };
                wire.send_data(c, &bytes, timeout)
                    .map(|()| format!("{} acknowledged", describe::count(bytes.len() as u64)))
            }
            (WireDirection::Expect, WireAction::Data(payload)) => {
                let want = match payload {
                    Payload::Bytes(b) => b.len(),
                    Payload::Count(n) => *n,
                };
                wire.recv_data(c, want, timeout)
                    .and_then(|got| match payload {
                        Payload::Bytes(b) if *b != got => Err(ExpectError::Data {
                            expected: plain::shown(b),
                            actual: plain::shown(&got),
                            recent: c.recent(),
                        }),
                        _ => Ok(describe::count(got.len() as u64)),
                    })
            }
            (WireDirection::Inject, WireAction::Fin) => {
                wire.send_fin(c, timeout).map(|()| "acknowledged".into())
            }
            (WireDirection::Expect, WireAction::Fin) => {
                wire.recv_fin(c, timeout).map(|()| "FIN received".into())
            }
            (WireDirection::Expect, WireAction::Nothing(window)) => wire
                .expect_silence(c, *window)
                .map(|()| format!("nothing for {}", describe::duration(*window))),
            (WireDirection::Inject, WireAction::Window(n)) => wire
                .advertise(c, *n)
                .map(|()| format!("advertised a window of {n}")),
            (WireDirection::Expect, WireAction::Window(_)) => {
                unreachable!("the parser allows `window` only on `<` lines")
            }
            (WireDirection::Inject, WireAction::Nothing(_)) => {
                unreachable!("the parser allows `nothing` only on `>` lines")
            }
            (WireDirection::Inject, WireAction::Icmp(error)) => wire
                .send_icmp(c, *error)
                .map(|()| format!("sent ICMP {}", error.name())),
            (WireDirection::Expect, WireAction::Icmp(_)) => {
                unreachable!("the parser allows `icmp` only on `<` lines")
            }
            (WireDirection::Inject, WireAction::Fill) => wire.fill_window(c, timeout).map(|n| {
                format!(
                    "{} acknowledged; the target's window is shut",
                    describe::count(u64::from(n))
                )
            }),
            (WireDirection::Inject, WireAction::Rst) => {
                wire.send_rst(c).map(|()| "sent an RST at SND.NXT".into())
            }
            (WireDirection::Expect, WireAction::AtMost { bytes, window }) => {
                wire.expect_at_most(c, *bytes, *window).map(|n| {
                    format!(
                        "{} new within {}",
                        describe::count(u64::from(n)),
                        describe::duration(*window)
                    )
                })
            }
            (WireDirection::Inject, WireAction::Resend) => wire
                .resend(c, timeout)
                .map(|()| "everything acknowledged".into()),
            (WireDirection::Expect, WireAction::AcksOnlyDataSent) => {
                c.strict_acks = true;
                c.settle = ACK_SETTLE;
                Ok("from here on".into())
            }
            (WireDirection::Expect, WireAction::Fill | WireAction::Rst | WireAction::Resend)
            | (WireDirection::Inject, WireAction::AcksOnlyDataSent)
            | (WireDirection::Inject, WireAction::AtMost { .. }) => {
                unreachable!(
                    "the parser allows `fill` and `rst` only on `<` lines, `at most` only on `>`"
                )
            }
        };
        match done {
            Ok(text) => {
                self.record(step, text, true);
                Ok(())
            }
            Err(e) => {
                let text = e.to_string();
                self.record(step, text.clone(), false);
                // What follows the arrow: `w > S. 0:0(0) ...` expected `S. 0:0(0) ...`.
                let line = step.text[conn.name.len()..].trim_start();
                let wanted = line.get(1..).unwrap_or(line).trim();
                let expected = match direction {
                    WireDirection::Expect => format!("`{wanted}`"),
                    WireDirection::Inject => format!("the harness's `{wanted}` to go through"),
                };
                // Waiting in vain: what the target's side did last may be why.
                let detail = match e {
                    ExpectError::Nothing { .. } | ExpectError::Stalled { .. } => {
                        self.last_call_on_the_target()
                    }
                    _ => None,
                };
                Err(self.fail(step, expected, text, detail))
            }
        }
    }

    fn pending(&self, handle: &Ident) -> (Side, u64, Op) {
        match self.names.get(&handle.name) {
            Some(Slot::Pending { side, id, op }) => (*side, *id, op.clone()),
            _ => unreachable!("the parser resolved `{}` to a background call", handle.name),
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
                let mut a = self.addr(step, addr)?;
                match self.fixed_port_sockets.get(&sock.name) {
                    Some(&port) if a.port() == 0 => a.set_port(port),
                    _ => {}
                }
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
            Op::Send { sock, data, oob } => Call::Send {
                sock: self.bound(step, sock)?.1,
                data: protocol::hex_encode(data),
                flags: if *oob {
                    vec![protocol::SendFlag::Oob]
                } else {
                    Vec::new()
                },
            },
            Op::SockAtMark { sock } => Call::Sockatmark {
                sock: self.bound(step, sock)?.1,
            },
            Op::Recv { sock, max, flags } => {
                let mut f = Vec::new();
                if flags.oob {
                    f.push(protocol::RecvFlag::Oob);
                }
                if flags.peek {
                    f.push(protocol::RecvFlag::Peek);
                }
                if flags.waitall {
                    f.push(protocol::RecvFlag::Waitall);
                }
                if flags.dontwait {
                    f.push(protocol::RecvFlag::Dontwait);
                }
                if flags.trunc {
                    f.push(protocol::RecvFlag::Trunc);
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
