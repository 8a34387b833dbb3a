//! The program suites against sample C programs compiled here: each correct program
//! passes every scenario of its suite, and each buggy variant (one classic bug, built
//! with `-DBUG_...`) fails exactly the scenarios meant to catch that bug, as failures
//! (a verdict on the program), never as harness errors.

mod support;

use rstest::rstest;
use std::collections::BTreeSet;
use support::{run_json, sample_program};

/// Runs `suite` with `role` bound to the program and returns the scenarios that
/// failed, checking that nothing errored.
fn failures(suite: &str, role: &str, command: String) -> (BTreeSet<String>, serde_json::Value) {
    failures_with(suite, &format!("{role}={command}"), &[])
}

/// [`failures`] with a whole `--program` binding and more arguments.
fn failures_with(
    suite: &str,
    program: &str,
    extra: &[&str],
) -> (BTreeSet<String>, serde_json::Value) {
    let path = support::root().join("scenarios/programs").join(suite);
    let mut args = vec![
        path.to_str().unwrap(),
        "--program",
        program,
        // Buggy programs are caught by waits that run out: keep them short.
        "--timeout",
        "3s",
    ];
    args.extend_from_slice(extra);
    let (_, report) = run_json(&args);
    let mut failed = BTreeSet::new();
    for s in report["scenarios"].as_array().expect("scenarios") {
        let name = s["name"].as_str().unwrap().to_string();
        match s["status"].as_str().unwrap() {
            "passed" => {}
            "failed" => {
                failed.insert(name);
            }
            other => panic!("{name} ended {other}, not a verdict: {}", s["failure"]),
        }
    }
    (failed, report)
}

/// The failure detail of scenario `name` in a report (empty when it has none).
fn detail(report: &serde_json::Value, name: &str) -> String {
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} ran"))["failure"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The failure detail of one echo-server scenario run against a sample variant.
fn one_scenario_detail(scenario: &str, bug: &str, timeout: &str) -> String {
    let bin = sample_program("echo_server.c", Some(bug));
    let path = support::root()
        .join("scenarios/programs/echo-server")
        .join(format!("{scenario}.scn"));
    let (_, report) = run_json(&[
        path.to_str().unwrap(),
        "--program",
        &format!("server={} {{port}}", bin.display()),
        "--timeout",
        timeout,
    ]);
    report["scenarios"][0]["failure"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[rstest]
#[case::correct(None, &[])]
#[case::iterative(Some("ITERATIVE"), &[
    "five-clients-at-once",
    "fifty-clients-at-once",
    "client-that-never-reads",
    "a-client-with-a-shut-window-does-not-stall-the-others",
])]
#[case::truncates_at_1024(Some("TRUNCATE_1024"), &["long-line", "large-transfer"])]
#[case::ignores_partial_writes(Some("PARTIAL_WRITES"), &["large-transfer"])]
#[case::no_sigpipe_handling(Some("NO_SIGPIPE"), &["client-closes-without-reading"])]
#[case::strlen_on_binary_data(Some("STRLEN"), &["binary-data-with-nul-bytes", "large-transfer"])]
#[case::ignores_bind_error(Some("IGNORE_BIND_ERROR"), &["second-instance-fails"])]
#[case::never_closes_accepted_socket(Some("NEVER_CLOSES"), &[
    "client-half-closes",
    "a-request-one-byte-per-segment",
])]
#[case::no_reuseaddr(Some("NO_REUSEADDR"), &["restart-on-the-same-port"])]
#[case::fixed_table_of_16_clients(Some("MAX_16"), &["fifty-clients-at-once"])]
#[case::option_names_ored(Some("OR_OPTION_NAMES"), &["second-instance-fails"])]
#[case::stops_after_5_clients(Some("STOP_AFTER_5"), &[
    "clients-one-after-another",
    "fifty-clients-at-once",
])]
// Exiting after the first client is seen by every scenario that needs the server
// to keep running after a client: that is the bug's whole symptom.
#[case::exits_after_first_client(Some("EXIT_AFTER_FIRST"), &[
    "one-client",
    "clients-one-after-another",
    "five-clients-at-once",
    "fifty-clients-at-once",
    "client-that-never-reads",
    "client-resets",
    "client-half-closes",
    "client-closes-without-reading",
    "a-request-one-byte-per-segment",
    "a-client-with-a-shut-window-does-not-stall-the-others",
])]
fn echo_server_suite_catches_each_bug(#[case] bug: Option<&str>, #[case] caught_by: &[&str]) {
    let bin = sample_program("echo_server.c", bug);
    let (failed, _) = failures(
        "echo-server",
        "server",
        format!("{} {{port}}", bin.display()),
    );
    assert_eq!(failed, set(caught_by), "variant {bug:?}");
}

