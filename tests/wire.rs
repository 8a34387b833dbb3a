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
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::*;

/// Generous: a loaded machine must never flip a verdict.
const WITHIN: Duration = Duration::from_secs(5);

struct Setup {
    sandbox: Sandbox,
    wire: Wire,
    target: std::process::Child,
}

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

/// Runs Python `code` inside the sandbox (`{target}` and `{remote}` stand for the wire
/// addresses) and, given a port, waits until something listens on it.
fn python_in(sandbox: &Sandbox, code: &str, listens_on: Option<u16>) -> std::process::Child {
    let code = code
        .replace("{target}", &wire_link::TARGET_V4.to_string())
        .replace("{remote}", &wire_link::REMOTE_V4.to_string());
    let child = group_command(
        &format!("python3 -c \"{code}\""),
        Some(sandbox.join(exe(), None)),
    )
    .spawn()
    .unwrap();
    if let Some(port) = listens_on {
        // Listening is an event in the namespace's socket table: wait for it, never sleep.
        let deadline = Instant::now() + WITHIN;
        while tables::listeners_on(&tables::read(&sandbox.net_dir()).unwrap_or_default(), port)
            .is_empty()
        {
            assert!(Instant::now() < deadline, "nothing listened on {port}");
            std::thread::yield_now();
        }
    }
    child
}

