//! Waiting for a process to end with a deadline (a pidfd, no polling), and reading a
//! process's state from /proc.

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