/// The one-thread poll() server and the two classic bugs of such servers: the shut
/// window of a client on the wire stalls one that writes with blocking calls, and the
/// 8 MiB transfer loses data in one that forgets what send() did not take.
#[rstest]
#[case::correct(None, &[])]
#[case::blocking_writes(Some("BLOCKING_WRITES"), &[
    "a-client-with-a-shut-window-does-not-stall-the-others",
])]
#[case::drops_on_eagain(Some("DROPS_ON_EAGAIN"), &["large-transfer"])]
fn poll_echo_server_suite_catches_each_bug(#[case] bug: Option<&str>, #[case] caught_by: &[&str]) {
    let bin = sample_program("poll_echo_server.c", bug);
    let (failed, _) = failures(
        "echo-server",
        "server",
        format!("{} {{port}}", bin.display()),
    );
    assert_eq!(failed, set(caught_by), "variant {bug:?}");
}

#[rstest]
#[case::correct(None, &[])]
#[case::single_recv(Some("SINGLE_RECV"), &["reads-a-reply-split-in-pieces"])]
#[case::unchecked_connect(Some("UNCHECKED_CONNECT"), &["reports-a-refused-connection"])]
#[case::waits_on_stdin(Some("WAITS_ON_STDIN"), &["exits-when-the-server-closes"])]
fn echo_client_suite_catches_each_bug(#[case] bug: Option<&str>, #[case] caught_by: &[&str]) {
    let bin = sample_program("echo_client.c", bug);
    let command = format!("{} {{host}} {{port}}", bin.display());
    let (failed, _) = failures("echo-client", "client", command);
    assert_eq!(failed, set(caught_by), "variant {bug:?}");
}

