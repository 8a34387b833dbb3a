//! ICMP errors for IPv4 (RFC 792), as a router or host on the path sends them about a
//! TCP segment: what RFC 9293 3.9.2.2 asks a TCP to act on (MUST-54), to ignore
//! (Source Quench, MUST-55), or to take as soft errors that never end a connection
//! (MUST-56). Codec only: which segment to quote is the connection's business.

use super::segment::checksum;
use std::net::Ipv4Addr;

/// The ICMP errors the harness can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    /// Destination unreachable, host (type 3 code 1): a soft error (RFC 9293 3.9.2.2).
    HostUnreachable,
    /// Destination unreachable, port (type 3 code 3): a hard error.
    PortUnreachable,
    /// Source Quench (type 4): deprecated (RFC 6633), to be discarded.
    SourceQuench,
}

impl IcmpError {
    pub const ALL: [IcmpError; 3] = [
        IcmpError::HostUnreachable,
        IcmpError::PortUnreachable,
        IcmpError::SourceQuench,
    ];

    /// As a wire line writes it: `icmp host-unreachable`.
    pub fn name(self) -> &'static str {
        match self {
            IcmpError::HostUnreachable => "host-unreachable",
            IcmpError::PortUnreachable => "port-unreachable",
            IcmpError::SourceQuench => "source-quench",
        }
    }

    pub fn from_name(name: &str) -> Option<IcmpError> {
        IcmpError::ALL.into_iter().find(|e| e.name() == name)
    }

    fn type_code(self) -> (u8, u8) {
        match self {
            IcmpError::HostUnreachable => (3, 1),
            IcmpError::PortUnreachable => (3, 3),
            IcmpError::SourceQuench => (4, 0),
        }
    }

    /// The IPv4 packet from `from` to `to` carrying this error about `offending` (an
    /// IPv4 packet `to` sent): its IP header and first 8 octets of data are quoted,
    /// which is what a receiver matches the error to its connection by (RFC 792).
    pub fn packet(self, from: Ipv4Addr, to: Ipv4Addr, offending: &[u8]) -> Vec<u8> {
        let header_len = offending.first().map_or(20, |b| usize::from(b & 0x0f) * 4);
        let quoted = &offending[..offending.len().min(header_len + 8)];
        let (kind, code) = self.type_code();
        let mut icmp = vec![kind, code, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(quoted);
        let sum = checksum(&icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let total = 20 + icmp.len();
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(total as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0, 0, 64, 1, 0, 0]); // TTL 64, ICMP
        ip.extend_from_slice(&from.octets());
        ip.extend_from_slice(&to.octets());
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&icmp);
        ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_quotes_the_header_and_eight_octets_with_valid_checksums() {
        let offending: Vec<u8> = (0..60u8)
            .collect::<Vec<_>>()
            .iter()
            .map(|b| b | 0x40)
            .collect();
        let mut offending = offending;
        offending[0] = 0x45; // a 20-octet header
        let p = IcmpError::PortUnreachable.packet(
            Ipv4Addr::new(198, 51, 100, 2),
            Ipv4Addr::new(198, 51, 100, 1),
            &offending,
        );
        assert_eq!(p.len(), 20 + 8 + 28);
        assert_eq!(checksum(&p[..20]), 0, "the IP header's checksum");
        assert_eq!(checksum(&p[20..]), 0, "the ICMP checksum");
        assert_eq!((p[9], p[20], p[21]), (1, 3, 3));
        assert_eq!(&p[28..], &offending[..28]);
        assert_eq!(
            IcmpError::from_name("source-quench"),
            Some(IcmpError::SourceQuench)
        );
    }
}
