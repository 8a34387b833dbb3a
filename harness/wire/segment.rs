//! TCP segments inside IPv4 and IPv6 packets: to bytes and back.
//!
//! The header layout is RFC 9293 3.1 (TCP), RFC 791 3.1 (IPv4) and RFC 8200 3 (IPv6);
//! the checksum covers a pseudo-header of the addresses, the protocol and the TCP
//! length (RFC 9293 3.1, "Checksum"; RFC 8200 8.1 for IPv6), summed as in RFC 1071.
//!
//! Why hand-written: the harness must build what a correct stack never sends (any flag
//! mix, a wrong checksum, options in any order, a kind it does not know) and must
//! parse whatever a stack under test sends without refusing it. The codec keeps every
//! field as it is on the wire and judges nothing; it knows nothing of connections,
//! sequence-number arithmetic or namespaces.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// IP protocol number of TCP.
const TCP: u8 = 6;

/// The control bits (RFC 9293 3.1, "Control bits"; RFC 3168 for CWR and ECE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: Flags = Flags(0x01);
    pub const SYN: Flags = Flags(0x02);
    pub const RST: Flags = Flags(0x04);
    pub const PSH: Flags = Flags(0x08);
    pub const ACK: Flags = Flags(0x10);
    pub const URG: Flags = Flags(0x20);
    pub const ECE: Flags = Flags(0x40);
    pub const CWR: Flags = Flags(0x80);

    /// packetdrill's letter for each flag but ACK (written `.` after the letters).
    pub const LETTERS: [(Flags, char); 7] = [
        (Flags::SYN, 'S'),
        (Flags::FIN, 'F'),
        (Flags::RST, 'R'),
        (Flags::PSH, 'P'),
        (Flags::URG, 'U'),
        (Flags::ECE, 'E'),
        (Flags::CWR, 'W'),
    ];

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// One TCP option (RFC 9293 3.2; RFC 7323 for window scale and timestamps; RFC 2018
/// for SACK). Anything else is kept as its kind and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOption {
    Eol,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    /// Left and right edges of each block.
    Sack(Vec<(u32, u32)>),
    Timestamps {
        val: u32,
        ecr: u32,
    },
    Unknown {
        kind: u8,
        data: Vec<u8>,
    },
    /// Bytes put in the options area as they are (never parsed: what parses is one of
    /// the above). How a test sends what no correct sender would.
    Raw(Vec<u8>),
}

impl TcpOption {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            TcpOption::Eol => out.push(0),
            TcpOption::Nop => out.push(1),
            TcpOption::Mss(m) => {
                out.extend_from_slice(&[2, 4]);
                out.extend_from_slice(&m.to_be_bytes());
            }
            TcpOption::WindowScale(s) => out.extend_from_slice(&[3, 3, *s]),
            TcpOption::SackPermitted => out.extend_from_slice(&[4, 2]),
            TcpOption::Sack(blocks) => {
                out.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                for (l, r) in blocks {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
            TcpOption::Timestamps { val, ecr } => {
                out.extend_from_slice(&[8, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                out.extend_from_slice(&[*kind, (2 + data.len()) as u8]);
                out.extend_from_slice(data);
            }
            TcpOption::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// Parses the options area. A length that runs past the end or is below 2 is an
    /// error: the segment is malformed, and a stack under test must be told so.
    fn parse_all(mut area: &[u8]) -> Result<Vec<TcpOption>, ParseError> {
        let mut out = Vec::new();
        while let Some(&kind) = area.first() {
            match kind {
                0 => {
                    // The rest is padding, and padding is zeros (RFC 9293 3.1, MUST-69).
                    if area[1..].iter().any(|b| *b != 0) {
                        return Err(ParseError::Padding);
                    }
                    out.push(TcpOption::Eol);
                    break;
                }
                1 => {
                    out.push(TcpOption::Nop);
                    area = &area[1..];
                    continue;
                }
                _ => {}
            }
            let len = *area.get(1).ok_or(ParseError::Option { kind })? as usize;
            if len < 2 || len > area.len() {
                return Err(ParseError::Option { kind });
            }
            let data = &area[2..len];
            let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            out.push(match (kind, data.len()) {
                (2, 2) => TcpOption::Mss(u16::from_be_bytes([data[0], data[1]])),
                (3, 1) => TcpOption::WindowScale(data[0]),
                (4, 0) => TcpOption::SackPermitted,
                (5, n) if n % 8 == 0 && n > 0 => TcpOption::Sack(
                    data.chunks(8)
                        .map(|c| (be32(&c[..4]), be32(&c[4..])))
                        .collect(),
                ),
                (8, 8) => TcpOption::Timestamps {
                    val: be32(&data[..4]),
                    ecr: be32(&data[4..]),
                },
                _ => TcpOption::Unknown {
                    kind,
                    data: data.to_vec(),
                },
            });
            area = &area[len..];
        }
        Ok(out)
    }
}

/// A TCP segment with the addresses of the packet that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    pub window: u16,
    pub urgent: u16,
    pub options: Vec<TcpOption>,
    pub payload: Vec<u8>,
}

/// Whether [`Segment::to_packet`] writes the right checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Correct,
    /// The right one with its bits flipped: never right by accident.
    Wrong,
}

/// What a packet read from the wire holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Tcp {
        segment: Segment,
        /// Whether the TCP checksum is right.
        checksum_ok: bool,
    },
    /// Not TCP (ICMP, the kernel's IPv6 noise, ...): kept for the record.
    Other {
        protocol: u8,
        src: IpAddr,
        dst: IpAddr,
    },
}

