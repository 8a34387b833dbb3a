//! The scenario's wire: a TUN device in its network namespace, through which the
//! harness plays a remote TCP segment by segment.
//!
//! The device `wire0` carries the target's addresses ([`TARGET_V4`], [`TARGET_V6`]) and
//! routes the remote ones ([`REMOTE_V4`], [`REMOTE_V6`]) through itself, so a socket in
//! the namespace that connects to a remote address sends its SYN into the device, where
//! the harness reads it. Nobody in the namespace owns the remote addresses: the
//! namespace kernel never answers for the harness. The addresses are documentation
//! ranges (RFC 5737 TEST-NET-2, RFC 3849), which name nothing outside; TEST-NET-1 stays
//! unassigned for scenarios that need an address nobody has.
//!
//! Made by the holder (`sandbox-init`), root of the new user namespace, right after it
//! unshares: `/dev/net/tun` binds a device to the network namespace of whoever opens
//! it. The harness takes the descriptor from the holder with `pidfd_getfd`.
//!
//! Quiet and whole segments: IPv6 autoconfiguration (router solicitations, duplicate
//! address detection) is switched off on the device before it comes up, so a fresh
//! wire carries nothing the scenario did not cause; MLD reports may still appear and
//! are left to the engine, which looks at TCP only. The device is opened without
//! `IFF_VNET_HDR` and no offloads are set (TUNSETOFFLOAD), so the kernel hands over
//! every segment as it would put it on a wire, never a GSO super-segment.

use std::ffi::CStr;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The device's name inside the namespace.
pub const DEVICE: &CStr = c"wire0";
/// The target's own address on the wire.
pub const TARGET_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The remote TCP the harness plays.
pub const REMOTE_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const REMOTE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
/// The device's MTU: Ethernet's, so segments are what they would be on a LAN.
pub const MTU: i32 = 1500;

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// An `ifreq` naming the device.
fn ifreq() -> libc::ifreq {
    // SAFETY: ifreq is plain data; all zeros is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in DEVICE.to_bytes().iter().enumerate() {
        ifr.ifr_name[i] = *b as libc::c_char;
    }
    ifr
}

/// A datagram socket of `family`, for the interface ioctls.
fn control_socket(family: libc::c_int) -> Result<OwnedFd, String> {
    // SAFETY: socket takes plain integers; the result is checked.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os_err("socket for the wire's addresses"));
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates and configures the device; its descriptor carries the packets. Runs in the
/// holder, inside the new user and network namespaces, before any thread exists.
pub fn create() -> Result<OwnedFd, String> {
    // SAFETY: a path literal; the result is checked.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(os_err("opening /dev/net/tun"));
    }
    // SAFETY: a fresh descriptor we own.
    let tun = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut ifr = ifreq();
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads an ifreq.
    if unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, &ifr) } != 0 {
        return Err(os_err("creating the wire device (TUNSETIFF)"));
    }
    // Before the device is up, so no solicitation or DAD probe ever leaves it.
    let name = DEVICE.to_str().expect("ASCII");
    for (knob, value) in [
        ("accept_ra", "0"),
        ("router_solicitations", "0"),
        ("accept_dad", "0"),
        ("dad_transmits", "0"),
    ] {
        std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/{knob}"), value)
            .map_err(|e| format!("setting {knob} on the wire device: {e}"))?;
    }
    configure_v4()?;
    configure_v6()?;
    Ok(tun)
}

fn sockaddr_v4(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in fits in sockaddr (both 16 bytes), as the ioctls expect.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// The target's IPv4 address, the remote one as the point-to-point peer (which routes
/// it through the device), the MTU, and the device up.
fn configure_v4() -> Result<(), String> {
    let sock = control_socket(libc::AF_INET)?;
    let set = |request: libc::c_ulong, what: &str, ifr: &libc::ifreq| {
        // SAFETY: each request reads the ifreq it is given.
        if unsafe { libc::ioctl(sock.as_raw_fd(), request, ifr) } != 0 {
            return Err(os_err(what));
        }
        Ok(())
    };
    let mut ifr = ifreq();
    ifr.ifr_ifru.ifru_addr = sockaddr_v4(TARGET_V4);
    set(libc::SIOCSIFADDR, "the wire's address", &ifr)?;
    ifr.ifr_ifru.ifru_dstaddr = sockaddr_v4(REMOTE_V4);
    set(libc::SIOCSIFDSTADDR, "the wire's remote address", &ifr)?;
    ifr.ifr_ifru.ifru_mtu = MTU;
    set(libc::SIOCSIFMTU, "the wire's MTU", &ifr)?;
    let mut ifr = ifreq();
    // SAFETY: SIOCGIFFLAGS fills the ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } != 0 {
        return Err(os_err("reading the wire's flags"));
    }
    // SAFETY: the flags member was just filled in.
    unsafe { ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    set(libc::SIOCSIFFLAGS, "bringing the wire up", &ifr)
}

/// `struct in6_ifreq` of linux/ipv6.h, which libc does not define.
#[repr(C)]
struct In6Ifreq {
    addr: libc::in6_addr,
    prefixlen: u32,
    ifindex: libc::c_int,
}

/// The target's IPv6 address with a /64 that holds the remote one: the prefix route
/// sends the remote address through the device.
fn configure_v6() -> Result<(), String> {
    let sock = control_socket(libc::AF_INET6)?;
    let mut ifr = ifreq();
    // SAFETY: SIOCGIFINDEX fills the ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX, &mut ifr) } != 0 {
        return Err(os_err("finding the wire's index"));
    }
    let req = In6Ifreq {
        addr: libc::in6_addr {
            s6_addr: TARGET_V6.octets(),
        },
        prefixlen: 64,
        // SAFETY: the index member was just filled in.
        ifindex: unsafe { ifr.ifr_ifru.ifru_ifindex },
    };
    // SAFETY: SIOCSIFADDR on an AF_INET6 socket reads an in6_ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFADDR, &req) } != 0 {
        return Err(os_err("the wire's IPv6 address"));
    }
    Ok(())
}
