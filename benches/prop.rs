//! `cargo bench --bench prop`: stream-property cases per second against the reference,
//! bulk stream throughput through the harness as a ratio to `iperf3` on loopback
//! (measured in the same run), and the time to shrink a failure.
//!
//! iperf3 comes from Debian's packages (`apt-get install iperf3`); without it the
//! ratio is left out and the run says so.

use sockspec::adapter::TargetSpec;
use sockspec::prop::{run_case, run_stream, Ending, PropConfig, PropOutcome, StreamCase};
use sockspec::run::Settings;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: f64 = 1024.0 * 1024.0;

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sockspec"))
}

/// MiB/s of one 256 MiB stream from the target to the peer, in 16 MiB writes and reads.
fn harness_throughput(settings: &Settings) -> f64 {
    let case = StreamCase {
        len: 256 << 20,
        seed: 1,
        writes: vec![16 << 20],
        reads: vec![16 << 20],
        nodelay: false,
        pause_ms: 0,
        ending: Ending::Close,
    };
    let started = Instant::now();
    run_case(settings, &case).expect("the reference keeps the stream intact");
    256.0 / started.elapsed().as_secs_f64()
}

/// MiB/s of a 3-second iperf3 TCP test on 127.0.0.1, or why it could not run.
fn iperf3_throughput() -> Result<f64, String> {
    // A port the kernel picks, released just before iperf3 binds it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut server = Command::new("iperf3")
        .args([
            "-s",
            "-1",
            "--forceflush",
            "-B",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("iperf3 not available ({e}): apt-get install iperf3"))?;
    // Wait (10 s at most) for the server's own word that it listens.
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ready = BufReader::new(stdout)
            .lines()
            .any(|l| l.is_ok_and(|l| l.contains("Server listening")));
        let _ = tx.send(ready);
    });
    if rx.recv_timeout(Duration::from_secs(10)) != Ok(true) {
        let _ = server.kill();
        let _ = server.wait();
        return Err("iperf3 server did not report listening within 10 s".into());
    }
    let out = Command::new("iperf3")
        .args(["-c", "127.0.0.1", "-p", &port.to_string(), "-t", "3", "-J"])
        .output()
        .map_err(|e| e.to_string())?;
    let _ = server.wait();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let bps = json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .ok_or("no bits_per_second in iperf3's report")?;
    Ok(bps / 8.0 / MIB)
}

fn main() {
    let reference = Settings::default();
    let process = Settings {
        target: TargetSpec::Adapter {
            command: format!("{} adapter", exe().display()),
        },
        ..Settings::default()
    };

    let cfg = PropConfig {
        cases: 64,
        seed: 1,
        ..PropConfig::default()
    };
    for (name, settings) in [
        ("in-process reference", &reference),
        ("sockspec adapter (process)", &process),
    ] {
        match run_stream(settings, &cfg, |_, _| {}) {
            PropOutcome::Passed { cases, elapsed } => println!(
                "{name:<28} {cases} cases (seed 1, up to 4 MiB) in {:.2} s: {:.1} cases/s",
                elapsed.as_secs_f64(),
                f64::from(cases) / elapsed.as_secs_f64()
            ),
            other => panic!("the reference must pass: {other:?}"),
        }
    }

    let iperf = iperf3_throughput();
    for (name, settings) in [
        ("in-process reference", &reference),
        ("sockspec adapter (process)", &process),
    ] {
        let ours = harness_throughput(settings);
        match &iperf {
            Ok(theirs) => println!(
                "{name:<28} bulk stream through the harness: {ours:.0} MiB/s; iperf3 on loopback: {theirs:.0} MiB/s; ratio {:.2}",
                ours / theirs
            ),
            Err(why) => println!("{name:<28} bulk stream through the harness: {ours:.0} MiB/s ({why})"),
        }
    }

    let mutant = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mutants/mutant_adapter.py");
    let buggy = Settings {
        target: TargetSpec::Adapter {
            command: format!("python3 {} truncate-at-64k", mutant.display()),
        },
        timeout: Duration::from_secs(10),
        ..Settings::default()
    };
    match run_stream(
        &buggy,
        &PropConfig {
            seed: 7,
            ..PropConfig::default()
        },
        |_, _| {},
    ) {
        PropOutcome::Failed {
            minimal,
            shrink_steps,
            shrink_time,
            ..
        } => println!(
            "shrinking a failure (truncate-at-64k, seed 7): {shrink_steps} steps in {:.2} s to: {}",
            shrink_time.as_secs_f64(),
            minimal.describe()
        ),
        other => panic!("the mutant must be caught: {other:?}"),
    }
}