/// A client that prints with stdio and never flushes works at a terminal, where stdout
/// is line-buffered: programs get one by default, and it passes. Behind a pipe
/// (`--stdio pipe`) its echoes wait in stdio's buffer until it exits.
#[test]
fn a_stdio_client_passes_at_a_terminal_and_not_behind_a_pipe() {
    let bin = sample_program("echo_client.c", Some("NO_FFLUSH"));
    let command = format!("{} {{host}} {{port}}", bin.display());
    let (failed, _) = failures("echo-client", "client", command.clone());
    assert_eq!(failed, set(&[]), "at a terminal");
    let path = support::root().join("scenarios/programs/echo-client/echoes-lines-from-stdin.scn");
    let (code, report) = run_json(&[
        path.to_str().unwrap(),
        "--program",
        &format!("client={command}"),
        "--stdio",
        "pipe",
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 1, "behind a pipe: {report}");
    let actual = report["scenarios"][0]["failure"]["actual"].to_string();
    assert!(actual.contains("it has printed nothing"), "{actual}");
}

/// A server with its port written into it (9877) passes the whole suite when its
/// command has no `{port}`: the harness finds where it listens, restarts and second
/// instances included. With `--program-port server=own`, one command grades a class
/// that mixes such servers with ones that take `{port}`.
#[test]
fn a_server_with_its_port_written_in_is_found_where_it_listens() {
    let fixed = sample_program("echo_server.c", Some("FIXED_PORT"));
    let (failed, _) = failures("echo-server", "server", fixed.display().to_string());
    assert_eq!(failed, set(&[]), "found without {{port}}");
    let mixed = [fixed, sample_program("echo_server.c", None)];
    for bin in mixed {
        let program = format!("server={} {{port}}", bin.display());
        let (failed, _) = failures_with("echo-server", &program, &["--program-port", "server=own"]);
        assert_eq!(failed, set(&[]), "{} in a mixed class", bin.display());
    }
}

/// A client with its server's port written into it gets the peer's listener on that
/// port with `--program-port client=9877`, and a client that takes `{port}` passes
/// with the same command; without the option, the fixed client finds nobody there.
#[test]
fn a_client_with_its_servers_port_written_in_gets_a_listener_there() {
    let fixed = sample_program("echo_client.c", Some("FIXED_PORT"));
    let program = format!("client={} {{host}}", fixed.display());
    let (failed, _) = failures_with("echo-client", &program, &["--program-port", "client=9877"]);
    assert_eq!(failed, set(&[]));
    let (failed, report) = failures_with("echo-client", &program, &[]);
    assert!(failed.contains("echoes-lines-from-stdin"), "{failed:?}");
    let stderr = detail(&report, "echoes-lines-from-stdin");
    assert!(
        stderr.contains("cannot connect to 127.0.0.1:9877"),
        "{stderr}"
    );
    let takes_port = sample_program("echo_client.c", None);
    let program = format!("client={} {{host}} {{port}}", takes_port.display());
    let (failed, _) = failures_with("echo-client", &program, &["--program-port", "client=9877"]);
    assert_eq!(
        failed,
        set(&[]),
        "the same command for a client that takes the port"
    );
}

/// A server that chooses its own port but a new one at each start (it binds port 0)
/// passes where one instance is enough and is told, when restarted, that it must listen
/// on the same port each time.
#[test]
fn a_server_that_changes_its_port_between_starts_gets_a_reason() {
    let script = "import socket\ns = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen()\nwhile True:\n    c, _ = s.accept()\n    while (d := c.recv(65536)):\n        c.sendall(d)\n    c.close()";
    let program = format!("server=python3 -c \"{script}\"");
    let dir = support::root().join("scenarios/programs/echo-server");
    let (code, report) = run_json(&[
        dir.join("one-client.scn").to_str().unwrap(),
        dir.join("restart-on-the-same-port.scn").to_str().unwrap(),
        "--program",
        &program,
        "--timeout",
        "3s",
    ]);
    assert_eq!(code, 1, "{report}");
    let results = report["scenarios"].as_array().unwrap();
    let status = |name: &str| {
        results
            .iter()
            .find(|r| r["name"].as_str().unwrap().ends_with(name))
            .unwrap()
    };
    assert_eq!(status("one-client")["status"], "passed", "{report}");
    let restart = &status("restart-on-the-same-port")["failure"];
    let detail = restart["detail"].as_str().unwrap();
    assert!(
        detail.contains("where the instance before it listened"),
        "{restart}"
    );
}

/// A server that chooses its own port and listens on two is told it must listen on
/// one: the harness cannot tell which serves.
#[test]
fn a_server_of_its_own_port_that_listens_on_two_gets_a_reason() {
    let script = "import socket,time\nfor p in (9877, 9878):\n    s = socket.socket(); s.bind(('0.0.0.0', p)); s.listen(); globals()[str(p)] = s\ntime.sleep(60)";
    let program = format!("server=python3 -c \"{script}\"");
    let path = support::root().join("scenarios/programs/echo-server/one-client.scn");
    let (code, report) = run_json(&[path.to_str().unwrap(), "--program", &program]);
    assert_eq!(code, 1, "{report}");
    let failure = &report["scenarios"][0]["failure"];
    assert_eq!(
        failure["actual"], "it listens on ports 9877, 9878",
        "{failure}"
    );
    assert!(
        failure["detail"]
            .as_str()
            .unwrap()
            .contains("listen on one port"),
        "{failure}"
    );
}

/// `run --repeat 3` runs a scenario three times and folds the runs: a server that
/// fails every other start (a deterministic stand-in for a race) fails with "passed 1
/// of 3 runs", and a correct one passes once in the report. Unsandboxed: the stand-in
/// counts its starts in a file of its folder, which the sandbox would make private.
#[test]
fn run_repeat_names_a_scenario_whose_runs_disagree() {
    let path = support::root().join("scenarios/programs/echo-server/one-client.scn");
    let repeat = |bug: Option<&str>| {
        let bin = sample_program("echo_server.c", bug);
        let dir = tempfile::tempdir().unwrap();
        let (code, report) = run_json(&[
            path.to_str().unwrap(),
            "--program",
            &format!("server={} {{port}}", bin.display()),
            "--program-dir",
            dir.path().to_str().unwrap(),
            "--sandbox",
            "off",
            "--repeat",
            "3",
            "-j",
            "1",
        ]);
        let results = report["scenarios"].as_array().unwrap().clone();
        assert_eq!(results.len(), 1, "one result for three runs: {report}");
        (code, results[0].clone())
    };
    let (code, racy) = repeat(Some("FAILS_EVERY_OTHER_RUN"));
    assert_eq!(
        (code, racy["status"].as_str()),
        (1, Some("failed")),
        "{racy}"
    );
    let detail = racy["failure"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("passed 1 of 3 runs: the outcome depends on timing"),
        "{detail}"
    );
    let (code, steady) = repeat(None);
    assert_eq!(
        (code, steady["status"].as_str()),
        (0, Some("passed")),
        "{steady}"
    );
}

/// The upload-server suite, written from the documentation alone as an instructor
/// would (README, "Writing a suite for your assignment"), against its sample: the
/// correct server passes, and each classic bug is caught where the suite says.
#[rstest]
#[case::correct(None, &[])]
#[case::one_recv(Some("ONE_RECV"), &[
    "a-file-in-pieces",
    "a-large-file",
    "no-answer-before-the-end",
    "two-uploads-at-once",
])]
#[case::no_close(Some("NO_CLOSE"), &[
    "a-file-in-pieces",
    "a-large-file",
    "a-small-file",
    "an-empty-file",
    "no-answer-before-the-end",
    "two-uploads-at-once",
])]
#[case::serial(Some("SERIAL"), &["two-uploads-at-once"])]
fn upload_server_suite_catches_each_bug(#[case] bug: Option<&str>, #[case] caught_by: &[&str]) {
    let bin = sample_program("upload_server.c", bug);
    let (failed, _) = failures(
        "upload-server",
        "server",
        format!("{} {{port}}", bin.display()),
    );
    assert_eq!(failed, set(caught_by), "variant {bug:?}");
}

