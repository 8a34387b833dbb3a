//! The namespace holder: `sockspec sandbox-init` on its side, [`Sandbox`] on ours.

use super::cgroup::MemoryCgroup;
use super::mounts;
use super::packet_tap::{self, Framing};
use super::{stack_link, wire_link};
use super::{Join, Limits};
use crate::process::wait_exit;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{kill_process_group, Pid, Signal};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

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
    #[error("failed to set up the sandbox's files: {0}")]
    Mounts(String),
    /// A `--sysctl` setting the namespace refused (no such key, a bad value).
    #[error("--sysctl {0}")]
    Sysctl(String),
}

/// One scenario's namespaces, storage and memory cgroup, alive until [`Sandbox::close`].
pub struct Sandbox {
    holder: Child,
    stdin: Option<ChildStdin>,
    /// What was opened once the namespaces existed.
    inside: Inside,
    disk_limit: u64,
    memory_limit: u64,
    memory: Option<MemoryCgroup>,
    /// The program folder as the sandbox shows it, if one was given.
    folder: Option<PathBuf>,
    /// The `sockspec` binary, open for unprivileged children (see [`Join::trampoline`]).
    exe: OwnedFd,
}

/// What a scenario's limits found at its end: words for a verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsHit {
    /// The memory limit, when the kernel killed a process to keep the scenario in it.
    pub memory: Option<u64>,
    /// The disk limit, when the scenario's storage is full.
    pub disk: Option<u64>,
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
        if !rustix::process::geteuid().is_root() {
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
    /// Starts a holder and opens its namespaces. `folder`, if given, is the program
    /// folder, shown inside at the same path as an overlay (see [`mounts`]).
    pub fn create(
        exe: &Path,
        timeout: Duration,
        limits: &Limits,
        folder: Option<&Path>,
        sysctls: &[(String, String)],
    ) -> Result<Self, SandboxError> {
        let deadline = Instant::now() + timeout;
        let exe_file = File::open(exe).map_err(|source| SandboxError::Spawn {
            exe: exe.display().to_string(),
            source,
        })?;
        let mut cmd = Command::new(exe);
        cmd.arg("sandbox-init").arg(limits.disk.to_string());
        if let Some(f) = folder {
            cmd.arg(f);
        }
        // Network settings of the namespace (`--sysctl`), one `key=value` a line.
        let settings: Vec<String> = sysctls.iter().map(|(k, v)| format!("{k}={v}")).collect();
        cmd.env(SYSCTLS_VAR, settings.join("\n"))
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
        let mut stdin = holder.stdin.take().expect("piped");
        let mut stdout = BufReader::new(holder.stdout.take().expect("piped"));
        let memory = MemoryCgroup::create(limits.memory);
        let inside = Inside::open(
            &holder,
            &mut stdin,
            &mut stdout,
            memory.as_ref(),
            deadline,
            timeout,
        );
        match inside {
            Ok(inside) => Ok(Sandbox {
                holder,
                stdin: Some(stdin),
                inside,
                disk_limit: limits.disk,
                memory_limit: limits.memory,
                memory,
                folder: folder.map(Path::to_path_buf),
                exe: OwnedFd::from(exe_file),
            }),
            Err(e) => {
                let _ = holder.kill();
                let _ = holder.wait();
                Err(e)
            }
        }
    }

    /// The wire device's descriptor (IP packets in and out, see [`wire_link`]), or why
    /// this sandbox has none.
    pub fn wire(&self) -> Result<&OwnedFd, &str> {
        self.inside.wire.as_ref().map_err(String::as_str)
    }

    /// The tap on the link for a user-space stack (see [`stack_link`]; whole Ethernet
    /// frames, see [`packet_tap`]), or why the namespace has no such link.
    pub fn stack_link(&self) -> Result<&OwnedFd, &str> {
        self.inside.link.as_ref().map_err(String::as_str)
    }

    /// The loopback tap's descriptor (IP packets between the namespace's sockets, see
    /// [`packet_tap`]), or why there is none.
    pub fn loopback_tap(&self) -> Result<&OwnedFd, &str> {
        self.inside.tap.as_ref().map_err(String::as_str)
    }

    /// Why the sandbox has no mount namespace (the host's files are then visible as
    /// the user sees them), or `None` when it has one.
    pub fn mount_problem(&self) -> Option<&str> {
        self.inside.mount_problem.as_deref()
    }

    /// Which limits the scenario ran into: the memory cgroup counted a kill, or the
    /// storage has less than 1 MiB left (writes got ENOSPC).
    pub fn limits_hit(&self) -> LimitsHit {
        let memory = self
            .memory
            .as_ref()
            .filter(|cg| cg.oom_kills() > 0)
            .map(|_| self.memory_limit);
        let disk = self.inside.storage.as_ref().and_then(|f| {
            rustix::fs::fstatvfs(f)
                .is_ok_and(|st| st.f_bavail.saturating_mul(st.f_frsize) < 1 << 20)
                .then_some(self.disk_limit)
        });
        LimitsHit { memory, disk }
    }

    /// The program folder as the sandbox shows it, read from outside: after a build,
    /// the folder with the build's output.
    pub fn folder_view(&self) -> Option<PathBuf> {
        let folder = self.folder.as_ref()?;
        self.inside.mnt.as_ref()?;
        Some(PathBuf::from(format!(
            "/proc/{}/root{}",
            self.holder.id(),
            folder.display()
        )))
    }

    /// What a child needs to enter this sandbox; `limits` for untrusted adapters.
    pub fn join(&self, exe: &Path, limits: Option<Limits>) -> Join {
        Join {
            user: self.inside.user.as_raw_fd(),
            net: self.inside.net.as_raw_fd(),
            pid: self.inside.pid.as_raw_fd(),
            mnt: self.inside.mnt.as_ref().map(|f| f.as_raw_fd()),
            cgroup_procs: self.inside.cgroup_procs.as_ref().map(|f| f.as_raw_fd()),
            exe: exe.to_path_buf(),
            exe_fd: self.exe.as_raw_fd(),
            tmpdir: self.tmpdir(),
            limits,
            unprivileged: false,
            link: self.inside.link.is_ok(),
        }
    }

    /// TMPDIR inside: the private `/tmp`, or without a mount namespace a host folder
    /// of this sandbox's own.
    pub fn tmpdir(&self) -> PathBuf {
        match &self.inside.workdir {
            Some(dir) => dir.path().to_path_buf(),
            None => PathBuf::from("/tmp"),
        }
    }

    /// `/proc/PID/net` of a process inside: the socket tables of this sandbox's network
    /// namespace, readable without entering it.
    pub fn net_dir(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/proc/{}/net", self.inside.init))
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
        // Our own child's process group; the unreaped leader keeps the group id from
        // being reused.
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
        if !hurry && !wait_exit(self.inside.init, Duration::from_secs(5)) {
            problems.push(format!(
                "the sandbox's PID namespace (init {}) did not empty within 5 s",
                self.inside.init
            ));
        }
        let _ = self.holder.wait();
        // The last close of a packet socket waits for an RCU grace period (packet(7)'s
        // release calls synchronize_net: 30 to 40 ms here). The holder is gone, so this
        // copy is the last: let a thread of its own pay that, not the scenario.
        let taps = [
            std::mem::replace(&mut self.inside.tap, Err(String::new())),
            std::mem::replace(&mut self.inside.link, Err(String::new())),
        ];
        let taps: Vec<OwnedFd> = taps.into_iter().filter_map(Result::ok).collect();
        if !taps.is_empty() {
            let _ = std::thread::Builder::new()
                .name("tap close".into())
                .spawn(move || drop(taps));
        }
        if let Some(dir) = self.inside.workdir.take() {
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

/// How the harness hands `--sysctl` settings to the holder.
const SYSCTLS_VAR: &str = "SOCKSPEC_SANDBOX_SYSCTLS";

/// What [`Sandbox::create`] opens once the holder has made the namespaces.
struct Inside {
    /// PID 1 of the namespace, as this process sees it.
    init: i32,
    user: OwnedFd,
    net: OwnedFd,
    pid: OwnedFd,
    /// The mount namespace, where the machine allows one (see [`mounts`]).
    mnt: Option<OwnedFd>,
    /// Why there is no mount namespace, when there is none.
    mount_problem: Option<String>,
    /// The scenario's tmpfs, open from outside (for how full it is).
    storage: Option<File>,
    /// The memory cgroup's `cgroup.procs`, written by each child that joins.
    cgroup_procs: Option<OwnedFd>,
    /// Without a mount namespace only: a host folder for TMPDIR, removed at close.
    workdir: Option<tempfile::TempDir>,
    /// The wire device's descriptor (see [`wire_link`]), or why there is none.
    wire: Result<OwnedFd, String>,
    /// The tap on the stack's link (see [`stack_link`]), or why there is none.
    link: Result<OwnedFd, String>,
    /// The loopback tap (see [`packet_tap`]), or why there is none.
    tap: Result<OwnedFd, String>,
}

impl Inside {
    /// The harness's side of the holder's handshake (see [`init_main`]), then the
    /// namespaces, the storage and the cgroup opened from outside.
    fn open(
        holder: &Child,
        stdin: &mut ChildStdin,
        stdout: &mut BufReader<ChildStdout>,
        memory: Option<&MemoryCgroup>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Inside, SandboxError> {
        let holder_pid = holder.id();
        expect_report(stdout, "unshared", deadline, timeout)?;
        if let Some((uid, gid)) = unprivileged_owner() {
            // The holder cannot map other users than its own from inside; we can.
            // Root itself is mapped too, as uid 1: adapters and the peer keep our
            // identity, and an unmapped user cannot create a file on the
            // namespace's tmpfs (EOVERFLOW). Only processes that hold the
            // namespace's capabilities could become uid 1, and those are ours or
            // already root; programs under test hold none (see `trampoline`).
            let write = |file: &str, id: u32| {
                std::fs::write(
                    format!("/proc/{holder_pid}/{file}"),
                    format!("0 {id} 1\n1 0 1\n"),
                )
                .map_err(|e| SandboxError::Holder(format!("writing {file}: {e}")))
            };
            write("gid_map", gid)?;
            write("uid_map", uid)?;
        }
        if let Some(cg) = memory {
            // Before it forks init: everything in the namespace descends from it.
            cg.add(holder_pid)
                .map_err(|e| SandboxError::Holder(format!("joining the memory cgroup: {e}")))?;
        }
        stdin
            .write_all(b"go\n")
            .map_err(|e| SandboxError::Holder(format!("telling the holder to go on: {e}")))?;
        let line = report_line(stdout, deadline, timeout)?;
        if let Some(why) = line.strip_prefix("badsysctl ") {
            return Err(SandboxError::Sysctl(why.to_string()));
        }
        let wire = outcome(&line, "wire", "the wire")?.and_then(|fd| take_fd(holder_pid, &fd));
        let line = report_line(stdout, deadline, timeout)?;
        let link =
            outcome(&line, "link", "the stack's link")?.and_then(|fd| take_fd(holder_pid, &fd));
        let line = report_line(stdout, deadline, timeout)?;
        let tap =
            outcome(&line, "tap", "the loopback tap")?.and_then(|fd| take_fd(holder_pid, &fd));
        let ready = expect_report(stdout, "ready", deadline, timeout)?;
        let (init, mount_problem) = match ready.split_once(" nomount ") {
            Some((pid, why)) => (pid, Some(why.to_string())),
            None => (ready.as_str(), None),
        };
        let init: i32 = init
            .trim()
            .parse()
            .map_err(|_| SandboxError::Holder(format!("unexpected report {ready:?}")))?;
        let open = |what: &'static str, path: String| {
            File::open(path).map_err(|source| SandboxError::Open { what, source })
        };
        let (mnt, storage, workdir) = if mount_problem.is_none() {
            (
                Some(open("mount", format!("/proc/{holder_pid}/ns/mnt"))?.into()),
                Some(open(
                    "storage",
                    format!("/proc/{holder_pid}/root{}", mounts::STORAGE),
                )?),
                None,
            )
        } else {
            (None, None, Some(host_workdir()?))
        };
        let cgroup_procs = memory
            .map(|cg| cg.procs().map(OwnedFd::from))
            .transpose()
            .map_err(|e| SandboxError::Holder(format!("opening the memory cgroup: {e}")))?;
        Ok(Inside {
            init,
            user: open("user", format!("/proc/{holder_pid}/ns/user"))?.into(),
            net: open("network", format!("/proc/{holder_pid}/ns/net"))?.into(),
            pid: open("PID", format!("/proc/{init}/ns/pid"))?.into(),
            mnt,
            mount_problem,
            storage,
            cgroup_procs,
            workdir,
            wire,
            link,
            tap,
        })
    }
}

/// The holder's report about one thing it makes: `NAME VALUE` (or just `NAME`) when it
/// made it, `noNAME WHY` when it could not; anything else is a broken holder.
fn outcome(line: &str, name: &str, what: &str) -> Result<Result<String, String>, SandboxError> {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    if word == name {
        Ok(Ok(rest.to_string()))
    } else if word.strip_prefix("no") == Some(name) {
        Ok(Err(rest.to_string()))
    } else {
        Err(SandboxError::Holder(format!("no report about {what}")))
    }
}

/// The holder's side of [`outcome`]: one line, `NAME VALUE` or `noNAME WHY`.
fn report<T>(
    out: &mut impl Write,
    name: &str,
    made: &Result<T, String>,
    value: impl Fn(&T) -> String,
) -> Result<(), String> {
    let line = match made {
        Ok(v) => format!("{name} {}", value(v)),
        Err(why) => format!("no{name} {}", why.replace('\n', " ")),
    };
    writeln!(out, "{}", line.trim_end())
        .and_then(|_| out.flush())
        .map_err(|e| e.to_string())
}

/// A copy of descriptor `fd` of the holder (pidfd_getfd: the holder is our child and
/// runs as our user or as one we may trace).
fn take_fd(holder_pid: u32, fd: &str) -> Result<OwnedFd, String> {
    let fd: i32 = fd
        .trim()
        .parse()
        .map_err(|_| format!("bad descriptor {fd:?}"))?;
    let pid = rustix::process::Pid::from_raw(holder_pid as i32).ok_or("no holder")?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| format!("pidfd_open of the holder: {e}"))?;
    rustix::process::pidfd_getfd(&pidfd, fd, rustix::process::PidfdGetfdFlags::empty())
        .map_err(|e| format!("taking descriptor {fd} from the holder (pidfd_getfd): {e}"))
}

/// Without a mount namespace: a host folder for the sandbox's TMPDIR, named for the
/// sweep (see `sweep`) and, as root, given to the programs' user.
fn host_workdir() -> Result<tempfile::TempDir, SandboxError> {
    let workdir = tempfile::Builder::new()
        .prefix(&super::owner::temp_prefix("sockspec-"))
        .tempdir()
        .map_err(SandboxError::Workdir)?;
    if let Some((uid, gid)) = unprivileged_owner() {
        std::os::unix::fs::chown(workdir.path(), Some(uid), Some(gid))
            .map_err(SandboxError::Workdir)?;
    }
    Ok(workdir)
}

/// The holder's next report, which must start with `word`: the rest of its line.
fn expect_report(
    stdout: &mut BufReader<ChildStdout>,
    word: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<String, SandboxError> {
    let line = report_line(stdout, deadline, timeout)?;
    let (first, rest) = line.split_once(' ').unwrap_or((&line, ""));
    match first {
        _ if first == word => Ok(rest.to_string()),
        "error" => Err(SandboxError::Holder(rest.trim().to_string())),
        _ => Err(SandboxError::Holder(format!("unexpected report {line:?}"))),
    }
}

/// One line the holder reports, waited for until `deadline` (`timeout` in messages).
fn report_line(
    stdout: &mut BufReader<ChildStdout>,
    deadline: Instant,
    timeout: Duration,
) -> Result<String, SandboxError> {
    if stdout.buffer().is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let left = Timespec::try_from(left).expect("a sandbox timeout fits a timespec");
        let mut fds = [PollFd::new(stdout.get_ref(), PollFlags::IN)];
        if !matches!(rustix::event::poll(&mut fds, Some(&left)), Ok(n) if n > 0) {
            return Err(SandboxError::Timeout(timeout));
        }
    }
    let mut line = String::new();
    stdout
        .by_ref()
        .take(4096)
        .read_line(&mut line)
        .map_err(|e| SandboxError::Holder(e.to_string()))?;
    if line.is_empty() {
        return Err(SandboxError::Holder(
            "the holder exited without a report".into(),
        ));
    }
    Ok(line.trim_end().to_string())
}

/// `sockspec sandbox-init DISK [FOLDER]`: make the namespaces, report
/// `unshared`, wait for `go` on stdin (the harness writes the id maps and the cgroup
/// in between), set up the mount namespace, report `ready <init pid>` (with
/// ` nomount <why>` when the mount namespace could not be made) and hold the
/// namespaces until stdin closes. Must run before any thread exists.
pub fn init_main(args: &[std::ffi::OsString]) -> i32 {
    let mut out = std::io::stdout();
    match parse_init_args(args).and_then(|(disk, folder)| hold(disk, folder.as_deref())) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(out, "error {e}");
            1
        }
    }
}

