//! Wire-level pieces: codecs and stream machinery that know nothing of sockets,
//! adapters or namespaces (the layering smoltcp keeps): TCP segments in IP packets
//! ([`segment`]), the byte-stream [`reassembly`] a receiver needs to turn segments back
//! into the stream, and the classic [`pcap`] file format that records them; and the
//! [`ethernet`] frames, ARP and neighbour discovery a host on a user-space stack's LAN
//! speaks; the [`icmp`] errors a path sends about a segment.

pub mod ethernet;
pub mod icmp;
pub mod notation;
pub mod pcap;
pub mod reassembly;
pub mod segment;
