//! The command line as users meet it: help, exit codes, selection, output files, colour.

mod support;

use assert_cmd::Command;
use support::root;

fn sockspec() -> Command {
    let mut cmd = Command::cargo_bin("sockspec").unwrap();
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("SOCKSPEC_ADAPTER")
        .env_remove("SOCKSPEC_PROFILE");
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stdout).unwrap()
}

fn listed(args: &[&str]) -> Vec<String> {
    stdout(sockspec().arg("list").args(args))
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_failing_scenario_exits_1_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.scn");
    std::fs::write(
        &file,
        "+++\ntitle = \"Expects the wrong errno\"\nrefs = [\"bind(2)\"]\n+++\na = socket()\nbind(a, 127.0.0.1:0)\nb = socket()\nbind(b, a.local) -> EINVAL\n",
    )
    .unwrap();
    let out = sockspec()
        .args(["run", "--no-progress"])
        .arg(&file)
        .assert()
        .code(1);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains(&format!("{}:8:1", file.display())), "{text}");
    assert!(text.contains("expected: EINVAL"), "{text}");
    assert!(
        text.contains("got: EADDRINUSE (Address already in use)"),
        "{text}"
    );
    assert!(text.contains("rule: bind(2)"), "{text}");
    assert!(text.contains("0 passed, 1 failed"), "{text}");
    assert!(!text.contains('\x1b'), "NO_COLOR and a pipe mean no colour");
}

#[test]
fn passing_run_exits_0_and_writes_the_report_file() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("report.xml");
    let out = sockspec()
        .args([
            "run",
            "-f",
            "bind/bind-twice",
            "--format",
            "junit",
            "--output",
        ])
        .arg(&xml)
        .assert()
        .success();
    // The terminal still gets the human report; the file gets the XML.
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("PASS") && text.contains("1 passed"), "{text}");
    let doc = std::fs::read_to_string(&xml).unwrap();
    assert!(
        doc.starts_with("<?xml") && doc.contains("bind/bind-twice-expects-error"),
        "{doc}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file is left beside the report"
    );
}

