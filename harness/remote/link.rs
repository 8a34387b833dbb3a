//! The harness's end of a wire device: IP packets in and out of a TUN descriptor, every
//! one recorded for the pcap, reads bounded by deadlines. Or the harness as a host on a
//! user-space stack's LAN (a tap on its TAP device): the same IP packets, in Ethernet
//! frames, with ARP and neighbour discovery answered here so the stack can reach it.
//!
//! Why a deadline on every read: a target that never answers must give a verdict that
//! says what arrived, never a hang. Why record both directions in one place: the pcap
//! is the story of the scenario, and a stack author opens it in Wireshark.

use crate::wire::ethernet::{self, Arp, Mac, Neighbor};
use crate::wire::pcap::PcapWriter;
use crate::wire::segment::{parse, Packet, ParseError};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// Why a read or write on the wire failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("reading the wire: {0}")]
    Read(#[source] std::io::Error),
    #[error("writing the wire: {0}")]
    Write(#[source] std::io::Error),
}

/// What one read from the wire gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    Packet(Packet),
    /// Bytes that are not an IP packet the codec reads.
    Garbage(ParseError),
}

/// The most a link records for its pcap; a target that floods the wire must not
/// exhaust the harness's memory. What comes later is counted, not kept.
pub const PCAP_LIMIT: usize = 64 << 20;

/// The harness as a host on an Ethernet LAN: its own MAC and addresses, and the
/// target's (whose MAC it learns from the target's frames, or asks for).
#[derive(Debug, Clone)]
pub struct Lan {
    pub own_mac: Mac,
    pub own_v4: Ipv4Addr,
    pub own_v6: Ipv6Addr,
    pub target_v4: Ipv4Addr,
    pub target_v6: Ipv6Addr,
    /// Learnt per family: a dual-stack host may answer from one MAC for both, but the
    /// harness does not assume it.
    target_mac_v4: Option<Mac>,
    target_mac_v6: Option<Mac>,
}

impl Lan {
    pub fn new(own_mac: Mac, own: (Ipv4Addr, Ipv6Addr), target: (Ipv4Addr, Ipv6Addr)) -> Lan {
        Lan {
            own_mac,
            own_v4: own.0,
            own_v6: own.1,
            target_v4: target.0,
            target_v6: target.1,
            target_mac_v4: None,
            target_mac_v6: None,
        }
    }

    /// The target's MAC for IPv6 or IPv4, once learnt.
    fn target_mac(&self, v6: bool) -> Option<Mac> {
        if v6 {
            self.target_mac_v6
        } else {
            self.target_mac_v4
        }
    }
}

/// How long the harness waits for the target to answer ARP or a solicitation before it
/// sends to the broadcast address instead (and lets the segment's own deadline judge).
const RESOLVE: Duration = Duration::from_millis(500);

pub struct Link {
    device: File,
    /// Set on a LAN: frames, not bare IP packets.
    lan: Option<Lan>,
    /// Packets that arrived while the harness was asking for the target's MAC.
    queued: std::collections::VecDeque<Arrival>,
    pcap: PcapWriter<Vec<u8>>,
    /// Packets read, for a verdict that says what arrived.
    arrived: usize,
    /// Packets not recorded because the pcap reached [`PCAP_LIMIT`].
    unrecorded: usize,
}

impl Link {
    pub fn new(device: OwnedFd) -> Link {
        Link {
            device: File::from(device),
            lan: None,
            queued: Default::default(),
            pcap: PcapWriter::new(Vec::new()).expect("writing to memory"),
            arrived: 0,
            unrecorded: 0,
        }
    }

    /// The harness as a host on the LAN `lan`, through a tap that reads and writes
    /// whole frames on it.
    pub fn ethernet(device: OwnedFd, lan: Lan) -> Link {
        Link {
            lan: Some(lan),
            ..Link::new(device)
        }
    }

    /// Writes one IP packet onto the wire (the target's kernel receives it); on a LAN,
    /// in a frame to the target's MAC, asked for first if not known yet.
    pub fn send(&mut self, packet: &[u8]) -> Result<(), LinkError> {
        self.record(packet);
        let Some(lan) = &self.lan else {
            return self.device.write_all(packet).map_err(LinkError::Write);
        };
        let v6 = packet.first().is_some_and(|b| b >> 4 == 6);
        let own = lan.own_mac;
        let ethertype = if v6 {
            ethernet::ETHERTYPE_IPV6
        } else {
            ethernet::ETHERTYPE_IPV4
        };
        // A packet to a broadcast or multicast address goes to its group, not the target.
        let group = addresses(packet).and_then(|(_, dst)| ethernet::group_mac(dst));
        let mac = match group.or(lan.target_mac(v6)) {
            Some(mac) => mac,
            None => self.resolve(v6)?,
        };
        self.write_frame(&ethernet::build(mac, own, ethertype, packet))
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        self.device.write_all(frame).map_err(LinkError::Write)
    }

