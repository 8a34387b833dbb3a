//! A child process that leads a process group, with its pipes served by threads.
//!
//! Why threads: a child that does not read its stdin, or floods its stdout, must never
//! block the harness, so every pipe has a thread of its own and the harness only ever
//! talks to channels. Why a process group: what the child forks goes with it, since
//! every signal is sent to the group. The leader stays unreaped until the end, so its
//! group id cannot be reused by the time a signal is sent.

use super::terminal;
use super::wait::wait_exit;
use rustix::process::{kill_process_group, Pid, Signal};
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a wait looks at its cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Where one output stream's bytes go, on that stream's thread.
pub trait Sink: Send + 'static {
    /// New bytes. Returns how many bytes count against the output limit now, or
    /// `None` to stop reading this stream. A sink that holds bytes back (an unfinished
    /// line) may count them when it lets them go, so that its own limit on what it
    /// holds is named before the output limit that the same bytes would cross.
    fn data(&mut self, bytes: &[u8]) -> Option<usize>;
    /// The stream ended (EOF, a read error, the output limit, or `data` said stop).
    fn end(&mut self);
}

/// Why bytes could not be queued for the child's stdin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StdinError {
    #[error("writing its stdin failed: {0}")]
    WriteFailed(String),
    #[error("its stdin is closed: the process closed it or exited")]
    ClosedByProcess,
    #[error("its stdin was already closed")]
    ClosedByHarness,
}

/// How a child's stdin and stdout are connected (stderr is always a pipe of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChildStdio {
    /// Pipes: what an adapter speaks its protocol over.
    #[default]
    Pipes,
    /// A pseudo-terminal, as when a person runs the program (see `terminal`): closing
    /// stdin sends the end-of-input character instead of closing a pipe.
    Terminal,
}

/// The output both streams together have printed, against the limit.
struct Printed {
    bytes: AtomicU64,
    limit: u64,
    flooded: AtomicBool,
}

pub struct GroupChild {
    child: Child,
    stdin: StdinHandle,
    printed: Arc<Printed>,
    status: Option<ExitStatus>,
    /// Each pipe thread sends once when it ends.
    threads_done: Receiver<()>,
    threads_left: usize,
}

/// The way into a child's stdin: a queue that a thread writes to the pipe. Shared by
/// clones, so that closing it once closes it for all.
#[derive(Clone)]
pub struct StdinHandle {
    tx: Arc<Mutex<Option<Sender<Vec<u8>>>>>,
    failed: Arc<Mutex<Option<String>>>,
}

