//! Ethernet frames, and the two protocols a host on a LAN must answer before anyone
//! sends it TCP: ARP for IPv4 (RFC 826) and neighbour discovery for IPv6 (RFC 4861
//! 4.3-4.4, Neighbor Solicitation and Advertisement). Codecs only: which frames to
//! answer, and when, is the link's business (`remote::link`).
//!
//! Why the harness speaks them at all: a user-space stack (lwIP, smoltcp) on a TAP link
//! resolves the remote's address before its first segment and is resolved before the
//! remote's; the harness, playing that remote, is the only one who can answer.

use std::net::{Ipv4Addr, Ipv6Addr};

pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The length of an Ethernet II header: two MACs and the ethertype.
pub const HEADER: usize = 14;
const ICMPV6: u8 = 58;
const NEIGHBOR_SOLICITATION: u8 = 135;
const NEIGHBOR_ADVERTISEMENT: u8 = 136;

/// An Ethernet II frame, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub dst: Mac,
    pub src: Mac,
    pub ethertype: u16,
    pub payload: &'a [u8],
}

pub fn parse(frame: &[u8]) -> Option<Frame<'_>> {
    if frame.len() < HEADER {
        return None;
    }
    Some(Frame {
        dst: frame[0..6].try_into().ok()?,
        src: frame[6..12].try_into().ok()?,
        ethertype: u16::from_be_bytes([frame[12], frame[13]]),
        payload: &frame[HEADER..],
    })
}