#[test]
fn machine_formats_go_alone_to_stdout() {
    let text = stdout(sockspec().args(["run", "-f", "bind/bind-twice", "--format", "tap"]));
    assert!(
        text.starts_with("TAP version 13\n1..1\nok 1 - bind/bind-twice-expects-error\n"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(sockspec().args([
        "run",
        "-f",
        "bind/bind-twice",
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(json["summary"]["passed"], 1);
}

#[test]
fn colour_follows_the_choice() {
    let always = stdout(
        sockspec()
            .args(["run", "-f", "bind/bind-twice", "--color", "always"])
            .env_remove("NO_COLOR"),
    );
    assert!(always.contains("\x1b[32m"), "{always:?}");
    let never = stdout(
        sockspec()
            .args(["run", "-f", "bind/bind-twice", "--color", "never"])
            .env_remove("NO_COLOR"),
    );
    assert!(!never.contains('\x1b'));
}

#[test]
fn filters_tags_and_shards_select_scenarios() {
    let all = listed(&[]);
    assert!(all.len() >= 40);
    let bind = listed(&["--filter", "bind/"]);
    assert!(!bind.is_empty() && bind.iter().all(|n| n.starts_with("bind/")));
    let ipv6 = listed(&["--tag", "ipv6"]);
    let outside_the_topic: Vec<&String> = ipv6.iter().filter(|n| !n.starts_with("ipv6/")).collect();
    assert_eq!(
        outside_the_topic,
        [
            "bind/bind-ipv4-address-on-ipv6-socket-fails",
            "bind/bind-ipv6-address-on-ipv4-socket-fails",
            "connect/connect-over-ipv6-loopback",
            "wire/handshake-over-ipv6"
        ]
    );
    let topic = listed(&["--filter", "ipv6/"]);
    assert!(topic.len() >= 10 && topic.iter().all(|n| ipv6.contains(n)));
    let both = listed(&["--filter", "bind/", "--filter", "listen/"]);
    assert!(both.len() > bind.len());
    // Shards are disjoint and together cover everything.
    let mut union: Vec<String> = (1..=3)
        .flat_map(|k| listed(&["--shard", &format!("{k}/3")]))
        .collect();
    union.sort();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(union, sorted);
}

#[test]
fn the_reference_adapter_speaks_the_protocol_on_stdio() {
    let out = sockspec()
        .arg("adapter")
        .write_stdin("{\"id\":1,\"op\":\"hello\",\"protocol\":1}\n{\"id\":2,\"op\":\"socket\",\"family\":\"ipv4\"}\n{\"id\":3,\"op\":\"close\",\"sock\":1}\n{\"id\":4,\"op\":\"close\",\"sock\":1}\n{\"id\":5,\"op\":\"frobnicate\"}\nnot json\n{\"id\":6,\"op\":\"socket\",\"family\":\"ipv9\"}\n{\"id\":7,\"op\":\"socket\"}\n")
        .assert()
        .success();
    let lines: Vec<serde_json::Value> = String::from_utf8(out.get_output().stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0]["ok"]["protocol"], 1);
    assert_eq!(lines[1]["ok"]["sock"], 1);
    assert_eq!(lines[2]["ok"], serde_json::json!({}));
    assert_eq!(lines[3]["err"]["errno"], "EBADF");
    assert_eq!(
        (lines[4]["id"].as_u64(), lines[4]["err"]["errno"].as_str()),
        (Some(5), Some("ENOSYS"))
    );
    assert_eq!(
        (lines[5]["id"].as_u64(), lines[5]["err"]["errno"].as_str()),
        (Some(0), Some("EINVAL"))
    );
    // An unknown word in a field of fixed words is ENOSYS; a missing field is EINVAL.
    assert_eq!(
        (lines[6]["id"].as_u64(), lines[6]["err"]["errno"].as_str()),
        (Some(6), Some("ENOSYS"))
    );
    assert_eq!(
        (lines[7]["id"].as_u64(), lines[7]["err"]["errno"].as_str()),
        (Some(7), Some("EINVAL"))
    );
}

/// `-f` and `-t` together keep what matches both; one option repeated keeps what
/// matches any. The README says the same, in the line this test looks for.
#[test]
fn filters_and_tags_intersect_and_repeats_unite() {
    let list = |args: &[&str]| -> Vec<(String, String)> {
        let out = support::sockspec().arg("list").args(args).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let mut f = l.split('\t');
                let name = f.next().unwrap().to_string();
                (name, f.nth(1).unwrap_or("").to_string())
            })
            .collect()
    };
    let both = list(&["-f", "listen", "-t", "accept"]);
    let (named, tagged) = (list(&["-f", "listen"]), list(&["-t", "accept"]));
    assert!(
        !both.is_empty() && both.len() < named.len() && both.len() < tagged.len(),
        "{both:?}"
    );
    assert!(both
        .iter()
        .all(|(name, tags)| name.contains("listen") && tags.contains("accept")));
    let backlog = list(&["-f", "backlog"]);
    let either = list(&["-f", "backlog", "-f", "accept"]);
    let accept = list(&["-f", "accept"]);
    assert_eq!(either.len(), backlog.len() + accept.len());
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains(
        r#"sockspec run -f backlog -t server          # name contains "backlog" and tag "server""#
    ));
}

/// What a new user tripped over: `list` showing program scenarios a plain `run` leaves
/// out, `run README.md` printing hundreds of parse errors, `--jobs 0` silently taken
/// as 1, `--color` without help, and `grade --out` where `run` says `--output`.
#[test]
fn small_cli_defects_a_new_user_found() {
    let run = |args: &[&str]| {
        let out = support::sockspec().args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // list selects what run would.
    let (_, listed, note) = run(&["list"]);
    assert!(!listed.contains("programs/"), "{listed}");
    assert!(note.contains("29 program scenarios not run"), "{note}");
    let (_, listed, _) = run(&["list", "--program", "server=./server {port}"]);
    assert!(listed.contains("programs/echo-server/one-client"));
    // The rest (README.md as a scenario, --jobs 0, --color's help, grade's --output)
    // is in tests/cmd/usage.md and tests/cmd/help.md.
}
