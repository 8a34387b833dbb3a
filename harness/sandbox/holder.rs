//! The namespace holder: `sockspec sandbox-init` on its side, [`Sandbox`] on ours.

use super::{Join, Limits};
use crate::process::wait_exit;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("failed to start the sandbox holder `{exe} sandbox-init`: {source}")]
    Spawn { exe: String, source: std::io::Error },
    #[error("failed to create namespaces: {0}")]
    Holder(String),
    #[error("the sandbox holder did not report within {0:?}")]
    Timeout(Duration),
    #[error("failed to open the sandbox's {what} namespace: {source}")]
    Open {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("failed to create the working directory: {0}")]
    Workdir(std::io::Error),
}

/// One scenario's namespaces and working directory, alive until [`Sandbox::close`].
pub struct Sandbox {
    holder: Child,
    /// PID 1 of the namespace, as this process sees it.
    init: i32,
    stdin: Option<ChildStdin>,
    user: OwnedFd,
    net: OwnedFd,
    pid: OwnedFd,
    /// The `sockspec` binary, open for unprivileged children (see [`Join::trampoline`]).
    exe: OwnedFd,
    workdir: Option<tempfile::TempDir>,
}

/// The host uid and gid that uid 0 inside a sandbox maps to when the harness runs as
/// root: `nobody`. Mapped to root itself, programs under test would escape
/// RLIMIT_NPROC (the kernel exempts root's own user from it in every user namespace,
/// so a fork bomb fills the host's PID space) and could write every file root owns.
pub const UNPRIVILEGED_ID: u32 = 65534;

/// Who uid 0 inside a sandbox is on the host, when that is not the harness's own
/// user: `nobody` for a harness running as root; `None` otherwise (without privilege a
/// user namespace can only map its creator's own uid), and `None` for a root whose own
/// namespace has no `nobody` to map to (a container that maps one uid only).
/// Read once per process: neither our uid nor our namespace's maps change (the holder
/// asks before its unshare).
pub fn unprivileged_owner() -> Option<(u32, u32)> {
    static OWNER: std::sync::OnceLock<Option<(u32, u32)>> = std::sync::OnceLock::new();
    *OWNER.get_or_init(|| {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let maps = |file: &str| {
            std::fs::read_to_string(file).is_ok_and(|text| maps_id(&text, UNPRIVILEGED_ID))
        };
        (maps("/proc/self/uid_map") && maps("/proc/self/gid_map"))
            .then_some((UNPRIVILEGED_ID, UNPRIVILEGED_ID))
    })
}

/// Whether a `/proc/PID/uid_map` text maps `id` (its first column: ids inside).
fn maps_id(map: &str, id: u32) -> bool {
    map.lines().any(|line| {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        f.len() == 3 && f[0] <= u64::from(id) && u64::from(id) < f[0] + f[2]
    })
}