#[rstest]
#[case::correct(None, &[])]
#[case::keeps_departed_client(Some("KEEPS_DEPARTED"), &["a-client-that-leaves-is-removed"])]
#[case::echoes_to_sender(Some("ECHOES_SENDER"), &[
    "not-back-to-the-sender",
    "clients-leave-in-every-position",
])]
// Loses the last client only when another one leaves: the departure of the last one
// (a-client-that-leaves-is-removed) cannot show it.
#[case::shift_loses_last(Some("SHIFT_LOSES_LAST"), &["clients-leave-in-every-position"])]
#[case::skips_newest(Some("SKIPS_NEWEST"), &[
    "a-client-that-leaves-is-removed",
    "clients-leave-in-every-position",
    "not-back-to-the-sender",
    "relays-to-the-others",
])]
fn chat_server_suite_catches_each_bug(#[case] bug: Option<&str>, #[case] caught_by: &[&str]) {
    let bin = sample_program("chat_server.c", bug);
    let (failed, _) = failures(
        "chat-server",
        "server",
        format!("{} {{port}}", bin.display()),
    );
    assert_eq!(failed, set(caught_by), "variant {bug:?}");
}

#[test]
fn a_sigpipe_death_is_explained_to_the_student() {
    let bin = sample_program("echo_server.c", Some("NO_SIGPIPE"));
    let (_, report) = failures(
        "echo-server",
        "server",
        format!("{} {{port}}", bin.display()),
    );
    let detail = detail(&report, "client-closes-without-reading");
    assert!(detail.contains("killed by SIGPIPE"), "{detail}");
    assert!(detail.contains("MSG_NOSIGNAL"), "{detail}");
}

/// A thread-per-client server that hands its threads `&sock` (a race, made certain
/// in the sample by a sleep) is diagnosed as that race, from the threads it has on one
/// connection while others have none, and not as an iterative design.
#[test]
fn a_thread_handed_the_address_of_the_socket_variable_is_named_a_race() {
    let bin = sample_program("echo_server.c", Some("SOCK_ADDRESS_RACE"));
    let (failed, report) = failures(
        "echo-server",
        "server",
        format!("{} {{port}}", bin.display()),
    );
    assert!(failed.contains("five-clients-at-once"), "{failed:?}");
    assert!(
        !failed.contains("one-client"),
        "one client alone is served: {failed:?}"
    );
    let five = detail(&report, "five-clients-at-once");
    assert!(
        five.contains("of its threads wait on that one connection with 127.0.0.1:"),
        "{five}"
    );
    assert!(five.contains("pthread_create(..., &sock)"), "{five}");
    assert!(!five.contains("one client at a time"), "{five}");
}

