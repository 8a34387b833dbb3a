//! Entering a sandbox between fork and exec.

use super::Limits;
use std::os::fd::RawFd;
use std::path::PathBuf;

/// What a child needs to enter a sandbox: namespace descriptors (owned by the
/// [`Sandbox`](super::Sandbox), which outlives every spawn), the trampoline that puts
/// the command inside the PID namespace, the temporary directory, and limits (none for
/// the trusted reference peer).
#[derive(Debug, Clone)]
pub struct Join {
    pub(super) user: RawFd,
    pub(super) net: RawFd,
    pub(super) pid: RawFd,
    /// The `sockspec` binary, whose `sandbox-exec` runs the command.
    pub exe: PathBuf,
    /// The same binary, open (owned by the sandbox): an unprivileged child executes it
    /// as `/proc/self/fd/N`, which needs no search right on the folders above it.
    pub(super) exe_fd: RawFd,
    /// The scenario's temporary directory, given to adapters as TMPDIR.
    pub tmpdir: PathBuf,
    pub limits: Option<Limits>,
    /// Run the command as the sandbox's own root (`nobody` on the host when the harness
    /// is root) rather than as the harness's user: for programs under test and their
    /// builds, which are someone else's code. Adapters keep the caller's identity, so
    /// an adapter anywhere the caller can read still runs.
    pub(super) unprivileged: bool,
}

impl Join {
    pub fn unprivileged(&self) -> bool {
        self.unprivileged
    }

    /// What to execute for the trampoline: the binary's path, or for an unprivileged
    /// child, its open descriptor (the path may be in a folder only we can search).
    pub fn trampoline(&self) -> PathBuf {
        if self.unprivileged {
            PathBuf::from(format!("/proc/self/fd/{}", self.exe_fd))
        } else {
            self.exe.clone()
        }
    }

    /// The same, for a program under test (see [`Join::unprivileged`]).
    pub fn for_program(self) -> Join {
        Join {
            unprivileged: true,
            ..self
        }
    }

    /// Enters the namespaces and applies the limits. The caller is then outside the PID
    /// namespace but its children are inside, and it can no longer start threads: it
    /// should be `sockspec sandbox-exec`, which forks the real command (see [`exec_main`]).
    ///
    /// # Safety
    /// Call only in a `pre_exec` hook: it must run in a single-threaded child, and it
    /// makes only async-signal-safe calls.
    pub unsafe fn enter(&self) -> std::io::Result<()> {
        let check = |r: libc::c_int| {
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        if self.unprivileged && libc::setgroups(0, std::ptr::null()) != 0 {
            // Host groups would stay with the child. Without privilege this is refused,
            // and the groups are the caller's own anyway.
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EPERM) {
                return Err(e);
            }
        }
        // The user namespace first: it grants the rights to join the others.
        check(libc::setns(self.user, libc::CLONE_NEWUSER))?;
        if self.unprivileged {
            // Become the namespace's root (we hold every capability in it since setns,
            // and keep them: our old ids were not its root). After exec the trampoline
            // is that root, with the namespace's capabilities and none on the host.
            check(libc::setresgid(0, 0, 0))?;
            check(libc::setresuid(0, 0, 0))?;
        }
        check(libc::setns(self.net, libc::CLONE_NEWNET))?;
        check(libc::setns(self.pid, libc::CLONE_NEWPID))?;
        if let Some(l) = &self.limits {
            l.apply()?;
        }
        Ok(())
    }
}

/// `sockspec sandbox-exec CMD`: runs `/bin/sh -c 'exec CMD'` as a child (so inside the
/// PID namespace this process joined, where it may start threads), gives it all of
/// stdin, stdout and stderr, and exits as it exits: same status, same signal.
pub fn exec_main(command: &std::ffi::OsStr) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    let mut script = b"exec ".to_vec();
    script.extend_from_slice(command.as_bytes());
    let Ok(script) = std::ffi::CString::new(script) else {
        eprintln!("sockspec sandbox-exec: the command contains a NUL byte");
        return 127;
    };
    // SAFETY: single-threaded (this runs first thing in main); the child only calls
    // prctl, signal and execv before it is replaced.
    unsafe {
        let child = libc::fork();
        if child < 0 {
            eprintln!(
                "sockspec sandbox-exec: fork: {}",
                std::io::Error::last_os_error()
            );
            return 127;
        }
        if child == 0 {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            // Rust's runtime ignores SIGPIPE in this process, and an ignored signal
            // stays ignored across exec: give the command the default back, as
            // std::process::Command does, or a program under test that writes to a
            // closed connection would get EPIPE where it should die of SIGPIPE.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let argv = [
                c"/bin/sh".as_ptr(),
                c"-c".as_ptr(),
                script.as_ptr(),
                std::ptr::null(),
            ];
            libc::execv(c"/bin/sh".as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
        // The command gets SIGTERM from the process group itself; the trampoline lives
        // until the command ends, so an adapter that ignores SIGTERM is seen to.
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::signal(sig, libc::SIG_IGN);
        }
        // Only the command may hold the pipes: its EOF must be the harness's EOF.
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(devnull, fd);
        }
        let mut status = 0;
        while libc::waitpid(child, &mut status, 0) < 0 {
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return 127;
            }
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        libc::WEXITSTATUS(status)
    }
}
