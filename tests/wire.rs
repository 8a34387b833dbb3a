//! The wire engine against the Linux kernel of a scenario's namespace: the harness
//! plays the remote TCP segment by segment on the TUN device, with sequence numbers
//! relative to each side's ISN, and checks what the kernel sends, as packetdrill
//! scripts read (`<` the harness sends, `>` the target must send).

mod support;

use sockspec::program::tables;
use sockspec::remote::{Connection, ExpectError, Link, Outgoing, Wire};
use sockspec::sandbox::{group_command, wire_link, Limits, Sandbox};
use sockspec::wire::notation;
use sockspec::wire::segment::{Segment, TcpOption};
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
/// A sandbox and the harness's end of its wire, where the machine gives both.
fn sandbox_with_wire() -> Option<(Sandbox, Wire)> {
    if !sandbox_available() {
        return None;
    }
    let sandbox = Sandbox::create(
        exe(),
        Duration::from_secs(10),
        &Limits::default(),
        None,
        &[],
    )
    .unwrap();
    let fd = match sandbox.wire() {
        Ok(fd) => fd.try_clone().unwrap(),
        Err(why) => {
            required(false, &format!("a TUN device in the sandbox ({why})"));
            return None;
        }
    };
    Some((sandbox, Wire::new(Link::new(fd))))
}

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sockspec"))
}

fn server_on_the_wire(port: u16) -> Option<Setup> {
    let (sandbox, wire) = sandbox_with_wire()?;
    let script = format!(
        "python3 -c \"import socket; l=socket.socket(); l.bind(('{}', {port})); l.listen(1); s,_=l.accept(); d=s.recv(5); s.sendall(b'world'); s.close()\"",
        wire_link::TARGET_V4
    );
    let target = group_command(&script, Some(sandbox.join(exe(), None)))
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
        wire,
        target,
    })
}

/// `< LINE`: the harness sends the segment the line describes.
fn send(w: &mut Wire, c: &mut Connection, line: &str) {
    let spec = notation::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    w.send(c, &Outgoing::from_spec(&spec).unwrap()).unwrap();
}

/// `> LINE`: the target must send a segment that matches the line.
fn expect(w: &mut Wire, c: &mut Connection, line: &str) -> Result<Segment, ExpectError> {
    let spec = notation::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    w.expect(c, &spec, WITHIN)
}

/// Handshake, request, answer, close from both sides, with the harness's ISN just
/// below 2^32 so its sequence numbers wrap during the connection (RFC 9293 3.4).
#[test]
fn the_harness_plays_a_whole_connection_against_the_kernel() {
    let Some(mut s) = server_on_the_wire(8080) else {
        return;
    };
    let local: SocketAddr = (wire_link::REMOTE_V4, 40000).into();
    let peer: SocketAddr = (wire_link::TARGET_V4, 8080).into();
    let mut c = Connection::new(local, peer, u32::MAX - 2);
    let w = &mut s.wire;

    send(w, &mut c, "S 0:0(0) win 65535 <mss 1460>");
    let synack = expect(w, &mut c, "S. 0:0(0) ack 1 <...>").unwrap();
    assert!(synack.options.contains(&TcpOption::Mss(1460)));
    send(w, &mut c, ". 1:1(0) ack 1");
    send(w, &mut c, "P. 1:6(5) ack 1 \"hello\"");
    // The answer, possibly after a pure ACK of the request.
    let answer = "P. 1:6(5) ack 6 win * \"world\"";
    if let Err(ExpectError::Mismatch { field: "flags", .. }) = expect(w, &mut c, answer) {
        expect(w, &mut c, answer).unwrap();
    }
    // The server closed; the harness acknowledges and closes too.
    expect(w, &mut c, "F. 6:6(0) ack 6 win *").unwrap();
    send(w, &mut c, "F. 6:6(0) ack 7");
    expect(w, &mut c, ". 7:7(0) ack 7 win *").unwrap();
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
    send(&mut s.wire, &mut c, "S 0:0(0) win 65535");
    // Deliberately wrong: the SYN-ACK acknowledges 1, not 2.
    let err = expect(&mut s.wire, &mut c, "S. 0:0(0) ack 2 <...>").unwrap_err();
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

/// The wire corpus passes against Linux.
#[test]
fn the_wire_corpus_passes_against_linux() {
    if !sandbox_available() {
        return;
    }
    let pcaps = tempfile::tempdir().unwrap();
    let (code, report) = run_json(&[
        &root().join("scenarios/wire").display().to_string(),
        "--pcap",
        &pcaps.path().display().to_string(),
    ]);
    assert_eq!((code, not_passed(&report)), (0, vec![]), "{report}");
    let results = report["scenarios"].as_array().unwrap();
    assert!(results.len() >= 4);
    // Each scenario's pcap: the savefile header, then records that hold the segments
    // both ways, a SYN first (the harness's, or the target's when it connects).
    for r in results {
        let path = r["pcap"].as_str().unwrap_or_else(|| panic!("no pcap: {r}"));
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "{path}");
        let mut at = 24;
        let mut segments = Vec::new();
        while at + 16 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            let packet = &bytes[at + 16..at + 16 + len];
            if let Ok(sockspec::wire::segment::Packet::Tcp { segment, .. }) =
                sockspec::wire::segment::parse(packet)
            {
                segments.push(segment);
            }
            at += 16 + len;
        }
        assert_eq!(at, bytes.len(), "{path} ends inside a record");
        assert!(segments.len() >= 2, "{path}: {segments:?}");
        assert_eq!(
            segments[0].flags,
            sockspec::wire::segment::Flags::SYN,
            "{path}"
        );
        // Both ways: the harness's segments and the target's.
        for side in [wire_link::REMOTE_V4, wire_link::TARGET_V4] {
            assert!(
                segments
                    .iter()
                    .any(|s| s.src.ip() == std::net::IpAddr::from(side)),
                "{path}: nothing from {side}"
            );
        }
    }
}