/// A server that does not answer is looked at, not waited out: the call its thread
/// sleeps in, on which connection, and what that means, read from /proc while it runs.
#[test]
fn a_server_that_does_not_answer_is_diagnosed_from_what_it_is_doing() {
    let bin = sample_program("echo_server.c", Some("ITERATIVE"));
    let (_, report) = failures(
        "echo-server",
        "server",
        format!("{} {{port}}", bin.display()),
    );
    let five = detail(&report, "five-clients-at-once");
    assert!(
        five.contains("is blocked in recv() on its connection with 127.0.0.1:"),
        "{five}"
    );
    assert!(
        five.contains("more clients wait to be accepted: it serves one client at a time"),
        "{five}"
    );
    assert!(!five.contains("raise --timeout"), "{five}");
    // Caught in send() to the hog, or in recv() from it between two sends (a loaded
    // machine showed both): either way the diagnosis names the stall.
    let never_reads = detail(&report, "client-that-never-reads");
    assert!(
        never_reads.contains("that client does not read")
            || never_reads.contains("it serves one client at a time"),
        "{never_reads}"
    );
}

/// Two instances on one port are explained: SO_REUSEPORT, set by OR-ing option names.
#[test]
fn a_second_instance_that_binds_is_told_about_so_reuseport() {
    let detail = one_scenario_detail("second-instance-fails", "OR_OPTION_NAMES", "2s");
    assert!(detail.contains("both listen on port"), "{detail}");
    assert!(
        detail
            .contains("`SO_REUSEADDR | SO_REUSEPORT` in one setsockopt() sets SO_REUSEPORT alone"),
        "{detail}"
    );
}

/// A server that stops after five clients is told how many reached it before it
/// exited, from the scenario's capture.
#[test]
fn a_server_that_stops_after_a_few_clients_is_told_so() {
    let detail = one_scenario_detail("clients-one-after-another", "STOP_AFTER_5", "3s");
    assert!(detail.contains("ended: exit status 0"), "{detail}");
    assert!(
        detail.contains("it took 5 connections in this test and then exited by itself"),
        "{detail}"
    );
}

/// A client that sends after its connect() was refused dies of SIGPIPE; the capture
/// shows no connection was ever made, so it is told to check connect(), not that the
/// other side closed.
#[test]
fn a_sigpipe_after_a_refused_connect_is_blamed_on_connect() {
    let bin = sample_program("echo_client.c", Some("UNCHECKED_CONNECT"));
    let (_, report) = failures(
        "echo-client",
        "client",
        format!("{} {{host}} {{port}}", bin.display()),
    );
    let detail = detail(&report, "reports-a-refused-connection");
    assert!(detail.contains("killed by SIGPIPE"), "{detail}");
    assert!(detail.contains("never connected"), "{detail}");
    assert!(
        detail.contains("check connect()'s return value"),
        "{detail}"
    );
    assert!(!detail.contains("already closed"), "{detail}");
}

/// A program that never listens, listens on the wrong port, prints without end or
/// never exits: each gets a verdict with a reason, and the run goes on.
#[rstest]
#[case::never_listens("sleep 30", "not listening on port")]
#[case::wrong_port(
    "python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\", 1)); s.listen(); time.sleep(30)'",
    "listens on 127.0.0.1:1 instead"
)]
#[case::exits_at_once("false", "ended (exit status 1) before it listened")]
#[case::prints_without_end("yes", "printed more than")]
// The shell stops when fork() fails at the process limit ("Cannot fork" from dash,
// "fork: retry" from bash): only a limit that binds makes that happen.
#[case::forks_without_end("sh -c 'while :; do sleep 4241 & done'", "fork")]
#[case::leaves_a_daemon("sh -c 'setsid sleep 4242 & exec sleep 4243'", "not listening on port")]
fn misbehaving_programs_get_a_verdict_and_a_reason(#[case] command: &str, #[case] reason: &str) {
    let one = support::root().join("scenarios/programs/echo-server/one-client.scn");
    // Told its port (a comment to the shell): without {port} it would be a program
    // that chooses its own, found wherever it listens.
    let (_, report) = run_json(&[
        one.to_str().unwrap(),
        "--program",
        &format!("server={command} # {{port}}"),
        "--timeout",
        "2s",
        "--output-limit",
        "1M",
    ]);
    let s = &report["scenarios"][0];
    assert_eq!(s["status"], "failed", "{s}");
    let text = format!("{} {}", s["failure"]["actual"], s["failure"]["detail"]);
    // Without a sandbox the host's other listeners are not the program's: the harness
    // names no "instead" then.
    let reason = if reason.ends_with("instead") && !support::sandbox_available() {
        "not listening on port"
    } else {
        reason
    };
    assert!(text.contains(reason), "{text}");
    // Nothing it started outlives the scenario: the PID namespace takes daemons too.
    if support::sandbox_available() {
        // Only this case's own markers: the cases run in parallel.
        let mine: Vec<&str> = ["sleep 4241", "sleep 4242", "sleep 4243"]
            .into_iter()
            .filter(|m| command.contains(m))
            .collect();
        let left = survivors(&mine);
        assert!(
            left.is_empty(),
            "{} left running, e.g. {:?}",
            left.len(),
            left.first()
        );
    }
}

