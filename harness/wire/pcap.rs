//! The classic pcap file format (what tcpdump, Wireshark and tshark read): a 24-byte
//! file header, then a 16-byte record header before each packet. The link type is
//! LINKTYPE_RAW (101): every record is an IP packet, IPv4 or IPv6 told apart by its
//! first nibble, which is what a TUN device carries.
//!
//! Why not a crate: the format is these two headers (see the tcpdump project's
//! pcap-savefile(5)); pcap-file 2 would add a dependency for 40 lines.

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// LINKTYPE_RAW: raw IPv4 or IPv6.
const LINKTYPE_RAW: u32 = 101;
/// Bytes of each packet kept: all of it.
const SNAPLEN: u32 = 262_144;

/// Writes packets to `out` as a pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // microsecond timestamps
        header.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // GMT offset
        header.extend_from_slice(&0u32.to_le_bytes()); // timestamp accuracy
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// One packet, stamped `at` (time since the Unix epoch).
    pub fn packet_at(&mut self, at: Duration, packet: &[u8]) -> io::Result<()> {
        self.record(at, packet, packet.len())
    }

    /// A packet of which only `kept` (its first bytes) was captured, out of `len`: a
    /// capture cut at a snap length says so, and Wireshark marks the packet cut short.
    pub fn truncated_packet(&mut self, kept: &[u8], len: usize) -> io::Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.record(now, kept, len.max(kept.len()))
    }

    fn record(&mut self, at: Duration, packet: &[u8], len: usize) -> io::Result<()> {
        let kept = packet.len().min(SNAPLEN as usize);
        let mut record = Vec::with_capacity(16 + kept);
        record.extend_from_slice(&(at.as_secs() as u32).to_le_bytes());
        record.extend_from_slice(&at.subsec_micros().to_le_bytes());
        record.extend_from_slice(&(kept as u32).to_le_bytes());
        record.extend_from_slice(&(len as u32).to_le_bytes());
        record.extend_from_slice(&packet[..kept]);
        self.out.write_all(&record)
    }

    pub fn packet(&mut self, packet: &[u8]) -> io::Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.packet_at(now, packet)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// What has been written so far (for a writer into memory).
    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

/// The packets of a file [`PcapWriter`] wrote (little-endian, LINKTYPE_RAW), each as
/// captured (perhaps cut at the snap length); a short or foreign file gives what could
/// be read.
pub fn packets(file: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    if file.len() < 24 || file[..4] != 0xa1b2_c3d4u32.to_le_bytes() {
        return out;
    }
    let mut at = 24;
    while let Some(header) = file.get(at..at + 16) {
        let kept = u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize;
        let Some(packet) = file.get(at + 16..at + 16 + kept) else {
            break;
        };
        out.push(packet);
        at += 16 + kept;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_read_back_what_was_written() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.packet(&[0x45, 1]).unwrap();
        w.truncated_packet(&[0x45, 2, 3], 900).unwrap();
        let mut bytes = w.into_inner();
        assert_eq!(packets(&bytes), [&[0x45, 1][..], &[0x45, 2, 3][..]]);
        // A record cut off at the end is left out; a foreign file gives nothing.
        bytes.truncate(bytes.len() - 1);
        assert_eq!(packets(&bytes).len(), 1);
        assert!(packets(b"not a pcap file at all, no").is_empty());
    }

    #[test]
    fn headers_are_the_savefile_format() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.packet_at(Duration::new(5, 7_000), &[0x45, 0, 0, 20])
            .unwrap();
        let bytes = w.into_inner();
        assert_eq!(bytes.len(), 24 + 16 + 4);
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&bytes[20..24], &101u32.to_le_bytes());
        assert_eq!(&bytes[24..28], &5u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &7u32.to_le_bytes());
        assert_eq!(&bytes[32..40], &[4, 0, 0, 0, 4, 0, 0, 0]);
    }
}
