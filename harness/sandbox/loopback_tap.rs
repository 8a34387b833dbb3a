//! A tap on the namespace's loopback device: an AF_PACKET socket bound to `lo`, made by
//! the holder (which has CAP_NET_RAW in the namespace's user namespace) and handed to
//! the harness like the wire device. It sees every packet between the target and the
//! peer of an API-level scenario, so such a scenario gets a pcap too.
//!
//! SOCK_DGRAM: the kernel strips the (fake) Ethernet header of loopback, so what is
//! read is an IP packet, the same LINKTYPE_RAW the wire's pcap uses (packet(7)).

use std::os::fd::{FromRawFd, OwnedFd};

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// The tap, bound to `lo` for every protocol.
pub fn create() -> Result<OwnedFd, String> {
    let all = (libc::ETH_P_ALL as u16).to_be();
    // Protocol 0: the socket hooks into the stack only when bound. One made with a
    // protocol is hooked at once, and binding it to `lo` would unhook it first, which
    // waits for an RCU grace period (tens of milliseconds on every sandbox).
    // SAFETY: a plain socket call; the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os_err("an AF_PACKET socket"));
    }
    // SAFETY: fd is a new descriptor of ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
    if index == 0 {
        return Err(os_err("the index of lo"));
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
        return Err(os_err("binding the AF_PACKET socket to lo"));
    }
    Ok(fd)
}
