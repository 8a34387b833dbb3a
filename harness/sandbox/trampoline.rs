//! `sockspec sandbox-exec`: the trampoline that runs a command inside a scenario's PID
//! namespace, and for a program under test, in a namespace of its own within it.
//!
//! A program under test must not reach any process the harness runs (the holder, the
//! namespace's init, the reference peer, adapters): in an earlier version a program
//! ptraced the peer, which keeps the caller's identity, and read /etc/shadow through
//! it. What holds now, as root or not:
//! - **It cannot name them.** The program runs in a PID namespace nested in the
//!   scenario's. kill(2), ptrace(2), pidfd_open(2) and process_vm_readv(2) resolve PIDs
//!   in the caller's namespace, where only the program's own processes and this
//!   namespace's init exist; its `/proc` is a fresh procfs of that namespace, so no
//!   other process's entries are there to read.
//! - **It cannot reach its own init.** Signals from inside a PID namespace to its init
//!   are dropped unless init has a handler (it has one only for SIGCHLD), and ptrace
//!   needs the tracer's capabilities to cover the tracee's (commoncap): init keeps the
//!   namespace's, the program has none.
//! - **It has no capabilities and cannot gain any.** Before exec it drops the bounding
//!   set, clears the ambient set, locks SECBIT_NOROOT (uid 0 inside gets no
//!   capabilities from exec) and sets no_new_privs (no setuid binary helps). So it
//!   cannot unmount the private `/tmp` or its `/proc` to see what lies beneath, nor
//!   enter another namespace.
//! - As root it is also `nobody` on the host (see the sandbox module doc), and every
//!   process here starts with stdin, stdout and stderr only: descriptors the harness's
//!   caller left open are closed before anything runs.
//!
//! The chain: the trampoline (joined with setns, outside the PID namespace) forks a
//! child inside, which unshares a mount and PID namespace and forks the new
//! namespace's init, which mounts `/proc` and forks the program. The init must not be
//! the program: signals such as SIGPIPE do not kill a PID namespace's init. When the
//! program ends, its init reports the raw wait status on a pipe and exits, which ends
//! whatever the program left behind.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Closes every descriptor from 3 up: whoever started the harness may have left some
/// open without close-on-exec, and they must not reach a command.
pub fn close_inherited() {
    // SAFETY: close_range takes plain integers.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
}

/// Marks every descriptor from 3 up close-on-exec, at the harness's start: none that
/// its caller left open reaches an adapter, a program or a build.
pub fn cloexec_inherited() {
    // SAFETY: close_range takes plain integers.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
}

/// `sockspec sandbox-exec [--isolate] CMD`: runs `/bin/sh -c 'exec CMD'` as a child
/// (so inside the PID namespace this process joined, where it may start threads),
/// gives it all of stdin, stdout and stderr, and exits as it exits: same status, same
/// signal. With `--isolate` (programs under test and builds) the command runs in a
/// namespace of its own (see the module doc).
pub fn exec_main(args: &[OsString]) -> i32 {
    close_inherited();
    let (isolate, command) = match args {
        [flag, cmd] if flag == "--isolate" => (true, cmd.as_os_str()),
        [cmd] => (false, cmd.as_os_str()),
        _ => {
            eprintln!("usage: sockspec sandbox-exec [--isolate] CMD");
            return 127;
        }
    };
    let Some(script) = shell_script(command) else {
        eprintln!("sockspec sandbox-exec: the command contains a NUL byte");
        return 127;
    };
    // SAFETY: single-threaded (this runs first thing in main).
    unsafe {
        let child = fork_or_report("sockspec sandbox-exec");
        if child == 0 {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            if isolate {
                contain(&script);
            }
            exec_shell(&script);
        }
        if child < 0 {
            return 127;
        }
        mirror(wait_for(child))
    }
}

fn shell_script(command: &OsStr) -> Option<CString> {
    let mut script = b"exec ".to_vec();
    script.extend_from_slice(command.as_bytes());
    CString::new(script).ok()
}

/// fork(), with a message on stderr when it fails.
unsafe fn fork_or_report(who: &str) -> libc::pid_t {
    let child = libc::fork();
    if child < 0 {
        eprintln!("{who}: fork: {}", std::io::Error::last_os_error());
    }
    child
}

/// In a process that only waits for its child: ignore the signals the harness sends
/// the process group (the command gets them and decides), and give up the pipes (only
/// the command may hold them: its EOF must be the harness's EOF).
unsafe fn become_waiter() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        libc::signal(sig, libc::SIG_IGN);
    }
    let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
    for fd in 0..3 {
        libc::dup2(devnull, fd);
    }
    if devnull > 2 {
        libc::close(devnull);
    }
}

