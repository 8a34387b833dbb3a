//! Steps the harness runs itself: starting programs under test, feeding and reading
//! their standard streams, watching the socket tables and how programs end.

use super::describe::{self, Actual, Value};
use super::fixed_ports;
use super::outcome::FailureKind;
use super::runner::{Runner, Stop};
use crate::program::{explain, inspect, tables, Captured, Program};
use crate::protocol::{Call, Reply};
use crate::script::{AddrExpr, Expect, Ident, Op, Outcome, Side, Step, Stream, Yield};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// How often the socket tables are read while waiting: they have no change event.
const TABLE_POLL: Duration = Duration::from_millis(10);
/// Linux's default net.ipv4.ip_local_port_range, which every new namespace starts
/// with: where listen() on an unbound socket, or bind() to port 0, puts a listener.
const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

impl Runner<'_> {
    pub(super) fn harness_step(
        &mut self,
        step: &Step,
        bind: Option<&Ident>,
        op: &Op,
        expect: Option<&Expect>,
    ) -> Result<(), Stop> {
        match op {
            Op::Start { role, addr } => {
                let name = &bind.expect("the parser requires a name").name;
                self.start_program(step, name, role, addr.as_ref())
            }
            Op::Listening { prog } => self.listening(step, prog),
            Op::Stdin { prog, data } => {
                let p = self.program(step, prog)?;
                match p.write_stdin(data) {
                    Ok(()) => {
                        self.record(step, format!("wrote {}", describe::bytes(data)), true);
                        Ok(())
                    }
                    Err(e) => {
                        let status = self.status_note(prog);
                        Err(self.fail(step, "stdin accepts the input".into(), e + &status, None))
                    }
                }
            }
            Op::CloseStdin { prog } => {
                self.program(step, prog)?.close_stdin();
                self.record(step, "closed its stdin".into(), true);
                Ok(())
            }
            Op::Output { prog, stream } => self.output(step, prog, *stream, expect),
            Op::Exit { prog } => {
                let deadline = self.deadline();
                let cancel = self.settings.cancel.clone();
                let status = self.program(step, prog)?.wait(deadline, &cancel);
                let actual = match status {
                    Some(s) => Actual::Done(Value::Exit(s)),
                    None => Actual::Blocked(self.settings.timeout),
                };
                let checked = self.check(step, Yield::Exit, expect, &actual);
                match (checked, status) {
                    (Ok(()), _) => {
                        self.exit_checked.insert(prog.name.clone());
                        Ok(())
                    }
                    (Err(Stop::Failed(mut f)), status) => {
                        f.actual = match status {
                            Some(_) => f.actual,
                            None => format!(
                                "still running after {}",
                                describe::duration(self.settings.timeout)
                            ),
                        };
                        f.detail = match status {
                            Some(_) => self.ending_note(prog),
                            None => Some("it did not exit by itself: does it loop or wait for input after the error?".into()),
                        };
                        self.exit_checked.insert(prog.name.clone());
                        Err(Stop::Failed(f))
                    }
                    (Err(e), _) => Err(e),
                }
            }
            Op::Running { prog } => {
                let window = self.settings.block_window;
                let cancel = self.settings.cancel.clone();
                let status = self
                    .program(step, prog)?
                    .wait(Instant::now() + window, &cancel);
                match status {
                    None => {
                        self.record(step, "still running".into(), true);
                        Ok(())
                    }
                    Some(s) => {
                        let text = explain::status(s);
                        self.record(step, text.clone(), false);
                        let detail = self.ending_note(prog);
                        Err(self.fail(step, "still running".into(), text, detail))
                    }
                }
            }
            Op::Stop { prog } => {
                let grace = self.settings.grace;
                let p = self.program(step, prog)?;
                let was_running = p.try_status().is_none();
                let (status, killed) = p.stop(grace);
                let text = match (was_running, status, killed) {
                    (false, Some(s), _) => format!("had already ended ({})", explain::status(s)),
                    (true, Some(_), false) => "stopped with SIGTERM".into(),
                    (true, Some(_), true) => {
                        format!("ignored SIGTERM for {}; killed", describe::duration(grace))
                    }
                    (_, None, _) => "survived SIGKILL".into(),
                };
                let ok = status.is_some();
                self.record(step, text.clone(), ok);
                if ok {
                    Ok(())
                } else {
                    Err(self.fail(step, "the program ends".into(), text, None))
                }
            }
            Op::Consumed { sock } => self.consumed(step, sock),
            Op::Accepted { prog } => self.accepted(step, prog),
            _ => unreachable!("only harness ops reach harness_step"),
        }
    }

    fn program(&mut self, step: &Step, id: &Ident) -> Result<&mut Program, Stop> {
        if !self.programs.contains_key(&id.name) {
            return Err(self.fail(
                step,
                format!("a program named `{}`", id.name),
                "the step that starts it did not start it".into(),
                None,
            ));
        }
        Ok(self.programs.get_mut(&id.name).expect("checked"))
    }

    fn start_program(
        &mut self,
        step: &Step,
        name: &str,
        role: &Ident,
        addr: Option<&AddrExpr>,
    ) -> Result<(), Stop> {
        let template = self
            .settings
            .programs
            .get(&role.name)
            .expect("unbound roles skip the scenario")
            .clone();
        let port = self.settings.program_ports.get(&role.name).copied();
        let chooses_port = fixed_ports::chooses_its_own_port(&template, port);
        let finds_own_port = addr.is_none() && chooses_port;
        let addr = match addr {
            Some(a) => self.addr(step, a)?,
            None => {
                let mut a = self.free_port(step)?;
                if let Some(fixed_ports::ProgramPort::Fixed(port)) = port {
                    a.set_port(port);
                }
                a
            }
        };
        let command = template
            .replace("{port}", &addr.port().to_string())
            .replace("{host}", &addr.ip().to_string());
        let spawned = Program::spawn(
            &role.name,
            command.clone(),
            addr,
            (&self.settings.program_dir, self.settings.program_stdio),
            self.program_join.clone(),
        );
        match spawned {
            Ok(mut p) => {
                p.finds_own_port = finds_own_port;
                p.chooses_port = chooses_port;
                self.programs.insert(name.to_string(), p);
                self.record(step, format!("started `{command}`"), true);
                Ok(())
            }
            Err(e) => Err(self.fail(step, "the program starts".into(), e.to_string(), None)),
        }
    }

    /// A port free in the scenario's namespace: the peer binds port 0 and lets go. An
    /// unconnected socket that only bound leaves nothing behind (no TIME_WAIT).
    fn free_port(&mut self, step: &Step) -> Result<SocketAddr, Stop> {
        let deadline = self.deadline();
        let ask = |me: &mut Self, call: Call| -> Result<crate::protocol::Done, Stop> {
            match me.peer.call(call, deadline) {
                Ok(Some(r)) => match r.result {
                    Reply::Ok(d) => Ok(d),
                    Reply::Err(e) => Err(me.fail(
                        step,
                        "a free port".into(),
                        format!("the peer could not find one: {}", e.errno),
                        None,
                    )),
                },
                Ok(None) => Err(me.fail(
                    step,
                    "a free port".into(),
                    "no answer from the peer".into(),
                    None,
                )),
                Err(f) => Err(me.broke(step, Side::Peer, f)),
            }
        };
        let sock = ask(
            self,
            Call::Socket {
                family: crate::protocol::Family::Ipv4,
            },
        )?
        .sock
        .unwrap_or_default();
        let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        ask(
            self,
            Call::Bind {
                sock,
                addr: loopback.to_string(),
            },
        )?;
        let addr = ask(self, Call::Getsockname { sock })?
            .addr
            .unwrap_or_default();
        ask(self, Call::Close { sock })?;
        addr.parse().map_err(|_| {
            self.fail(
                step,
                "a free port".into(),
                format!("the peer reported {addr:?}"),
                None,
            )
        })
    }

    fn listening(&mut self, step: &Step, prog: &Ident) -> Result<(), Stop> {
        let deadline = self.deadline();
        let net_dir = self.net_dir.clone();
        let sandboxed = self.program_join.is_some();
        let port = self.program(step, prog)?.addr.port();
        let finds_own_port = self.program(step, prog)?.finds_own_port;
        let chooses_port = self.program(step, prog)?.chooses_port;
        loop {
            if finds_own_port && self.own_port(step, prog)? {
                return Ok(());
            }
            let entries = tables::read(&net_dir).unwrap_or_default();
            let on_port = tables::listeners_on(&entries, port);
            if let Some(a) = on_port.first().filter(|_| !finds_own_port) {
                self.listened = true;
                self.record(step, format!("listening on {a}"), true);
                return Ok(());
            }
            let expected = if finds_own_port {
                "listening on a port of its choosing (its command has no {port})".to_string()
            } else {
                format!("listening on port {port}")
            };
            if let Some(s) = self.program(step, prog)?.try_status() {
                let text = format!("it ended ({}) before it listened", explain::status(s));
                self.record(step, text.clone(), false);
                let detail = self.ending_note(prog);
                return Err(self.never_listened(step, expected, text, detail));
            }
            if Instant::now() >= deadline || self.cancelled() {
                let others = tables::listeners(&entries);
                let text = format!(
                    "not listening on port {port} after {}",
                    describe::duration(self.settings.timeout)
                );
                let forks = self.fork_note(prog);
                let detail = if let Some(forks) = forks {
                    forks
                } else if finds_own_port {
                    "it never called listen(): its command has no {port}, so the harness waited for it to listen on a port of its own; check that bind() and listen() succeed (or give the port on its command line with {port})".into()
                } else if sandboxed && !others.is_empty() {
                    let list: Vec<String> = others.iter().map(|a| a.to_string()).collect();
                    if chooses_port {
                        format!(
                            "it listens on {}, not on port {port}, where the instance before it listened: a program that chooses its own port must listen on the same port each time it starts (write the port into it, or take it from the command line with {{port}})",
                            list.join(", ")
                        )
                    } else if others.iter().all(|a| EPHEMERAL_PORTS.contains(&a.port())) {
                        // listen() on an unbound socket takes such a port: bind() was
                        // never called, or it failed and the program went on.
                        format!(
                            "it listens on {}, a port the kernel picked: its bind() to port {port} failed or was never made, and it went on to listen() (or it bound port 0: check which argument holds the port); check bind()'s return value and stop when it fails",
                            list.join(", ")
                        )
                    } else {
                        format!(
                            "it listens on {} instead: take the port from the command line (the harness passed {port})",
                            list.join(", ")
                        )
                    }
                } else {
                    "it never called listen() on that port: check the port argument, and that bind() and listen() succeed".into()
                };
                let tail = self.program(step, prog)?.stderr_tail();
                let detail = if tail.is_empty() {
                    detail
                } else {
                    format!("{detail}; its stderr ends: {tail}")
                };
                self.record(step, text.clone(), false);
                return Err(self.never_listened(step, expected, text, Some(detail)));
            }
            std::thread::sleep(TABLE_POLL);
        }
    }

    /// For a program that chooses its own port: whether it now listens, on one port,
    /// which becomes its address. Several ports fail the step: which one serves?
    fn own_port(&mut self, step: &Step, prog: &Ident) -> Result<bool, Stop> {
        let pid = self.program(step, prog)?.pid();
        let listening = inspect::activity(pid, &self.net_dir).listening;
        let mut ports: Vec<u16> = listening.iter().map(|e| e.local.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        match ports[..] {
            [] => Ok(false),
            [port] => {
                self.program(step, prog)?.addr.set_port(port);
                self.listened = true;
                let text = format!(
                    "listening on {}, the port written into it",
                    listening[0].local
                );
                self.record(step, text, true);
                Ok(true)
            }
            _ => {
                let list: Vec<String> = ports.iter().map(u16::to_string).collect();
                let text = format!("it listens on ports {}", list.join(", "));
                self.record(step, text.clone(), false);
                let detail = "its command has no {port}, so the harness looks for the port it listens on, and it listens on several: listen on one port (or take it from the command line with {port})".to_string();
                Err(self.never_listened(
                    step,
                    "listening on one port of its choosing".into(),
                    text,
                    Some(detail),
                ))
            }
        }
    }

    /// A `listening` step that failed: the scenario never began, unless an earlier
    /// `listening` step of it passed (then this instance's failure is the finding).
    fn never_listened(
        &self,
        step: &Step,
        expected: String,
        actual: String,
        detail: Option<String>,
    ) -> Stop {
        let mut failure = self.failure(step, expected, actual, detail);
        if !self.listened {
            failure.kind = FailureKind::NeverListened;
        }
        Stop::Failed(Box::new(failure))
    }

    /// Waits until the program's listening socket has no connection left to accept
    /// (in the tables, a listener's receive queue is its accept queue).
    fn accepted(&mut self, step: &Step, prog: &Ident) -> Result<(), Stop> {
        let deadline = self.deadline();
        let net_dir = self.net_dir.clone();
        let port = self.program(step, prog)?.addr.port();
        loop {
            let entries = tables::read(&net_dir).unwrap_or_default();
            let waiting: Vec<u32> = entries
                .iter()
                .filter(|e| e.state == tables::LISTEN && e.local.port() == port)
                .map(|e| e.rx_queue)
                .collect();
            if !waiting.is_empty() && waiting.iter().all(|&n| n == 0) {
                self.record(step, "every connection has been accepted".into(), true);
                return Ok(());
            }
            if Instant::now() >= deadline || self.cancelled() {
                let text = if waiting.is_empty() {
                    format!("nothing listens on port {port}")
                } else {
                    format!(
                        "{} connection(s) still waiting to be accepted after {}",
                        waiting.iter().sum::<u32>(),
                        describe::duration(self.settings.timeout)
                    )
                };
                self.record(step, text.clone(), false);
                let detail = Some("the program does not call accept() while it serves other clients: serve each client on its own (a thread or process per client, or poll()/select())".to_string());
                return Err(self.fail(step, "every connection accepted".into(), text, detail));
            }
            std::thread::sleep(TABLE_POLL);
        }
    }

    fn cancelled(&self) -> bool {
        self.settings
            .cancel
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn output(
        &mut self,
        step: &Step,
        prog: &Ident,
        stream: Stream,
        expect: Option<&Expect>,
    ) -> Result<(), Stop> {
        let profile = self.settings.profile.clone();
        let wanted: Vec<Outcome> = expect
            .map(|e| e.for_profile(&profile).map(|a| a.outcome.clone()).collect())
            .unwrap_or_default();
        // No expectation: wait for any output at all.
        let wanted = if expect.is_none() {
            vec![Outcome::Regex(".".into())]
        } else {
            wanted
        };
        if wanted.is_empty() {
            self.record(step, format!("not checked under profile {profile}"), true);
            return Ok(());
        }
        let regexes: Vec<Option<regex_lite::Regex>> = wanted
            .iter()
            .map(|o| match o {
                Outcome::Regex(r) => regex_lite::Regex::new(r).ok(),
                _ => None,
            })
            .collect();
        let want_eof = wanted
            .iter()
            .any(|o| matches!(o, Outcome::Eof | Outcome::Ok));
        let find = |data: &[u8]| -> Option<usize> {
            wanted
                .iter()
                .zip(&regexes)
                .filter_map(|(o, re)| match o {
                    Outcome::Data(t) if t.is_empty() => Some(0),
                    Outcome::Data(t) => data
                        .windows(t.len())
                        .position(|w| w == t.as_slice())
                        .map(|i| i + t.len()),
                    Outcome::Regex(_) => {
                        let text = String::from_utf8_lossy(data);
                        let m = re.as_ref()?.find(&text)?;
                        // Lossy text can be longer than the bytes; clamp.
                        Some(m.end().min(data.len()))
                    }
                    _ => None,
                })
                .min()
        };
        let expected = wanted
            .iter()
            .map(|o| match o {
                Outcome::Data(t) => format!("{} containing {}", stream.name(), describe::bytes(t)),
                Outcome::Regex(r) => format!("{} matching re\"{r}\"", stream.name()),
                _ => format!("{} closed", stream.name()),
            })
            .collect::<Vec<_>>()
            .join(" or ");
        let deadline = self.deadline();
        let cancel = self.settings.cancel.clone();
        let found = self.program(step, prog)?.wait_output(
            stream == Stream::Stderr,
            find,
            deadline,
            &cancel,
        );
        let (ok, text) = match &found {
            Captured::Matched(bytes) => (true, format!("printed {}", describe::bytes(bytes))),
            Captured::Closed(rest) if want_eof => (
                true,
                format!("{} closed after {}", stream.name(), describe::bytes(rest)),
            ),
            Captured::Closed(rest) if rest.is_empty() => (
                false,
                format!("{} closed without printing it", stream.name()),
            ),
            Captured::Closed(rest) => (
                false,
                format!(
                    "{} closed; it printed only {}",
                    stream.name(),
                    describe::bytes(rest)
                ),
            ),
            Captured::TimedOut(rest) => (
                false,
                format!(
                    "after {} it has printed {}",
                    describe::duration(self.settings.timeout),
                    if rest.is_empty() {
                        "nothing (more)".to_string()
                    } else {
                        describe::bytes(rest)
                    }
                ),
            ),
            Captured::Cancelled => (false, "interrupted".into()),
        };
        self.record(step, text.clone(), ok);
        if ok {
            return Ok(());
        }
        let detail = match &found {
            Captured::TimedOut(_) if stream == Stream::Stdout => Some(
                "if it did print, its output may sit in a buffer: stdout to a pipe is fully buffered in C; call fflush(stdout) after each line".to_string(),
            ),
            _ => self.ending_note(prog),
        };
        Err(self.fail(step, expected, text, detail))
    }

    /// Waits until the other end has read everything sent on `sock`: in the tables, the
    /// other end's receive queue is empty and ours holds nothing unacknowledged.
    fn consumed(&mut self, step: &Step, sock: &Ident) -> Result<(), Stop> {
        let local = self.addr(step, &AddrExpr::LocalOf(sock.clone()))?;
        let remote = self.addr(step, &AddrExpr::RemoteOf(sock.clone()))?;
        let canon = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        let (local, remote) = (canon(local), canon(remote));
        let deadline = self.deadline();
        let net_dir = self.net_dir.clone();
        loop {
            let entries = tables::read(&net_dir).unwrap_or_default();
            let find = |l: SocketAddr, r: SocketAddr| {
                entries
                    .iter()
                    .find(|e| canon(e.local) == l && canon(e.remote) == r)
            };
            let theirs = find(remote, local);
            let unread = theirs.map_or(0, |e| e.rx_queue);
            let unacked = find(local, remote).map_or(0, |e| e.tx_queue);
            if unread == 0 && unacked == 0 {
                let text = if theirs.is_some() {
                    "the other end has read everything".to_string()
                } else {
                    "the other end has closed its socket".to_string()
                };
                self.record(step, text, true);
                return Ok(());
            }
            if Instant::now() >= deadline || self.cancelled() {
                let text = format!(
                    "{} still unread after {}",
                    describe::count(u64::from(unread) + u64::from(unacked)),
                    describe::duration(self.settings.timeout)
                );
                self.record(step, text.clone(), false);
                return Err(self.fail(
                    step,
                    "the other end reads what was sent".into(),
                    text,
                    Some("the program stopped reading this connection".into()),
                ));
            }
            std::thread::sleep(TABLE_POLL);
        }
    }

    /// What the programs still running are doing, in words, for a failure that waited
    /// on them: the call each thread sleeps in and on which connection, what they hold,
    /// and the shape that explains the wait (one client served at a time, a send
    /// stuck on a client that does not read).
    pub(super) fn what_programs_do(&mut self) -> Option<String> {
        let mut names: Vec<String> = self.programs.keys().cloned().collect();
        names.sort();
        let mut notes = Vec::new();
        let mut listeners: Vec<(u16, String)> = Vec::new();
        for name in names {
            let p = self.programs.get_mut(&name).expect("listed");
            if p.try_status().is_some() {
                continue;
            }
            let a = inspect::activity(p.pid(), &self.net_dir);
            listeners.extend(a.listening.iter().map(|l| (l.local.port(), name.clone())));
            if let Some(text) = describe_activity(&a) {
                notes.push(format!("the program `{name}` ({}) {text}", p.role));
            }
        }
        // Two programs on one port: the second bind() succeeded, which only
        // SO_REUSEPORT on both allows.
        listeners.sort();
        for pair in listeners.windows(2) {
            if pair[0].0 == pair[1].0 && pair[0].1 != pair[1].1 {
                notes.insert(0, format!(
                    "`{}` and `{}` both listen on port {}: the second bind() succeeded, which SO_REUSEPORT (set on both) allows; option names are numbers, not flags, so `SO_REUSEADDR | SO_REUSEPORT` in one setsockopt() sets SO_REUSEPORT alone: set each option with a call of its own",
                    pair[0].1, pair[1].1, pair[0].0
                ));
                break;
            }
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    /// Programs that ended on their own when no step expected it, in words, for the
    /// failure of a later step.
    pub(super) fn programs_that_died(&mut self) -> Option<String> {
        let mut names: Vec<String> = self.programs.keys().cloned().collect();
        names.sort();
        let mut notes = Vec::new();
        for name in names {
            if self.exit_checked.contains(&name) || self.explained.contains(&name) {
                continue;
            }
            // A program that just died may not be reaped yet (its trampoline mirrors
            // the signal a moment later): the scenario has failed already, so a short
            // wait costs nothing that matters.
            let window = self.settings.block_window;
            let p = self.programs.get_mut(&name).expect("listed");
            let never = std::sync::atomic::AtomicBool::new(false);
            if p.stopped_by_harness() || p.wait(Instant::now() + window, &never).is_none() {
                continue;
            }
            let id = Ident {
                name: name.clone(),
                span: Default::default(),
            };
            if let Some(n) = self.ending_note(&id) {
                notes.push(format!(
                    "the program `{name}` ({}) {}",
                    self.programs[&name].role,
                    n.trim_start_matches("it ")
                ));
            }
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    /// `; it ended (killed by SIGPIPE): why` or its stderr tail, for failure details.
    fn status_note(&mut self, prog: &Ident) -> String {
        match self.ending_note(prog) {
            Some(n) => format!("; {n}"),
            None => String::new(),
        }
    }

    /// `it is running 512 processes ...` when the program's group is near the process
    /// limit (or, without a sandbox, larger than any server of a course needs).
    fn fork_note(&self, prog: &Ident) -> Option<String> {
        let limit = self.settings.sandbox.as_ref().map(|s| s.limits.processes);
        let p = self.programs.get(&prog.name)?;
        if p.status_known() {
            return None;
        }
        let n = p.group_size() as u64;
        let many = limit.map_or(n >= 256, |l| n * 2 >= l);
        many.then(|| {
            let cap = limit.map_or(String::new(), |l| format!(" (the limit is {l})"));
            format!(
                "it is running {n} processes{cap}: does it call fork() in a loop, or fork for every client without the child ever exiting?"
            )
        })
    }

    /// What is known about how a program ended (or why it is misbehaving): its exit
    /// status with a teaching sentence, an output flood, a group of processes at the
    /// limit, and the tail of its stderr. Once said, a later failure note about programs
    /// that died does not say it again.
    fn ending_note(&mut self, prog: &Ident) -> Option<String> {
        self.explained.insert(prog.name.clone());
        let cpu = self
            .settings
            .sandbox
            .as_ref()
            .map_or(0, |s| s.limits.cpu.as_secs());
        let as_nobody =
            self.program_join.is_some() && crate::sandbox::unprivileged_owner().is_some();
        let p = self.programs.get_mut(&prog.name)?;
        let (flooded, status) = (p.flooded(), p.try_status());
        let mut parts = Vec::new();
        if let Some(limit) = flooded {
            parts.push(format!(
                "it printed more than {} and was killed: does it print in a loop?",
                describe::size(limit)
            ));
        } else if let Some(s) = status {
            let mut text = format!("it ended: {}", explain::status(s));
            if let Some(why) = why_ended(s, cpu, p.stopped_by_harness(), as_nobody) {
                text.push_str(&format!(" ({why})"));
            }
            parts.push(text);
        } else if let Some(f) = self.fork_note(prog) {
            parts.push(f);
        }
        let tail = self.programs[&prog.name].stderr_tail();
        if !tail.is_empty() {
            parts.push(format!("its stderr ends: {tail}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

fn why_ended(s: ExitStatus, cpu_limit: u64, by_harness: bool, as_nobody: bool) -> Option<String> {
    if by_harness {
        return None;
    }
    explain::why(s, cpu_limit, as_nobody)
}

/// A program's activity in words: `is blocked in read() on its connection with
/// 127.0.0.1:40112 while 1 more client waits to be accepted: it serves one client at a
/// time ...`. `None` when nothing was seen (no rights to read /proc, or no thread in a
/// call worth naming).
fn describe_activity(a: &inspect::Activity) -> Option<String> {
    if a.waiting.is_empty() {
        return None;
    }
    let mut calls: Vec<String> = Vec::new();
    for w in &a.waiting {
        let on = match &w.socket {
            Some(s) if s.state == tables::LISTEN => {
                format!(" on its listening socket (port {})", s.local.port())
            }
            Some(s) => format!(" on its connection with {}", s.remote),
            None => String::new(),
        };
        let text = format!("{}{on}", w.call);
        if !calls.contains(&text) {
            calls.push(text);
        }
    }
    let mut out = format!("is blocked in {}", calls.join(", and in "));
    let queued: u32 = a.listening.iter().map(|l| l.rx_queue).sum();
    let reading = a.waiting.iter().any(|w| {
        matches!(w.call, "read()" | "recv()" | "readv()" | "recvmsg()")
            && w.socket.as_ref().is_some_and(|s| s.state != tables::LISTEN)
    });
    let sending = a.waiting.iter().find(|w| {
        matches!(w.call, "write()" | "send()" | "writev()" | "sendmsg()")
            && w.socket.as_ref().is_some_and(|s| s.state != tables::LISTEN)
    });
    let accepting = a.waiting.iter().any(|w| w.call == "accept()");
    let reads = |w: &inspect::Waiting| {
        matches!(w.call, "read()" | "recv()" | "readv()" | "recvmsg()")
            && w.socket.as_ref().is_some_and(|s| s.state != tables::LISTEN)
    };
    // Several threads on one connection while another connection has none: each
    // thread was given the descriptor through a variable the next accept() overwrote.
    let shared = a.waiting.iter().filter(|w| reads(w)).find_map(|w| {
        let s = w.socket.as_ref()?;
        let threads = a
            .waiting
            .iter()
            .filter(|v| reads(v) && v.socket.as_ref() == Some(s))
            .count();
        (threads > 1).then_some((s, threads))
    });
    let unserved = a
        .connections
        .iter()
        .filter(|c| !a.waiting.iter().any(|w| w.socket.as_ref() == Some(*c)))
        .count();
    let waiting_clients = a
        .connections
        .iter()
        .filter(|c| c.rx_queue > 0)
        .filter(|c| !a.waiting.iter().any(|w| w.socket.as_ref() == Some(*c)))
        .count();
    if let (Some((s, threads)), true) = (shared, unserved > 0) {
        out.push_str(&format!(
            ": {threads} of its threads wait on that one connection with {} while \
             {unserved} other connection{} {} none: a thread was handed the address of \
             the variable the next accept() overwrote (pthread_create(..., &sock)), so \
             several threads serve one client and others are served by no one; give each \
             thread its own copy of the descriptor (pass its value, or a malloc'ed copy)",
            s.remote,
            if unserved == 1 { "" } else { "s" },
            if unserved == 1 { "has" } else { "have" }
        ));
    } else if let Some(w) = sending {
        let to = w
            .socket
            .as_ref()
            .map(|s| s.remote.to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            ": its send to {to} waits because that client does not read, and nothing else \
             gets served meanwhile (a blocking send stalls a server that serves its clients \
             from one thread: use a thread per client, or non-blocking sockets that keep \
             what could not be sent)"
        ));
    } else if reading && !accepting && queued > 0 {
        out.push_str(&format!(
            " while {queued} more client{} wait{} to be accepted: it serves one client at a \
             time (serve each client in its own thread or process, or all of them with \
             poll() or select())",
            if queued == 1 { "" } else { "s" },
            if queued == 1 { "s" } else { "" }
        ));
    } else if reading && waiting_clients > 0 {
        out.push_str(&format!(
            " while {waiting_clients} other connection{} {} data it has not read: it \
             waits on one client while others are ready (poll() or select() tells which \
             is)",
            if waiting_clients == 1 { "" } else { "s" },
            if waiting_clients == 1 {
                "holds"
            } else {
                "hold"
            }
        ));
    }
    let listening: Vec<String> = a
        .listening
        .iter()
        .map(|l| l.local.port().to_string())
        .collect();
    out.push_str(&format!(
        "; it holds {} connection{} and {}",
        a.connections.len(),
        if a.connections.len() == 1 { "" } else { "s" },
        if listening.is_empty() {
            "no longer listens".to_string()
        } else {
            format!("listens on port {}", listening.join(", "))
        }
    ));
    Some(out)
}
