//! The corpus is the harness's specification of Linux: it must pass against the
//! reference, in-process and through every adapter that implements the protocol.

mod support;

use sockspec::run::{run_all, Settings, Status};
use sockspec::script::load_all;
use support::*;

/// The scenarios that run in-process: no program to start, no wire to play.
fn api_corpus() -> Vec<sockspec::script::Scenario> {
    load_all(&[root().join("scenarios")])
        .expect("corpus loads")
        .scenarios
        .into_iter()
        .filter(|s| s.roles.is_empty() && !s.uses_wire())
        .collect()
}

fn assert_all_passed(report: &sockspec::run::RunReport) {
    let bad: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status != Status::Passed)
        .map(|r| format!("{}: {:?} {:?}", r.name, r.status, r.failure))
        .collect();
    assert!(
        bad.is_empty(),
        "scenarios that did not pass:\n{}",
        bad.join("\n")
    );
}

#[test]
fn corpus_passes_against_the_in_process_reference() {
    let loaded = load_all(&[root().join("scenarios")]).expect("corpus loads");
    assert!(loaded.failures.is_empty(), "corpus has invalid scenarios");
    // Program suites need programs (tests/programs.rs runs them); wire scenarios need
    // the sandbox's wire, which this unsandboxed run has not (tests/wire.rs runs them).
    let corpus: Vec<_> = loaded
        .scenarios
        .into_iter()
        .filter(|s| s.roles.is_empty() && !s.uses_wire())
        .collect();
    let report = run_all(&corpus, &Settings::default(), 2, |_| {});
    assert_all_passed(&report);
    assert!(
        report.results.iter().all(|r| r.teardown.is_empty()),
        "teardown problems"
    );
}

/// Scenarios name hosts by role (`target:0`, `peer:0`), so the same corpus runs where
/// the target and the peer have other addresses: here two other loopback addresses of
/// 127/8, as a stack on a link of its own will have.
#[test]
fn the_corpus_runs_unchanged_where_target_and_peer_have_other_addresses() {
    use sockspec::run::Hosts;
    let corpus = api_corpus();
    let settings = Settings {
        hosts: Hosts {
            target: "127.0.0.2".parse().unwrap(),
            peer: "127.0.0.3".parse().unwrap(),
            ..Hosts::LOOPBACK
        },
        ..Settings::default()
    };
    let report = run_all(&corpus, &settings, 2, |_| {});
    assert_all_passed(&report);
    // The names were resolved to those addresses, not to 127.0.0.1: the addresses the
    // scenarios' steps report show both.
    let outcomes: String = report
        .results
        .iter()
        .flat_map(|r| r.steps.iter().map(|s| s.outcome.clone()))
        .collect();
    assert!(
        outcomes.contains("127.0.0.2:"),
        "the target's address never shown"
    );
    assert!(
        outcomes.contains("127.0.0.3:"),
        "the peer's address never shown"
    );
}

#[test]
fn corpus_passes_through_sockspec_adapter_as_a_process() {
    let adapter = format!("{} adapter", bin_path());
    let (code, report) = run_json(&["--adapter", &adapter]);
    assert_eq!(not_passed(&report), Vec::<String>::new());
    assert_eq!(code, 0);
    assert_eq!(
        report["summary"]["skipped"], 0,
        "the reference declares every capability"
    );
}

#[test]
fn corpus_passes_through_the_python_adapter() {
    let (code, report) = run_json(&["--adapter", &python_adapter()]);
    assert_eq!(not_passed(&report), Vec::<String>::new());
    assert_eq!(code, 0);
    assert!(report["implementation"]
        .as_str()
        .unwrap()
        .starts_with("python"));
}

/// The C adapter (adapters/c), built as its comment says with every warning an error,
/// passes the whole corpus (the wire scenarios too: its sockets are the namespace
/// kernel's) and declares every capability, so nothing is skipped.
#[test]
fn corpus_passes_through_the_c_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = c_adapter(dir.path());
    let (code, report) = run_json(&["--adapter", adapter.to_str().unwrap()]);
    assert_eq!(not_passed(&report), Vec::<String>::new());
    assert_eq!(code, 0);
    assert_eq!(report["implementation"], "linux (sockspec C adapter)");
    if sandbox_available() {
        assert_eq!(report["summary"]["skipped"], 0, "{}", report["summary"]);
    }
}

