//! Small process helpers shared by the adapter session and the sandbox: waiting for an
//! exit with a deadline (pidfd, no polling), and exit statuses in words.

use crate::sandbox::Join;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// Waits up to `timeout` for `pid` to exit without reaping it (a pidfd becomes
/// readable when the process exits). True when it has exited.
pub fn wait_exit(pid: i32, timeout: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return true; // already gone
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = Instant::now() + timeout;
    let exited = loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis()
            .min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left) };
        if r > 0 {
            break true;
        }
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break false;
        }
    };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    exited
}

/// A process's state letter (`R`, `S`, `Z` ...) and process group, from the text of
/// `/proc/PID/stat`: the fields after `(comm)`, which may itself hold spaces and `)`.
pub fn stat_state_and_group(stat: &str) -> Option<(char, i32)> {
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let group = rest.nth(1)?.parse().ok()?;
    Some((state, group))
}

/// Words for an exit status: `exit status 3`, `killed by SIGSEGV`.
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by {}", signal_name(s)),
        _ => "unknown status".into(),
    }
}

/// Signals known by name, for scenarios and messages.
const SIGNALS: [(i32, &str); 14] = [
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGPIPE, "SIGPIPE"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
];

pub fn signal_number(name: &str) -> Option<i32> {
    SIGNALS.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
}

pub fn signal_name(sig: i32) -> String {
    SIGNALS
        .iter()
        .find(|(s, _)| *s == sig)
        .map_or_else(|| format!("signal {sig}"), |(_, n)| n.to_string())
}

/// A shell command as a child in a process group of its own with a parent-death signal;
/// with `join`, inside that sandbox and under its limits. `exec` makes the command the
/// shell's replacement rather than its child, so its exit status and signals reach us
/// unchanged and no shell holds its pipes; in a sandbox the trampoline
/// `sockspec sandbox-exec` does the same from inside. Stdio is the caller's to set.
pub fn group_command(command: &str, join: Option<Join>) -> Command {
    let mut cmd = match &join {
        None => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(format!("exec {command}"));
            c
        }
        Some(j) => {
            let mut c = Command::new(j.trampoline());
            c.arg("sandbox-exec");
            if j.unprivileged() {
                c.arg("--isolate");
            }
            c.arg(command).env("TMPDIR", &j.tmpdir);
            c
        }
    };
    // A program under test gets a session of its own, which is also a process group:
    // the scheduler then shares the CPU between sessions (autogroups) before processes,
    // so a program that forks 500 busy children still leaves the harness its share.
    // Measured: with one group for both, a fork bomb at the process limit made a 10 ms
    // poll of the socket tables take 4 s.
    let own_session = join.as_ref().is_some_and(|j| j.unprivileged());
    if !own_session {
        cmd.process_group(0);
    }
    // SAFETY: setsid, prctl, setns and setrlimit are async-signal-safe, and the child
    // is single-threaded between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if own_session && libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            if let Some(j) = &join {
                j.enter()?;
            }
            Ok(())
        });
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::stat_state_and_group;

    #[test]
    fn reads_state_and_group_past_an_odd_command_name() {
        let stat = "4242 (a) b (c) S 1 4200 4200 0 -1 4194560";
        assert_eq!(stat_state_and_group(stat), Some(('S', 4200)));
        assert_eq!(stat_state_and_group("garbage"), None);
    }
}