/// Every wire scenario fails against a target that is wrong in its way, for that
/// reason: a Linux with a setting changed in the scenario's namespace (`--sysctl`), or
/// the harness sending what the scenario does not (a deliberately wrong sequence).
#[test]
fn each_wire_scenario_fails_for_its_reason() {
    if !sandbox_available() {
        return;
    }
    // (scenario, extra arguments, an edit of the scenario, the reason it must give)
    type Case<'a> = (&'a str, &'a [&'a str], Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 11] = [
        (
            "handshake-as-client-offers-the-options",
            &["--sysctl", "net.ipv4.tcp_timestamps=0"],
            None,
            "got <mss 1460,nop,nop,sackOK,nop,wscale ",
        ),
        (
            "handshake-as-client-offers-the-options",
            &["--sysctl", "net.ipv4.tcp_sack=0"],
            None,
            "got <mss 1460,nop,nop,TS val ",
        ),
        // In the window after all: the target takes the data and acknowledges it.
        (
            "out-of-window-data-is-answered-with-an-ack",
            &[],
            Some(("P. 1000001:1000006(5)", "P. 1:6(5)")),
            "ack: expected 1, got 6",
        ),
        // An RST one byte past RCV.NXT only draws a challenge ACK: recv keeps waiting.
        (
            "rst-at-rcv-nxt-resets-the-connection",
            &[],
            Some(("w < R. 1:1(0)", "w < R. 2:2(0)")),
            "still blocked",
        ),
        // An RST at RCV.NXT is taken: the connection is gone, no challenge ACK comes.
        (
            "rst-in-window-but-not-at-rcv-nxt-gets-a-challenge-ack",
            &[],
            Some(("w < R. 100:100(0)", "w < R. 1:1(0)")),
            "no segment within",
        ),
        // An RST instead of the SYN resets the connection: nothing answers it.
        (
            "syn-on-an-established-connection-gets-a-challenge-ack",
            &[],
            Some((
                "s = accept(l)\nw < S 0:0(0) win 65535 <mss 1460>",
                "s = accept(l)\nw < R. 1:1(0) ack 1 win 0",
            )),
            "no segment within",
        ),
        (
            "handshake-as-server-negotiates-the-options",
            &["--sysctl", "net.ipv4.tcp_sack=0"],
            None,
            "options: expected <mss 1460,nop,nop,sackOK,nop,wscale *>, got <mss 1460,nop,wscale ",
        ),
        (
            "handshake-as-server-negotiates-the-options",
            &["--sysctl", "net.ipv4.tcp_window_scaling=0"],
            None,
            "got <mss 1460,nop,nop,sackOK> in `S. 0:0(0) ack 1",
        ),
        (
            "data-beyond-a-gap-is-held-until-the-gap-fills",
            &["--sysctl", "net.ipv4.tcp_sack=0"],
            None,
            "options: expected <mss 1460,nop,nop,sackOK>, got <mss 1460>",
        ),
        // The port listens after all: a SYN-ACK comes where the RST was expected.
        (
            "syn-to-a-port-without-listener-gets-rst",
            &[],
            Some(("w = wire(l)", "listen(l, 1)\nw = wire(l)")),
            "flags: expected R., got S.",
        ),
        // The harness's FIN comes one byte late: the target cannot take it, and
        // acknowledges only what it has.
        (
            "fin-from-the-remote-ends-the-targets-stream",
            &[],
            Some(("w < F. 1:1(0) ack 1", "w < F. 2:2(0) ack 1")),
            "ack: expected 2, got 1",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, args, edit, reason) in cases {
        let original = root().join(format!("scenarios/wire/{name}.scn"));
        let file = match edit {
            None => original,
            Some((from, to)) => {
                let text = std::fs::read_to_string(&original).unwrap();
                assert!(text.contains(from), "{name} has no `{from}`");
                let path = dir.path().join(format!("{name}.scn"));
                std::fs::write(&path, text.replace(from, to)).unwrap();
                path
            }
        };
        let file = file.display().to_string();
        let mut all = vec![file.as_str(), "--timeout", "3s"];
        all.extend_from_slice(args);
        let (code, report) = run_json(&all);
        let result = &report["scenarios"][0];
        assert_eq!(
            (code, result["status"].as_str()),
            (1, Some("failed")),
            "{name} {args:?} was not caught: {result}"
        );
        let actual = result["failure"]["actual"].as_str().unwrap_or_default();
        assert!(actual.contains(reason), "{name} {args:?}: {actual}");
    }
}

