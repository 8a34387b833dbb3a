//! An adapter in its own process, spoken to over pipes.
//!
//! The adapter runs as `/bin/sh -c 'exec CMD'` in a process group of its own with a
//! parent-death signal, so teardown reaches everything it started in that group:
//! stdin is closed first (the protocol's "goodbye"), then SIGTERM after a grace
//! period, then SIGKILL. Its stdout is read on a thread with a cap on the line
//! length, so a flood cannot exhaust memory; its stderr is drained and the tail kept
//! for error messages.

use super::session::{Fault, Session};
use crate::process::{GroupChild, Leftover, Sink};
use crate::protocol::Response;
use crate::sandbox::{group_command, Join};
use crate::signals::describe_status;
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
    child: GroupChild,
    rx: Receiver<Incoming>,
    stderr: Arc<Mutex<Vec<u8>>>,
    grace: Duration,
}

impl External {
    /// Starts `command`; with `join`, inside that sandbox and under its limits.
    pub fn spawn(command: &str, grace: Duration, join: Option<Join>) -> Result<Self, Fault> {
        let output_limit = join
            .as_ref()
            .and_then(|j| j.limits)
            .map_or(u64::MAX, |l| l.output);
        let (tx, rx) = mpsc::channel();
        let tail = Arc::new(Mutex::new(Vec::new()));
        let child = GroupChild::spawn(
            group_command(command, join),
            "adapter",
            output_limit,
            Responses {
                tx,
                line: Vec::new(),
            },
            StderrTail(tail.clone()),
        )
        .map_err(|e| Fault::Spawn {
            command: command.to_string(),
            source: Arc::new(e),
        })?;
        Ok(External {
            child,
            rx,
            stderr: tail,
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
}

/// The adapter's stdout, cut into lines of at most [`MAX_LINE`] bytes and parsed as
/// responses.
struct Responses {
    tx: Sender<Incoming>,
    line: Vec<u8>,
}

impl Responses {
    fn parse(&self, line: &[u8]) -> bool {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return true;
        }
        let msg = match serde_json::from_str::<Response>(text) {
            Ok(r) => Incoming::Response(r),
            Err(e) => Incoming::Fault(Fault::Garbage {
                line: text.chars().take(200).collect(),
                reason: e.to_string(),
                stderr: String::new(),
            }),
        };
        self.tx.send(msg).is_ok()
    }
}

impl Sink for Responses {
    /// Counts a line against the output limit when it is complete, so an overlong
    /// line is named as such even where the line limit equals the output limit.
    fn data(&mut self, mut bytes: &[u8]) -> Option<usize> {
        let mut complete = 0;
        while let Some(at) = bytes.iter().position(|&b| b == b'\n') {
            complete += self.line.len() + at + 1;
            let ok = if self.line.is_empty() {
                self.parse(&bytes[..at])
            } else {
                self.line.extend_from_slice(&bytes[..at]);
                let line = std::mem::take(&mut self.line);
                self.parse(&line)
            };
            if !ok {
                return None;
            }
            bytes = &bytes[at + 1..];
        }
        self.line.extend_from_slice(bytes);
        if self.line.len() > MAX_LINE {
            self.line = Vec::new();
            let _ = self
                .tx
                .send(Incoming::Fault(Fault::LineTooLong { limit: MAX_LINE }));
            return None;
        }
        Some(complete)
    }

    fn end(&mut self) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.parse(&line);
        }
        let _ = self.tx.send(Incoming::Eof);
    }
}

/// The last [`STDERR_TAIL`] bytes of the adapter's stderr, for messages.
struct StderrTail(Arc<Mutex<Vec<u8>>>);

impl Sink for StderrTail {
    fn data(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.extend_from_slice(bytes);
        let excess = t.len().saturating_sub(STDERR_TAIL);
        t.drain(..excess);
        Some(bytes.len())
    }

    fn end(&mut self) {}
}

/// Requests to an adapter's stdin, as JSON lines.
struct StdinSender(crate::process::StdinHandle);

impl super::session::RequestSender for StdinSender {
    fn send(&self, request: &crate::protocol::Request) -> Result<(), Fault> {
        let mut line = serde_json::to_vec(request).expect("requests serialize");
        line.push(b'\n');
        self.0
            .write(line)
            .map_err(|_| Fault::Write("the adapter's stdin is closed".into()))
    }
}

impl Session for External {
    fn send(&mut self, request: &crate::protocol::Request) -> Result<(), Fault> {
        use super::session::RequestSender;
        StdinSender(self.child.stdin_handle()).send(request)
    }

    fn sender(&self) -> Box<dyn super::session::RequestSender> {
        Box::new(StdinSender(self.child.stdin_handle()))
    }

    fn recv(&mut self, deadline: Instant) -> Result<Option<Response>, Fault> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(Incoming::Response(r)) => Ok(Some(r)),
            // Killed mid-line for its output: the cut line is no cause of its own.
            Ok(Incoming::Fault(_) | Incoming::Eof) | Err(RecvTimeoutError::Disconnected)
                if self.child.flooded().is_some() =>
            {
                Err(Fault::OutputLimit {
                    limit: self.child.flooded().unwrap_or_default(),
                })
            }
            Ok(Incoming::Fault(Fault::Garbage { line, reason, .. })) => Err(Fault::Garbage {
                line,
                reason,
                stderr: self.stderr_note(),
            }),
            Ok(Incoming::Fault(f)) => Err(f),
            Ok(Incoming::Eof) | Err(RecvTimeoutError::Disconnected) => {
                if self.child.exited_within(self.grace) {
                    // Let the stderr thread take the last words before quoting them.
                    self.child.settle(Duration::from_millis(500));
                    let status = self
                        .child
                        .try_status()
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
        self.child.close_stdin(); // EOF: the adapter should exit by itself.
        let mut exited = hurry || self.child.exited_within(self.grace);
        if !exited {
            // The protocol asks an adapter to exit when its stdin ends.
            problems.push(format!(
                "the adapter did not exit within {:?} of its stdin closing (the protocol asks it to exit at EOF) and was sent SIGTERM",
                self.grace
            ));
            self.child.signal_group(rustix::process::Signal::TERM);
            exited = self.child.exited_within(self.grace);
            if !exited {
                problems.push(format!(
                    "the adapter ignored SIGTERM for {:?} and was killed",
                    self.grace
                ));
            }
        }
        match self.child.finish(self.grace) {
            Ok(()) => {}
            Err(Leftover::SurvivedKill { pid }) => {
                problems.push(format!("the adapter (pid {pid}) survived SIGKILL"))
            }
            Err(Leftover::PipesHeldOpen) => problems.push(
                "a process outside the adapter's process group still holds its pipes open".into(),
            ),
        }
        problems
    }
}
