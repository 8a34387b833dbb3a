//! Adapters that crash, hang, print garbage or break the protocol: each scenario they
//! touch ends as an error that names the cause, the other scenarios still run, the run
//! ends, and no adapter process is left behind.

mod support;

use rstest::rstest;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// A hang detector, not a speed target: far above any correct run.
const WATCHDOG: Duration = Duration::from_secs(120);

fn bad_adapter(mode: &str) -> String {
    format!(
        "python3 {} {mode}",
        root().join("tests/bad_adapters/bad_adapter.py").display()
    )
}

/// Waits for the child with a watchdog; returns its stdout.
fn finish(mut child: Child) -> (i32, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
            return (status.code().unwrap_or(-1), out);
        }
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            panic!("sockspec did not finish within {WATCHDOG:?}");
        }
        // Polling the exit of a child we cannot otherwise wait on with a deadline.
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[rstest]
#[case::crash_segv("crash-segv", "killed by SIGSEGV")]
#[case::exit_early("exit-early", "exit status 3")]
#[case::garbage("garbage", "not a protocol response: \"this is not json\"")]
#[case::unknown_id("unknown-id", "answered id")]
#[case::answer_twice("answer-twice", "which has no request waiting")]
#[case::never_answers("never-answers", "never answered `listen`")]
#[case::close_stdout("close-stdout", "closed its stdout but kept running")]
#[case::ignore_sigterm("ignore-sigterm", "never answered `listen`")]
#[case::flood("flood", "longer than")]
#[case::missing_field("missing-field", "lacks `sock`")]
#[case::fork_setsid("fork-setsid", "never answered `listen`")]
#[case::memory_hog("memory-hog", "MemoryError")]
fn misbehaving_adapter_ends_in_an_error_that_names_the_cause(
    #[case] mode: &str,
    #[case] cause: &str,
) {
    if !sandbox_available() {
        return;
    }
    let mark = unique_mark(mode);
    let tmp = tempfile::tempdir().unwrap();
    let ns_mounts = nsfs_mounts();
    // One scenario that reaches `listen` (where the adapter misbehaves), one that never does.
    let child = sockspec()
        .args([
            "run",
            &scenario("bind/bind-twice-expects-error"),
            &scenario("bind/bind-nonlocal-address-fails"),
        ])
        .args([
            "--adapter",
            &bad_adapter(mode),
            "--timeout",
            "2s",
            "--format",
            "json",
            "--no-progress",
        ])
        .args(["--sandbox", "require", "--memory-limit", "256M"])
        .env("BAD_ADAPTER_MARK", &mark)
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (code, out) = finish(child);
    let report: serde_json::Value = serde_json::from_str(&out).expect("a JSON report");
    let results = report["scenarios"].as_array().unwrap();
    let touched = results
        .iter()
        .find(|r| r["name"] == "bind/bind-twice-expects-error")
        .unwrap();
    assert_eq!(touched["status"], "error", "{touched}");
    let f = &touched["failure"];
    let failure = format!(
        "{} {}",
        f["actual"].as_str().unwrap(),
        f["detail"].as_str().unwrap_or("")
    );
    assert!(
        failure.contains(cause),
        "expected the cause {cause:?} in {failure}"
    );
    assert!(
        failure.contains("bad_adapter.py"),
        "the error names the adapter: {failure}"
    );
    assert!(
        failure.contains("last request"),
        "the error shows the last exchange: {failure}"
    );
    let other = results
        .iter()
        .find(|r| r["name"] == "bind/bind-nonlocal-address-fails")
        .unwrap();
    assert_eq!(
        other["status"], "passed",
        "the other scenario is unaffected: {other}"
    );
    if mode == "ignore-sigterm" {
        assert!(
            touched["teardown"].to_string().contains("ignored SIGTERM"),
            "{touched}"
        );
    }
    assert_eq!(code, 1);
    let left = processes_with_env("BAD_ADAPTER_MARK", &mark);
    assert!(left.is_empty(), "adapter processes left running: {left:?}");
    let files: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.is_empty(), "temporary files left behind: {files:?}");
    assert_eq!(nsfs_mounts(), ns_mounts, "namespace mounts left behind");
}