/// A target that floods the wire gets a bounded verdict that says so, not a harness
/// that keeps every segment until its memory runs out.
#[test]
fn a_flood_of_segments_is_a_verdict() {
    let Some((sandbox, mut wire)) = sandbox_with_wire() else {
        return;
    };
    // SYNs to 60000 remote ports nobody expects, as fast as connect() goes (each socket
    // is closed at once, so the process's file limit does not stop it).
    let script = format!(
        "python3 -c \"import socket\nfor p in range(1000, 61000):\n    s=socket.socket(); s.setblocking(False); s.connect_ex(('{}', p)); s.close()\"",
        wire_link::REMOTE_V4
    );
    let mut flooder = group_command(&script, Some(sandbox.join(exe(), None)))
        .spawn()
        .unwrap();
    let quiet: SocketAddr = (wire_link::REMOTE_V4, 9999).into();
    let mut c = Connection::new(quiet, (wire_link::TARGET_V4, 1).into(), 1);
    let spec = notation::parse("S 0:0(0)").unwrap();
    let err = wire.expect(&mut c, &spec, WITHIN * 4).unwrap_err();
    assert!(matches!(err, ExpectError::Flood { .. }), "{err}");
    assert!(err.to_string().contains("floods the wire"));
    let _ = flooder.kill();
    let _ = flooder.wait();
    assert!(sandbox.close(false).is_empty());
}

/// Where the sandbox gets no wire device (here: the TUN clone device is named where
/// none exists, through SOCKSPEC_TUN, as on a machine without TUN), wire scenarios are
/// skipped with the reason and the rest runs; `--sandbox require` refuses them.
#[test]
fn without_tun_wire_scenarios_are_skipped_and_require_refuses() {
    if !sandbox_available() {
        return;
    }
    let run = |sandbox: &str| {
        sockspec()
            .arg("run")
            .arg(root().join("scenarios/wire/syn-to-a-port-without-listener-gets-rst.scn"))
            .arg(root().join("scenarios/bind/bind-twice-expects-error.scn"))
            .args(["--sandbox", sandbox, "--format", "json", "--no-progress"])
            .env(wire_link::TUN_VAR, "/nonexistent/tun")
            .output()
            .unwrap()
    };
    let auto = run("auto");
    let stderr = String::from_utf8_lossy(&auto.stderr);
    assert_eq!(auto.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "note: the sandbox has no wire device (opening the TUN device /nonexistent/tun"
        ),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&auto.stdout).unwrap();
    let result = |name: &str| {
        report["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"].as_str().unwrap_or_default().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not in {report}"))
            .clone()
    };
    let wire = result("syn-to-a-port-without-listener-gets-rst");
    assert_eq!(wire["status"], "skipped", "{wire}");
    assert!(
        wire["skip_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no wire device"),
        "{wire}"
    );
    assert_eq!(result("bind-twice-expects-error")["status"], "passed");
    let require = run("require");
    let stderr = String::from_utf8_lossy(&require.stderr);
    assert_eq!(require.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: --sandbox require, but the sandbox has no wire device"),
        "{stderr}"
    );
}
