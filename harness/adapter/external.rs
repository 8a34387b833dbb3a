//! An adapter in its own process, spoken to over pipes.
//!
//! The adapter runs as `/bin/sh -c 'exec CMD'` in a process group of its own with a
//! parent-death signal, so teardown reaches everything it started in that group:
//! stdin is closed first (the protocol's "goodbye"), then SIGTERM after a grace
//! period, then SIGKILL. Its stdout is read on a thread with a cap on the line
//! length, so a flood cannot exhaust memory; its stderr is drained and the tail kept
//! for error messages.

use super::session::{Fault, Session};
use crate::process::wait_exit;
use crate::protocol::Response;
use crate::sandbox::group_command;
use crate::sandbox::Join;
use crate::signals::describe_status;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest line an adapter may print (16 MiB of data as hex is 32 MiB).
pub const MAX_LINE: usize = 64 << 20;
/// How much of the adapter's stderr is kept for messages.
const STDERR_TAIL: usize = 2048;

enum Incoming {
    Response(Response),
    Fault(Fault),
    Eof,
}

pub struct External {
    child: Child,
    writer: Option<Sender<Vec<u8>>>,
    rx: Receiver<Incoming>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Each pipe thread sends once when it ends.
    threads_done: Receiver<()>,
    threads_left: usize,
    grace: Duration,
}

impl External {
    /// Starts `command`; with `join`, inside that sandbox and under its limits.
    pub fn spawn(command: &str, grace: Duration, join: Option<Join>) -> Result<Self, Fault> {
        let output_limit = join
            .as_ref()
            .and_then(|j| j.limits)
            .map_or(u64::MAX, |l| l.output);
        let mut cmd = group_command(command, join);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Fault::Spawn(format!("{command}: {e}")))?;
        let (stdin, stdout, stderr) = (
            child.stdin.take().expect("piped"),
            child.stdout.take().expect("piped"),
            child.stderr.take().expect("piped"),
        );
        let (tx, rx) = mpsc::channel();
        let (done_tx, threads_done) = mpsc::channel();
        let tail = Arc::new(Mutex::new(Vec::new()));
        let printed = Arc::new(Printed {
            bytes: AtomicU64::new(0),
            limit: output_limit,
        });
        spawn_pipe_thread("adapter-stdout", done_tx.clone(), {
            let (tx, printed) = (tx.clone(), printed.clone());
            move || read_responses(stdout, &tx, &printed)
        });
        spawn_pipe_thread("adapter-stderr", done_tx.clone(), {
            let (tx, tail) = (tx.clone(), tail.clone());
            move || drain_stderr(stderr, &tail, &tx, &printed)
        });
        let (wtx, wrx) = mpsc::channel::<Vec<u8>>();
        spawn_pipe_thread("adapter-stdin", done_tx, move || {
            let mut stdin = stdin;
            for line in wrx {
                if let Err(e) = stdin.write_all(&line).and_then(|_| stdin.flush()) {
                    let _ = tx.send(Incoming::Fault(Fault::Write(e.to_string())));
                    return;
                }
            }
        });
        Ok(External {
            child,
            writer: Some(wtx),
            rx,
            stderr: tail,
            threads_done,
            threads_left: 3,
            grace,
        })
    }

    /// `; stderr: ...` with the last lines the adapter printed, or nothing.
    fn stderr_note(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&tail);
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!(
                "; its stderr ends: {}",
                text.lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

fn spawn_pipe_thread(name: &str, done: Sender<()>, f: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            f();
            let _ = done.send(());
        });
    if let Err(e) = spawned {
        eprintln!("sockspec: failed to start the {name} thread: {e}");
    }
}

/// Bytes the adapter printed on stdout and stderr together, against its limit.
struct Printed {
    bytes: AtomicU64,
    limit: u64,
}

impl Printed {
    /// Counts `n` more bytes; true while within the limit.
    fn add(&self, n: usize, tx: &Sender<Incoming>) -> bool {
        let total = self.bytes.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > self.limit {
            let _ = tx.send(Incoming::Fault(Fault::OutputLimit { limit: self.limit }));
            return false;
        }
        true
    }
}