impl Sandbox {
    /// Starts a holder and opens its namespaces.
    pub fn create(exe: &Path, timeout: Duration) -> Result<Self, SandboxError> {
        let exe_file = File::open(exe).map_err(|source| SandboxError::Spawn {
            exe: exe.display().to_string(),
            source,
        })?;
        let mut cmd = Command::new(exe);
        cmd.arg("sandbox-init")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: prctl only sets a flag on the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        let mut holder = cmd.spawn().map_err(|source| SandboxError::Spawn {
            exe: exe.display().to_string(),
            source,
        })?;
        let stdin = holder.stdin.take();
        let stdout = holder.stdout.take().expect("piped");
        let holder_pid = holder.id();
        let opened = (|| {
            let line = first_line(stdout, timeout)?;
            let init: u32 = match line.split_once(' ') {
                Some(("ready", pid)) => pid
                    .trim()
                    .parse()
                    .map_err(|_| SandboxError::Holder(line.clone()))?,
                Some(("error", msg)) => return Err(SandboxError::Holder(msg.trim().to_string())),
                _ => return Err(SandboxError::Holder(format!("unexpected report {line:?}"))),
            };
            let open = |what: &'static str, path: String| {
                File::open(path)
                    .map(OwnedFd::from)
                    .map_err(|source| SandboxError::Open { what, source })
            };
            if let Some((uid, gid)) = unprivileged_owner() {
                // The holder cannot map other users than its own from inside; we can.
                let write = |file: &str, id: u32| {
                    std::fs::write(format!("/proc/{holder_pid}/{file}"), format!("0 {id} 1"))
                        .map_err(|e| SandboxError::Holder(format!("writing {file}: {e}")))
                };
                write("gid_map", gid)?;
                write("uid_map", uid)?;
            }
            let workdir = tempfile::Builder::new()
                .prefix("sockspec-")
                .tempdir()
                .map_err(SandboxError::Workdir)?;
            if let Some((uid, gid)) = unprivileged_owner() {
                // Programs under test run as that user: their TMPDIR must be theirs.
                std::os::unix::fs::chown(workdir.path(), Some(uid), Some(gid))
                    .map_err(SandboxError::Workdir)?;
            }
            Ok((
                init as i32,
                open("user", format!("/proc/{holder_pid}/ns/user"))?,
                open("network", format!("/proc/{holder_pid}/ns/net"))?,
                open("PID", format!("/proc/{init}/ns/pid"))?,
                workdir,
            ))
        })();
        match opened {
            Ok((init, user, net, pid, workdir)) => Ok(Sandbox {
                holder,
                init,
                stdin,
                user,
                net,
                pid,
                exe: OwnedFd::from(exe_file),
                workdir: Some(workdir),
            }),
            Err(e) => {
                let _ = holder.kill();
                let _ = holder.wait();
                Err(e)
            }
        }
    }

    /// What a child needs to enter this sandbox; `limits` for untrusted adapters.
    pub fn join(&self, exe: &Path, limits: Option<Limits>) -> Join {
        Join {
            user: self.user.as_raw_fd(),
            net: self.net.as_raw_fd(),
            pid: self.pid.as_raw_fd(),
            exe: exe.to_path_buf(),
            exe_fd: self.exe.as_raw_fd(),
            tmpdir: self.workdir().to_path_buf(),
            limits,
            unprivileged: false,
        }
    }

    pub fn workdir(&self) -> &Path {
        self.workdir.as_ref().expect("open until close").path()
    }

    /// `/proc/PID/net` of a process inside: the socket tables of this sandbox's network
    /// namespace, readable without entering it.
    pub fn net_dir(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/proc/{}/net", self.init))
    }

    /// Kills every process in the PID namespace and removes the working directory.
    ///
    /// The holder is killed outright: it keeps no state, its parent-death signal kills
    /// init, and the kernel then kills everything else in the namespace. Waiting on
    /// init (a pidfd, readable once init has exited, which it does only after the
    /// namespace is empty) makes "closed" mean "no process left". With `hurry` (an
    /// interrupted run) that wait is skipped: everything has been sent SIGKILL, but an
    /// adapter killed together with its trampoline is a zombie that the host's init
    /// reaps, which can take a second.
    pub fn close(mut self, hurry: bool) -> Vec<String> {
        let mut problems = Vec::new();
        drop(self.stdin.take());
        let pid = self.holder.id() as i32;
        // SAFETY: signalling our own child's process group; the unreaped leader keeps
        // the group id from being reused.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        if !hurry && !wait_exit(self.init, Duration::from_secs(5)) {
            problems.push(format!(
                "the sandbox's PID namespace (init {}) did not empty within 5 s",
                self.init
            ));
        }
        let _ = self.holder.wait();
        if let Some(dir) = self.workdir.take() {
            let path = dir.path().display().to_string();
            if let Err(e) = dir.close() {
                problems.push(format!(
                    "failed to remove the working directory {path}: {e}"
                ));
            }
        }
        problems
    }
}

