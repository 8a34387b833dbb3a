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
    /// The mount namespace, where the sandbox has one.
    pub(super) mnt: Option<RawFd>,
    /// The memory cgroup's `cgroup.procs`, where the sandbox has one.
    pub(super) cgroup_procs: Option<RawFd>,
    /// The `sockspec` binary, whose `sandbox-exec` runs the command.
    pub exe: PathBuf,
    /// The same binary, open (owned by the sandbox): an unprivileged child executes it
    /// as `/proc/self/fd/N`, which needs no search right on the folders above it.
    pub(super) exe_fd: RawFd,
    /// The scenario's temporary directory, given to every process as TMPDIR.
    pub tmpdir: PathBuf,
    pub limits: Option<Limits>,
    /// Run the command as the sandbox's own root (`nobody` on the host when the harness
    /// is root) rather than as the harness's user: for programs under test and their
    /// builds, which are someone else's code. Adapters keep the caller's identity, so
    /// an adapter anywhere the caller can read still runs.
    pub(super) unprivileged: bool,
    /// Whether the namespace has a link for a user-space stack: the command then finds
    /// it named in its environment (see `stack_link::environment`).
    pub(super) link: bool,
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

    /// Enters the namespaces and the memory cgroup and applies the limits. The caller
    /// is then outside the PID namespace but its children are inside, and it can no
    /// longer start threads: it should be `sockspec sandbox-exec`, which forks the real
    /// command (see [`exec_main`]). The working directory stays the same path, now as
    /// the sandbox shows it.
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
        if let Some(fd) = self.cgroup_procs {
            // While we are still the caller's user, who made the cgroup.
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
        }
        // The working directory's path, to enter again in the mount namespace (setns
        // moves us to its root). No allocation: a buffer on the stack.
        let mut cwd = [0u8; 4096];
        let have_cwd =
            self.mnt.is_some() && !libc::getcwd(cwd.as_mut_ptr().cast(), cwd.len()).is_null();
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
        if let Some(mnt) = self.mnt {
            check(libc::setns(mnt, libc::CLONE_NEWNS))?;
            if have_cwd {
                check(libc::chdir(cwd.as_ptr().cast()))?;
            }
        }
        if let Some(l) = &self.limits {
            // Without a memory cgroup, a program's shared mappings are bounded by its
            // address space (RLIMIT_DATA does not count them).
            let address_space = self.unprivileged && self.cgroup_procs.is_none();
            l.apply(address_space)?;
        }
        Ok(())
    }
}
