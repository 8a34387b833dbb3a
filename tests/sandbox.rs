//! What the sandbox guarantees, checked from outside: a scenario cannot reach the host's
//! loopback, and a machine that cannot make namespaces gets one clear note (`auto`) or
//! a refusal (`require`), never a silent loss of isolation.

mod support;

use std::net::TcpListener;
use std::process::Command;
use support::*;

#[test]
fn a_sandboxed_scenario_cannot_reach_the_hosts_loopback() {
    if !sandbox_available() {
        return;
    }
    // A listener in the test's own network namespace, on a port the kernel picked.
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = host.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reach-host.scn");
    std::fs::write(
        &file,
        format!(
            "+++\ntitle = \"The host's listener is out of reach\"\nrefs = [\"network_namespaces(7)\"]\n+++\nc = socket()\nconnect(c, 127.0.0.1:{port}) -> ECONNREFUSED\n"
        ),
    )
    .unwrap();
    let file = file.display().to_string();
    let (code, report) = run_json(&[&file, "--sandbox", "require"]);
    assert_eq!(
        (code, not_passed(&report)),
        (0, vec![]),
        "the sandbox's loopback is its own"
    );
    // Without the sandbox the same connect reaches the host listener: the scenario fails.
    let (code, report) = run_json(&[&file, "--sandbox", "off"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["scenarios"][0]["failure"]["actual"], "success");
}

/// Inside a user namespace whose limit on nested user namespaces is 0, sockspec cannot
/// make its sandbox: the per-namespace sysctl simulates a machine that forbids them.
#[test]
fn without_namespaces_auto_says_so_once_and_require_refuses() {
    let probe = Command::new("unshare").args(["-U", "-r", "true"]).status();
    if !required(
        probe.is_ok_and(|s| s.success()),
        "unshare and user namespaces to simulate a missing sandbox",
    ) {
        return;
    }
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && cd '{}' && NO_COLOR=1 '{}' run -f bind/ --no-progress 2>&1; echo \"rc=$?\"; '{}' run -f bind/bind-twice --sandbox require --no-progress 2>&1; echo \"rc=$?\"",
        root().display(),
        bin_path(),
        bin_path()
    );
    let out = Command::new("unshare")
        .args(["-U", "-r", "sh", "-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("note: running without a sandbox").count(),
        1,
        "said once per run:\n{text}"
    );
    assert!(
        text.contains("share this machine's loopback"),
        "says what is lost:\n{text}"
    );
    assert!(
        text.contains("(in-process)") && text.contains("rc=0"),
        "then runs without:\n{text}"
    );
    assert!(
        text.contains("error: --sandbox require, but failed to create namespaces"),
        "{text}"
    );
    assert!(text.contains("rc=2"), "{text}");
}

/// As root, a program under test runs as `nobody` on the host: it cannot write what
/// root owns (a student's `rm -rf ~` stays inside its copy). Adapters are not affected.
#[test]
fn as_root_a_program_under_test_cannot_write_roots_files() {
    if !sandbox_available() {
        return;
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root's programs are mapped to nobody");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let target = dir.path().join("written-by-the-program");
    let one = root().join("scenarios/programs/echo-server/one-client.scn");
    let command = format!(
        "server=sh -c 'touch {} || echo cannot write >&2; exec sleep 30'",
        target.display()
    );
    let (_, report) = run_json(&[
        one.to_str().unwrap(),
        "--program",
        &command,
        "--timeout",
        "1s",
    ]);
    let detail = report["scenarios"][0]["failure"]["detail"].to_string();
    assert!(detail.contains("cannot write"), "{detail}");
    assert!(
        !target.exists(),
        "the program wrote into a folder of root's"
    );
}

/// A program folder the mount namespace cannot show (one under /run, which the
/// sandbox covers with its own tmpfs) is an error for that scenario, not a quiet run
/// without the mount namespace, which would put the host's files within the
/// program's reach.
#[test]
fn a_program_folder_the_sandbox_cannot_show_is_an_error() {
    if !sandbox_available() || !std::path::Path::new("/run").is_dir() {
        return;
    }
    let folder = tempfile::Builder::new()
        .prefix("sockspec-test-")
        .tempdir_in("/run")
        .unwrap();
    let folder = folder.path();
    let one = root().join("scenarios/programs/echo-server/one-client.scn");
    let (code, report) = run_json(&[
        one.to_str().unwrap(),
        "--program",
        "server=sleep 30",
        "--program-dir",
        folder.to_str().unwrap(),
        "--sandbox",
        "require",
        "--timeout",
        "2s",
    ]);
    let s = &report["scenarios"][0];
    assert_eq!(
        (code, &s["status"]),
        (1, &serde_json::json!("error")),
        "{s}"
    );
    let actual = s["failure"]["actual"].as_str().unwrap_or_default();
    assert!(
        actual.contains("failed to set up the sandbox's files")
            && actual.contains("/run/sockspec-test-"),
        "{actual}"
    );
}

/// The wire: a connect from inside the scenario's namespace to the remote address
/// sends its SYN into the TUN device, where the harness reads it, for IPv4 and IPv6;
/// nobody in the namespace answers for the remote address.
#[test]
fn a_connect_to_the_remote_address_arrives_on_the_wire() {
    use sockspec::sandbox::{group_command, wire_link, Limits, Sandbox};
    use sockspec::wire::segment::{parse, Flags, Packet};
    use std::io::Read;
    use std::time::{Duration, Instant};
    if !sandbox_available() {
        return;
    }
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_sockspec"));
    let sb = Sandbox::create(exe, Duration::from_secs(10), &Limits::default(), None, &[]).unwrap();
    let wire = match sb.wire() {
        Ok(fd) => fd.try_clone().unwrap(),
        Err(why) => {
            let _ = required(false, &format!("a TUN device in the sandbox ({why})"));
            return;
        }
    };
    let mut wire = std::fs::File::from(wire);
    for (remote, port) in [
        (format!("{}", wire_link::REMOTE_V4), 9),
        (format!("[{}]", wire_link::REMOTE_V6), 10),
    ] {
        // The client gives up after 5 s; its SYN is all the test waits for.
        let script = format!(
            "python3 -c \"import socket; socket.create_connection(('{}', {port}), timeout=5)\"",
            remote.trim_matches(['[', ']'])
        );
        let mut client = group_command(&script, Some(sb.join(exe, None)))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut others = Vec::new();
        let syn = loop {
            assert!(
                Instant::now() < deadline,
                "no SYN on the wire; saw {others:?}"
            );
            // Read only what has arrived: every wait has a deadline.
            let mut fds = [rustix::event::PollFd::new(
                &wire,
                rustix::event::PollFlags::IN,
            )];
            let slice = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 100_000_000,
            };
            if rustix::event::poll(&mut fds, Some(&slice)).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; 2048];
            let n = wire.read(&mut buf).unwrap();
            match parse(&buf[..n]).unwrap() {
                Packet::Tcp {
                    segment,
                    checksum_ok,
                } => {
                    assert!(checksum_ok);
                    break segment;
                }
                other => others.push(other),
            }
        };
        assert!(
            syn.flags.contains(Flags::SYN) && !syn.flags.contains(Flags::ACK),
            "{syn}"
        );
        assert_eq!(syn.dst.to_string(), format!("{remote}:{port}"));
        let local = if port == 9 {
            wire_link::TARGET_V4.to_string()
        } else {
            wire_link::TARGET_V6.to_string()
        };
        assert_eq!(syn.src.ip().to_string(), local);
        let _ = client.kill();
        let _ = client.wait();
    }
    assert!(sb.close(false).is_empty());
}