    /// Asks the LAN for the target's MAC (ARP, or a neighbour solicitation) and waits
    /// for the answer, handling other frames meanwhile; the broadcast address if none
    /// comes within [`RESOLVE`].
    fn resolve(&mut self, v6: bool) -> Result<Mac, LinkError> {
        let lan = self.lan.clone().expect("on a LAN");
        if v6 {
            let (group, group_mac) = ethernet::solicited_node(lan.target_v6);
            let ns = Neighbor {
                solicitation: true,
                src: lan.own_v6,
                dst: group,
                target: lan.target_v6,
                mac: Some(lan.own_mac),
            };
            self.write_frame(&ethernet::build(
                group_mac,
                lan.own_mac,
                ethernet::ETHERTYPE_IPV6,
                &ns.encode(),
            ))?;
        } else {
            let request = Arp {
                op: ethernet::ARP_REQUEST,
                sender_mac: lan.own_mac,
                sender_ip: lan.own_v4,
                target_mac: [0; 6],
                target_ip: lan.target_v4,
            };
            self.write_frame(&ethernet::build(
                ethernet::BROADCAST,
                lan.own_mac,
                ethernet::ETHERTYPE_ARP,
                &request.encode(),
            ))?;
        }
        let deadline = Instant::now() + RESOLVE;
        loop {
            if let Some(mac) = self.lan.as_ref().and_then(|l| l.target_mac(v6)) {
                return Ok(mac);
            }
            match self.next_frame(deadline)? {
                // A segment the target sent meanwhile: the caller reads it next.
                Some(Some(arrival)) => self.queued.push_back(arrival),
                Some(None) => {}
                None => return Ok(ethernet::BROADCAST),
            }
        }
    }

    /// The next packet the target sends, or `None` once `deadline` passes.
    pub fn recv(&mut self, deadline: Instant) -> Result<Option<Arrival>, LinkError> {
        if let Some(arrival) = self.queued.pop_front() {
            return Ok(Some(arrival));
        }
        if self.lan.is_none() {
            return self.recv_packet(deadline);
        }
        loop {
            match self.next_frame(deadline)? {
                None => return Ok(None),
                Some(Some(arrival)) => return Ok(Some(arrival)),
                Some(None) => {}
            }
        }
    }

    /// One frame off the LAN: `Some(Some(arrival))` for an IP packet to the harness,
    /// `Some(None)` for a frame handled here (ARP, neighbour discovery) or not for the
    /// harness, `None` once `deadline` passes.
    fn next_frame(&mut self, deadline: Instant) -> Result<Option<Option<Arrival>>, LinkError> {
        if !self.readable(deadline)? {
            return Ok(None);
        }
        let mut buf = vec![0u8; 65_536];
        let n = self.device.read(&mut buf).map_err(LinkError::Read)?;
        buf.truncate(n);
        let lan = self.lan.clone().expect("on a LAN");
        let Some(frame) = ethernet::parse(&buf) else {
            return Ok(Some(None));
        };
        // The tap also sees what the namespace kernel sends the target: not ours.
        if frame.src == lan.own_mac || !ethernet::is_for(frame.dst, lan.own_mac) {
            return Ok(Some(None));
        }
        match frame.ethertype {
            ethernet::ETHERTYPE_ARP => {
                let Some(arp) = Arp::parse(frame.payload) else {
                    return Ok(Some(None));
                };
                if arp.sender_ip == lan.target_v4 {
                    self.learn(false, arp.sender_mac);
                }
                if arp.op == ethernet::ARP_REQUEST && arp.target_ip == lan.own_v4 {
                    let reply = Arp {
                        op: ethernet::ARP_REPLY,
                        sender_mac: lan.own_mac,
                        sender_ip: lan.own_v4,
                        target_mac: arp.sender_mac,
                        target_ip: arp.sender_ip,
                    };
                    self.write_frame(&ethernet::build(
                        arp.sender_mac,
                        lan.own_mac,
                        ethernet::ETHERTYPE_ARP,
                        &reply.encode(),
                    ))?;
                }
                Ok(Some(None))
            }
            ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => {
                if let Some(nd) = Neighbor::parse(frame.payload) {
                    self.neighbor(&lan, frame.src, nd)?;
                    return Ok(Some(None));
                }
                if frame.dst != lan.own_mac {
                    return Ok(Some(None));
                }
                let v6 = frame.ethertype == ethernet::ETHERTYPE_IPV6;
                if addresses(frame.payload).map(|(src, _)| src) == Some(target_ip(&lan, v6)) {
                    self.learn(v6, frame.src);
                }
                let packet = frame.payload.to_vec();
                self.record(&packet);
                self.arrived += 1;
                Ok(Some(Some(match parse(&packet) {
                    Ok(p) => Arrival::Packet(p),
                    Err(e) => Arrival::Garbage(e),
                })))
            }
            _ => Ok(Some(None)),
        }
    }