/// Waits for `child`; its raw wait status (127 as an exit status if waiting fails).
unsafe fn wait_for(child: libc::pid_t) -> libc::c_int {
    become_waiter();
    let mut status = 0;
    while libc::waitpid(child, &mut status, 0) < 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 127 << 8;
        }
    }
    status
}

/// Ends this process the way a raw wait status says: the same signal, or the same
/// exit status.
unsafe fn mirror(status: libc::c_int) -> i32 {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    libc::WEXITSTATUS(status)
}

/// Replaces this process with `/bin/sh -c SCRIPT`, with default signal dispositions:
/// Rust's runtime ignores SIGPIPE, and an ignored signal stays ignored across exec, so
/// a program under test that writes to a closed connection would get EPIPE where it
/// should die of SIGPIPE.
unsafe fn exec_shell(script: &CString) -> ! {
    for sig in [libc::SIGPIPE, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        libc::signal(sig, libc::SIG_DFL);
    }
    let argv = [
        c"/bin/sh".as_ptr(),
        c"-c".as_ptr(),
        script.as_ptr(),
        std::ptr::null(),
    ];
    libc::execv(c"/bin/sh".as_ptr(), argv.as_ptr());
    eprintln!(
        "sockspec sandbox-exec: /bin/sh: {}",
        std::io::Error::last_os_error()
    );
    libc::_exit(127);
}

/// The child inside the scenario's PID namespace: a namespace of the program's own,
/// its init, and the program without capabilities (see the module doc). Never returns.
unsafe fn contain(script: &CString) -> ! {
    let fail = |what: &str| -> ! {
        eprintln!(
            "sockspec sandbox-exec: {what}: {}",
            std::io::Error::last_os_error()
        );
        libc::_exit(127);
    };
    let mut pipe = [0; 2];
    if libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
        fail("pipe");
    }
    if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWPID) != 0 {
        fail("unshare(CLONE_NEWNS | CLONE_NEWPID)");
    }
    if libc::mount(
        c"none".as_ptr(),
        c"/".as_ptr(),
        std::ptr::null(),
        libc::MS_REC | libc::MS_PRIVATE,
        std::ptr::null(),
    ) != 0
    {
        fail("making the program's mounts private");
    }
    let init = fork_or_report("sockspec sandbox-exec");
    if init < 0 {
        libc::_exit(127);
    }
    if init == 0 {
        libc::close(pipe[0]);
        program_init(script, pipe[1]);
    }
    libc::close(pipe[1]);
    let status = wait_for(init);
    // The program's own status, as its init saw it; the init's if it sent none.
    let mut raw = [0u8; 4];
    let got = libc::read(pipe[0], raw.as_mut_ptr().cast(), raw.len());
    let status = if got == 4 {
        libc::c_int::from_ne_bytes(raw)
    } else {
        status
    };
    libc::_exit(mirror(status));
}

/// PID 1 of the program's namespace: mounts its `/proc`, forks the program, reaps
/// until the program ends, then writes the program's wait status to `report`.
unsafe fn program_init(script: &CString, report: libc::c_int) -> ! {
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    if libc::mount(
        c"proc".as_ptr(),
        c"/proc".as_ptr(),
        c"proc".as_ptr(),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        std::ptr::null(),
    ) != 0
    {
        eprintln!(
            "sockspec sandbox-exec: mounting the program's /proc: {}",
            std::io::Error::last_os_error()
        );
        libc::_exit(127);
    }
    let program = fork_or_report("sockspec sandbox-exec");
    if program < 0 {
        libc::_exit(127);
    }
    if program == 0 {
        libc::close(report);
        if let Err(e) = drop_privileges() {
            eprintln!("sockspec sandbox-exec: dropping capabilities: {e}");
            libc::_exit(127);
        }
        exec_shell(script);
    }
    become_waiter();
    loop {
        let mut status = 0;
        let pid = libc::waitpid(-1, &mut status, 0);
        if pid == program {
            let raw = status.to_ne_bytes();
            libc::write(report, raw.as_ptr().cast(), raw.len());
            libc::_exit(0);
        }
        if pid < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            libc::_exit(127);
        }
    }
}

/// Gives up every capability for good, before exec (see the module doc).
unsafe fn drop_privileges() -> std::io::Result<()> {
    let check = |r: libc::c_int| {
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let bits = libc::SECBIT_NOROOT
        | libc::SECBIT_NOROOT_LOCKED
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    check(libc::prctl(libc::PR_SET_SECUREBITS, bits as libc::c_ulong))?;
    for cap in 0..64 {
        if libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong) != 0 {
            break; // EINVAL past the last capability this kernel knows
        }
    }
    check(libc::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
        0,
        0,
    ))?;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let none = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    check(libc::syscall(libc::SYS_capset, &header, none.as_ptr()) as libc::c_int)?;
    check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
}