/// A user-space stack's link: an adapter, with no capability of its own, finds the TAP
/// device named in its environment, attaches to it, and sees the namespace kernel's
/// ARP request when a peer socket connects to the stack's address.
#[test]
fn an_adapter_attaches_to_the_stack_link_and_the_kernel_arps_for_the_stack() {
    use sockspec::sandbox::{group_command, stack_link, Limits, Sandbox};
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Duration;
    if !sandbox_available() {
        return;
    }
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_sockspec"));
    let sb = Sandbox::create(exe, Duration::from_secs(10), &Limits::default(), None, &[]).unwrap();
    if let Err(why) = sb.stack_link() {
        let _ = required(false, &format!("a TAP device in the sandbox ({why})"));
        return;
    }
    // The "stack": attach as an adapter would (by the name in SOCKSPEC_LINK), say so,
    // then read Ethernet frames until an ARP request for the stack's address (its
    // target protocol address, bytes 38..42 of the frame).
    let stack = r#"
import fcntl, os, struct, socket
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', os.environ['SOCKSPEC_LINK'].encode(), 0x0002 | 0x1000))
print('attached', os.environ['SOCKSPEC_LINK_KIND'], os.environ['SOCKSPEC_LINK_ADDR'], os.environ['SOCKSPEC_LINK_GATEWAY'], flush=True)
me = socket.inet_aton(os.environ['SOCKSPEC_LINK_ADDR'].split('/')[0])
while True:
    f = os.read(fd, 2048)
    if f[12:14] == b'\x08\x06' and f[38:42] == me:
        print('arp who-has', socket.inet_ntoa(f[38:42]), 'tell', socket.inet_ntoa(f[28:32]), flush=True)
        break
"#;
    // The script travels in the environment: no shell quoting to get wrong.
    let mut attached = group_command(
        "python3 -c \"import os; exec(os.environ['STACK'])\"",
        Some(sb.join(exe, None)),
    )
    .env("STACK", stack)
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(attached.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!(
            "attached tap {}/24 {}",
            stack_link::TARGET_V4,
            stack_link::PEER_V4
        )
    );
    // A peer socket connects to the stack: the kernel must resolve it on the link.
    let mut peer = group_command(
        &format!(
            "python3 -c \"import socket; socket.create_connection(('{}', 80), timeout=5)\"",
            stack_link::TARGET_V4
        ),
        Some(sb.join(exe, None)),
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!(
            "arp who-has {} tell {}",
            stack_link::TARGET_V4,
            stack_link::PEER_V4
        )
    );
    assert!(attached.wait().unwrap().success());
    let _ = peer.kill();
    let _ = peer.wait();
    assert!(sb.close(false).is_empty());
}

