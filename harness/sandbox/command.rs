//! The one way the harness starts a command: `/bin/sh -c 'exec CMD'` in a process
//! group of its own with a parent-death signal, or, given a [`Join`], through the
//! trampoline inside that sandbox and under its limits.

use super::Join;
use rustix::process::{set_parent_process_death_signal, setsid, Signal};
use std::os::unix::process::CommandExt;
use std::process::Command;

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
            if j.link {
                c.envs(super::stack_link::environment());
            }
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
    // SAFETY: setsid, prctl (rustix's are bare system calls), setns and setrlimit are
    // async-signal-safe, and the child is single-threaded between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if own_session {
                setsid()?;
            }
            set_parent_process_death_signal(Some(Signal::KILL))?;
            if let Some(j) = &join {
                j.enter()?;
            }
            Ok(())
        });
    }
    cmd
}
