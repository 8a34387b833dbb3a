//! One running program under test: its process group, its stdin, and its captured
//! stdout and stderr.

use crate::process::wait_exit;
use crate::sandbox::group_command;
use crate::sandbox::Join;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often a wait looks at its cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("failed to start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
}

/// One output stream as captured so far.
#[derive(Debug, Default)]
struct Buffer {
    data: Vec<u8>,
    /// How far output steps have consumed (matches are searched after it).
    consumed: usize,
    closed: bool,
}

/// Captured output with a condition variable that wakes waiters on new bytes or EOF.
#[derive(Debug, Default)]
struct Capture {
    buf: Mutex<Buffer>,
    changed: Condvar,
}

impl Capture {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What an output wait found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    /// The wanted text appeared; these are the bytes consumed through it.
    Matched(Vec<u8>),
    /// The stream closed without it; the unconsumed rest.
    Closed(Vec<u8>),
    /// The deadline passed without it; the unconsumed rest so far.
    TimedOut(Vec<u8>),
    Cancelled,
}

pub struct Program {
    pub role: String,
    /// The command after `{port}` and `{host}` were filled in.
    pub command: String,
    /// The address the program was told to use.
    pub addr: SocketAddr,
    child: Child,
    stdin: Option<Sender<Vec<u8>>>,
    stdin_failed: Arc<Mutex<Option<String>>>,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
    /// Set when the program printed more than its output limit and was killed for it.
    flooded: Arc<AtomicBool>,
    output_limit: u64,
    status: Option<ExitStatus>,
    /// Set when the harness itself signalled the program (`stop`, teardown).
    stopped_by_harness: bool,
    threads_done: Receiver<()>,
    threads_left: usize,
}