/// A fork bomb (every process forks for ever) is held to the process limit, named for
/// what it does, and gone afterwards; the host keeps its PID space. As root this needs
/// the sandbox to map the program to an unprivileged user: the kernel does not apply
/// RLIMIT_NPROC to root's own user in any namespace.
#[test]
fn a_fork_bomb_is_held_to_the_process_limit_and_named() {
    if !support::sandbox_available() {
        return;
    }
    let bomb = sample_program("fork_bomb.c", None);
    let one = support::root().join("scenarios/programs/echo-server/one-client.scn");
    let (_, report) = run_json(&[
        one.to_str().unwrap(),
        "--program",
        &format!("server={} {{port}}", bomb.display()),
        "--timeout",
        "2s",
        "--procs-limit",
        "64",
    ]);
    let s = &report["scenarios"][0];
    assert_eq!(s["status"], "failed", "{s}");
    let detail = s["failure"]["detail"].as_str().unwrap_or_default();
    let running: u64 = detail
        .strip_prefix("it is running ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no process count in: {detail}"));
    assert!(
        (32..=64).contains(&running),
        "held near the limit of 64: {detail}"
    );
    assert!(detail.contains("(the limit is 64)"), "{detail}");
    assert!(detail.contains("fork() in a loop"), "{detail}");
    let bomb_name = bomb.display().to_string();
    let left = survivors(&[bomb_name.as_str()]);
    assert!(left.is_empty(), "{} left running", left.len());
}

/// A client that never exits gets a verdict at the `exit` step, within the timeout,
/// with the reason, and is gone afterwards.
#[test]
fn a_client_that_never_exits_gets_a_verdict() {
    let script = support::root().join("tests/programs/client_that_never_exits.py");
    let scenario =
        support::root().join("scenarios/programs/echo-client/exits-when-the-server-closes.scn");
    let (_, report) = run_json(&[
        scenario.to_str().unwrap(),
        "--program",
        &format!("client=python3 {} {{host}} {{port}}", script.display()),
        "--timeout",
        "2s",
    ]);
    let s = &report["scenarios"][0];
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(s["failure"]["step"], "exit(cl) -> 0", "{s}");
    assert!(
        s["failure"]["actual"]
            .as_str()
            .unwrap_or_default()
            .starts_with("still running after"),
        "{s}"
    );
    assert!(s["failure"]["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("did not exit by itself"));
    if support::sandbox_available() {
        assert!(survivors(&["client_that_never_exits"]).is_empty());
    }
}

/// Processes whose command line contains one of `markers`.
fn survivors(markers: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = sockspec::process::stat_state_and_group(&stat).is_some_and(|(s, _)| s == 'Z');
        if !zombie && markers.iter().any(|m| cmd.contains(m)) {
            found.push(cmd);
        }
    }
    found
}

/// Every program scenario is shown failing: its name stands, quoted, in a case above
/// that expects a sample variant (or a misbehaving program) to fail it. A scenario
/// no wrong program fails tests nothing.
#[test]
fn every_program_scenario_is_failed_by_some_program_here() {
    let this_file = include_str!("programs.rs");
    let suites = support::root().join("scenarios/programs");
    let mut unproven = Vec::new();
    for suite in std::fs::read_dir(&suites).unwrap() {
        for file in std::fs::read_dir(suite.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if !this_file.contains(&format!("\"{name}\"")) {
                unproven.push(path.display().to_string());
            }
        }
    }
    assert!(unproven.is_empty(), "no program here fails: {unproven:?}");
}