impl StdinHandle {
    /// Queues `data`; the writer thread writes it.
    pub fn write(&self, data: Vec<u8>) -> Result<(), StdinError> {
        if let Some(e) = self
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Err(StdinError::WriteFailed(e));
        }
        match &*self.tx.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(w) if w.send(data).is_ok() => Ok(()),
            Some(_) => Err(StdinError::ClosedByProcess),
            None => Err(StdinError::ClosedByHarness),
        }
    }

    fn close(&self) {
        *self.tx.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl GroupChild {
    /// Starts `cmd` (which must already put the child in a process group or session of
    /// its own) with all three stdio streams piped. `name` names the threads.
    /// Over `output_limit` bytes on stdout and stderr together, the whole group is
    /// killed and [`GroupChild::flooded`] says so.
    pub fn spawn(
        cmd: Command,
        name: &str,
        output_limit: u64,
        stdout: impl Sink,
        stderr: impl Sink,
    ) -> std::io::Result<GroupChild> {
        Self::spawn_with(cmd, ChildStdio::Pipes, name, output_limit, stdout, stderr)
    }

    /// [`GroupChild::spawn`] with stdin and stdout connected as `stdio` says.
    pub fn spawn_with(
        mut cmd: Command,
        stdio: ChildStdio,
        name: &str,
        output_limit: u64,
        stdout: impl Sink,
        stderr: impl Sink,
    ) -> std::io::Result<GroupChild> {
        let terminal = match stdio {
            ChildStdio::Pipes => {
                cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
                None
            }
            ChildStdio::Terminal => {
                let (master, slave) = terminal::open()?;
                cmd.stdin(Stdio::from(slave.try_clone()?))
                    .stdout(Stdio::from(slave));
                Some(master)
            }
        };
        cmd.stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        // The Command holds the slave's copies until dropped: the master's reader sees
        // the end only once the child's are the last ones.
        drop(cmd);
        let pid = child.id() as i32;
        let err = child.stderr.take().expect("piped");
        let (stdin, out): (Box<dyn Write + Send>, Box<dyn Read + Send>) = match terminal {
            None => (
                Box::new(child.stdin.take().expect("piped")),
                Box::new(child.stdout.take().expect("piped")),
            ),
            Some(master) => (
                Box::new(std::fs::File::from(master.try_clone()?)),
                Box::new(std::fs::File::from(master)),
            ),
        };
        let at_terminal = stdio == ChildStdio::Terminal;
        let printed = Arc::new(Printed {
            bytes: AtomicU64::new(0),
            limit: output_limit,
            flooded: AtomicBool::new(false),
        });
        let (done_tx, threads_done) = mpsc::channel();
        let mut threads_left = 0;
        let out_printed = printed.clone();
        threads_left += usize::from(spawn_thread(
            &format!("{name}-stdout"),
            done_tx.clone(),
            move || drain(out, stdout, &out_printed, pid),
        ));
        let err_printed = printed.clone();
        threads_left += usize::from(spawn_thread(
            &format!("{name}-stderr"),
            done_tx.clone(),
            move || drain(err, stderr, &err_printed, pid),
        ));
        let (wtx, wrx) = mpsc::channel::<Vec<u8>>();
        let stdin_failed = Arc::new(Mutex::new(None));
        let failed = stdin_failed.clone();
        threads_left += usize::from(spawn_thread(&format!("{name}-stdin"), done_tx, move || {
            let mut stdin = stdin;
            let mut line_open = false;
            for data in wrx {
                if let Err(e) = stdin.write_all(&data).and_then(|_| stdin.flush()) {
                    *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                    return;
                }
                if let Some(last) = data.last() {
                    line_open = *last != b'\n';
                }
            }
            // Closed. A pipe closes as the writer drops; a terminal has no such end, so
            // the end-of-input character is typed: once to hand over a pending partial
            // line, once more to end the input.
            if at_terminal {
                let eof = [terminal::EOF_CHAR; 2];
                let _ = stdin.write_all(&eof[usize::from(!line_open)..]);
            }
        }));
        Ok(GroupChild {
            child,
            stdin: StdinHandle {
                tx: Arc::new(Mutex::new(Some(wtx))),
                failed: stdin_failed,
            },
            printed,
            status: None,
            threads_done,
            threads_left,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Queues `data` for the child's stdin; a thread writes it.
    pub fn write_stdin(&self, data: Vec<u8>) -> Result<(), StdinError> {
        self.stdin.write(data)
    }

    /// A handle that writes the child's stdin from another thread; closing stdin here
    /// closes it for every handle.
    pub fn stdin_handle(&self) -> StdinHandle {
        self.stdin.clone()
    }

    /// End of input: the writer thread finishes what is queued and closes the pipe.
    pub fn close_stdin(&mut self) {
        self.stdin.close();
    }

    /// The output limit, if the child was killed for printing more than it.
    pub fn flooded(&self) -> Option<u64> {
        self.printed
            .flooded
            .load(Ordering::SeqCst)
            .then_some(self.printed.limit)
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

    /// Waits up to `timeout` for the child to end, without reaping it.
    pub fn exited_within(&self, timeout: Duration) -> bool {
        self.status.is_some() || wait_exit(self.pid(), timeout)
    }

    /// Waits for the child to end, up to `deadline` or until `cancel` is set; `None`
    /// if it is still running.
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

    /// Sends `signal` to the child's whole process group.
    pub fn signal_group(&self, signal: Signal) {
        // Our own child's group; the leader is unreaped until `finish`, so the group
        // id cannot have been reused.
        kill_group(self.pid(), signal);
    }

    /// SIGTERM to the group, `grace` to exit, then SIGKILL. Returns the status (`None`
    /// if it survived even SIGKILL for 5 s) and whether SIGKILL was needed.
    pub fn terminate(&mut self, grace: Duration) -> (Option<ExitStatus>, bool) {
        if let Some(s) = self.try_status() {
            return (Some(s), false);
        }
        let never = AtomicBool::new(false);
        self.signal_group(Signal::TERM);
        if let Some(s) = self.wait(Instant::now() + grace, &never) {
            return (Some(s), false);
        }
        self.signal_group(Signal::KILL);
        (
            self.wait(Instant::now() + Duration::from_secs(5), &never),
            true,
        )
    }

    /// Waits up to `timeout` for the pipe threads to end: after an exit, this lets the
    /// stderr thread take the child's last words before they are quoted. (Waiting for
    /// one thread was not enough: the stdout thread, done at its EOF, answered first,
    /// and a loaded machine quoted half a line.)
    pub fn settle(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.threads_left > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.threads_done.recv_timeout(left).is_err() {
                break;
            }
            self.threads_left -= 1;
        }
    }

    /// The end: closes stdin, SIGKILLs whatever is left in the group (a child the
    /// leader forked), reaps the leader and waits up to `threads` for the pipe
    /// threads. Returns what went wrong, if anything.
    pub fn finish(mut self, threads: Duration) -> Result<(), Leftover> {
        self.stdin.close();
        let pid = self.pid();
        self.signal_group(Signal::KILL);
        let never = AtomicBool::new(false);
        if self
            .wait(Instant::now() + Duration::from_secs(5), &never)
            .is_none()
        {
            return Err(Leftover::SurvivedKill { pid });
        }
        let deadline = Instant::now() + threads;
        for _ in 0..self.threads_left {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.threads_done.recv_timeout(left).is_err() {
                return Err(Leftover::PipesHeldOpen);
            }
        }
        Ok(())
    }
}

/// What can outlast [`GroupChild::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftover {
    /// The leader did not end within 5 s of SIGKILL.
    SurvivedKill { pid: i32 },
    /// A process outside the group (it left with setsid or setpgid) still holds a
    /// pipe open.
    PipesHeldOpen,
}

/// Signals the process group led by `pid`; a group that is already gone is no error.
fn kill_group(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process_group(pid, signal);
    }
}

fn spawn_thread(name: &str, done: Sender<()>, f: impl FnOnce() + Send + 'static) -> bool {
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            f();
            let _ = done.send(());
        });
    if let Err(e) = &spawned {
        eprintln!("sockspec: failed to start the {name} thread: {e}");
    }
    spawned.is_ok()
}

