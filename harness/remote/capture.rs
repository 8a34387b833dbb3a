//! A capture of what a scenario that never touches the wire sends and receives: a
//! thread drains one of the sandbox's taps (AF_PACKET sockets, see
//! `sandbox::packet_tap`) into a pcap in memory while the scenario runs.
//!
//! On loopback ([`Capture::loopback`]), where the target and the peer are the
//! namespace's own sockets, each packet shows twice to a tap, once leaving and once
//! arriving; only the arrival is kept. On a user-space stack's link ([`Capture::lan`])
//! each frame shows once, either way; its Ethernet header is taken off, and what is not
//! IP (ARP) is left out, so both pcaps are LINKTYPE_RAW. Each packet is cut at [`SNAP`] bytes (headers and the start of the
//! payload, which is what a reader of a failure needs), and the whole capture at
//! [`super::link::PCAP_LIMIT`], so a bulk transfer costs little and a flood is bounded.

use super::link::PCAP_LIMIT;
use crate::wire::pcap::PcapWriter;
use rustix::event::{poll, PollFd, PollFlags};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The bytes kept of each packet.
pub const SNAP: usize = 1024;

/// How the connection attempts in a capture ended: what a failure's explanation can
/// learn from the wire when the program that made them is gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handshakes {
    /// SYNs answered with a SYN-ACK.
    pub answered: u32,
    /// SYNs answered with an RST (RFC 9293 3.10.7.1: no listener, the port is closed).
    pub refused: u32,
}

impl Handshakes {
    /// Reads a pcap of [`Capture::finish`] (or any LINKTYPE_RAW pcap of ours).
    pub fn of(pcap: &[u8]) -> Handshakes {
        use crate::wire::segment::{parse, Flags, Packet};
        let mut syns = Vec::new();
        let mut out = Handshakes::default();
        for packet in crate::wire::pcap::packets(pcap) {
            let Ok(Packet::Tcp { segment: s, .. }) = parse(packet) else {
                continue;
            };
            let syn = s.flags.contains(Flags::SYN);
            if syn && !s.flags.contains(Flags::ACK) {
                syns.push((s.src, s.dst, s.seq.wrapping_add(1)));
            } else if syn {
                out.answered += 1;
            } else if s.flags.contains(Flags::RST) && syns.contains(&(s.dst, s.src, s.ack)) {
                out.refused += 1;
            }
        }
        out
    }
}

/// Which tap, and so how its packets come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tap {
    Loopback,
    Lan,
}

/// A running capture; [`Capture::finish`] stops it and returns the pcap.
pub struct Capture {
    stop: Arc<AtomicBool>,
    /// Dropped to wake the thread at once when the scenario ends.
    wake: Option<OwnedFd>,
    /// Taken by `finish`; a capture dropped without it still stops its thread.
    thread: Option<JoinHandle<Vec<u8>>>,
}

impl Capture {
    /// Records the namespace's loopback (a tap that reads IP packets).
    pub fn loopback(tap: OwnedFd) -> std::io::Result<Capture> {
        Capture::start(tap, Tap::Loopback)
    }

    /// Records a user-space stack's link (a tap that reads Ethernet frames).
    pub fn lan(tap: OwnedFd) -> std::io::Result<Capture> {
        Capture::start(tap, Tap::Lan)
    }

    fn start(tap: OwnedFd, kind: Tap) -> std::io::Result<Capture> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (woken, wake) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || drain(&tap, kind, &woken, &flag))?;
        Ok(Capture {
            stop,
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Stops the capture after what the tap holds now, and returns the pcap file.
    pub fn finish(mut self) -> Vec<u8> {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.wake.take());
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.wake.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn drain(tap: &OwnedFd, kind: Tap, woken: &OwnedFd, stop: &AtomicBool) -> Vec<u8> {
    let mut pcap = PcapWriter::new(Vec::new()).expect("writing to memory");
    // Room for the Ethernet header a LAN's frames carry before the packet.
    let mut buf = vec![0u8; SNAP + crate::wire::ethernet::HEADER];
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping {
            // The tap has packets, or the pipe's writer is gone: the scenario ended.
            let mut fds = [
                PollFd::new(tap, PollFlags::IN),
                PollFd::new(woken, PollFlags::IN),
            ];
            match poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
        // Everything queued now, without waiting.
        let mut got_any = false;
        while let Some((len, outgoing)) = read(tap, &mut buf) {
            got_any = true;
            let (packet, len) = match kind {
                Tap::Loopback if outgoing => continue,
                Tap::Loopback => (&buf[..len.min(SNAP)], len),
                Tap::Lan => match ip_in_frame(&buf[..len.min(buf.len())]) {
                    Some(p) => (&p[..p.len().min(SNAP)], len - crate::wire::ethernet::HEADER),
                    None => continue,
                },
            };
            if pcap.get_ref().len() + packet.len() + 16 <= PCAP_LIMIT {
                let _ = pcap.truncated_packet(packet, len);
            }
        }
        if stopping && !got_any {
            break;
        }
    }
    pcap.into_inner()
}

/// One packet: its full length and whether it was the leaving copy; `None` when the
/// tap holds nothing.
fn read(tap: &OwnedFd, buf: &mut [u8]) -> Option<(usize, bool)> {
    // SAFETY: zeroed is a valid sockaddr_ll.
    let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: buf and from are valid for the lengths given. MSG_TRUNC returns the
    // packet's real length even where the buffer holds less.
    let n = unsafe {
        libc::recvfrom(
            tap.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            (&mut from as *mut libc::sockaddr_ll).cast(),
            &mut from_len,
        )
    };
    if n < 0 {
        return None;
    }
    Some((n as usize, from.sll_pkttype == libc::PACKET_OUTGOING))
}

/// The IP packet in an Ethernet frame, if it carries one.
fn ip_in_frame(frame: &[u8]) -> Option<&[u8]> {
    let f = crate::wire::ethernet::parse(frame)?;
    matches!(
        f.ethertype,
        crate::wire::ethernet::ETHERTYPE_IPV4 | crate::wire::ethernet::ETHERTYPE_IPV6
    )
    .then_some(f.payload)
}
