//! Ctrl-C (SIGINT) and SIGTERM stop a run: it exits 130, still writes the report of
//! what finished, and leaves no adapter process or temporary file behind.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::*;

/// A hang detector, not a speed target.
const WATCHDOG: Duration = Duration::from_secs(30);

/// Starts a run, waits for its first verdict, then sends `signals` back to back.
fn interrupt_run(signals: &[i32]) {
    let dir = tempfile::tempdir().unwrap();
    let mark = unique_mark("interrupt");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let report = dir.path().join("report.json");
    // The well-behaved mode of the test adapter: a normal adapter that records its pids.
    let adapter = format!(
        "python3 {} well-behaved",
        root().join("tests/bad_adapters/bad_adapter.py").display()
    );
    let mut child = sockspec()
        .args([
            "run",
            "--adapter",
            &adapter,
            "--jobs",
            "1",
            "--no-progress",
            "--format",
            "json",
            "--output",
        ])
        .arg(&report)
        .env("BAD_ADAPTER_MARK", &mark)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first verdict, then interrupt.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .find(|l| l.as_ref().is_ok_and(|l| l.contains("PASS")))
        .expect("a first result")
        .unwrap();
    assert!(first.contains("PASS"));
    // SAFETY: signalling our own child.
    for &signal in signals {
        unsafe { libc::kill(child.id() as i32, signal) };
    }
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            sent.elapsed() < WATCHDOG,
            "sockspec did not stop after the signal"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    eprintln!("stopped {:?} after the signal", sent.elapsed());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("interrupted")),
        "the terminal says so: {rest:?}"
    );

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["interrupted"], true);
    let results = doc["scenarios"].as_array().unwrap();
    assert!(
        !results.is_empty() && results.len() < 58,
        "{} results",
        results.len()
    );
    assert!(
        results.iter().all(|r| r["status"] == "passed"),
        "only real verdicts are reported: {doc}"
    );

    // An interrupted run kills without waiting for the namespace to empty (see
    // Sandbox::close): what it killed may take a moment to be gone.
    let killed = Instant::now();
    let alive = loop {
        let alive = processes_with_env("BAD_ADAPTER_MARK", &mark);
        if alive.is_empty() || killed.elapsed() > Duration::from_secs(5) {
            break alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(alive.is_empty(), "adapters left running: {alive:?}");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "temporary files left behind"
    );
}

#[test]
fn sigint_stops_the_run_and_keeps_the_report() {
    interrupt_run(&[libc::SIGINT]);
}

#[test]
fn sigterm_stops_the_run_and_keeps_the_report() {
    interrupt_run(&[libc::SIGTERM]);
}

/// coreutils `timeout` sends SIGTERM to its child and then to the child's process
/// group: one interrupt, delivered twice. The report must survive it. Two signals of
/// one number sent at once merge into one delivery, so the test sends two numbers the
/// handler treats alike, which are both delivered, every time.
#[test]
fn a_second_signal_right_after_the_first_keeps_the_report() {
    interrupt_run(&[libc::SIGTERM, libc::SIGINT]);
}
