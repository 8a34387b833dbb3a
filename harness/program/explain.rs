//! How a program ended, in words a student can act on.

use crate::signals::signal_name;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// `exit status 1`, `killed by SIGPIPE`.
pub fn status(s: ExitStatus) -> String {
    crate::signals::describe_status(s)
}

/// Why a SIGPIPE death happens, in general.
pub const SIGPIPE: &str = "it wrote to a connection the other side had already closed; \
    ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or pass MSG_NOSIGNAL to send(), then handle \
    the EPIPE error by closing that connection";

/// Why it happens when no connection was ever made: the write went to a socket whose
/// connect() had failed (Linux answers EPIPE there too).
pub const SIGPIPE_NEVER_CONNECTED: &str = "it wrote to a socket that was never connected: \
    no connection was made in this test (the connection was refused), so connect() had \
    failed and the program wrote anyway; check connect()'s return value and stop (perror, \
    a non-zero exit) when it fails";

/// A teaching sentence for a status, when there is one worth saying. `as_nobody`: the
/// program ran as an unprivileged user the files may not be readable by.
pub fn why(s: ExitStatus, cpu_limit_secs: u64, as_nobody: bool) -> Option<String> {
    match s.code() {
        // The shell's own codes: found but not executable, and not found.
        Some(126) if as_nobody => {
            return Some(format!(
                "it could not be executed: as root, sockspec runs programs under test as \
                 `nobody` (uid {}), which needs read and search rights on the program and \
                 its folder (chmod o+rx), or pass --sandbox off",
                crate::sandbox::UNPRIVILEGED_ID
            ))
        }
        Some(126) => return Some("it could not be executed: is it executable (chmod +x)?".into()),
        Some(127) => {
            return Some(
                "the command was not found: check the --program command and the folder it runs in"
                    .into(),
            )
        }
        _ => {}
    }
    let sig = s.signal()?;
    Some(match sig {
        libc::SIGPIPE => SIGPIPE.into(),
        libc::SIGSEGV => "it crashed on an invalid memory access: check buffer sizes, \
            array indexes and pointers (run it under valgrind or with -fsanitize=address)"
            .into(),
        libc::SIGABRT => "it aborted: a failed assert(), or the C library found heap \
            corruption (a write past the end of a malloc'd buffer, a double free)"
            .into(),
        libc::SIGBUS | libc::SIGILL | libc::SIGFPE => {
            format!(
                "it crashed ({}): check arithmetic and memory accesses",
                signal_name(sig)
            )
        }
        libc::SIGXCPU => format!(
            "it used more than {cpu_limit_secs} s of CPU time: a busy loop (polling without \
             blocking?) or a loop that never ends"
        ),
        libc::SIGXFSZ => "it wrote a file larger than the output limit".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_sigpipe_and_leaves_plain_exits_alone() {
        let pipe = ExitStatus::from_raw(libc::SIGPIPE);
        assert_eq!(status(pipe), "killed by SIGPIPE");
        assert!(why(pipe, 60, false).unwrap().contains("MSG_NOSIGNAL"));
        assert_eq!(why(ExitStatus::from_raw(1 << 8), 60, false), None);
        assert!(why(ExitStatus::from_raw(126 << 8), 60, true)
            .unwrap()
            .contains("o+rx"));
        assert!(why(ExitStatus::from_raw(libc::SIGXCPU), 7, false)
            .unwrap()
            .contains("7 s"));
    }
}