fn parse_init_args(args: &[std::ffi::OsString]) -> Result<(u64, Option<PathBuf>), String> {
    let usage = || "usage: sockspec sandbox-init DISK [FOLDER]".to_string();
    let disk = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(|a| a.parse().ok())
        .ok_or_else(usage)?;
    match args {
        [_] => Ok((disk, None)),
        [_, folder] => Ok((disk, Some(PathBuf::from(folder)))),
        _ => Err(usage()),
    }
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn hold(disk: u64, folder: Option<&Path>) -> Result<(), String> {
    let (uid, gid) = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
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
    // process outside the new namespace may write that map.
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
    // Programs under test hold no capabilities, yet a server on port 80 should run
    // as it would for its author: every port is unprivileged in this namespace. Set
    // before the mount namespace makes /proc read-only.
    let _ = std::fs::write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0");
    let mut out = std::io::stdout();
    writeln!(out, "unshared")
        .and_then(|_| out.flush())
        .map_err(|e| e.to_string())?;
    let mut stdin = std::io::stdin();
    let mut byte = [0u8; 1];
    loop {
        match stdin.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => {}
            _ => return Ok(()), // the harness gave up on us
        }
    }
    // The mount namespace before anything else: the program folder must be opened in
    // it (an overlay takes no layer from another namespace) and with the caller's
    // identity (see `mounts::open_folder`). A namespace that fails half-way is simply
    // not offered: nothing joins it, and this process needs no file from here on.
    // SAFETY: plain syscalls.
    let mount_ns = if unsafe { libc::unshare(libc::CLONE_NEWNS) } == 0 {
        Ok(())
    } else {
        Err(os_err("unshare(CLONE_NEWNS)"))
    };
    let folder = match (&mount_ns, folder) {
        (Ok(()), Some(path)) => Some((path, mounts::open_folder(path)?)),
        _ => None,
    };
    // Become the namespace's root (mapped now), so that what we create on the tmpfs
    // is owned by someone the namespace knows. Capabilities stay: our old ids were
    // not the namespace's root.
    // SAFETY: plain syscalls.
    if unsafe { libc::setresgid(0, 0, 0) } != 0 || unsafe { libc::setresuid(0, 0, 0) } != 0 {
        return Err(os_err("becoming the namespace's root"));
    }
    // Before the mounts make /proc/sys read-only: the namespace's own network settings,
    // then its wire.
    for line in std::env::var(SYSCTLS_VAR).unwrap_or_default().lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        if let Err(e) = std::fs::write(&path, value) {
            // A report of its own: the user's setting is wrong, not the machine.
            let _ = writeln!(out, "badsysctl {key}={value}: {e}").and_then(|_| out.flush());
            return Err(format!("--sysctl {key}={value}: {e}"));
        }
    }
    // Before the mounts make /proc/sys read-only. Kept open for as long as this
    // process holds the namespaces; the harness takes a copy. Where TUN cannot be had, scenarios that need the wire are skipped.
    let wire = wire_link::create();
    report(&mut out, "wire", &wire, |fd| fd.as_raw_fd().to_string())?;
    // A link for a user-space stack, owned by the user adapters run as in here: the
    // namespace's root where we map ourselves, else root's own mapping, uid 1.
    let adapters = if maps_itself { 0 } else { 1 };
    // With a tap on it: the harness plays another host on the stack's LAN.
    let link = match &wire {
        Ok(_) => stack_link::create(adapters, adapters)
            .and_then(|()| packet_tap::create(stack_link::DEVICE, Framing::Ethernet)),
        Err(why) => Err(why.clone()),
    };
    report(&mut out, "link", &link, |fd| fd.as_raw_fd().to_string())?;
    let mount_problem = mount_ns.and_then(|()| mounts::set_up(disk, folder)).err();
    loopback_up()?;
    // The tap on loopback: a pcap for scenarios that never touch the wire.
    let tap = packet_tap::create(c"lo", Framing::Ip);
    report(&mut out, "tap", &tap, |fd| fd.as_raw_fd().to_string())?;
    // SAFETY: single-threaded, so fork is safe and the child may run Rust code.
    let init = unsafe { libc::fork() };
    if init < 0 {
        return Err(os_err("fork"));
    }
    if init == 0 {
        reap_forever();
    }
    let report = match mount_problem {
        None => format!("ready {init}"),
        Some(why) => format!("ready {init} nomount {}", why.replace('\n', " ")),
    };
    writeln!(out, "{report}")
        .and_then(|_| out.flush())
        .map_err(|e| e.to_string())?;
    // Hold until the harness closes our stdin (or dies: parent-death signal).
    let mut buf = [0u8; 256];
    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    // Our own child. Killing the PID namespace's init kills the namespace.
    if let Some(init) = Pid::from_raw(init) {
        let _ = rustix::process::kill_process(init, Signal::KILL);
        let _ = rustix::process::waitpid(Some(init), rustix::process::WaitOptions::empty());
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
    use super::{maps_id, outcome};

    #[test]
    fn reads_what_the_holder_made() {
        assert_eq!(
            outcome("wire 7", "wire", "the wire").unwrap(),
            Ok("7".into())
        );
        assert_eq!(
            outcome("link 9", "link", "the link").unwrap(),
            Ok("9".into())
        );
        assert_eq!(
            outcome("notap no AF_PACKET: EPERM", "tap", "the tap").unwrap(),
            Err("no AF_PACKET: EPERM".into())
        );
        let broken = outcome("ready 12", "tap", "the loopback tap").unwrap_err();
        assert!(broken
            .to_string()
            .contains("no report about the loopback tap"));
    }

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
