//! A wire scenario's (or a property case's) wire: the namespace kernel's TUN device,
//! or a user-space stack's link with the harness as a third host on its LAN, and the
//! addresses at its two ends.

use crate::remote::{Link, Wire};

/// The target's and the remote's addresses on a wire: the namespace kernel's wire
/// device, or a user-space stack's link with the harness as a third host on it.
#[derive(Debug, Clone, Copy)]
pub struct WireEnds {
    pub target_v4: std::net::Ipv4Addr,
    pub target_v6: std::net::Ipv6Addr,
    pub remote_v4: std::net::Ipv4Addr,
    pub remote_v6: std::net::Ipv6Addr,
}

impl WireEnds {
    pub const KERNEL: WireEnds = WireEnds {
        target_v4: crate::sandbox::wire_link::TARGET_V4,
        target_v6: crate::sandbox::wire_link::TARGET_V6,
        remote_v4: crate::sandbox::wire_link::REMOTE_V4,
        remote_v6: crate::sandbox::wire_link::REMOTE_V6,
    };
    pub const STACK: WireEnds = WireEnds {
        target_v4: crate::sandbox::stack_link::TARGET_V4,
        target_v6: crate::sandbox::stack_link::TARGET_V6,
        remote_v4: crate::sandbox::stack_link::REMOTE_V4,
        remote_v6: crate::sandbox::stack_link::REMOTE_V6,
    };
}

/// The scenario's wire: a copy of the sandbox's wire device, or why there is none.
pub fn wire_of(sandbox: Option<&crate::sandbox::Sandbox>) -> Result<Option<Wire>, String> {
    let sandbox = sandbox
        .ok_or("the wire lives in the scenario's sandbox, and this run has none (--sandbox off)")?;
    let fd = sandbox
        .wire()
        .map_err(|why| format!("this machine gives the sandbox no wire device ({why})"))?;
    let fd = fd
        .try_clone()
        .map_err(|e| format!("the wire device could not be shared ({e})"))?;
    Ok(Some(Wire::new(Link::new(fd))))
}

/// A wire scenario's wire on a stack's link: the harness as a third host on the LAN,
/// through a copy of the link's tap.
pub fn lan_wire(tap: &std::os::fd::OwnedFd) -> Result<Option<Wire>, String> {
    use crate::sandbox::stack_link;
    let tap = tap
        .try_clone()
        .map_err(|e| format!("the link's tap could not be shared ({e})"))?;
    let lan = crate::remote::Lan::new(
        stack_link::REMOTE_MAC,
        (stack_link::REMOTE_V4, stack_link::REMOTE_V6),
        (stack_link::TARGET_V4, stack_link::TARGET_V6),
    );
    Ok(Some(Wire::new(Link::ethernet(tap, lan))))
}
