//! What a running program is doing, read from `/proc` while it runs: the system call
//! each of its threads is blocked in, the socket that call waits on, and the sockets it
//! holds. A failure caused by a program that does not answer is then told in words
//! ("blocked in read() on one client's connection while another waits") instead of
//! "the call never returned".
//!
//! Linux shows a thread's pending system call in `/proc/PID/task/TID/syscall` (its
//! number and arguments, to a reader allowed to ptrace it: the harness owns its
//! programs) and each descriptor as a link in `/proc/PID/fd` (`socket:[INODE]`), which
//! the socket tables ([`super::tables`]) name with addresses. Nothing here stops or
//! traces the program.

use super::tables::{self, Entry};
use std::collections::BTreeSet;
use std::path::Path;

/// One thread asleep in a system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub pid: i32,
    /// The call as a C programmer names it: `read()`, `accept()`, `poll()`.
    pub call: &'static str,
    /// The descriptor it waits on, for calls on one descriptor.
    pub fd: Option<i32>,
    /// That descriptor's socket in the tables, when it is one.
    pub socket: Option<Entry>,
}

/// What a program's processes hold and do, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// Threads asleep in a call the harness can name.
    pub waiting: Vec<Waiting>,
    /// Its listening sockets.
    pub listening: Vec<Entry>,
    /// Its connections (accepted or made), established or closing.
    pub connections: Vec<Entry>,
}

/// The processes of process group `pgrp`, their threads' calls and their sockets, with
/// the namespace's tables from `net_dir`. Empty when `/proc` says nothing (another
/// user's process without the rights to read it, or a program already gone).
pub fn activity(pgrp: i32, net_dir: &Path) -> Activity {
    let entries = tables::read(net_dir).unwrap_or_default();
    let mut out = Activity::default();
    let mut held = BTreeSet::new();
    for pid in group(pgrp) {
        let sockets = sockets(pid);
        held.extend(sockets.iter().map(|(_, inode)| *inode));
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let dir = task.path();
            let asleep = std::fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|s| crate::process::stat_state_and_group(&s))
                .is_some_and(|(state, _)| state == 'S');
            if !asleep {
                continue;
            }
            let Some((nr, arg0)) = std::fs::read_to_string(dir.join("syscall"))
                .ok()
                .and_then(|s| parse_syscall(&s))
            else {
                continue;
            };
            let Some((call, on_fd)) = name(nr) else {
                continue;
            };
            // A process that waits for its child and holds no socket is a wrapper (the
            // sandbox's trampoline, the shell that ran the command), not the program.
            if call == "wait()" && sockets.is_empty() {
                continue;
            }
            let fd = on_fd.then_some(arg0 as i32);
            let socket = fd
                .and_then(|fd| sockets.iter().find(|(f, _)| *f == fd))
                .and_then(|(_, inode)| entries.iter().find(|e| e.inode == *inode))
                .copied();
            out.waiting.push(Waiting {
                pid,
                call,
                fd,
                socket,
            });
        }
    }
    for e in entries.iter().filter(|e| held.contains(&e.inode)) {
        if e.state == tables::LISTEN {
            out.listening.push(*e);
        } else {
            out.connections.push(*e);
        }
    }
    out
}

/// The live processes of a process group.
pub(super) fn group(pgrp: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| crate::process::stat_state_and_group(&s))
                .is_some_and(|(state, group)| state != 'Z' && group == pgrp)
        })
        .collect()
}

/// A process's descriptors that are sockets: `(fd, inode)`.
fn sockets(pid: i32) -> Vec<(i32, u64)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let link = std::fs::read_link(e.path()).ok()?;
            Some((fd, socket_inode(link.to_str()?)?))
        })
        .collect()
}

/// `socket:[1234]` → 1234.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// `/proc/PID/task/TID/syscall`: the call's number and first argument; `None` for a
/// thread running in user space (`running`) or not in a call (`-1 ...`).
fn parse_syscall(text: &str) -> Option<(libc::c_long, u64)> {
    let mut f = text.split_whitespace();
    let nr: libc::c_long = f.next()?.parse().ok()?;
    if nr < 0 {
        return None;
    }
    let arg0 = u64::from_str_radix(f.next()?.trim_start_matches("0x"), 16).ok()?;
    Some((nr, arg0))
}

/// The calls worth naming, and whether their first argument is the descriptor waited on.
fn name(n: libc::c_long) -> Option<(&'static str, bool)> {
    let named: &[(libc::c_long, &str, bool)] = &[
        (libc::SYS_read, "read()", true),
        (libc::SYS_readv, "readv()", true),
        (libc::SYS_recvfrom, "recv()", true),
        (libc::SYS_recvmsg, "recvmsg()", true),
        (libc::SYS_write, "write()", true),
        (libc::SYS_writev, "writev()", true),
        (libc::SYS_sendto, "send()", true),
        (libc::SYS_sendmsg, "sendmsg()", true),
        (libc::SYS_accept, "accept()", true),
        (libc::SYS_accept4, "accept()", true),
        (libc::SYS_connect, "connect()", true),
        (libc::SYS_ppoll, "poll()", false),
        (libc::SYS_pselect6, "select()", false),
        (libc::SYS_epoll_pwait, "epoll_wait()", false),
        (libc::SYS_nanosleep, "sleep()", false),
        (libc::SYS_clock_nanosleep, "sleep()", false),
        (libc::SYS_wait4, "wait()", false),
        (libc::SYS_futex, "a lock or a thread join (futex)", false),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_poll, "poll()", false),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_select, "select()", false),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_epoll_wait, "epoll_wait()", false),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_pause, "pause()", false),
    ];
    named
        .iter()
        .find(|(k, _, _)| *k == n)
        .map(|(_, name, on_fd)| (*name, *on_fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pending_call_and_a_socket_link() {
        assert_eq!(
            parse_syscall("0 0x4 0x7ffd 0x400 0x0 0x0 0x0 0x7ffc 0x7f00\n"),
            Some((0, 4))
        );
        assert_eq!(parse_syscall("running\n"), None);
        assert_eq!(parse_syscall("-1 0x7ffd 0x7f00\n"), None);
        assert_eq!(socket_inode("socket:[98765]"), Some(98765));
        assert_eq!(socket_inode("pipe:[12]"), None);
        assert_eq!(name(libc::SYS_read), Some(("read()", true)));
        assert_eq!(name(libc::SYS_accept4), Some(("accept()", true)));
    }

    /// A real process of our own, blocked in recv() on a connected socket: the call,
    /// the descriptor and the connection are all found.
    #[test]
    fn finds_a_thread_blocked_in_read_on_its_connection() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (_server, _) = listener.accept().unwrap();
        // A child process in a group of its own, reading the connection until killed
        // (it calls nothing but read() and _exit(), as a forked child of a threaded
        // process must).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe { libc::setpgid(0, 0) };
            let mut c = client;
            let mut b = [0u8; 1];
            let _ = c.read(&mut b);
            unsafe { libc::_exit(0) };
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let found = loop {
            let a = activity(pid, Path::new("/proc/self/net"));
            // Rust's standard library reads a socket with recvfrom(2).
            if let Some(w) = a.waiting.iter().find(|w| w.call == "recv()") {
                break Some((w.clone(), a));
            }
            if std::time::Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        let (w, a) = found.expect("the child was seen blocked in recv()");
        let socket = w.socket.expect("the descriptor's connection");
        assert_eq!(socket.remote, addr);
        assert!(a.connections.iter().any(|e| e.remote == addr));
    }
}
