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
    let exe = std::path::PathBuf::from(bin_path());
    let (spec, _) = SandboxSpec::probe(exe, Limits::default(), Vec::new()).unwrap();
    let settings = Settings {
        sandbox: Some(spec),
        ..Settings::default()
    };
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

    let text = segments::scenario(&case, &delivery.sent, "a test", 0).unwrap();
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

/// The generator keeps to its bounds at the sizes the CLI uses by default.
#[test]
fn default_bounds_are_the_documented_ones() {
    let b = Bounds::default();
    assert_eq!(
        (b.max_len, b.max_segments, b.max_segment),
        (64 << 10, 64, 1460)
    );
}
