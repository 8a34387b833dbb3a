//! A link for a user-space TCP stack: a TAP device `stack0` in the scenario's network
//! namespace, made by the holder and left for the adapter to attach to.
//!
//! A stack such as lwIP (its unix port's `tapif`) or smoltcp (`TunTapInterface`)
//! brings its own TCP and needs only a device that carries Ethernet frames. The
//! namespace kernel sits at the other end with the peer's addresses ([`PEER_V4`],
//! [`PEER_V6`]), so the harness's peer sockets reach the stack's addresses
//! ([`TARGET_V4`], [`TARGET_V6`]) through the device, and the kernel answers the stack's
//! ARP and neighbour solicitations as any host on a LAN would.
//!
//! The device is persistent and owned by the user adapters run as inside the namespace
//! (TUNSETOWNER), so an adapter without any capability attaches to it by name
//! (TUNSETIFF with `IFF_TAP | IFF_NO_PI`). Until one does, it has no carrier and
//! whatever is sent to the stack's addresses is dropped. Addresses from TEST-NET-3
//! (RFC 5737) and 2001:db8:1::/64 (RFC 3849), apart from the wire's.

use super::wire_link::{
    add_v6, control_socket, ifreq_of, ioctl, open_clone_device, os_err, quiet_ipv6, sockaddr_v4,
};
use std::ffi::CStr;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

/// The device's name, handed to adapters in [`LINK_VAR`].
pub const DEVICE: &CStr = c"stack0";
/// The environment variables an adapter in a sandbox finds: the device's name, its
/// kind, and the addresses to give the stack (with prefix length) and its gateway.
pub const LINK_VAR: &str = "SOCKSPEC_LINK";
pub const LINK_KIND_VAR: &str = "SOCKSPEC_LINK_KIND";
pub const LINK_ADDR_VAR: &str = "SOCKSPEC_LINK_ADDR";
pub const LINK_GATEWAY_VAR: &str = "SOCKSPEC_LINK_GATEWAY";
pub const LINK_ADDR6_VAR: &str = "SOCKSPEC_LINK_ADDR6";
/// The stack's addresses: what `target:0` and `target6:0` mean for an adapter that
/// declares the `link` capability.
pub const TARGET_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
pub const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
/// The namespace kernel's addresses on the link: the peer's.
pub const PEER_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
pub const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// A third host on the link that nobody in the namespace is: the harness, when a wire
/// scenario runs against the stack (it answers ARP and neighbour solicitations for these
/// addresses itself, from [`REMOTE_MAC`], through the link's tap).
pub const REMOTE_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 3);
pub const REMOTE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 3);
/// Locally administered (the 0x02 bit), in the documentation range of RFC 7042 2.1.
pub const REMOTE_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x03];
pub const PREFIX_V4: u8 = 24;
pub const MTU: i32 = 1500;

/// The variables an adapter's environment gets, as `(name, value)`.
pub fn environment() -> Vec<(&'static str, String)> {
    vec![
        (LINK_VAR, DEVICE.to_str().expect("ASCII").to_string()),
        (LINK_KIND_VAR, "tap".to_string()),
        (LINK_ADDR_VAR, format!("{TARGET_V4}/{PREFIX_V4}")),
        (LINK_GATEWAY_VAR, PEER_V4.to_string()),
        (LINK_ADDR6_VAR, format!("{TARGET_V6}/64")),
    ]
}

/// Makes the device for adapters running as `uid`/`gid` (ids inside the namespace).
/// Runs in the holder, before the mounts make /proc/sys read-only.
pub fn create(uid: u32, gid: u32) -> Result<(), String> {
    let tun = open_clone_device()?;
    let mut ifr = ifreq_of(DEVICE);
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    ioctl(
        &tun,
        libc::TUNSETIFF,
        &mut ifr,
        "creating the stack's link (TUNSETIFF)",
    )?;
    // SAFETY: these three take their value as the argument itself, not a pointer.
    let set = |request: libc::c_ulong, value: libc::c_ulong, what: &str| {
        if unsafe { libc::ioctl(tun.as_raw_fd(), request, value) } != 0 {
            return Err(os_err(what));
        }
        Ok(())
    };
    set(
        libc::TUNSETOWNER,
        uid.into(),
        "giving the stack's link to the adapter's user",
    )?;
    set(
        libc::TUNSETGROUP,
        gid.into(),
        "giving the stack's link to the adapter's group",
    )?;
    // It outlives this descriptor, which closes now: the adapter opens it by name.
    set(libc::TUNSETPERSIST, 1, "making the stack's link persistent")?;
    drop(tun);
    quiet_ipv6(DEVICE)?;
    let sock = control_socket(socket2::Domain::IPV4)?;
    let mut ifr = ifreq_of(DEVICE);
    ifr.ifr_ifru.ifru_addr = sockaddr_v4(PEER_V4);
    ioctl(&sock, libc::SIOCSIFADDR, &mut ifr, "the link's address")?;
    ifr.ifr_ifru.ifru_netmask = sockaddr_v4(Ipv4Addr::from(u32::MAX << (32 - PREFIX_V4)));
    ioctl(&sock, libc::SIOCSIFNETMASK, &mut ifr, "the link's netmask")?;
    ifr.ifr_ifru.ifru_mtu = MTU;
    ioctl(&sock, libc::SIOCSIFMTU, &mut ifr, "the link's MTU")?;
    ifr.ifr_ifru.ifru_flags =
        (libc::IFF_UP | libc::IFF_BROADCAST | libc::IFF_MULTICAST) as libc::c_short;
    ioctl(&sock, libc::SIOCSIFFLAGS, &mut ifr, "bringing the link up")?;
    add_v6(DEVICE, PEER_V6)
}
