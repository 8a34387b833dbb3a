//! The harness's end of a wire device: IP packets in and out of a TUN descriptor, every
//! one recorded for the pcap, reads bounded by deadlines.
//!
//! Why a deadline on every read: a target that never answers must give a verdict that
//! says what arrived, never a hang. Why record both directions in one place: the pcap
//! is the story of the scenario, and a stack author opens it in Wireshark.

use crate::wire::pcap::PcapWriter;
use crate::wire::segment::{parse, Packet, ParseError};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::fs::File;
use std::io::{Read, Write};
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

pub struct Link {
    device: File,
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
            pcap: PcapWriter::new(Vec::new()).expect("writing to memory"),
            arrived: 0,
            unrecorded: 0,
        }
    }

    /// Writes one IP packet onto the wire (the target's kernel receives it).
    pub fn send(&mut self, packet: &[u8]) -> Result<(), LinkError> {
        self.record(packet);
        self.device.write_all(packet).map_err(LinkError::Write)
    }

    /// The next packet the target sends, or `None` once `deadline` passes.
    pub fn recv(&mut self, deadline: Instant) -> Result<Option<Arrival>, LinkError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let left = Timespec::try_from(left.min(Duration::from_secs(86_400)))
                .expect("a day fits a timespec");
            let mut fds = [PollFd::new(&self.device, PollFlags::IN)];
            match poll(&mut fds, Some(&left)) {
                Ok(0) => return Ok(None),
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(LinkError::Read(e.into())),
            }
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