/// What the protocol asks of every adapter beyond the socket calls, shown on the C
/// adapter: an unknown op is ENOSYS, a line it cannot read is EINVAL with id 0, a dead
/// handle is EBADF, and a recv does not hold up later requests.
#[test]
fn the_c_adapter_keeps_the_protocol_rules() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(c_adapter(dir.path()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ask = |request: &str| {
        writeln!(stdin, "{request}").unwrap();
        stdin.flush().unwrap();
    };
    ask(r#"{"id":1,"op":"hello","protocol":1}"#);
    ask(r#"{"id":2,"op":"socket","family":"ipv4"}"#);
    ask(r#"{"id":3,"op":"socket","family":"ipv4"}"#);
    ask(r#"{"id":4,"op":"bind","sock":1,"addr":"127.0.0.1:0"}"#);
    ask(r#"{"id":5,"op":"listen","sock":1,"backlog":1}"#);
    ask(r#"{"id":6,"op":"accept","sock":1}"#); // blocks: nobody connects yet
    ask(r#"{"id":7,"op":"frobnicate"}"#);
    ask("not json");
    ask(r#"{"id":8,"op":"close","sock":2}"#);
    ask(r#"{"id":9,"op":"getsockname","sock":2}"#);
    ask(r#"{"id":10,"op":"socket","family":"ipx"}"#);
    let mut got: Vec<String> = (0..9).map(|_| lines.next().unwrap().unwrap()).collect();
    got.remove(0); // hello
    assert_eq!(
        got,
        [
            r#"{"id":2,"ok":{"sock":1}}"#,
            r#"{"id":3,"ok":{"sock":2}}"#,
            r#"{"id":4,"ok":{}}"#,
            r#"{"id":5,"ok":{}}"#,
            r#"{"id":7,"err":{"errno":"ENOSYS","message":"unknown op"}}"#,
            r#"{"id":0,"err":{"errno":"EINVAL","message":"a request this adapter cannot read"}}"#,
            r#"{"id":8,"ok":{}}"#,
            r#"{"id":9,"err":{"errno":"EBADF","message":"no open socket with this handle"}}"#,
        ]
    );
    assert_eq!(
        lines.next().unwrap().unwrap(),
        r#"{"id":10,"err":{"errno":"ENOSYS","message":"unknown family"}}"#
    );
    // End of stdin ends the adapter, blocked accept and all.
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn corpus_is_complete_and_documented() {
    let loaded = load_all(&[root().join("scenarios")]).unwrap();
    assert!(
        loaded.scenarios.len() >= 40,
        "only {} scenarios",
        loaded.scenarios.len()
    );
    for s in &loaded.scenarios {
        assert!(!s.meta.tags.is_empty(), "{} has no tags", s.name);
        if !s.roles.is_empty() {
            // Program scenarios teach students: each says what to check when it fails.
            assert!(s.meta.hint.is_some(), "{} has no hint", s.name);
            continue;
        }
        assert!(!s.meta.refs.is_empty(), "{} has no refs", s.name);
        assert!(
            s.name.contains('/'),
            "{} is not filed under a topic",
            s.name
        );
    }
    // Scenarios users look for by name.
    for name in [
        "bind/bind-twice-expects-error",
        "close/send-after-close-fails",
        "listen/listen-backlog-fills",
        "connect/connect-refused-without-listener",
        "connect/connect-blocks-until-the-handshake-completes",
        "stream/recv-blocks-until-data-arrives",
        "accept/accept-returns-a-new-socket",
        "close/closing-the-listener-keeps-accepted-connections",
        "close/recv-eof-after-the-peers-orderly-close",
        "shutdown/half-close-with-shutdown-write",
        "stream/tcp-keeps-no-message-boundaries",
        "connect/connect-on-a-connected-socket",
        "listen/listen-on-connected-socket-fails",
        "stream/recv-on-a-never-connected-socket",
        "stream/send-on-a-never-connected-socket",
        "lifecycle/client-lifecycle",
        "lifecycle/server-lifecycle",
    ] {
        assert!(
            loaded.scenarios.iter().any(|s| s.name == name),
            "missing scenario {name}"
        );
    }
    // Every lifecycle call is exercised on the target side somewhere.
    let all: String = loaded
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter().map(|st| st.text.clone() + "\n"))
        .collect();
    for call in [
        "socket(",
        "bind(",
        "listen(",
        "accept(",
        "connect(",
        "send(",
        "recv(",
        "close(",
        "shutdown(",
    ] {
        let target_use = all
            .lines()
            .any(|l| l.contains(call) && !l.contains(&format!("peer.{call}")));
        assert!(target_use, "no scenario runs {call}...) on the target");
    }
}