/// Why bytes are not a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("packet too short ({0} bytes)")]
    Short(usize),
    #[error("IP version {0} (not 4 or 6)")]
    Version(u8),
    #[error("IP header or total length inconsistent with the packet")]
    Length,
    #[error("TCP data offset inconsistent with the segment")]
    DataOffset,
    #[error("malformed TCP option of kind {kind}")]
    Option { kind: u8 },
    #[error("bytes after the End of Option List option that are not zero (RFC 9293 3.1, MUST-69)")]
    Padding,
}

impl Segment {
    /// The bytes of the TCP header and payload with the checksum field zero.
    fn tcp_bytes(&self) -> Vec<u8> {
        let mut options = Vec::new();
        for o in &self.options {
            o.encode(&mut options);
        }
        while options.len() % 4 != 0 {
            options.push(0); // padding: EOL bytes
        }
        let offset = (20 + options.len()) / 4;
        let mut out = Vec::with_capacity(20 + options.len() + self.payload.len());
        out.extend_from_slice(&self.src.port().to_be_bytes());
        out.extend_from_slice(&self.dst.port().to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ack.to_be_bytes());
        out.push((offset as u8) << 4);
        out.push(self.flags.0);
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.urgent.to_be_bytes());
        out.extend_from_slice(&options);
        out.extend_from_slice(&self.payload);
        out
    }

    /// The whole IP packet. Panics if the two addresses are of different families or
    /// the options exceed the 40 bytes a header can hold: both are harness bugs.
    pub fn to_packet(&self, checksum: Checksum) -> Vec<u8> {
        self.to_packet_with(checksum, &[])
    }

    /// The whole IP packet with `ip_options` in an IPv4 header (RFC 791 3.1: padded
    /// with zeros, End of Option List, to a 32-bit boundary; at most 40 bytes). IPv6
    /// has no options in its header and takes none here.
    pub fn to_packet_with(&self, checksum: Checksum, ip_options: &[u8]) -> Vec<u8> {
        let mut tcp = self.tcp_bytes();
        assert!(
            tcp.len() - self.payload.len() <= 60,
            "TCP options over 40 bytes"
        );
        let mut sum = pseudo_header_sum(self.src.ip(), self.dst.ip(), tcp.len());
        sum = add_bytes(sum, &tcp);
        let mut ck = fold(sum);
        if checksum == Checksum::Wrong {
            ck = !ck;
        }
        tcp[16..18].copy_from_slice(&ck.to_be_bytes());
        match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut options = ip_options.to_vec();
                options.resize(ip_options.len().next_multiple_of(4), 0);
                assert!(options.len() <= 40, "IP options over 40 bytes");
                let header = 20 + options.len();
                let total = header + tcp.len();
                let mut ip = Vec::with_capacity(total);
                ip.extend_from_slice(&[0x40 | (header / 4) as u8, 0]);
                ip.extend_from_slice(&(total as u16).to_be_bytes());
                ip.extend_from_slice(&[0, 0, 0x40, 0, 64, TCP, 0, 0]); // DF, TTL 64
                ip.extend_from_slice(&s.octets());
                ip.extend_from_slice(&d.octets());
                ip.extend_from_slice(&options);
                let ck = fold(add_bytes(0, &ip));
                ip[10..12].copy_from_slice(&ck.to_be_bytes());
                ip.extend_from_slice(&tcp);
                ip
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                assert!(ip_options.is_empty(), "IPv6 headers have no options");
                let mut ip = Vec::with_capacity(40 + tcp.len());
                ip.extend_from_slice(&[0x60, 0, 0, 0]);
                ip.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
                ip.extend_from_slice(&[TCP, 64]);
                ip.extend_from_slice(&s.octets());
                ip.extend_from_slice(&d.octets());
                ip.extend_from_slice(&tcp);
                ip
            }
            _ => panic!("a segment's addresses must be of one family"),
        }
    }

    /// Sequence space the segment occupies: its payload plus one for SYN and for FIN
    /// (RFC 9293 3.4).
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32
            + u32::from(self.flags.contains(Flags::SYN))
            + u32::from(self.flags.contains(Flags::FIN))
    }
}

