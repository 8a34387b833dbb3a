//! Mutant adapters: each is the Python adapter with one classic bug, and each must be
//! caught by the scenario written to catch it. The same scenario passes against the
//! correct Python adapter, so the failure is the bug's and not the adapter's.

mod support;

use rstest::rstest;
use support::*;

#[rstest]
#[case::bind_never_fails("bind-never-fails", "bind/bind-twice-expects-error")]
#[case::recv_drops_last_byte("recv-drops-last-byte", "stream/recv-returns-what-is-there")]
#[case::close_leaves_handle_usable(
    "close-leaves-handle-usable",
    "close/calls-after-close-fail-with-ebadf"
)]
#[case::accept_returns_listener("accept-returns-listener", "accept/accept-returns-a-new-socket")]
#[case::accepted_socket_own_rcvbuf(
    "accepted-socket-own-rcvbuf",
    "sockopt/accepted-socket-inherits-the-listeners-rcvbuf"
)]
#[case::listen_without_limit("listen-without-limit", "listen/listen-backlog-fills")]
#[case::send_succeeds_after_close("send-succeeds-after-close", "close/send-after-close-fails")]
#[case::recv_never_blocks("recv-never-blocks", "stream/recv-blocks-until-data-arrives")]
#[case::connect_never_refused("connect-never-refused", "connect/connect-refused-without-listener")]
#[case::accept_never_blocks("accept-never-blocks", "accept/accept-blocks-until-a-client-connects")]
#[case::shutdown_write_ignored("shutdown-write-ignored", "shutdown/half-close-with-shutdown-write")]
#[case::shutdown_read_ignored("shutdown-read-ignored", "shutdown/shutdown-read-then-recv")]
#[case::eof_as_reset("eof-as-reset", "close/recv-eof-after-the-peers-orderly-close")]
#[case::send_partial("send-partial", "stream/send-returns-the-byte-count")]
#[case::peername_is_localname(
    "peername-is-localname",
    "accept/accepted-socket-has-the-listeners-address"
)]
#[case::reuseaddr_ignored("reuseaddr-ignored", "bind/bind-after-server-close-needs-reuseaddr")]
#[case::reuseaddr_ignored_reads_back(
    "reuseaddr-ignored",
    "sockopt/reuseaddr-reads-back-on-and-off"
)]
#[case::v4_mapped_on_v6("v4-mapped-on-v6", "bind/bind-ipv4-address-on-ipv6-socket-fails")]
#[case::close_sends_no_fin("close-sends-no-fin", "lifecycle/client-lifecycle")]
#[case::not_concurrent("not-concurrent", "lifecycle/recv-on-its-own-thread")]
#[case::connect_does_not_block(
    "connect-does-not-block",
    "connect/connect-blocks-until-the-handshake-completes"
)]
fn mutant_is_caught_by_its_scenario(#[case] mutant_name: &str, #[case] scenario_name: &str) {
    let file = scenario(scenario_name);
    let (code, control) = run_json(&[&file, "--adapter", &python_adapter()]);
    assert_eq!(
        (code, not_passed(&control)),
        (0, vec![]),
        "{scenario_name} must pass against the correct adapter"
    );

    let (code, report) = run_json(&[&file, "--adapter", &mutant(mutant_name), "--timeout", "3s"]);
    let result = &report["scenarios"][0];
    assert_eq!(result["name"], scenario_name);
    assert_eq!(
        result["status"], "failed",
        "mutant {mutant_name} was not caught by {scenario_name}: {result}"
    );
    assert_eq!(code, 1);
    let failure = &result["failure"];
    assert!(
        failure["line"].as_u64().unwrap() > 0 && !failure["actual"].as_str().unwrap().is_empty()
    );
}

/// The expected end of stream is worded by its cause: after `shutdown(s, rd)` it is
/// this socket's own doing, not the peer's.
#[test]
fn an_expected_eof_after_shutdown_rd_names_that_cause() {
    let file = scenario("shutdown/shutdown-read-then-recv");
    let (code, report) = run_json(&[
        &file,
        "--adapter",
        &mutant("shutdown-read-ignored"),
        "--timeout",
        "1s",
    ]);
    assert_eq!(code, 1);
    let expected = report["scenarios"][0]["failure"]["expected"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        expected, "eof (0 bytes: this socket was shut down for reading)",
        "{report}"
    );
}