/// Copies a pipe into `sink` until EOF, counting against the output limit; over the
/// limit the child's group is killed (a child that prints without end).
fn drain(mut pipe: impl Read, mut sink: impl Sink, printed: &Printed, pid: i32) {
    let mut chunk = [0u8; 8192];
    loop {
        let n = match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Some(counted) = sink.data(&chunk[..n]) else {
            break;
        };
        let total = printed.bytes.fetch_add(counted as u64, Ordering::SeqCst) + counted as u64;
        if total > printed.limit {
            printed.flooded.store(true, Ordering::SeqCst);
            // Our child's process group; see GroupChild::signal_group.
            kill_group(pid, Signal::KILL);
            break;
        }
    }
    sink.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    /// Collects a stream into a shared buffer.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<(Vec<u8>, bool)>>);

    impl Sink for Collect {
        fn data(&mut self, bytes: &[u8]) -> Option<usize> {
            self.0.lock().unwrap().0.extend_from_slice(bytes);
            Some(bytes.len())
        }
        fn end(&mut self) {
            self.0.lock().unwrap().1 = true;
        }
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script).process_group(0);
        cmd
    }

    #[test]
    fn echoes_stdin_and_ends_at_eof() {
        let (out, err) = (Collect::default(), Collect::default());
        let mut child = GroupChild::spawn(
            sh("cat; echo bye >&2"),
            "t",
            1 << 20,
            out.clone(),
            err.clone(),
        )
        .unwrap();
        child.write_stdin(b"hello".to_vec()).unwrap();
        child.close_stdin();
        let status = child.wait(
            Instant::now() + Duration::from_secs(10),
            &AtomicBool::new(false),
        );
        assert_eq!(status.and_then(|s| s.code()), Some(0));
        child.finish(Duration::from_secs(10)).unwrap();
        assert_eq!(out.0.lock().unwrap().0, b"hello");
        assert_eq!(err.0.lock().unwrap().0, b"bye\n");
        assert!(out.0.lock().unwrap().1 && err.0.lock().unwrap().1);
    }

    #[test]
    fn at_a_terminal_stdin_and_stdout_are_one_and_closing_stdin_ends_the_input() {
        let (out, err) = (Collect::default(), Collect::default());
        let mut child = GroupChild::spawn_with(
            sh("test -t 0 && test -t 1 && ! test -t 2 && echo tty; cat; echo bye >&2"),
            ChildStdio::Terminal,
            "t",
            1 << 20,
            out.clone(),
            err.clone(),
        )
        .unwrap();
        // A line, then a partial one that only the end of input hands over.
        child.write_stdin(b"hello\nwor".to_vec()).unwrap();
        child.write_stdin(b"ld".to_vec()).unwrap();
        child.close_stdin();
        let status = child.wait(
            Instant::now() + Duration::from_secs(10),
            &AtomicBool::new(false),
        );
        assert_eq!(status.and_then(|s| s.code()), Some(0));
        child.finish(Duration::from_secs(10)).unwrap();
        assert_eq!(out.0.lock().unwrap().0, b"tty\nhello\nworld");
        assert_eq!(
            err.0.lock().unwrap().0,
            b"bye\n",
            "stderr stays a pipe of its own"
        );
        assert!(out.0.lock().unwrap().1, "the terminal's end is seen");
    }

    #[test]
    fn a_flood_kills_the_group_and_is_named() {
        let mut child = GroupChild::spawn(
            sh("yes"),
            "t",
            64 << 10,
            Collect::default(),
            Collect::default(),
        )
        .unwrap();
        let status = child.wait(
            Instant::now() + Duration::from_secs(10),
            &AtomicBool::new(false),
        );
        assert!(status.is_some(), "the flood was not stopped");
        assert_eq!(child.flooded(), Some(64 << 10));
        child.finish(Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn terminate_reaches_a_forked_child_that_ignores_sigterm() {
        let out = Collect::default();
        let mut child = GroupChild::spawn(
            sh("trap '' TERM; sleep 600 & echo ready; wait"),
            "t",
            1 << 20,
            out.clone(),
            Collect::default(),
        )
        .unwrap();
        // SIGTERM only once the trap is set, or the shell dies of it at once.
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.0.lock().unwrap().0.is_empty() {
            assert!(Instant::now() < deadline, "the shell never said ready");
            std::thread::yield_now();
        }
        let (status, killed) = child.terminate(Duration::from_millis(200));
        assert!(status.is_some() && killed);
        // The forked `sleep` held stdout open; SIGKILL to the group closed it.
        child.finish(Duration::from_secs(10)).unwrap();
    }
}