/// Reads an IP packet. Extension headers of IPv6 are not followed: the harness's own
/// peers and the stacks it tests send TCP right after the fixed header, and anything
/// else is reported as [`Packet::Other`] with the next-header value.
pub fn parse(packet: &[u8]) -> Result<Packet, ParseError> {
    let first = *packet.first().ok_or(ParseError::Short(0))?;
    let (src, dst, protocol, tcp) = match first >> 4 {
        4 => {
            if packet.len() < 20 {
                return Err(ParseError::Short(packet.len()));
            }
            let ihl = usize::from(first & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
            if ihl < 20 || total < ihl || total > packet.len() {
                return Err(ParseError::Length);
            }
            let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
            let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            (
                IpAddr::V4(src),
                IpAddr::V4(dst),
                packet[9],
                &packet[ihl..total],
            )
        }
        6 => {
            if packet.len() < 40 {
                return Err(ParseError::Short(packet.len()));
            }
            let payload = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
            if 40 + payload > packet.len() {
                return Err(ParseError::Length);
            }
            let addr = |at: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&packet[at..at + 16]);
                Ipv6Addr::from(b)
            };
            (
                IpAddr::V6(addr(8)),
                IpAddr::V6(addr(24)),
                packet[6],
                &packet[40..40 + payload],
            )
        }
        v => return Err(ParseError::Version(v)),
    };
    if protocol != TCP {
        return Ok(Packet::Other { protocol, src, dst });
    }
    if tcp.len() < 20 {
        return Err(ParseError::Short(tcp.len()));
    }
    let offset = usize::from(tcp[12] >> 4) * 4;
    if offset < 20 || offset > tcp.len() {
        return Err(ParseError::DataOffset);
    }
    let be16 = |at: usize| u16::from_be_bytes([tcp[at], tcp[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([tcp[at], tcp[at + 1], tcp[at + 2], tcp[at + 3]]);
    let checksum_ok = fold(add_bytes(pseudo_header_sum(src, dst, tcp.len()), tcp)) == 0;
    let segment = Segment {
        src: SocketAddr::new(src, be16(0)),
        dst: SocketAddr::new(dst, be16(2)),
        seq: be32(4),
        ack: be32(8),
        flags: Flags(tcp[13]),
        window: be16(14),
        urgent: be16(18),
        options: TcpOption::parse_all(&tcp[20..offset])?,
        payload: tcp[offset..].to_vec(),
    };
    Ok(Packet::Tcp {
        segment,
        checksum_ok,
    })
}

/// The one's-complement sum of the pseudo-header (RFC 9293 3.1; RFC 8200 8.1).
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, tcp_len: usize) -> u32 {
    let mut sum = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum = add_bytes(sum, &s.octets());
            sum = add_bytes(sum, &d.octets());
            sum = add_bytes(sum, &[0, TCP]);
            sum = add_bytes(sum, &(tcp_len as u16).to_be_bytes());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            sum = add_bytes(sum, &v6(s));
            sum = add_bytes(sum, &v6(d));
            sum = add_bytes(sum, &(tcp_len as u32).to_be_bytes());
            sum = add_bytes(sum, &[0, 0, 0, TCP]);
        }
    }
    sum
}

/// Adds big-endian 16-bit words to a running sum (an odd last byte is padded with
/// zero, RFC 1071).
/// The Internet checksum of `bytes` (RFC 1071), as ICMP and the headers use it.
pub fn checksum(bytes: &[u8]) -> u16 {
    fold(add_bytes(0, bytes))
}