/// An adapter that declares `link` is taken for a stack on the sandbox's link: its
/// scenarios' `target:0` is the stack's address. Shown with the Python adapter claiming
/// `link` while still using the kernel's sockets: the kernel has no such address, so
/// the bind fails with EADDRNOTAVAIL, which it would not on loopback; and a wire
/// scenario plays on the link, where nobody has the stack's address, so its SYN goes
/// unanswered (with a real stack, tests/stacks.rs, the same scenarios pass).
#[test]
fn an_adapter_with_a_link_gets_the_links_addresses() {
    if !sandbox_available() {
        return;
    }
    let claims_link = format!(
        "python3 -c \"import sys; sys.path.insert(0, '{}'); import sockspec_adapter as a\nclass L(a.Adapter):\n    def op_hello(self, req):\n        h = super().op_hello(req); h['capabilities'].append('link'); return h\na.main(L)\"",
        root().join("adapters/python").display()
    );
    let (code, report) = run_json(&[
        &scenario("bind/bind-twice-expects-error"),
        &root()
            .join("scenarios/wire/syn-to-a-port-without-listener-gets-rst.scn")
            .display()
            .to_string(),
        "--adapter",
        &claims_link,
    ]);
    assert_eq!(code, 1, "{report}");
    let results = report["scenarios"].as_array().unwrap();
    let bind = results
        .iter()
        .find(|r| r["name"] == "bind/bind-twice-expects-error")
        .unwrap();
    assert_eq!(bind["failure"]["step"], "bind(a, target:0)", "{bind}");
    assert!(
        bind["failure"]["actual"]
            .as_str()
            .unwrap()
            .starts_with("EADDRNOTAVAIL"),
        "{bind}"
    );
    let wire = results
        .iter()
        .find(|r| r["name"] != "bind/bind-twice-expects-error")
        .unwrap();
    assert_eq!(wire["status"], "failed", "{wire}");
    assert!(
        wire["failure"]["actual"]
            .as_str()
            .unwrap()
            .contains("the target sent 0 packets on the wire"),
        "{wire}"
    );
}
