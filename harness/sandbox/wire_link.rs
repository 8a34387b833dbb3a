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
use std::os::fd::{AsRawFd, OwnedFd};

/// The environment variable that names the TUN clone device, `/dev/net/tun` if unset.
pub const TUN_VAR: &str = "SOCKSPEC_TUN";

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

pub(super) fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// One ioctl on `fd` with `arg`: the one place this module calls the kernel unchecked.
pub(super) fn ioctl<T>(
    fd: &OwnedFd,
    request: libc::c_ulong,
    arg: &mut T,
    what: &str,
) -> Result<(), String> {
    // SAFETY: every request used here reads or fills exactly a `T` (an ifreq, or an
    // in6_ifreq for SIOCSIFADDR on an IPv6 socket), which `arg` is.
    if unsafe { libc::ioctl(fd.as_raw_fd(), request, arg as *mut T) } != 0 {
        return Err(os_err(what));
    }
    Ok(())
}

/// An `ifreq` naming the wire device.
fn ifreq() -> libc::ifreq {
    ifreq_of(DEVICE)
}

/// An `ifreq` naming `device`.
pub(super) fn ifreq_of(device: &CStr) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all zeros is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in device.to_bytes().iter().enumerate() {
        ifr.ifr_name[i] = *b as libc::c_char;
    }
    ifr
}

/// A datagram socket of `family`, for the interface ioctls.
pub(super) fn control_socket(family: socket2::Domain) -> Result<OwnedFd, String> {
    socket2::Socket::new(family, socket2::Type::DGRAM, None)
        .map(OwnedFd::from)
        .map_err(|e| format!("socket for the wire's addresses: {e}"))
}

/// Creates and configures the device; its descriptor carries the packets. Runs in the
/// holder, inside the new user and network namespaces, before any thread exists.
pub fn create() -> Result<OwnedFd, String> {
    let tun = open_clone_device()?;
    let mut ifr = ifreq();
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    ioctl(
        &tun,
        libc::TUNSETIFF,
        &mut ifr,
        "creating the wire device (TUNSETIFF)",
    )?;
    // Persistent, so the last close of a descriptor does not unregister the device
    // there and then (a synchronize_net: measured 22 ms in whichever process closed it
    // last, often the harness); the device goes with the namespace instead, in the
    // kernel's own cleanup, which nobody waits for.
    // SAFETY: TUNSETPERSIST takes its flag as the argument itself, not a pointer.
    if unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETPERSIST, 1 as libc::c_ulong) } != 0 {
        return Err(os_err("making the wire device outlive its descriptor"));
    }
    quiet_ipv6(DEVICE)?;
    configure_v4()?;
    add_v6(DEVICE, TARGET_V6)?;
    Ok(tun)
}

/// The TUN clone device, opened. SOCKSPEC_TUN names another one (some systems have one
/// elsewhere; a test names a missing one to see a machine without TUN).
pub(super) fn open_clone_device() -> Result<OwnedFd, String> {
    let path = std::env::var_os(TUN_VAR).unwrap_or_else(|| "/dev/net/tun".into());
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map(OwnedFd::from)
        .map_err(|e| format!("opening the TUN device {}: {e}", path.to_string_lossy()))
}

/// Switches off IPv6 autoconfiguration on `device` before it is up, so no router
/// solicitation or DAD probe ever leaves it and its address is usable at once.
pub(super) fn quiet_ipv6(device: &CStr) -> Result<(), String> {
    let name = device.to_str().expect("ASCII");
    for (knob, value) in [
        ("accept_ra", "0"),
        ("router_solicitations", "0"),
        ("accept_dad", "0"),
        ("dad_transmits", "0"),
    ] {
        std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/{knob}"), value)
            .map_err(|e| format!("setting {knob} on {name}: {e}"))?;
    }
    Ok(())
}

pub(super) fn sockaddr_v4(addr: Ipv4Addr) -> libc::sockaddr {
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
    let sock = control_socket(socket2::Domain::IPV4)?;
    let mut ifr = ifreq();
    ifr.ifr_ifru.ifru_addr = sockaddr_v4(TARGET_V4);
    ioctl(&sock, libc::SIOCSIFADDR, &mut ifr, "the wire's address")?;
    ifr.ifr_ifru.ifru_dstaddr = sockaddr_v4(REMOTE_V4);
    ioctl(
        &sock,
        libc::SIOCSIFDSTADDR,
        &mut ifr,
        "the wire's remote address",
    )?;
    ifr.ifr_ifru.ifru_mtu = MTU;
    ioctl(&sock, libc::SIOCSIFMTU, &mut ifr, "the wire's MTU")?;
    // The device comes up with exactly these flags: a TUN device has no others that
    // matter, and reading them back would need a union read.
    ifr.ifr_ifru.ifru_flags =
        (libc::IFF_UP | libc::IFF_POINTOPOINT | libc::IFF_NOARP | libc::IFF_MULTICAST)
            as libc::c_short;
    ioctl(&sock, libc::SIOCSIFFLAGS, &mut ifr, "bringing the wire up")
}

/// `struct in6_ifreq` of linux/ipv6.h, which libc does not define.
#[repr(C)]
struct In6Ifreq {
    addr: libc::in6_addr,
    prefixlen: u32,
    ifindex: libc::c_int,
}

/// `addr`/64 on `device`: the prefix route sends the rest of the /64 (the wire's remote
/// address, a stack's own) through the device.
pub(super) fn add_v6(device: &CStr, addr: Ipv6Addr) -> Result<(), String> {
    let sock = control_socket(socket2::Domain::IPV6)?;
    let mut ifr = ifreq_of(device);
    ioctl(
        &sock,
        libc::SIOCGIFINDEX,
        &mut ifr,
        "finding the device's index",
    )?;
    let mut req = In6Ifreq {
        addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        prefixlen: 64,
        // SAFETY: SIOCGIFINDEX just filled in the index member.
        ifindex: unsafe { ifr.ifr_ifru.ifru_ifindex },
    };
    ioctl(
        &sock,
        libc::SIOCSIFADDR,
        &mut req,
        "the device's IPv6 address",
    )
}
