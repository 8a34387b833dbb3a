//! `sockspec prop reassembly`: the harness as the sending TCP on a real wire, against
//! Linux's TCP in the sandbox's namespace. (Against smoltcp, where it finds a crash,
//! in tests/stacks.rs.)

mod support;

use sockspec::prop::deliver::Target;
use sockspec::prop::segments::{self, Bounds};
use sockspec::run::Settings;
use sockspec::sandbox::{Limits, SandboxSpec};
use std::time::Duration;
use support::*;

/// Settings for running cases from code: the Linux reference in the sandbox.
fn sandboxed() -> Settings {
    let exe = std::path::PathBuf::from(bin_path());
    let (spec, _) = SandboxSpec::probe(exe, Limits::default(), Vec::new()).unwrap();
    Settings {
        sandbox: Some(spec),
        ..Settings::default()
    }
}

/// Linux takes every case: random cuts, overlaps, duplicates, losses and the wrap.
#[test]
fn linux_passes_the_reassembly_properties() {
    if !sandbox_available() {
        return;
    }
    let out = sockspec()
        .args(["prop", "reassembly", "--cases", "128", "--seed", "3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("128 passed, 0 failed"), "{text}");
    assert!(text.contains("seed 3"), "{text}");
}

/// A case delivered from code: lost segments, the FIN first, the ISN just below 2^32.
/// The scenario written from what was sent says so, and replays it on Linux.
#[test]
fn a_delivered_case_is_written_as_a_scenario_that_replays() {
    if !sandbox_available() {
        return;
    }
    let settings = sandboxed();
    let case = segments::ReassemblyCase {
        len: 300,
        seed: 9,
        isn: u32::MAX - 100,
        segments: vec![
            segments::Piece {
                start: 300,
                len: 0,
                fin: true,
            },
            segments::Piece {
                start: 200,
                len: 100,
                fin: false,
            },
            segments::Piece {
                start: 0,
                len: 150,
                fin: false,
            },
            segments::Piece {
                start: 100,
                len: 50,
                fin: false,
            },
        ],
        reads: vec![7, 64],
        edges: vec![],
        rcvbuf: Some(2048),
    };
    let mut target = Target::open(&settings, Duration::from_secs(2)).unwrap();
    let (delivery, result) = target.deliver(&case);
    target.close(false);
    result.unwrap();
    // Four segments, then bytes 150..200, which no segment carried: lost.
    assert_eq!(delivery.sent.len(), 5, "{:?}", delivery.sent);
    assert!(
        delivery.sent[0].starts_with("F. 301:301(0)"),
        "{:?}",
        delivery.sent
    );
    assert!(
        delivery.sent[4].starts_with("P. 151:201(50)"),
        "{:?}",
        delivery.sent
    );
    assert!(delivery.sent[4].ends_with(" lost"), "{:?}", delivery.sent);

    // Linux takes the small receive buffer; the written scenario asks for it too.
    assert_eq!(delivery.rcvbuf, Some(2048));
    let text = segments::scenario(&case, &delivery.sent, delivery.rcvbuf, "a test", 0).unwrap();
    assert!(text.contains("setsockopt(l, SO_RCVBUF, 2048)\n"), "{text}");
    assert!(
        text.contains(&format!("w = wire(l, {})", u32::MAX - 100)),
        "{text}"
    );
    assert!(text.contains("w < resend\n"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("replay.scn");
    std::fs::write(&file, &text).unwrap();
    let (code, report) = run_json(&[file.to_str().unwrap()]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["scenarios"][0]["status"], "passed", "{report}");
}

/// Segments at the window's edge: with a 2 KiB receive buffer Linux offers a window
/// well inside a 6000-byte stream, and each edge segment straddles its right edge as
/// the target's last ACK placed it; Linux trims them and the stream arrives whole.
#[test]
fn edge_segments_straddle_the_targets_window() {
    if !sandbox_available() {
        return;
    }
    let settings = sandboxed();
    let piece = |start, len, fin| segments::Piece { start, len, fin };
    let case = segments::ReassemblyCase {
        len: 6000,
        seed: 4,
        isn: 77,
        segments: vec![
            piece(0, 500, false),
            piece(500, 500, false),
            piece(1000, 1000, false),
            piece(2000, 1000, false),
            piece(3000, 1000, false),
            piece(4000, 1000, false),
            piece(5000, 1000, true),
        ],
        reads: vec![100],
        edges: vec![
            segments::Edge {
                after: 0,
                back: 100,
                beyond: 300,
            },
            segments::Edge {
                after: 1,
                back: 0,
                beyond: 200,
            },
        ],
        rcvbuf: Some(2048),
    };
    let mut target = Target::open(&settings, Duration::from_secs(2)).unwrap();
    let (delivery, result) = target.deliver(&case);
    target.close(false);
    result.unwrap();
    // The first edge went after the first segment, the second after the second, each
    // 400 and 200 bytes that end inside the stream: Linux's window edge lies there.
    let numbers = |line: &str| {
        let range = line.split(' ').nth(1).unwrap().to_string();
        let (from, to) = range.split_once(':').unwrap();
        let to = to.split('(').next().unwrap();
        (from.parse::<u32>().unwrap(), to.parse::<u32>().unwrap())
    };
    let (from, to) = numbers(&delivery.sent[1]);
    assert_eq!(to - from, 400, "{:?}", delivery.sent);
    let (from, to) = numbers(&delivery.sent[3]);
    assert_eq!(to - from, 200, "{:?}", delivery.sent);
    assert!(to < 6000, "{:?}", delivery.sent);
    assert_eq!(delivery.sent.len(), 7 + 2, "{:?}", delivery.sent);
}

/// The generator keeps to its bounds at the sizes the CLI uses by default.
#[test]
fn default_bounds_are_the_documented_ones() {
    let b = Bounds::default();
    assert_eq!(
        (b.max_len, b.max_segments, b.max_segment),
        (64 << 10, 64, 1460)
    );
}

/// tests/toystack, built by cargo (as `cargo test` does for examples; built here too so
/// that `cargo test --test reassembly` alone finds it current).
fn toystack() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = std::process::Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--example", "toystack"])
                .current_dir(root())
                .output()
                .expect("cargo runs");
            assert!(
                out.status.success(),
                "toystack does not build: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dir = std::env::current_exe().unwrap();
            let debug = dir.parent().unwrap().parent().unwrap();
            debug.join("examples/toystack").display().to_string()
        })
        .clone()
}

/// The toy receiver without a fault is correct: every property holds.
#[test]
fn the_toy_receiver_passes_the_properties() {
    if !sandbox_available() {
        return;
    }
    let out = sockspec()
        .args(["prop", "reassembly", "--cases", "64", "--seed", "1"])
        .args(["--adapter", &toystack()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("64 passed, 0 failed"), "{text}");
}

/// Each mutant receiver is caught, with seed 1, within a few cases, by the property
/// named (or one of those named: bytes delivered early are also the wrong bytes),
/// shrunk to a few segments; the scenario written from the minimal case fails
/// against the mutant and passes against Linux.
#[rstest::rstest]
#[case::early_delivery("early-delivery", "early delivery|stream")]
#[case::drop_gap_filler("drop-gap-filler", "progress")]
#[case::overlap_appended("overlap-appended", "stream|early delivery")]
#[case::ack_beyond("ack-beyond", "ack beyond data")]
#[case::wrap_loss("wrap-loss", "stream")]
#[case::stall_when_full("stall-when-full", "progress")]
fn each_mutant_receiver_is_caught_by_its_property(#[case] fault: &str, #[case] property: &str) {
    if !sandbox_available() {
        return;
    }
    let adapter = format!("{} {fault}", toystack());
    let dir = tempfile::tempdir().unwrap();
    let out = sockspec()
        .args(["prop", "reassembly", "--seed", "1", "--cases", "64"])
        // Streams that a written scenario can replay (2 KiB), however far shrinking
        // gets on a loaded machine.
        .args(["--max-len", "2k"])
        // Shrinking bounded by steps, not time, so that a loaded machine shrinks as far.
        .args([
            "--stall",
            "200ms",
            "--shrink-iters",
            "300",
            "--shrink-time",
            "5m",
        ])
        .args(["--timeout", "5s"])
        .args(["--adapter", &adapter, "--write-scenario"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Caught within 8 cases of seed 1.
    let before: u32 = text
        .split("FAIL after ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no failure line: {text}"));
    assert!(before < 8, "caught only after {before} cases: {text}");
    // The property (or one of those) that catches it: duplicated bytes are both
    // wrong and more than was sent.
    let wrong = text
        .split("what went wrong:\n  ")
        .nth(1)
        .unwrap_or_default();
    assert!(
        property
            .split('|')
            .any(|p| wrong.starts_with(&format!("{p}:"))),
        "{text}"
    );
    // Shrunk to a few segments.
    let minimal = text.split("minimal case").nth(1).unwrap_or_default();
    let segments: usize = minimal
        .split(" bytes in ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no minimal case: {text}"));
    assert!(segments <= 4, "{segments} segments: {text}");
    let scenario = dir.path().join("reassembly-seed-1.scn");
    assert!(dir.path().join("reassembly-seed-1.pcap").exists(), "{text}");
    let path = scenario.to_str().unwrap();
    let (code, report) = run_json(&[path, "--adapter", &adapter, "--timeout", "2s"]);
    assert_eq!(code, 1, "the replay fails against {fault}: {report}");
    let (code, report) = run_json(&[path]);
    assert_eq!(code, 0, "the replay passes against Linux: {report}");
}

/// The other direction: Linux and the correct toy sender keep every retransmission
/// property while the harness withholds, repeats and reorders its ACKs and changes
/// its window.
#[test]
fn linux_and_the_toy_sender_pass_the_retransmission_properties() {
    if !sandbox_available() {
        return;
    }
    for adapter in [None, Some(toystack())] {
        let mut cmd = sockspec();
        cmd.args(["prop", "retransmission", "--cases", "48", "--seed", "1"]);
        if let Some(a) = &adapter {
            cmd.args(["--adapter", a]);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{adapter:?}: {text}");
        assert!(text.contains("48 passed, 0 failed"), "{text}");
    }
}

/// The toy sender's faults, each caught by its property with seed 1.
#[rstest::rstest]
#[case::garbled_retransmission("garbled-retransmission", "retransmission", "40")]
#[case::ignore_window("ignore-window", "beyond window", "40")]
// Each failing run of this one waits out the timeout: a short one, few shrink steps.
#[case::no_retransmit("no-retransmit", "progress", "4")]
#[case::close_drops_unsent("close-drops-unsent", "stream", "40")]
fn each_mutant_sender_is_caught_by_its_property(
    #[case] fault: &str,
    #[case] property: &str,
    #[case] shrink_iters: &str,
) {
    if !sandbox_available() {
        return;
    }
    let adapter = format!("{} {fault}", toystack());
    let out = sockspec()
        .args(["prop", "retransmission", "--seed", "1", "--cases", "64"])
        .args(["--shrink-iters", shrink_iters, "--shrink-time", "5m"])
        // The toy's RTO backs off to 2 s at most; an answer within 4 s is never late.
        .args(["--timeout", "4s"])
        .args(["--adapter", &adapter])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let wrong = text
        .split("what went wrong:\n  ")
        .nth(1)
        .unwrap_or_default();
    assert!(wrong.starts_with(&format!("{property}:")), "{text}");
}
