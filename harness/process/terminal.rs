//! A pseudo-terminal for a child's stdin and stdout, so that the child's C library sees
//! a terminal and line-buffers its output as it does when a student runs the program by
//! hand. Behind a pipe, stdio buffers stdout fully and a client that prints each echo
//! with `printf` shows nothing until it exits: a difference of the test, not a bug.
//!
//! The line discipline is set to what a test needs and a person would not notice:
//! no echo of the input (it would mix with the output), no `\n` to `\r\n` on output, no
//! signals from input bytes, no CR/NL translation, no flow control. Input stays
//! canonical (a read returns a line, lines are at most 4095 bytes, and a lone EOF
//! character, ^D, ends the input), exactly as at a terminal.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The end-of-input character of a canonical terminal (VEOF's default, ^D).
pub const EOF_CHAR: u8 = 0x04;

/// The two ends of a fresh pseudo-terminal: the master (the harness's) and the slave
/// (the child's stdin and stdout). Both are close-on-exec; the child gets the slave
/// through `dup2`, which clears the flag on its copies.
pub fn open() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: two out-pointers to ints; no name buffer, default termios and size.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded and returned two fresh descriptors we now own.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on a descriptor we own.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    configure(&slave)?;
    Ok((master, slave))
}

fn configure(slave: &OwnedFd) -> io::Result<()> {
    // SAFETY: termios is plain old data; tcgetattr fills it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a terminal descriptor we own and a termios to fill.
    if unsafe { libc::tcgetattr(slave.as_raw_fd(), &mut t) } < 0 {
        return Err(io::Error::last_os_error());
    }
    t.c_lflag &= !(libc::ECHO
        | libc::ECHOE
        | libc::ECHOK
        | libc::ECHONL
        | libc::ECHOCTL
        | libc::ISIG
        | libc::IEXTEN);
    t.c_lflag |= libc::ICANON;
    t.c_iflag &= !(libc::ICRNL | libc::INLCR | libc::IGNCR | libc::IXON | libc::IXOFF);
    t.c_oflag &= !libc::OPOST;
    t.c_cc[libc::VEOF] = EOF_CHAR;
    // SAFETY: as above, with the termios just filled in.
    if unsafe { libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn the_slave_is_a_terminal_that_neither_echoes_nor_translates() {
        let (master, slave) = open().unwrap();
        // SAFETY: isatty on a descriptor we own.
        assert_eq!(unsafe { libc::isatty(slave.as_raw_fd()) }, 1);
        let mut m = std::fs::File::from(master);
        let mut s = std::fs::File::from(slave);
        m.write_all(b"line one\n").unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"line one\n", "a read returns the line");
        s.write_all(b"out\n").unwrap();
        let n = m.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"out\n", "no echo of the input, no \\r added");
        m.write_all(&[EOF_CHAR]).unwrap();
        assert_eq!(
            s.read(&mut buf).unwrap(),
            0,
            "^D at a line's start ends input"
        );
    }
}
