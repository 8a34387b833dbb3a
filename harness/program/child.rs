//! One running program under test: its process group, its stdin, and its captured
//! stdout and stderr.

use crate::process::{ChildStdio, GroupChild, Leftover, Sink, StdinError};
use crate::sandbox::{group_command, Join};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A stream's thread fills the capture and wakes the waiters.
struct Filling(Arc<Capture>);

impl Sink for Filling {
    fn data(&mut self, bytes: &[u8]) -> Option<usize> {
        self.0.lock().data.extend_from_slice(bytes);
        self.0.changed.notify_all();
        Some(bytes.len())
    }

    fn end(&mut self) {
        self.0.lock().closed = true;
        self.0.changed.notify_all();
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
    /// The address the program was told to use; for one that chooses its own port, the
    /// port it was found listening on, once a `listening` step found it.
    pub addr: SocketAddr,
    /// Its command has no `{port}`: the port is the program's own (written into it),
    /// found where it listens.
    pub finds_own_port: bool,
    /// Its port is its own choice, whether found now or taken from an instance before
    /// it (a restart of a program that chooses its port).
    pub chooses_port: bool,
    child: GroupChild,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
    /// Set when the harness itself signalled the program (`stop`, teardown).
    stopped_by_harness: bool,
}

impl Program {
    /// Starts `command` (placeholders already filled) in `cwd`, its stdin and stdout
    /// connected as `stdio` says; with `join`, inside that sandbox and under its limits.
    pub fn spawn(
        role: &str,
        command: String,
        addr: SocketAddr,
        (cwd, stdio): (&Path, ChildStdio),
        join: Option<Join>,
    ) -> Result<Program, SpawnError> {
        let output_limit = join
            .as_ref()
            .and_then(|j| j.limits)
            .map_or(64 << 20, |l| l.output);
        let mut cmd = group_command(&command, join);
        cmd.current_dir(cwd);
        let (stdout, stderr) = (Arc::new(Capture::default()), Arc::new(Capture::default()));
        let child = GroupChild::spawn_with(
            cmd,
            stdio,
            "program",
            output_limit,
            Filling(stdout.clone()),
            Filling(stderr.clone()),
        )
        .map_err(|source| SpawnError::Spawn {
            command: command.clone(),
            source,
        })?;
        Ok(Program {
            role: role.to_string(),
            command,
            addr,
            finds_own_port: false,
            chooses_port: false,
            child,
            stdout,
            stderr,
            stopped_by_harness: false,
        })
    }

    /// Its first process's pid, which is also its process group's id.
    pub fn pid(&self) -> i32 {
        self.child.pid()
    }

    /// Queues `data` for the program's stdin. A program that does not read its stdin
    /// cannot block the harness: a thread writes.
    pub fn write_stdin(&mut self, data: &[u8]) -> Result<(), String> {
        self.child.write_stdin(data.to_vec()).map_err(|e| match e {
            StdinError::WriteFailed(e) => format!("writing its stdin failed: {e}"),
            StdinError::ClosedByProcess => {
                "its stdin is closed: the program closed it or exited".into()
            }
            StdinError::ClosedByHarness => "the scenario already closed its stdin".into(),
        })
    }

    /// End of input: the writer thread finishes what is queued and closes the pipe.
    pub fn close_stdin(&mut self) {
        self.child.close_stdin();
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
        self.child.status_known()
    }

    /// The exit status if it has ended (reaped here; later calls return the same).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_status()
    }

    /// Waits for the program to end, up to `deadline`; `None` if it is still running.
    pub fn wait(&mut self, deadline: Instant, cancel: &AtomicBool) -> Option<ExitStatus> {
        self.child.wait(deadline, cancel)
    }

    /// How many live processes its process group holds: a program that forks without
    /// end shows here first, as a group at the process limit.
    pub fn group_size(&self) -> usize {
        super::inspect::group(self.pid()).len()
    }

    /// Whether it was killed for printing more than its output limit.
    pub fn flooded(&self) -> Option<u64> {
        self.child.flooded()
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
        self.child.terminate(grace)
    }

    /// Teardown: stops it if it still runs (without grace when `hurry`), kills what is
    /// left of its group, and waits for the pipe threads. Returns problems found, and
    /// whether SIGKILL was needed.
    pub fn close(mut self, grace: Duration, hurry: bool) -> (Vec<String>, bool) {
        self.close_stdin();
        let (_, killed) = self.stop(if hurry { Duration::ZERO } else { grace });
        let pid = self.pid();
        let problems = match self.child.finish(grace.max(Duration::from_millis(200))) {
            Ok(()) => Vec::new(),
            Err(Leftover::SurvivedKill { .. }) => vec![format!(
                "the program `{}` (pid {pid}) survived SIGKILL",
                self.role
            )],
            Err(Leftover::PipesHeldOpen) => vec![format!(
                "a process that left the program `{}`'s process group still holds its output open",
                self.role
            )],
        };
        (problems, killed)
    }
}