/// A sandbox with a wire, and a Python server inside listening on the target's wire
/// address that reads 5 bytes, answers "world" and closes.
fn server_on_the_wire(port: u16) -> Option<Setup> {
    let (sandbox, wire) = sandbox_with_wire()?;
    let target = python_in(
        &sandbox,
        &format!("import socket; l=socket.socket(); l.bind(('{{target}}', {port})); l.listen(1); s,_=l.accept(); d=s.recv(5); s.sendall(b'world'); s.close()"),
        Some(port),
    );
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

/// The harness as a plain TCP, driven from code as the property tests will drive it:
/// a handshake, a stream larger than any window sent to an echo server while its echo
/// comes back, both FINs; the harness's ISN sits just below 2^32, so its numbers wrap.
#[test]
fn the_plain_tcp_carries_a_stream_both_ways() {
    let Some((sandbox, mut wire)) = sandbox_with_wire() else {
        return;
    };
    let mut echo = python_in(
        &sandbox,
        "import socket\nl=socket.socket(); l.bind(('{target}', 7)); l.listen(1); s,_=l.accept()\nwhile (d := s.recv(65536)): s.sendall(d)\ns.close()",
        Some(7),
    );
    let local: SocketAddr = (wire_link::REMOTE_V4, 40002).into();
    let mut c = Connection::new(local, (wire_link::TARGET_V4, 7).into(), u32::MAX - 1000);
    wire.open(&mut c, WITHIN).unwrap();
    let stream = sockspec::remote::plain::pattern(300_000);
    wire.send_data(&mut c, &stream, WITHIN).unwrap();
    // The echo came back while the harness sent; the rest arrives now.
    let echoed = wire.recv_data(&mut c, stream.len(), WITHIN).unwrap();
    assert!(echoed == stream, "the echo differs from the stream");
    // The harness sent in segments of at most the server's MSS.
    wire.send_fin(&mut c, WITHIN).unwrap();
    wire.recv_fin(&mut c, WITHIN).unwrap();
    assert_eq!(
        c.snd_una, 300_002,
        "SYN, the stream and the FIN acknowledged"
    );
    assert!(echo.wait().unwrap().success());
    assert!(sandbox.close(false).is_empty());
}

/// The target connects: the harness answers its handshake, takes its request and
/// answers; the client then closes with SO_LINGER 0, and the reset is named as one.
#[test]
fn the_plain_tcp_answers_a_client() {
    let Some((sandbox, mut wire)) = sandbox_with_wire() else {
        return;
    };
    let mut client = python_in(
        &sandbox,
        "import socket, struct\nc=socket.create_connection(('{remote}', 40003)); c.sendall(b'ping'); assert c.recv(4) == b'pong'\nc.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()",
        None,
    );
    let local: SocketAddr = (wire_link::REMOTE_V4, 40003).into();
    let mut c = Connection::new(local, (wire_link::TARGET_V4, 0).into(), 77);
    wire.answer_open(&mut c, WITHIN).unwrap();
    assert_eq!(wire.recv_data(&mut c, 4, WITHIN).unwrap(), b"ping");
    wire.send_data(&mut c, b"pong", WITHIN).unwrap();
    let err = wire.recv_fin(&mut c, WITHIN).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the target reset the connection instead of closing: `R. 5:5(0) ack 5"),
        "{err}"
    );
    assert!(client.wait().unwrap().success());
    assert!(sandbox.close(false).is_empty());
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

/// Whether tshark can be run here.
fn tshark_runs() -> bool {
    std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The TCP segments tshark reads from a pcap file, as `FLAGS LEN` lines
/// (`0x0012 0`).
fn tshark_segments(pcap: &Path) -> Vec<String> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-Y",
            // ICMP errors quote a TCP header, which tshark shows as TCP too; a segment
            // with an illegal option length (sent on purpose) is one our codec refuses.
            "tcp && !icmp && !tcp.option.len.invalid",
            "-T",
            "fields",
            "-e",
            "tcp.flags",
            "-e",
            "tcp.len",
        ])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark fails on {}: {out:?}",
        pcap.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.replace('\t', " "))
        .collect()
}

/// The wire corpus passes against Linux, and each scenario's pcap holds its segments
/// both ways, as sockspec's own codec and as Wireshark's tshark read them.
#[test]
fn the_wire_corpus_passes_against_linux() {
    if !sandbox_available() {
        return;
    }
    let pcaps = tempfile::tempdir().unwrap();
    let (code, report) = run_json(&[
        &root().join("scenarios/wire").display().to_string(),
        // Most wire scenarios wait on the target's timers, not on a core.
        "-j",
        "8",
        "--pcap",
        &pcaps.path().display().to_string(),
    ]);
    assert_eq!((code, not_passed(&report)), (0, vec![]), "{report}");
    let results = report["scenarios"].as_array().unwrap();
    assert!(
        results.len() >= 40,
        "the wire corpus has {} scenarios",
        results.len()
    );
    let mut decoded: Vec<(String, Vec<String>)> = Vec::new();
    // Each scenario's pcap: the savefile header, then records that hold the segments
    // both ways, a SYN first (the harness's, or the target's when it connects).
    for r in results {
        let path = r["pcap"].as_str().unwrap_or_else(|| panic!("no pcap: {r}"));
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "{path}");
        let mut at = 24;
        let mut segments = Vec::new();
        // ICMP errors the harness sent: the harness's side of a scenario without its
        // own segments (`w < icmp ...` answering the target's SYN).
        let mut icmp_from_the_harness = false;
        while at + 16 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            let packet = &bytes[at + 16..at + 16 + len];
            match sockspec::wire::segment::parse(packet) {
                Ok(sockspec::wire::segment::Packet::Tcp { segment, .. }) => segments.push(segment),
                Ok(sockspec::wire::segment::Packet::Other { protocol: 1, .. }) => {
                    icmp_from_the_harness |= packet[12..16] == wire_link::REMOTE_V4.octets();
                }
                _ => {}
            }
            at += 16 + len;
        }
        assert_eq!(at, bytes.len(), "{path} ends inside a record");
        assert!(!segments.is_empty(), "{path}: {segments:?}");
        assert_eq!(
            segments[0].flags,
            sockspec::wire::segment::Flags::SYN,
            "{path}"
        );
        // Both ways: the harness's segments and the target's.
        let from = |v4: std::net::Ipv4Addr, v6: std::net::Ipv6Addr| {
            segments
                .iter()
                .any(|s| s.src.ip() == std::net::IpAddr::from(v4) || s.src.ip() == v6)
        };
        assert!(
            from(wire_link::REMOTE_V4, wire_link::REMOTE_V6) || icmp_from_the_harness,
            "{path}: nothing from the harness"
        );
        assert!(
            from(wire_link::TARGET_V4, wire_link::TARGET_V6),
            "{path}: nothing from the target"
        );
        decoded.push((
            path.to_string(),
            segments
                .iter()
                .map(|s| format!("0x{:04x} {}", s.flags.0, s.payload.len()))
                .collect(),
        ));
    }
    // Wireshark's reader sees the same segments: flags and payload length, in order.
    // tshark takes a fifth of a second to start: four at a time.
    if required(tshark_runs(), "tshark (Debian's tshark package)") {
        std::thread::scope(|scope| {
            for chunk in decoded.chunks(decoded.len().div_ceil(4)) {
                scope.spawn(move || {
                    for (path, ours) in chunk {
                        let theirs = tshark_segments(Path::new(path));
                        assert_eq!(&theirs, ours, "{path}: tshark reads other segments");
                    }
                });
            }
        });
    }
}

/// Every wire scenario fails against a target that is wrong in its way, for that
/// reason: a Linux with a setting changed in the scenario's namespace (`--sysctl`), or
/// the harness sending what the scenario does not (a deliberately wrong sequence).
/// The cases are in tests/wire/failures.toml; those that share settings run in one
/// `sockspec run` in parallel, because most of them wait out a deadline.
#[test]
fn each_wire_scenario_fails_for_its_reason() {
    if !sandbox_available() {
        return;
    }
    #[derive(serde::Deserialize)]
    struct Case {
        scenario: String,
        #[serde(default)]
        sysctl: Vec<String>,
        edit: Option<[String; 2]>,
        reason: String,
        detail: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Cases {
        case: Vec<Case>,
    }
    let table = root().join("tests/wire/failures.toml");
    let cases: Cases = toml::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut groups: std::collections::BTreeMap<Vec<String>, Vec<(PathBuf, &Case)>> =
        Default::default();
    for (i, case) in cases.case.iter().enumerate() {
        let original = root().join(format!("scenarios/wire/{}.scn", case.scenario));
        let text =
            std::fs::read_to_string(&original).unwrap_or_else(|e| panic!("{}: {e}", case.scenario));
        // Each case its own folder, so that two edits of one scenario may run together.
        let folder = dir.path().join(i.to_string());
        std::fs::create_dir(&folder).unwrap();
        let path = folder.join(format!("{}.scn", case.scenario));
        let text = match &case.edit {
            None => text,
            Some([from, to]) => {
                assert!(
                    text.contains(from.as_str()),
                    "{} has no `{from}`",
                    case.scenario
                );
                text.replace(from.as_str(), to)
            }
        };
        std::fs::write(&path, text).unwrap();
        groups
            .entry(case.sysctl.clone())
            .or_default()
            .push((path, case));
    }
    // Every wire scenario has a case.
    for entry in std::fs::read_dir(root().join("scenarios/wire")).unwrap() {
        let name = entry.unwrap().path();
        let stem = name.file_stem().unwrap().to_string_lossy().to_string();
        assert!(
            cases.case.iter().any(|c| c.scenario == stem),
            "scenarios/wire/{stem}.scn is shown failing by no case in {}",
            table.display()
        );
    }
    let pcaps = dir.path().join("pcap");
    for (sysctls, members) in &groups {
        let mut args: Vec<String> = members
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        args.extend(["--timeout", "3s", "-j", "8", "--pcap"].map(String::from));
        args.push(pcaps.display().to_string());
        for s in sysctls {
            args.extend(["--sysctl".to_string(), s.clone()]);
        }
        let all: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, report) = run_json(&all);
        assert_eq!(code, 1, "{sysctls:?}: {report}");
        let results = report["scenarios"].as_array().unwrap();
        for (path, case) in members {
            let result = results
                .iter()
                .find(|r| r["path"].as_str() == Some(path.to_str().unwrap()))
                .unwrap_or_else(|| panic!("{}: no result in {report}", case.scenario));
            let why = format!("{} {:?} {:?}", case.scenario, case.sysctl, case.edit);
            assert_eq!(result["status"], "failed", "{why} was not caught: {result}");
            let actual = result["failure"]["actual"].as_str().unwrap_or_default();
            assert!(actual.contains(&case.reason), "{why}: {actual}");
            if let Some(detail) = &case.detail {
                let note = result["failure"]["detail"].as_str().unwrap_or_default();
                assert!(note.contains(detail.as_str()), "{why}: {note}");
            }
            // A failed scenario names its pcap.
            assert!(result["pcap"].as_str().is_some(), "{why}: no pcap");
        }
    }
}

/// A scenario without a wire gets the namespace's loopback traffic as its pcap (each
/// packet once, though loopback shows it leaving and arriving); a failed one keeps it
/// without `--pcap`, where `--failure-pcap` says.
#[test]
fn a_failed_api_scenario_keeps_its_loopback_pcap() {
    if !sandbox_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("refused.scn");
    std::fs::write(
        &scenario,
        "+++\ntitle = \"A connect to a closed port, wrongly expected to succeed\"\n+++\nl = socket()\nbind(l, 127.0.0.1:0)\nc = socket()\nconnect(c, l.local)\n",
    )
    .unwrap();
    let failures = dir.path().join("failures");
    let (code, report) = run_json(&[
        scenario.to_str().unwrap(),
        "--failure-pcap",
        failures.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report}");
    let result = &report["scenarios"][0];
    let pcap = result["pcap"]
        .as_str()
        .expect("a failed scenario names its pcap");
    assert!(Path::new(pcap).starts_with(&failures), "{pcap}");
    // The SYN and the RST that refused it, once each.
    let bytes = std::fs::read(pcap).unwrap();
    let mut flags = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let kept = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        if let Ok(sockspec::wire::segment::Packet::Tcp { segment, .. }) =
            sockspec::wire::segment::parse(&bytes[at + 16..at + 16 + kept])
        {
            flags.push(segment.flags.to_string());
        }
        at += 16 + kept;
    }
    assert_eq!(flags, ["S", "R."], "{pcap}");
    if required(tshark_runs(), "tshark (Debian's tshark package)") {
        assert_eq!(tshark_segments(Path::new(pcap)), ["0x0002 0", "0x0014 0"]);
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
    let mut flooder = python_in(
        &sandbox,
        "import socket\nfor p in range(1000, 61000):\n    s=socket.socket(); s.setblocking(False); s.connect_ex(('{remote}', p)); s.close()",
        None,
    );
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