pub fn build(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Whether a frame to `dst` is for a host with address `own`: its own, broadcast, or a
/// multicast group (IPv6's solicited-node addresses are multicast).
pub fn is_for(dst: Mac, own: Mac) -> bool {
    dst == own || dst[0] & 1 == 1
}

/// An ARP packet for IPv4 over Ethernet (RFC 826).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// 1: request, 2: reply.
    pub op: u16,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;

impl Arp {
    pub fn parse(payload: &[u8]) -> Option<Arp> {
        // Hardware Ethernet (1), protocol IPv4, address lengths 6 and 4.
        if payload.len() < 28 || payload[0..6] != [0, 1, 8, 0, 6, 4] {
            return None;
        }
        let ip = |at: usize| {
            Ipv4Addr::new(
                payload[at],
                payload[at + 1],
                payload[at + 2],
                payload[at + 3],
            )
        };
        Some(Arp {
            op: u16::from_be_bytes([payload[6], payload[7]]),
            sender_mac: payload[8..14].try_into().ok()?,
            sender_ip: ip(14),
            target_mac: payload[18..24].try_into().ok()?,
            target_ip: ip(24),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0, 1, 8, 0, 6, 4];
        out.extend_from_slice(&self.op.to_be_bytes());
        out.extend_from_slice(&self.sender_mac);
        out.extend_from_slice(&self.sender_ip.octets());
        out.extend_from_slice(&self.target_mac);
        out.extend_from_slice(&self.target_ip.octets());
        out
    }
}

/// A neighbour solicitation or advertisement in an IPv6 packet (RFC 4861 4.3, 4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbor {
    /// Solicitation (asks who has `target`) or advertisement (says who has it).
    pub solicitation: bool,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub target: Ipv6Addr,
    /// The link-layer address option: the source's in a solicitation, the target's in
    /// an advertisement.
    pub mac: Option<Mac>,
}

impl Neighbor {
    /// Reads an IPv6 packet that is a neighbour solicitation or advertisement.
    pub fn parse(ip: &[u8]) -> Option<Neighbor> {
        if ip.len() < 40 + 24 || ip[0] >> 4 != 6 || ip[6] != ICMPV6 {
            return None;
        }
        let addr = |at: usize| -> Option<Ipv6Addr> {
            let bytes: [u8; 16] = ip.get(at..at + 16)?.try_into().ok()?;
            Some(Ipv6Addr::from(bytes))
        };
        let icmp = &ip[40..];
        let solicitation = match icmp[0] {
            NEIGHBOR_SOLICITATION => true,
            NEIGHBOR_ADVERTISEMENT => false,
            _ => return None,
        };
        // Options after the 24 fixed octets: type, length in units of 8 octets.
        let mut mac = None;
        let mut options = &icmp[24..];
        while options.len() >= 8 && options[1] > 0 {
            let len = options[1] as usize * 8;
            if options[0] == if solicitation { 1 } else { 2 } {
                mac = options[2..8].try_into().ok();
            }
            options = options.get(len..).unwrap_or_default();
        }
        Some(Neighbor {
            solicitation,
            src: addr(8)?,
            dst: addr(24)?,
            target: addr(40 + 8)?,
            mac,
        })
    }

    /// The IPv6 packet (hop limit 255, as RFC 4861 requires) with its ICMPv6 checksum.
    pub fn encode(&self) -> Vec<u8> {
        let mut icmp = vec![
            if self.solicitation {
                NEIGHBOR_SOLICITATION
            } else {
                NEIGHBOR_ADVERTISEMENT
            },
            0,
            0,
            0,
        ];
        // Advertisement flags: Solicited and Override.
        icmp.extend_from_slice(&if self.solicitation {
            [0, 0, 0, 0]
        } else {
            [0x60, 0, 0, 0]
        });
        icmp.extend_from_slice(&self.target.octets());
        if let Some(mac) = self.mac {
            icmp.push(if self.solicitation { 1 } else { 2 });
            icmp.push(1);
            icmp.extend_from_slice(&mac);
        }
        let sum = icmpv6_checksum(self.src, self.dst, &icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut out = vec![0x60, 0, 0, 0];
        out.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        out.push(ICMPV6);
        out.push(255);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        out.extend_from_slice(&icmp);
        out
    }
}

/// The solicited-node multicast address of `addr` (RFC 4291 2.7.1) and its MAC
/// (RFC 2464 7): where a solicitation for `addr` goes.
pub fn solicited_node(addr: Ipv6Addr) -> (Ipv6Addr, Mac) {
    let o = addr.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    );
    let g = group.octets();
    (group, [0x33, 0x33, g[12], g[13], g[14], g[15]])
}

/// The MAC a packet to `dst` goes to when `dst` is not one host: the broadcast MAC for
/// the limited broadcast address, a group MAC for a multicast one (RFC 1112 6.4,
/// RFC 2464 7); `None` for a unicast address.
pub fn group_mac(dst: std::net::IpAddr) -> Option<Mac> {
    match dst {
        std::net::IpAddr::V4(a) if a.is_broadcast() => Some(BROADCAST),
        std::net::IpAddr::V4(a) if a.is_multicast() => {
            let o = a.octets();
            Some([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        }
        std::net::IpAddr::V6(a) if a.is_multicast() => {
            let o = a.octets();
            Some([0x33, 0x33, o[12], o[13], o[14], o[15]])
        }
        _ => None,
    }
}

/// The ICMPv6 checksum over the pseudo-header (RFC 8200 8.1) and the message.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40 + icmp.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, ICMPV6]);
    pseudo.extend_from_slice(icmp);
    super::segment::checksum(&pseudo)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: Mac = [2, 0, 0x5e, 0, 0x53, 3];

    #[test]
    fn a_frame_round_trips() {
        let f = build(BROADCAST, HOST, ETHERTYPE_ARP, &[1, 2, 3]);
        assert_eq!(
            parse(&f),
            Some(Frame {
                dst: BROADCAST,
                src: HOST,
                ethertype: ETHERTYPE_ARP,
                payload: &[1, 2, 3]
            })
        );
        assert_eq!(parse(&f[..13]), None);
        assert!(is_for(BROADCAST, HOST) && is_for(HOST, HOST));
        assert!(!is_for([2, 0, 0, 0, 0, 1], HOST));
    }

    #[test]
    fn an_arp_request_has_rfc_826s_bytes() {
        let arp = Arp {
            op: ARP_REQUEST,
            sender_mac: HOST,
            sender_ip: Ipv4Addr::new(203, 0, 113, 3),
            target_mac: [0; 6],
            target_ip: Ipv4Addr::new(203, 0, 113, 2),
        };
        let bytes = arp.encode();
        assert_eq!(bytes.len(), 28);
        assert_eq!(&bytes[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(Arp::parse(&bytes), Some(arp));
        assert_eq!(Arp::parse(&bytes[..27]), None);
    }

    #[test]
    fn a_neighbor_advertisement_round_trips_with_a_valid_checksum() {
        let na = Neighbor {
            solicitation: false,
            src: "2001:db8:1::3".parse().unwrap(),
            dst: "2001:db8:1::2".parse().unwrap(),
            target: "2001:db8:1::3".parse().unwrap(),
            mac: Some(HOST),
        };
        let packet = na.encode();
        assert_eq!(Neighbor::parse(&packet), Some(na));
        // The checksum over the pseudo-header and the message sums to zero.
        let icmp = &packet[40..];
        assert_eq!(icmpv6_checksum(na.src, na.dst, icmp), 0);
        assert_eq!(packet[7], 255, "hop limit 255 (RFC 4861 7.1.2)");
    }

    #[test]
    fn the_solicited_node_group_takes_the_low_24_bits() {
        let (group, mac) = solicited_node("2001:db8:1::2".parse().unwrap());
        assert_eq!(group, "ff02::1:ff00:2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(mac, [0x33, 0x33, 0xff, 0, 0, 2]);
    }
}
