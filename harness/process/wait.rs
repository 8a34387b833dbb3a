//! Waiting for a process to end with a deadline (a pidfd, no polling), and reading a
//! process's state from /proc.

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{pidfd_open, Pid, PidfdFlags};
use std::time::{Duration, Instant};

/// Waits up to `timeout` for `pid` to exit without reaping it (a pidfd becomes
/// readable when the process exits). True when it has exited.
pub fn wait_exit(pid: i32, timeout: Duration) -> bool {
    let Some(pid) = Pid::from_raw(pid) else {
        return true;
    };
    let Ok(fd) = pidfd_open(pid, PidfdFlags::empty()) else {
        return true; // already gone
    };
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let left = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&left)) {
            Ok(n) if n > 0 => return true,
            Err(rustix::io::Errno::INTR) => continue,
            _ => return false,
        }
    }
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