fn read_responses(stdout: impl Read, tx: &Sender<Incoming>, printed: &Printed) {
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .unwrap_or_default();
        if n == 0 {
            let _ = tx.send(Incoming::Eof);
            return;
        }
        if line.len() > MAX_LINE {
            let _ = tx.send(Incoming::Fault(Fault::LineTooLong { limit: MAX_LINE }));
            return;
        }
        if !printed.add(line.len(), tx) {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let msg = match serde_json::from_str::<Response>(text) {
            Ok(r) => Incoming::Response(r),
            Err(e) => Incoming::Fault(Fault::Garbage {
                line: text.chars().take(200).collect(),
                reason: e.to_string(),
                stderr: String::new(),
            }),
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

fn drain_stderr(
    mut stderr: impl Read,
    tail: &Mutex<Vec<u8>>,
    tx: &Sender<Incoming>,
    printed: &Printed,
) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 || !printed.add(n, tx) {
            return;
        }
        let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
        t.extend_from_slice(&buf[..n]);
        let excess = t.len().saturating_sub(STDERR_TAIL);
        t.drain(..excess);
    }
}

impl Session for External {
    fn send(&mut self, request: &crate::protocol::Request) -> Result<(), Fault> {
        let mut line = serde_json::to_vec(request).expect("requests serialize");
        line.push(b'\n');
        match &self.writer {
            Some(w) if w.send(line).is_ok() => Ok(()),
            _ => Err(Fault::Write("the adapter's stdin is closed".into())),
        }
    }

    fn recv(&mut self, deadline: Instant) -> Result<Option<Response>, Fault> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(Incoming::Response(r)) => Ok(Some(r)),
            Ok(Incoming::Fault(Fault::Garbage { line, reason, .. })) => Err(Fault::Garbage {
                line,
                reason,
                stderr: self.stderr_note(),
            }),
            // A write fails when the adapter is gone: report how it went, like EOF.
            Ok(Incoming::Fault(f)) if !matches!(f, Fault::Write(_)) => Err(f),
            Ok(Incoming::Fault(_)) | Ok(Incoming::Eof) | Err(RecvTimeoutError::Disconnected) => {
                if wait_exit(self.pid(), self.grace) {
                    // Let the stderr thread take the last words before quoting them.
                    if self
                        .threads_done
                        .recv_timeout(Duration::from_millis(200))
                        .is_ok()
                    {
                        self.threads_left -= 1;
                    }
                    let status = self
                        .child
                        .try_wait()
                        .ok()
                        .flatten()
                        .map_or("exited".into(), describe_status);
                    Err(Fault::Exited {
                        status,
                        stderr: self.stderr_note(),
                    })
                } else {
                    Err(Fault::ClosedOutput {
                        stderr: self.stderr_note(),
                    })
                }
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
        }
    }

    fn close(mut self: Box<Self>, hurry: bool) -> Vec<String> {
        let mut problems = Vec::new();
        drop(self.writer.take()); // EOF on stdin: the adapter should exit by itself.
        let pid = self.pid();
        let mut exited = hurry || wait_exit(pid, self.grace);
        if !exited {
            // The protocol asks an adapter to exit when its stdin ends.
            problems.push(format!(
                "the adapter did not exit within {:?} of its stdin closing (the protocol asks it to exit at EOF) and was sent SIGTERM",
                self.grace
            ));
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-pid, libc::SIGTERM) };
            exited = wait_exit(pid, self.grace);
            if !exited {
                problems.push(format!(
                    "the adapter ignored SIGTERM for {:?} and was killed",
                    self.grace
                ));
            }
        }
        // The leader is unreaped, so its group id cannot be reused: SIGKILL whatever is
        // left in the group, then reap.
        // SAFETY: as above.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        if !exited && !wait_exit(pid, Duration::from_secs(5)) {
            problems.push(format!("the adapter (pid {pid}) survived SIGKILL"));
            return problems;
        }
        let _ = self.child.wait();
        let deadline = Instant::now() + self.grace;
        for _ in 0..self.threads_left {
            if self
                .threads_done
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_err()
            {
                problems.push(
                    "a process outside the adapter's process group still holds its pipes open"
                        .into(),
                );
                break;
            }
        }
        problems
    }
}