    /// A neighbour solicitation for the harness's address is answered; the target's
    /// advertisement (or solicitation) says its MAC.
    fn neighbor(&mut self, lan: &Lan, from: Mac, nd: Neighbor) -> Result<(), LinkError> {
        if nd.src == lan.target_v6 || (!nd.solicitation && nd.target == lan.target_v6) {
            self.learn(true, nd.mac.unwrap_or(from));
        }
        if nd.solicitation && nd.target == lan.own_v6 {
            let to = if nd.src.is_unspecified() {
                // From an address still being checked (DAD): answer all nodes.
                "ff02::1".parse().expect("an address")
            } else {
                nd.src
            };
            let na = Neighbor {
                solicitation: false,
                src: lan.own_v6,
                dst: to,
                target: lan.own_v6,
                mac: Some(lan.own_mac),
            };
            let dst_mac = nd.mac.unwrap_or(from);
            self.write_frame(&ethernet::build(
                dst_mac,
                lan.own_mac,
                ethernet::ETHERTYPE_IPV6,
                &na.encode(),
            ))?;
        }
        Ok(())
    }

    fn learn(&mut self, v6: bool, mac: Mac) {
        if let Some(lan) = &mut self.lan {
            if v6 {
                lan.target_mac_v6 = Some(mac);
            } else {
                lan.target_mac_v4 = Some(mac);
            }
        }
    }

    /// Whether the device has something to read before `deadline`.
    fn readable(&mut self, deadline: Instant) -> Result<bool, LinkError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let left = Timespec::try_from(left.min(Duration::from_secs(86_400)))
                .expect("a day fits a timespec");
            let mut fds = [PollFd::new(&self.device, PollFlags::IN)];
            match poll(&mut fds, Some(&left)) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(LinkError::Read(e.into())),
            }
        }
    }

    /// The next packet from a TUN device.
    fn recv_packet(&mut self, deadline: Instant) -> Result<Option<Arrival>, LinkError> {
        if !self.readable(deadline)? {
            return Ok(None);
        }
        // A TUN read returns exactly one packet; 64 KiB holds any.
        let mut buf = vec![0u8; 65_536];
        let n = self.device.read(&mut buf).map_err(LinkError::Read)?;
        buf.truncate(n);
        self.record(&buf);
        self.arrived += 1;
        Ok(Some(match parse(&buf) {
            Ok(p) => Arrival::Packet(p),
            Err(e) => Arrival::Garbage(e),
        }))
    }

    fn record(&mut self, packet: &[u8]) {
        if self.pcap.get_ref().len() + packet.len() + 16 > PCAP_LIMIT {
            self.unrecorded += 1;
        } else {
            let _ = self.pcap.packet(packet);
        }
    }

    /// Packets left out of the pcap because it reached [`PCAP_LIMIT`].
    pub fn unrecorded(&self) -> usize {
        self.unrecorded
    }

    /// How many packets the target has sent so far.
    pub fn arrived(&self) -> usize {
        self.arrived
    }

    /// The pcap file of everything that crossed the wire so far.
    pub fn pcap(&self) -> Vec<u8> {
        self.pcap.get_ref().clone()
    }
}

/// The source and destination addresses of an IP packet, if it is one.
fn addresses(packet: &[u8]) -> Option<(IpAddr, IpAddr)> {
    let (src, dst): (IpAddr, IpAddr) = match packet.first()? >> 4 {
        4 if packet.len() >= 20 => (
            <[u8; 4]>::try_from(&packet[12..16]).ok()?.into(),
            <[u8; 4]>::try_from(&packet[16..20]).ok()?.into(),
        ),
        6 if packet.len() >= 40 => (
            <[u8; 16]>::try_from(&packet[8..24]).ok()?.into(),
            <[u8; 16]>::try_from(&packet[24..40]).ok()?.into(),
        ),
        _ => return None,
    };
    Some((src, dst))
}

fn target_ip(lan: &Lan, v6: bool) -> IpAddr {
    if v6 {
        lan.target_v6.into()
    } else {
        lan.target_v4.into()
    }
}
