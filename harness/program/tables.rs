//! The kernel's TCP socket tables (`/proc/net/tcp`, `/proc/net/tcp6`), as seen from one
//! network namespace: which ports listen, and how many bytes wait in each queue.
//!
//! Format (proc(5)): `sl local_address rem_address st tx_queue:rx_queue ...`, addresses
//! as hex `ADDR:PORT`, IPv4 as one 32-bit word and IPv6 as four, each word in host byte
//! order: the kernel prints the raw 32-bit words, so each hex word is turned back into
//! its bytes with `to_ne_bytes`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// `TCP_LISTEN` in the kernel's state numbering (include/net/tcp_states.h).
pub const LISTEN: u8 = 0x0A;
/// `TCP_ESTABLISHED`.
pub const ESTABLISHED: u8 = 0x01;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
    /// Bytes sent and not yet acknowledged (for a listener: 0).
    pub tx_queue: u32,
    /// Bytes received and not yet read by the application (for a listener: the accept
    /// queue's length).
    pub rx_queue: u32,
    /// The socket's inode, which `/proc/PID/fd/N` links name (`socket:[N]`); 0 for a
    /// connection no process holds (TIME-WAIT, or not yet accepted).
    pub inode: u64,
}

/// Both tables of the namespace whose `net` directory is `net_dir` (`/proc/PID/net`).
/// A missing `tcp6` (IPv6 disabled) is an empty table.
pub fn read(net_dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out = parse(&std::fs::read_to_string(net_dir.join("tcp"))?);
    if let Ok(text) = std::fs::read_to_string(net_dir.join("tcp6")) {
        out.extend(parse(&text));
    }
    Ok(out)
}

/// Parses one table; lines that do not parse are skipped (the header among them).
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let mut f = line.split_whitespace();
    let _slot = f.next()?;
    let local = parse_addr(f.next()?)?;
    let remote = parse_addr(f.next()?)?;
    let state = u8::from_str_radix(f.next()?, 16).ok()?;
    let (tx, rx) = f.next()?.split_once(':')?;
    // `tr:tm->when`, `retrnsmt`, `uid`, `timeout`, then the inode.
    let inode = f.nth(4).and_then(|n| n.parse().ok()).unwrap_or(0);
    Some(Entry {
        local,
        remote,
        state,
        tx_queue: u32::from_str_radix(tx, 16).ok()?,
        rx_queue: u32::from_str_radix(rx, 16).ok()?,
        inode,
    })
}

fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Listening addresses with this port.
pub fn listeners_on(entries: &[Entry], port: u16) -> Vec<SocketAddr> {
    entries
        .iter()
        .filter(|e| e.state == LISTEN && e.local.port() == port)
        .map(|e| e.local)
        .collect()
}

/// Every listening address.
pub fn listeners(entries: &[Entry]) -> Vec<SocketAddr> {
    entries
        .iter()
        .filter(|e| e.state == LISTEN)
        .map(|e| e.local)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A1B2 0100007F:1F90 01 00000010:00000400 00:00000000 00000000     0        0 1235 1 0000000000000000 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn parses_ipv4_and_ipv6_entries_with_queues() {
        let v4 = parse(TCP);
        assert_eq!(
            v4,
            vec![
                Entry {
                    local: "127.0.0.1:8080".parse().unwrap(),
                    remote: "0.0.0.0:0".parse().unwrap(),
                    state: LISTEN,
                    tx_queue: 0,
                    rx_queue: 2,
                    inode: 1234,
                },
                Entry {
                    local: "127.0.0.1:41394".parse().unwrap(),
                    remote: "127.0.0.1:8080".parse().unwrap(),
                    state: ESTABLISHED,
                    tx_queue: 16,
                    rx_queue: 1024,
                    inode: 1235,
                },
            ]
        );
        let v6 = parse(TCP6);
        assert_eq!(v6[0].local, "[::1]:80".parse().unwrap());
        assert_eq!(listeners_on(&v4, 8080), vec![v4[0].local]);
        assert!(listeners_on(&v4, 41394).is_empty());
    }

    #[test]
    fn reads_this_namespace_and_finds_a_real_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let entries = read(Path::new("/proc/self/net")).unwrap();
        assert_eq!(listeners_on(&entries, port), vec![l.local_addr().unwrap()]);
    }
}