impl Program {
    /// Starts `command` (placeholders already filled) in `cwd`; with `join`, inside
    /// that sandbox and under its limits.
    pub fn spawn(
        role: &str,
        command: String,
        addr: SocketAddr,
        cwd: &Path,
        join: Option<Join>,
    ) -> Result<Program, SpawnError> {
        let output_limit = join
            .as_ref()
            .and_then(|j| j.limits)
            .map_or(64 << 20, |l| l.output);
        let mut cmd = group_command(&command, join);
        cmd.current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| SpawnError::Spawn {
            command: command.clone(),
            source,
        })?;
        let pid = child.id() as i32;
        let (stdin, stdout, stderr) = (
            child.stdin.take().expect("piped"),
            child.stdout.take().expect("piped"),
            child.stderr.take().expect("piped"),
        );
        let (done_tx, threads_done) = mpsc::channel();
        let printed = Arc::new(AtomicU64::new(0));
        let flooded = Arc::new(AtomicBool::new(false));
        let out_cap = Arc::new(Capture::default());
        let err_cap = Arc::new(Capture::default());
        let mut threads_left = 0;
        for (name, pipe, cap) in [
            (
                "program-stdout",
                Box::new(stdout) as Box<dyn Read + Send>,
                &out_cap,
            ),
            ("program-stderr", Box::new(stderr), &err_cap),
        ] {
            let (cap, printed, flooded, done) = (
                cap.clone(),
                printed.clone(),
                flooded.clone(),
                done_tx.clone(),
            );
            let f = move || {
                drain(pipe, &cap, &printed, output_limit, &flooded, pid);
                let _ = done.send(());
            };
            if std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .is_ok()
            {
                threads_left += 1;
            }
        }
        let (wtx, wrx) = mpsc::channel::<Vec<u8>>();
        let stdin_failed = Arc::new(Mutex::new(None));
        let failed = stdin_failed.clone();
        let writer = move || {
            let mut stdin = stdin;
            for data in wrx {
                if let Err(e) = stdin.write_all(&data).and_then(|_| stdin.flush()) {
                    *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                    break;
                }
            }
            let _ = done_tx.send(());
        };
        if std::thread::Builder::new()
            .name("program-stdin".into())
            .spawn(writer)
            .is_ok()
        {
            threads_left += 1;
        }
        Ok(Program {
            role: role.to_string(),
            command,
            addr,
            child,
            stdin: Some(wtx),
            stdin_failed,
            stdout: out_cap,
            stderr: err_cap,
            flooded,
            output_limit,
            status: None,
            stopped_by_harness: false,
            threads_done,
            threads_left,
        })
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Queues `data` for the program's stdin. A program that does not read its stdin
    /// cannot block the harness: a thread writes.
    pub fn write_stdin(&mut self, data: &[u8]) -> Result<(), String> {
        if let Some(e) = self
            .stdin_failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Err(format!("writing its stdin failed: {e}"));
        }
        match &self.stdin {
            Some(w) if w.send(data.to_vec()).is_ok() => Ok(()),
            Some(_) => Err("its stdin is closed: the program closed it or exited".into()),
            None => Err("the scenario already closed its stdin".into()),
        }
    }

    /// End of input: the writer thread finishes what is queued and closes the pipe.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits until the unconsumed output of `stream` satisfies `find` (which returns
    /// the end of the match), the stream closes, the deadline passes, or `cancel` is set.
    pub fn wait_output(
        &self,
        stderr: bool,
        find: impl Fn(&[u8]) -> Option<usize>,
        deadline: Instant,
        cancel: &AtomicBool,
    ) -> Captured {
        let cap = if stderr { &self.stderr } else { &self.stdout };
        let mut buf = cap.lock();
        loop {
            let start = buf.consumed;
            if let Some(end) = find(&buf.data[start..]) {
                buf.consumed = start + end;
                return Captured::Matched(buf.data[start..start + end].to_vec());
            }
            let rest = buf.data[start..].to_vec();
            if buf.closed {
                return Captured::Closed(rest);
            }
            let now = Instant::now();
            if now >= deadline {
                return Captured::TimedOut(rest);
            }
            if cancel.load(Ordering::SeqCst) {
                return Captured::Cancelled;
            }
            let slice = (deadline - now).min(CANCEL_POLL);
            buf = cap
                .changed
                .wait_timeout(buf, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Everything captured so far on stdout (or stderr).
    pub fn captured(&self, stderr: bool) -> Vec<u8> {
        let cap = if stderr { &self.stderr } else { &self.stdout };
        cap.lock().data.clone()
    }

    /// The last lines of stderr, for messages; empty when it printed nothing there.
    pub fn stderr_tail(&self) -> String {
        let buf = self.stderr.lock();
        let text = String::from_utf8_lossy(&buf.data);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = &lines[lines.len().saturating_sub(3)..];
        let joined = tail.join(" | ");
        if joined.chars().count() > 300 {
            let cut: String = joined.chars().rev().take(300).collect();
            format!("…{}", cut.chars().rev().collect::<String>())
        } else {
            joined
        }
    }

    /// Whether it is known to have ended (without reaping it now).
    pub fn status_known(&self) -> bool {
        self.status.is_some()
    }

    /// The exit status if it has ended (reaped here; later calls return the same).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits for the program to end, up to `deadline`; `None` if it is still running.
    pub fn wait(&mut self, deadline: Instant, cancel: &AtomicBool) -> Option<ExitStatus> {
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            let now = Instant::now();
            if now >= deadline || cancel.load(Ordering::SeqCst) {
                return None;
            }
            wait_exit(self.pid(), (deadline - now).min(CANCEL_POLL));
        }
    }

    /// How many live processes its process group holds: a program that forks without
    /// end shows here first, as a group at the process limit.
    pub fn group_size(&self) -> usize {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return 0;
        };
        let pgrp = self.pid();
        dir.flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter_map(|stat| crate::process::stat_state_and_group(&stat))
            .filter(|&(state, group)| state != 'Z' && group == pgrp)
            .count()
    }

    /// Whether it was killed for printing more than its output limit.
    pub fn flooded(&self) -> Option<u64> {
        self.flooded
            .load(Ordering::SeqCst)
            .then_some(self.output_limit)
    }

    /// Whether the harness signalled it (so a SIGTERM death is not the program's fault).
    pub fn stopped_by_harness(&self) -> bool {
        self.stopped_by_harness
    }

    /// SIGTERM to the whole group, `grace` to exit, then SIGKILL. Returns the status
    /// and whether SIGKILL was needed.
    pub fn stop(&mut self, grace: Duration) -> (Option<ExitStatus>, bool) {
        if let Some(s) = self.try_status() {
            return (Some(s), false);
        }
        self.stopped_by_harness = true;
        let pid = self.pid();
        // SAFETY: signalling our own child's process group; the leader is unreaped, so
        // the group id cannot have been reused.
        unsafe { libc::kill(-pid, libc::SIGTERM) };
        let never = AtomicBool::new(false);
        if let Some(s) = self.wait(Instant::now() + grace, &never) {
            return (Some(s), false);
        }
        // SAFETY: as above.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        (
            self.wait(Instant::now() + Duration::from_secs(5), &never),
            true,
        )
    }

    /// Teardown: stops it if it still runs (without grace when `hurry`), kills what is
    /// left of its group, and waits for the pipe threads. Returns problems found, and
    /// whether SIGKILL was needed.
    pub fn close(mut self, grace: Duration, hurry: bool) -> (Vec<String>, bool) {
        let mut problems = Vec::new();
        self.stdin = None;
        let (status, killed) = self.stop(if hurry { Duration::ZERO } else { grace });
        // Whatever it left in its group (a child it forked) goes too.
        // SAFETY: the leader is reaped only now, by `stop`; its group id is still ours
        // until every member is gone, and SIGKILL to an empty group is harmless.
        unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
        if status.is_none() {
            problems.push(format!(
                "the program `{}` (pid {}) survived SIGKILL",
                self.role,
                self.pid()
            ));
            return (problems, killed);
        }
        let deadline = Instant::now() + grace.max(Duration::from_millis(200));
        for _ in 0..self.threads_left {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.threads_done.recv_timeout(left).is_err() {
                problems.push(format!(
                    "a process that left the program `{}`'s process group still holds its output open",
                    self.role
                ));
                break;
            }
        }
        (problems, killed)
    }
}

/// Copies a pipe into a capture until EOF, counting against the output limit; over
/// the limit the program's group is killed (a program that prints without end).
fn drain(
    mut pipe: impl Read,
    cap: &Capture,
    printed: &AtomicU64,
    limit: u64,
    flooded: &AtomicBool,
    pid: i32,
) {
    let mut chunk = [0u8; 8192];
    loop {
        let n = match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let total = printed.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if total > limit {
            flooded.store(true, Ordering::SeqCst);
            // SAFETY: our child's process group; see Program::stop.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            break;
        }
        cap.lock().data.extend_from_slice(&chunk[..n]);
        cap.changed.notify_all();
    }
    cap.lock().closed = true;
    cap.changed.notify_all();
}
