//! Report formats: snapshots of each format for a fixed report (insta), and real
//! consumers reading what we write: Python's junitparser for JUnit XML and Perl's
//! TAP::Parser (`prove`) for TAP.

mod support;

use sockspec::report::{json, junit, tap, Human};
use sockspec::run::{Failure, FailureKind, RunReport, ScenarioResult, Status, StepRecord};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::required;

fn result(name: &str, status: Status) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        path: PathBuf::from(format!("scenarios/{name}.scn")),
        title: format!("Title of {name}"),
        tags: vec!["server".into()],
        refs: vec!["bind(2) EADDRINUSE".into()],
        status,
        duration: Duration::from_millis(12),
        failure: None,
        skip_reason: None,
        steps: vec![StepRecord {
            line: 6,
            step: "a = socket()".into(),
            outcome: "success (a new socket)".into(),
            passed: true,
        }],
        teardown: vec![],
        pcap: None,
    }
}

/// One scenario of each status; the failure carries characters every format must escape.
fn sample() -> RunReport {
    let mut failed = result("close/send-after-close-fails", Status::Failed);
    failed.failure = Some(Failure {
        kind: FailureKind::Expectation,
        line: 12,
        column: 1,
        step: "send(c, \"<x>&\") -> EBADF".into(),
        expected: "EBADF".into(),
        actual: "\"<x>&\\x01\" (4 bytes) sent \u{1} ok".into(),
        detail: Some("TCP is a byte stream # not a TAP directive".into()),
    });
    failed.pcap = Some(PathBuf::from(
        "/tmp/pcap/close__send-after-close-fails.pcap",
    ));
    let mut skipped = result("connect/connect-over-ipv6-loopback", Status::Skipped);
    skipped.skip_reason = Some("adapter lacks capability ipv6".into());
    skipped.steps.clear();
    let mut error = result("listen/listen-backlog-fills", Status::Error);
    error.failure = Some(Failure {
        kind: FailureKind::Adapter,
        line: 9,
        column: 1,
        step: "listen(l, 1)".into(),
        expected: "an answer".into(),
        actual: "the adapter exited (killed by SIGSEGV)".into(),
        detail: Some("adapter `./a`; last request {\"id\":4}".into()),
    });
    RunReport {
        target: "adapter `./a`".into(),
        implementation: Some("test stack 1.0".into()),
        profile: "linux".into(),
        duration: Duration::from_millis(1234),
        results: vec![
            result("bind/bind-twice-expects-error", Status::Passed),
            failed,
            skipped,
            error,
        ],
        interrupted: false,
    }
}

#[test]
fn human_report_snapshot() {
    let h = Human {
        color: false,
        verbose: true,
    };
    let report = sample();
    let lines: String = report
        .results
        .iter()
        .map(|r| h.result_line(r) + "\n")
        .collect();
    insta::assert_snapshot!(lines + &h.summary(&report));
}

#[test]
fn human_report_colours_only_when_asked() {
    let report = sample();
    assert!(Human {
        color: true,
        verbose: false
    }
    .summary(&report)
    .contains("\x1b["));
    assert!(!Human {
        color: false,
        verbose: false
    }
    .summary(&report)
    .contains('\x1b'));
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!(junit(&sample()));
}

#[test]
fn tap_snapshot() {
    insta::assert_snapshot!(tap(&sample()));
}

#[test]
fn json_report_has_the_documented_fields() {
    let v: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["summary"]["total"], 4);
    assert_eq!(
        (
            v["summary"]["passed"].as_u64(),
            v["summary"]["failed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            v["summary"]["skipped"].as_u64(),
            v["summary"]["errors"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let failed = &v["scenarios"][1];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure"]["line"], 12);
    assert_eq!(failed["duration_ms"], 12.0);
    assert_eq!(
        v["scenarios"][2]["skip_reason"],
        "adapter lacks capability ipv6"
    );
}

fn write_temp(text: &str, ext: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn junit_is_read_by_junitparser() {
    if !required(
        Command::new("python3")
            .args(["-c", "import junitparser"])
            .output()
            .is_ok_and(|o| o.status.success()),
        "junitparser (pip install junitparser)",
    ) {
        return;
    }
    let file = write_temp(&junit(&sample()), ".xml");
    let script = r#"
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
cases = [(s.name, c.name, c.classname, [type(r).__name__ for r in c.result], c.time)
         for s in xml for c in s]
for row in cases: print(row)
kinds = {c[1]: c[3] for c in cases}
assert kinds["bind/bind-twice-expects-error"] == [], kinds
assert kinds["close/send-after-close-fails"] == ["Failure"], kinds
assert kinds["connect/connect-over-ipv6-loopback"] == ["Skipped"], kinds
assert kinds["listen/listen-backlog-fills"] == ["Error"], kinds
fail = [r for s in xml for c in s for r in c.result if isinstance(r, Failure)][0]
assert "expected EBADF" in fail.message and "<x>&" in fail.message, fail.message
assert xml.tests == 4 and xml.failures == 1 and xml.errors == 1 and xml.skipped == 1
print("ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "junitparser rejected the report:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tap_is_read_by_perls_tap_parser() {
    if !required(
        Command::new("perl")
            .args(["-MTAP::Parser", "-e", "1"])
            .output()
            .is_ok_and(|o| o.status.success()),
        "Perl\'s TAP::Parser (apt-get install perl)",
    ) {
        return;
    }
    let file = write_temp(&tap(&sample()), ".tap");
    // TAP::Parser is what `prove` uses; print what it understood.
    let script = r#"
use TAP::Parser;
open my $fh, '<', $ARGV[0] or die;
my $p = TAP::Parser->new({ tap => do { local $/; <$fh> } });
my @skip;
while (my $r = $p->next) { push @skip, $r->explanation if $r->is_test && $r->has_skip; }
printf "version=%s tests=%d passed=%d failed=%d skipped=%d errors=%d skip=%s\n",
  $p->version, $p->tests_run, scalar($p->passed), scalar($p->failed), scalar($p->skipped),
  scalar($p->parse_errors), join('|', @skip);
"#;
    let out = Command::new("perl")
        .args(["-e", script])
        .arg(file.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `passed` counts skips too, as TAP defines them.
    assert_eq!(
        text.trim(),
        "version=13 tests=4 passed=2 failed=2 skipped=1 errors=0 skip=adapter lacks capability ipv6"
    );
}

/// Consumers script against keys: every scenario carries `failure`, `skip_reason` and
/// `teardown` even when they are empty (null, null, []), as docs/reports.md lists them.
#[test]
fn json_keys_are_present_when_empty() {
    let (_, report) = support::run_json(&[&support::scenario("bind/bind-twice-expects-error")]);
    let s = report["scenarios"][0].as_object().expect("a scenario");
    assert_eq!(s["status"], "passed");
    for key in ["failure", "skip_reason"] {
        assert_eq!(s.get(key), Some(&serde_json::Value::Null), "{key} in {s:?}");
    }
    assert_eq!(s.get("teardown"), Some(&serde_json::json!([])));
    for key in ["sockspec", "interrupted", "schema"] {
        assert!(report.get(key).is_some(), "{key}");
    }
}
