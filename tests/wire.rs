//! The wire engine against the Linux kernel of a scenario's namespace: the harness
//! plays the remote TCP segment by segment on the TUN device, with sequence numbers
//! relative to each side's ISN, and checks what the kernel sends, as packetdrill
//! scripts read (`<` the harness sends, `>` the target must send).

mod support;

use sockspec::program::tables;
use sockspec::remote::{Connection, ExpectError, Link, Outgoing, Pattern, Wire};
use sockspec::sandbox::{group_command, wire_link, Limits, Sandbox};
use sockspec::wire::segment::{Checksum, Flags, TcpOption};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

/// Generous: a loaded machine must never flip a verdict.
const WITHIN: Duration = Duration::from_secs(5);

struct Setup {
    sandbox: Sandbox,
    wire: Wire,
    target: std::process::Child,
}

/// A sandbox with a wire, and a Python server inside listening on the target's wire
/// address that reads 5 bytes, answers "world" and closes.
fn server_on_the_wire(port: u16) -> Option<Setup> {
    if !sandbox_available() {
        return None;
    }
    let exe = Path::new(env!("CARGO_BIN_EXE_sockspec"));
    let sandbox = Sandbox::create(exe, Duration::from_secs(10), &Limits::default(), None).unwrap();
    let fd = match sandbox.wire() {
        Ok(fd) => fd.try_clone().unwrap(),
        Err(why) => {
            required(false, &format!("a TUN device in the sandbox ({why})"));
            return None;
        }
    };
    let script = format!(
        "python3 -c \"import socket; l=socket.socket(); l.bind(('{}', {port})); l.listen(1); s,_=l.accept(); d=s.recv(5); s.sendall(b'world'); s.close()\"",
        wire_link::TARGET_V4
    );
    let target = group_command(&script, Some(sandbox.join(exe, None)))
        .spawn()
        .unwrap();
    // Listening is an event in the namespace's socket table: wait for it, never sleep.
    let deadline = Instant::now() + WITHIN;
    while tables::listeners_on(&tables::read(&sandbox.net_dir()).unwrap_or_default(), port)
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::yield_now();
    }
    Some(Setup {
        sandbox,
        wire: Wire::new(Link::new(fd)),
        target,
    })
}

fn segment(flags: Flags, seq: u32, ack: u32, payload: &[u8]) -> Outgoing {
    Outgoing {
        flags,
        seq,
        ack,
        window: 65535,
        options: Vec::new(),
        payload: payload.to_vec(),
        checksum: Checksum::Correct,
    }
}

fn expecting(flags: Flags, seq: u32, ack: u32, len: usize) -> Pattern {
    Pattern {
        flags,
        seq: Some(seq),
        ack: Some(ack),
        len: Some(len),
        ..Pattern::default()
    }
}

/// Handshake, request, answer, close from both sides, with the harness's ISN just
/// below 2^32 so its sequence numbers wrap during the connection (RFC 9293 3.4).
#[test]
fn the_harness_plays_a_whole_connection_against_the_kernel() {
    let Some(mut s) = server_on_the_wire(8080) else {
        return;
    };
    let ack = Flags::ACK;
    let local: SocketAddr = (wire_link::REMOTE_V4, 40000).into();
    let peer: SocketAddr = (wire_link::TARGET_V4, 8080).into();
    let mut c = Connection::new(local, peer, u32::MAX - 2);
    let w = &mut s.wire;

    // < S 0:0(0) win 65535 <mss 1460>
    let mut syn = segment(Flags::SYN, 0, 0, b"");
    syn.options = vec![TcpOption::Mss(1460)];
    w.send(&mut c, &syn).unwrap();
    // > S. 0:0(0) ack 1 <...>
    let synack = w
        .expect(&mut c, &expecting(Flags::SYN | ack, 0, 1, 0), WITHIN)
        .unwrap();
    assert!(synack.options.contains(&TcpOption::Mss(1460)));
    // < . 1:1(0) ack 1
    w.send(&mut c, &segment(ack, 1, 1, b"")).unwrap();
    // < P. 1:6(5) ack 1 "hello"
    w.send(&mut c, &segment(Flags::PSH | ack, 1, 1, b"hello"))
        .unwrap();
    // > P. 1:6(5) ack 6 "world", possibly after a pure ACK of the request.
    let mut answer = w.expect(
        &mut c,
        &Pattern {
            flags: Flags::PSH | ack,
            seq: Some(1),
            ack: Some(6),
            payload: Some(b"world".to_vec()),
            ..Pattern::default()
        },
        WITHIN,
    );
    if let Err(ExpectError::Mismatch { field: "flags", .. }) = &answer {
        answer = w.expect(
            &mut c,
            &Pattern {
                flags: Flags::PSH | ack,
                seq: Some(1),
                ack: Some(6),
                payload: Some(b"world".to_vec()),
                ..Pattern::default()
            },
            WITHIN,
        );
    }
    answer.unwrap();
    // > F. 6:6(0) ack 6: the server closed.
    w.expect(&mut c, &expecting(Flags::FIN | ack, 6, 6, 0), WITHIN)
        .unwrap();
    // < F. 6:6(0) ack 7, then > . 7:7(0) ack 7 closes the connection.
    w.send(&mut c, &segment(Flags::FIN | ack, 6, 7, b""))
        .unwrap();
    w.expect(&mut c, &expecting(ack, 7, 7, 0), WITHIN).unwrap();
    // A closed connection has no timer that sends: the wire stays quiet.
    w.expect_silence(&mut c, Duration::from_millis(200))
        .unwrap();
    let _ = s.target.wait();
    // Everything crossed the wire and is in the pcap: a header and 8 records at least.
    assert!(w.link().pcap().len() > 24 + 8 * 16);
    assert!(s.sandbox.close(false).is_empty());
}

/// A mismatch names the field, expected against actual, the segment in relative
/// notation and the connection's recent segments.
#[test]
fn a_mismatch_says_which_field_and_shows_the_segments() {
    let Some(mut s) = server_on_the_wire(8081) else {
        return;
    };
    let local: SocketAddr = (wire_link::REMOTE_V4, 40001).into();
    let peer: SocketAddr = (wire_link::TARGET_V4, 8081).into();
    let mut c = Connection::new(local, peer, 5000);
    s.wire
        .send(&mut c, &segment(Flags::SYN, 0, 0, b""))
        .unwrap();
    // Deliberately wrong: the SYN-ACK acknowledges 1, not 2.
    let err = s
        .wire
        .expect(&mut c, &expecting(Flags::SYN | Flags::ACK, 0, 2, 0), WITHIN)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("ack: expected 2, got 1 in `S. 0:0(0) ack 1 win "),
        "{text}"
    );
    assert!(
        text.contains("recent segments:\n    < S 0:0(0) win 65535\n    > S. 0:0(0) ack 1"),
        "{text}"
    );
    let _ = s.target.kill();
    let _ = s.target.wait();
    assert!(s.sandbox.close(false).is_empty());
}