/// The holder's one-line report, waited for with a deadline.
fn first_line(
    stdout: std::process::ChildStdout,
    timeout: Duration,
) -> Result<String, SandboxError> {
    let mut pfd = libc::pollfd {
        fd: stdout.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
        return Err(SandboxError::Timeout(timeout));
    }
    let mut line = String::new();
    BufReader::new(stdout.take(4096))
        .read_line(&mut line)
        .map_err(|e| SandboxError::Holder(e.to_string()))?;
    if line.is_empty() {
        return Err(SandboxError::Holder(
            "the holder exited without a report".into(),
        ));
    }
    Ok(line.trim_end().to_string())
}

/// `sockspec sandbox-init`: make the namespaces, report `ready <init pid>` on stdout,
/// and hold them until stdin closes. Must run before any thread exists.
pub fn init_main() -> i32 {
    let mut out = std::io::stdout();
    match hold() {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(out, "error {e}");
            1
        }
    }
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn hold() -> Result<(), String> {
    // SAFETY: plain syscalls in a single-threaded process.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // Asked before the unshare: inside, our uid is unmapped until the map is written.
    let maps_itself = unprivileged_owner().is_none();
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWPID) } != 0
    {
        return Err(os_err(
            "unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID)",
        ));
    }
    // Map uid/gid 0 inside to our own ids outside: no rights beyond what we had. As
    // root, the harness maps them to `nobody` instead (see UNPRIVILEGED_ID): only a
    // process outside the new namespace may write that map. Nothing here needs the map:
    // the namespace's capabilities are ours from the unshare on.
    if maps_itself {
        let write = |path: &str, text: &str| {
            std::fs::write(path, text).map_err(|e| format!("writing {path}: {e}"))
        };
        if Path::new("/proc/self/setgroups").exists() {
            write("/proc/self/setgroups", "deny")?;
        }
        write("/proc/self/uid_map", &format!("0 {uid} 1"))?;
        write("/proc/self/gid_map", &format!("0 {gid} 1"))?;
    }
    loopback_up()?;
    // SAFETY: single-threaded, so fork is safe and the child may run Rust code.
    let init = unsafe { libc::fork() };
    if init < 0 {
        return Err(os_err("fork"));
    }
    if init == 0 {
        reap_forever();
    }
    let mut out = std::io::stdout();
    writeln!(out, "ready {init}")
        .and_then(|_| out.flush())
        .map_err(|e| e.to_string())?;
    // Hold until the harness closes our stdin (or dies: parent-death signal).
    let mut buf = [0u8; 256];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    // SAFETY: our own child. Killing the PID namespace's init kills the namespace.
    unsafe {
        libc::kill(init, libc::SIGKILL);
        libc::waitpid(init, std::ptr::null_mut(), 0);
    }
    Ok(())
}

extern "C" fn on_child(_: libc::c_int) {}

/// PID 1 of the namespace: reap orphans until killed.
fn reap_forever() -> ! {
    // SAFETY: plain syscalls in the forked child.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(devnull, fd);
        }
        libc::signal(libc::SIGCHLD, on_child as *const () as libc::sighandler_t);
        loop {
            if libc::waitpid(-1, std::ptr::null_mut(), 0) < 0 {
                libc::pause();
            }
        }
    }
}

fn loopback_up() -> Result<(), String> {
    // SAFETY: an ifreq for "lo", read then written back with IFF_UP.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(os_err("socket"));
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        let ok = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr) == 0 && {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr) == 0
        };
        let err = os_err("bringing up lo");
        libc::close(fd);
        if ok {
            Ok(())
        } else {
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::maps_id;

    #[test]
    fn reads_id_maps() {
        let host = "         0          0 4294967295\n";
        assert!(maps_id(host, 65534));
        let one = "         0       1000          1\n";
        assert!(!maps_id(one, 65534));
        let ranges = "0 1000 1\n1 100000 65536\n";
        assert!(maps_id(ranges, 65534));
        assert!(!maps_id(ranges, 65537));
    }
}
