//! Taps on the namespace's devices: AF_PACKET sockets made by the holder (which has
//! CAP_NET_RAW in the namespace's user namespace) and handed to the harness like the
//! wire device.
//!
//! - On `lo` ([`Framing::Ip`]): it sees every packet between the target and the peer of
//!   an API-level scenario, so such a scenario gets a pcap too. SOCK_DGRAM: the kernel
//!   strips loopback's (fake) Ethernet header, so what is read is an IP packet, the
//!   same LINKTYPE_RAW the wire's pcap uses (packet(7)).
//! - On a user-space stack's TAP link ([`Framing::Ethernet`]): whole frames, read and
//!   written. The harness plays another host on the stack's LAN through it (answering
//!   ARP and neighbour solicitations itself), and records an API scenario's traffic
//!   between the stack and the namespace kernel.

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd};

/// What a tap reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// IP packets, the link header stripped (SOCK_DGRAM).
    Ip,
    /// Whole Ethernet frames (SOCK_RAW).
    Ethernet,
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// A tap bound to `device` for every protocol.
pub fn create(device: &CStr, framing: Framing) -> Result<OwnedFd, String> {
    let kind = match framing {
        Framing::Ip => libc::SOCK_DGRAM,
        Framing::Ethernet => libc::SOCK_RAW,
    };
    let all = (libc::ETH_P_ALL as u16).to_be();
    // Protocol 0: the socket hooks into the stack only when bound. One made with a
    // protocol is hooked at once, and binding it to `lo` would unhook it first, which
    // waits for an RCU grace period (tens of milliseconds on every sandbox).
    // SAFETY: a plain socket call; the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os_err("an AF_PACKET socket"));
    }
    // SAFETY: fd is a new descriptor of ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a NUL-terminated name.
    let name = device.to_string_lossy();
    let index = unsafe { libc::if_nametoindex(device.as_ptr()) };
    if index == 0 {
        return Err(os_err(&format!("the index of {name}")));
    }
    // SAFETY: zeroed is a valid sockaddr_ll; the fields set are its own.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = all;
    addr.sll_ifindex = index as i32;
    // SAFETY: addr is a sockaddr_ll of the size given.
    let bound = unsafe {
        libc::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if bound != 0 {
        return Err(os_err(&format!("binding the AF_PACKET socket to {name}")));
    }
    Ok(fd)
}