fn add_bytes(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds carries in and complements: the checksum field's value, or 0 when summing a
/// header that already holds a right checksum.
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl fmt::Display for Flags {
    /// packetdrill's letters: `S`, `S.`, `P.`, `F.`, `R`, `.` (the dot is ACK).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, letter) in Flags::LETTERS {
            if self.contains(flag) {
                write!(f, "{letter}")?;
            }
        }
        if self.contains(Flags::ACK) {
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Display for TcpOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpOption::Eol => f.write_str("eol"),
            TcpOption::Nop => f.write_str("nop"),
            TcpOption::Mss(m) => write!(f, "mss {m}"),
            TcpOption::WindowScale(s) => write!(f, "wscale {s}"),
            TcpOption::SackPermitted => f.write_str("sackOK"),
            TcpOption::Sack(blocks) => {
                f.write_str("sack")?;
                for (l, r) in blocks {
                    write!(f, " {l}:{r}")?;
                }
                Ok(())
            }
            TcpOption::Timestamps { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            TcpOption::Unknown { kind, data } => write!(f, "kind {kind} len {}", data.len() + 2),
            TcpOption::Raw(bytes) => write!(f, "{} raw bytes", bytes.len()),
        }
    }
}

impl fmt::Display for Segment {
    /// packetdrill's notation with absolute numbers: `S. 1000:1000(0) ack 1 win 65535
    /// <mss 1460,nop,wscale 7>`. Relative numbers are the connection's business.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.payload.len() as u32;
        write!(
            f,
            "{} {}:{}({len})",
            self.flags,
            self.seq,
            self.seq.wrapping_add(len)
        )?;
        if self.flags.contains(Flags::ACK) {
            write!(f, " ack {}", self.ack)?;
        }
        write!(f, " win {}", self.window)?;
        if self.flags.contains(Flags::URG) || self.urgent != 0 {
            write!(f, " urg {}", self.urgent)?;
        }
        if !self.options.is_empty() {
            let opts: Vec<String> = self.options.iter().map(|o| o.to_string()).collect();
            write!(f, " <{}>", opts.join(","))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn syn() -> Segment {
        Segment {
            src: "192.0.2.2:40000".parse().unwrap(),
            dst: "192.0.2.1:8080".parse().unwrap(),
            seq: 1000,
            ack: 0,
            flags: Flags::SYN,
            window: 65535,
            urgent: 0,
            options: vec![
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamps { val: 7, ecr: 0 },
                TcpOption::Nop,
                TcpOption::WindowScale(7),
            ],
            payload: Vec::new(),
        }
    }

    /// A SYN as Linux builds it, byte for byte (checksum computed by hand from RFC
    /// 1071's rules), so the codec is checked against the wire, not only against itself.
    #[test]
    fn a_syn_has_the_bytes_the_rfcs_define() {
        let s = Segment {
            options: vec![TcpOption::Mss(1460)],
            ..syn()
        };
        let p = s.to_packet(Checksum::Correct);
        assert_eq!(p.len(), 44);
        assert_eq!(&p[..4], &[0x45, 0, 0, 44]);
        assert_eq!(p[9], 6);
        // TCP: ports, seq, ack, offset 6 words, SYN, window.
        assert_eq!(
            &p[20..36],
            &[0x9c, 0x40, 0x1f, 0x90, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff]
        );
        assert_eq!(&p[40..44], &[2, 4, 0x05, 0xb4]);
        // Both checksums verify: the one's-complement sum over the covered bytes is 0.
        assert_eq!(fold(add_bytes(0, &p[..20])), 0);
        let tcp = &p[20..];
        assert_eq!(
            fold(add_bytes(
                pseudo_header_sum(s.src.ip(), s.dst.ip(), tcp.len()),
                tcp
            )),
            0
        );
    }

    /// IPv4 options lengthen the header (IHL), are padded to a word and are covered by
    /// the header checksum; the segment reads back the same.
    #[test]
    fn ip_options_lengthen_the_header_and_parse_back() {
        let p = syn().to_packet_with(Checksum::Correct, &[0x1e, 0x03, 0x00]);
        assert_eq!(p[0], 0x46);
        assert_eq!(&p[20..24], &[0x1e, 0x03, 0x00, 0x00]);
        assert_eq!(fold(add_bytes(0, &p[..24])), 0);
        let Ok(Packet::Tcp {
            segment,
            checksum_ok: true,
        }) = parse(&p)
        else {
            panic!("a TCP packet with a right checksum")
        };
        assert_eq!(segment, syn());
    }

    #[test]
    fn a_wrong_checksum_is_seen_as_wrong() {
        let p = syn().to_packet(Checksum::Wrong);
        let Ok(Packet::Tcp { checksum_ok, .. }) = parse(&p) else {
            panic!("a TCP packet")
        };
        assert!(!checksum_ok);
    }

    #[test]
    fn notation_is_packetdrills() {
        assert_eq!(
            syn().to_string(),
            "S 1000:1000(0) win 65535 <mss 1460,sackOK,TS val 7 ecr 0,nop,wscale 7>"
        );
        let data = Segment {
            flags: Flags::PSH | Flags::ACK,
            ack: 5,
            options: vec![],
            payload: b"hello".to_vec(),
            ..syn()
        };
        assert_eq!(data.to_string(), "P. 1000:1005(5) ack 5 win 65535");
        assert_eq!(data.seq_len(), 5);
    }

    #[test]
    fn padding_after_eol_must_be_zeros() {
        let mut s = syn();
        s.options = vec![
            TcpOption::Mss(1460),
            TcpOption::Eol,
            TcpOption::Raw(vec![0, 0, 7]),
        ];
        let p = s.to_packet(Checksum::Correct);
        assert_eq!(parse(&p).unwrap_err(), ParseError::Padding);
        s.options = vec![TcpOption::Mss(1460), TcpOption::Eol];
        let p = s.to_packet(Checksum::Correct);
        let Ok(Packet::Tcp { segment, .. }) = parse(&p) else {
            panic!("a TCP segment");
        };
        assert_eq!(segment.options, [TcpOption::Mss(1460), TcpOption::Eol]);
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        assert_eq!(parse(&[]), Err(ParseError::Short(0)));
        assert_eq!(parse(&[0x75; 40]), Err(ParseError::Version(7)));
        let mut p = syn().to_packet(Checksum::Correct);
        p[20 + 12] = 0xf0; // data offset 60 bytes, more than the segment holds
        assert_eq!(parse(&p), Err(ParseError::DataOffset));
        let mut p = syn().to_packet(Checksum::Correct);
        p[41] = 0; // the MSS option's length: 0
        assert_eq!(parse(&p), Err(ParseError::Option { kind: 2 }));
    }

    fn option() -> impl Strategy<Value = TcpOption> {
        prop_oneof![
            Just(TcpOption::Nop),
            any::<u16>().prop_map(TcpOption::Mss),
            any::<u8>().prop_map(TcpOption::WindowScale),
            Just(TcpOption::SackPermitted),
            proptest::collection::vec(any::<(u32, u32)>(), 1..3).prop_map(TcpOption::Sack),
            any::<(u32, u32)>().prop_map(|(val, ecr)| TcpOption::Timestamps { val, ecr }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the harness builds, it reads back field for field, in both families.
        #[test]
        fn segments_round_trip(
            v6 in any::<bool>(),
            ports in any::<(u16, u16)>(),
            seq in any::<u32>(),
            ack in any::<u32>(),
            flags in any::<u8>(),
            window in any::<u16>(),
            options in proptest::collection::vec(option(), 0..3),
            payload in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let (src, dst): (IpAddr, IpAddr) = if v6 {
                ("2001:db8::2".parse().unwrap(), "2001:db8::1".parse().unwrap())
            } else {
                ("192.0.2.2".parse().unwrap(), "192.0.2.1".parse().unwrap())
            };
            let s = Segment {
                src: SocketAddr::new(src, ports.0),
                dst: SocketAddr::new(dst, ports.1),
                seq, ack, flags: Flags(flags), window, urgent: 0, options, payload,
            };
            let mut area = Vec::new();
            s.options.iter().for_each(|o| o.encode(&mut area));
            prop_assume!(area.len() <= 40);
            let bytes = s.to_packet(Checksum::Correct);
            let parsed = parse(&bytes).unwrap();
            let Packet::Tcp { segment, checksum_ok } = parsed else { panic!("tcp") };
            prop_assert!(checksum_ok);
            // Padding comes back as EOL; what came before it is the same.
            prop_assert_eq!(&segment.options[..s.options.len()], &s.options[..]);
            prop_assert!(segment.options[s.options.len()..].iter().all(|o| *o == TcpOption::Eol));
            prop_assert_eq!(Segment { options: s.options.clone(), ..segment }, s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
        }
    }
}