/// The check above finds processes by their environment: it must see a live one.
#[test]
fn processes_are_found_by_their_mark() {
    let mark = unique_mark("probe");
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .env("BAD_ADAPTER_MARK", &mark)
        .spawn()
        .unwrap();
    // spawn() returns once the new program is mapped, which can be before exec has set
    // up its environment: look until it shows, with a deadline.
    let start = std::time::Instant::now();
    let found = loop {
        let found = processes_with_env("BAD_ADAPTER_MARK", &mark);
        if !found.is_empty() || start.elapsed() > Duration::from_secs(5) {
            break found;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(found, vec![child.id() as i32]);
    assert!(processes_with_env("BAD_ADAPTER_MARK", &mark).is_empty());
}

/// Namespace files mounted somewhere (what `ip netns add` would leave): none may appear.
fn nsfs_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" nsfs "))
        .count()
}

#[test]
fn an_adapter_that_does_not_exist_is_an_error_not_a_hang() {
    // Checked once before the run (spawn and hello): one error, exit status 2.
    let out = sockspec()
        .args(["run", &scenario("bind/bind-twice-expects-error")])
        .args(["--adapter", "/nonexistent/adapter", "--no-progress"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("exit status 127"), "{stderr}");
}

/// An adapter that never answers `hello` is found out once, before the run: one error
/// naming the cause, exit status 2, and nothing of it left running.
#[test]
fn an_adapter_that_never_says_hello_is_one_error_before_the_run() {
    let mark = unique_mark("hang-before-hello");
    let out = sockspec()
        .args(["run", &scenario("bind/bind-twice-expects-error")])
        .args(["--adapter", &bad_adapter("hang-before-hello")])
        .args(["--timeout", "2s", "--no-progress"])
        .env("BAD_ADAPTER_MARK", &mark)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did not answer `hello`"), "{stderr}");
    assert!(
        stderr.contains("bad_adapter.py"),
        "names the adapter: {stderr}"
    );
    let left = processes_with_env("BAD_ADAPTER_MARK", &mark);
    assert!(left.is_empty(), "left running: {left:?}");
}

/// An adapter that declares few capabilities gets skips with reasons, never failures.
#[test]
fn missing_capabilities_skip_with_the_reason() {
    let (code, report) = run_json(&["--adapter", &bad_adapter("ipv4-only")]);
    assert_eq!(not_passed(&report), Vec::<String>::new());
    assert_eq!(code, 0, "skips are not failures");
    let results = report["scenarios"].as_array().unwrap();
    let reason = |name: &str| {
        results.iter().find(|r| r["name"] == name).unwrap()["skip_reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(reason("connect/connect-over-ipv6-loopback").contains("lacks capability ipv6"));
    assert!(reason("stream/recv-blocks-until-data-arrives").contains("lacks capability concurrent"));
    assert!(reason("sockopt/linger-is-off-by-default").contains("lacks capability SO_LINGER"));
    assert!(reason("listen/listen-makes-listener-readable").contains("lacks capability poll"));
    let passed = report["summary"]["passed"].as_u64().unwrap();
    assert!(
        passed >= 20,
        "scenarios with plain calls still run: {passed}"
    );
}

/// The protocol's exit-at-EOF rule is checked: an adapter that outlives its stdin by
/// the grace period is named under `teardown`, while its verdicts stand.
#[test]
fn an_adapter_that_does_not_exit_at_eof_is_named_in_teardown() {
    // Python answers and exits at EOF; the shell around it then sleeps on.
    let adapter = format!("sh -c '{}; sleep 30'", python_adapter());
    let (code, report) = run_json(&[
        &scenario("bind/bind-twice-expects-error"),
        "--adapter",
        &adapter,
    ]);
    let s = &report["scenarios"][0];
    assert_eq!(
        (code, &s["status"]),
        (0, &serde_json::json!("passed")),
        "{s}"
    );
    assert!(
        s["teardown"]
            .to_string()
            .contains("did not exit within 1s of its stdin closing"),
        "{s}"
    );
}
