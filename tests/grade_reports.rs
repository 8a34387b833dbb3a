//! Grading reports for a fixed class: snapshots of the terminal table, the CSV, one
//! Gradescope results.json and the student message (insta), so a change to what
//! instructors and students read is a reviewed change.

use sockspec::grade::{
    csv, gradescope, student_message, table, BuildResult, ClassReport, Graded, ScenarioInfo,
};
use sockspec::run::{Failure, FailureKind, ScenarioResult, Status};
use std::path::PathBuf;
use std::time::Duration;

fn info(name: &str, weight: f64) -> ScenarioInfo {
    ScenarioInfo {
        name: name.into(),
        title: format!("Title of {name}"),
        weight,
        hint: Some(format!("What {name} needs, in one sentence.")),
    }
}

fn result(name: &str, status: Status) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        path: PathBuf::from(format!("{name}.scn")),
        title: format!("Title of {name}"),
        tags: vec!["echo-server".into()],
        refs: vec![],
        status,
        duration: Duration::from_millis(10),
        failure: (status == Status::Failed).then(|| Failure {
            kind: FailureKind::Expectation,
            line: 9,
            column: 1,
            step: "peer.connect(d, srv.addr)".into(),
            expected: "success".into(),
            actual: "ECONNREFUSED (Connection refused)".into(),
            detail: Some("the program `srv` (server) ended: killed by SIGPIPE".into()),
        }),
        skip_reason: None,
        steps: vec![],
        teardown: vec![],
        pcap: None,
    }
}

fn class() -> ClassReport {
    let scenarios = vec![info("one-client", 2.0), info("sigpipe", 1.5)];
    let graded = |name: &str, statuses: [Status; 2], build: Option<BuildResult>| {
        let results: Vec<ScenarioResult> = if build.as_ref().is_some_and(|b| !b.ok) {
            vec![]
        } else {
            vec![
                result("one-client", statuses[0]),
                result("sigpipe", statuses[1]),
            ]
        };
        let score = results
            .iter()
            .zip(&scenarios)
            .filter(|(r, _)| r.status == Status::Passed)
            .map(|(_, s)| s.weight)
            .sum::<f64>()
            + 0.0;
        Graded {
            name: name.into(),
            build,
            results,
            score,
            max_score: 3.5,
            flaky: vec![],
            duration: Duration::from_millis(1500),
        }
    };
    let ok_build = || BuildResult {
        command: "make".into(),
        ok: true,
        status: "exit status 0".into(),
        log: String::new(),
        duration: Duration::from_millis(300),
    };
    ClassReport {
        suite: "echo-server".into(),
        scenarios: scenarios.clone(),
        submissions: vec![
            graded("alice", [Status::Passed, Status::Passed], Some(ok_build())),
            graded(
                "bob, jr.",
                [Status::Passed, Status::Failed],
                Some(ok_build()),
            ),
            graded(
                "carol",
                [Status::Passed, Status::Passed],
                Some(BuildResult {
                    ok: false,
                    status: "exit status 2".into(),
                    log: "server.c:3:1: error: expected ';'".into(),
                    ..ok_build()
                }),
            ),
            Graded {
                // Failed, then passed in a rerun.
                flaky: vec!["sigpipe".into()],
                ..graded("dave", [Status::Passed, Status::Failed], Some(ok_build()))
            },
        ],
        duration: Duration::from_secs(4),
        interrupted: false,
        flaky_credit: false,
    }
}

#[test]
fn table_snapshot() {
    insta::assert_snapshot!(table(&class(), false));
}

#[test]
fn csv_snapshot() {
    insta::assert_snapshot!(csv(&class()));
}

/// The CSV is hand-written (see docs/architecture.md), so a real reader checks it:
/// Python's csv module must see one row per submission, the same number of fields in
/// each, and a name with a comma as one field.
#[test]
fn python_reads_the_csv_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.csv");
    std::fs::write(&path, csv(&class())).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))")
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{rows:?}");
    assert_eq!(rows[2][0], "bob, jr.");
}

#[test]
fn gradescope_snapshot_of_a_failing_submission() {
    let c = class();
    insta::assert_snapshot!(gradescope(&c, &c.submissions[1]));
}

#[test]
fn student_messages_say_what_failed_and_what_to_check() {
    let c = class();
    let bob = &c.submissions[1];
    insta::assert_snapshot!(student_message(&c.scenarios[1], bob.result("sigpipe")));
    assert_eq!(
        student_message(&c.scenarios[0], bob.result("one-client")),
        "Passed."
    );
    assert_eq!(
        student_message(&c.scenarios[0], None),
        "Not run: the build failed."
    );
}
