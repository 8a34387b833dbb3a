//! Real TCP implementations under test through their adapters, on the sandbox's link,
//! against Linux: lwIP (Debian's liblwip, adapters/lwip) and smoltcp (the crate,
//! adapters/smoltcp), each with its known differences accepted strictly: a new
//! difference or a fixed one fails these tests.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

/// The lwIP adapter built into `dir`, or `None` (said) where liblwip-dev is missing.
fn lwip_adapter(dir: &Path) -> Option<PathBuf> {
    let headers = Path::new("/usr/include/lwip/lwip/sockets.h").exists();
    if !required(headers, "Debian's liblwip-dev (lwIP's headers and library)") {
        return None;
    }
    let out = dir.join("sockspec_lwip_adapter");
    let built = Command::new("cc")
        .args([
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pthread",
            "-I/usr/include/lwip",
            "-o",
        ])
        .arg(&out)
        .arg(root().join("adapters/lwip/sockspec_lwip_adapter.c"))
        .arg("-llwip")
        .output()
        .expect("cc runs");
    assert!(
        built.status.success(),
        "the lwIP adapter does not build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    Some(out)
}

/// `sockspec compare` of Linux and `target` (NAME=CMD) with its known differences: it
/// must exit 0 (every difference known, none stale) and report `known` of them.
fn differs_exactly_where_known(target: &str, known_file: &str, implementation: &str, known: usize) {
    let name = target.split_once('=').unwrap().0;
    let known_arg = format!("{name}={}", root().join(known_file).display());
    let out = sockspec()
        .arg("compare")
        .args(["--target", "linux=reference", "--target", target])
        .args(["--known", &known_arg, "--timeout", "5s", "-j", "4"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("[{implementation}]")), "{text}");
    assert!(
        text.contains(&format!(" differ ({known} known, 0 not)")),
        "{text}"
    );
}

/// The corpus against Linux and lwIP, the wire scenarios with the harness as a third
/// host on lwIP's link: they differ exactly where adapters/lwip/known-differences.toml
/// says.
#[test]
fn lwip_differs_from_linux_exactly_where_known() {
    if !sandbox_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(adapter) = lwip_adapter(dir.path()) else {
        return;
    };
    differs_exactly_where_known(
        &format!("lwip={}", adapter.display()),
        "adapters/lwip/known-differences.toml",
        "lwIP 2.1.3 (Debian liblwip, sockspec lwIP adapter)",
        56,
    );
}

/// The smoltcp adapter, built from adapters/smoltcp (its own Cargo project, so
/// sockspec's build never compiles smoltcp) into target/smoltcp-adapter.
fn smoltcp_adapter() -> PathBuf {
    let target_dir = root().join("target/smoltcp-adapter");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(root().join("adapters/smoltcp/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .expect("cargo runs");
    assert!(
        built.status.success(),
        "the smoltcp adapter does not build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    target_dir.join("debug/sockspec-smoltcp-adapter")
}

/// `prop reassembly` finds smoltcp 0.12's crash within a few cases of seed 2: an
/// out-of-order segment past 2^32 while RCV.NXT is below it overflows its SACK
/// arithmetic. The failure names the property and the adapter's last words, and
/// the shrunk case is written as a scenario, with its pcap, that fails against smoltcp
/// and passes against Linux (a finding in docs/findings.md).
#[test]
fn prop_reassembly_finds_smoltcps_crash_past_the_wrap() {
    if !sandbox_available() {
        return;
    }
    let adapter = format!("env RUST_BACKTRACE=0 {}", smoltcp_adapter().display());
    let dir = tempfile::tempdir().unwrap();
    let out = sockspec()
        .args(["prop", "reassembly", "--seed", "2", "--cases", "32"])
        .args([
            "--shrink-time",
            "10s",
            "--timeout",
            "5s",
            "--adapter",
            &adapter,
        ])
        .arg("--write-scenario")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("progress: the application's `recv`: the adapter exited"),
        "{text}"
    );
    assert!(text.contains("attempt to add with overflow"), "{text}");
    assert!(text.contains("sequence numbers wrap"), "{text}");
    let scenario = dir.path().join("reassembly-seed-2.scn");
    assert!(dir.path().join("reassembly-seed-2.pcap").exists());
    let path = scenario.to_str().unwrap();
    let (code, report) = run_json(&[path, "--adapter", &adapter, "--timeout", "3s"]);
    assert_eq!(code, 1, "the replay fails against smoltcp: {report}");
    let (code, report) = run_json(&[path]);
    assert_eq!(code, 0, "the replay passes against Linux: {report}");
}

/// smoltcp 0.12 with a timestamp clock (the adapter's `--timestamps`): the handshake
/// echoes timestamps, but a full-sized data segment is cut to the MSS without room for
/// the 12-byte option, so its packet exceeds the link's MTU and the interface drops it:
/// the data never leaves (fixed upstream after 0.12, smoltcp PR #1161). Nor is a segment
/// with an old timestamp dropped (no PAWS). Both findings are in docs/findings.md.
#[test]
fn smoltcp_with_timestamps_never_sends_a_full_sized_segment() {
    if !sandbox_available() {
        return;
    }
    let adapter = format!("{} --timestamps", smoltcp_adapter().display());
    let wire = root().join("scenarios/wire");
    let scenario = |name: &str| wire.join(name).to_str().unwrap().to_owned();
    let (code, report) = run_json(&[
        &scenario("handshake-as-server-echoes-the-timestamp.scn"),
        &scenario("full-sized-segments-leave-room-for-the-timestamp-option.scn"),
        &scenario("a-segment-with-an-old-timestamp-is-dropped.scn"),
        "--adapter",
        &adapter,
        "--timeout",
        "3s",
    ]);
    assert_eq!(code, 1, "{report}");
    let failures = not_passed(&report);
    assert_eq!(failures.len(), 2, "the handshake passes: {failures:#?}");
    let failure = |name: &str| {
        failures
            .iter()
            .find(|f| f.contains(name))
            .unwrap_or_else(|| panic!("{name} fails: {failures:#?}"))
    };
    let stalled = failure("full-sized-segments-leave-room-for-the-timestamp-option");
    assert!(
        stalled.contains("no segment within") && stalled.contains("sent 1 packet"),
        "only the SYN-ACK left: {stalled}"
    );
    let paws = failure("a-segment-with-an-old-timestamp-is-dropped");
    assert!(paws.contains("ack: expected 6, got 11"), "{paws}");
}

/// The smoltcp adapter, built from adapters/smoltcp (its own Cargo project: sockspec's
/// build never compiles smoltcp), against Linux: they differ exactly where
/// adapters/smoltcp/known-differences.toml says.
#[test]
fn smoltcp_differs_from_linux_exactly_where_known() {
    if !sandbox_available() {
        return;
    }
    let adapter = smoltcp_adapter();
    differs_exactly_where_known(
        &format!("smoltcp={}", adapter.display()),
        "adapters/smoltcp/known-differences.toml",
        "smoltcp 0.12.0 (sockspec smoltcp adapter)",
        34,
    );
}

/// docs/findings.md classifies every known difference: each scenario of the known
/// differences files appears there.
#[test]
fn every_known_difference_is_written_up_in_the_findings() {
    let findings = std::fs::read_to_string(root().join("docs/findings.md")).unwrap();
    for file in [
        "adapters/lwip/known-differences.toml",
        "adapters/smoltcp/known-differences.toml",
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let known: toml::Value = toml::from_str(&text).unwrap();
        for d in known["difference"].as_array().unwrap() {
            let scenario = d["scenario"].as_str().unwrap();
            assert!(
                findings.contains(&format!("`{scenario}`")),
                "{file}: {scenario} is not in docs/findings.md"
            );
        }
    }
}
