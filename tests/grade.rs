//! `sockspec grade` end to end: a class of submissions made from the sample programs
//! (one correct, two with a classic bug, one that does not compile, one that never
//! listens), built and graded; then every report read by a real consumer: the JSON
//! parsers for Gradescope's format and the CSV, and headless Chromium for the HTML.

mod support;

use std::path::Path;
use support::{chromium_dom, root, sockspec};

/// A submission folder holding `server.c`: the sample echo server, optionally with a
/// bug switched on by a `#define` at the top (as a student's own code would have it).
fn submission(class: &Path, name: &str, bug: Option<&str>, extra: &str) {
    let dir = class.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let source = std::fs::read_to_string(root().join("tests/programs/echo_server.c")).unwrap();
    let define = bug.map_or(String::new(), |b| format!("#define BUG_{b}\n"));
    std::fs::write(dir.join("server.c"), format!("{define}{source}{extra}")).unwrap();
}

/// `sockspec grade CLASS --suite SUITE -o OUT` for the sample echo servers, with the
/// build and program commands every test here uses and a short timeout; `extra` last.
fn grade(class: &Path, suite: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    sockspec()
        .arg("grade")
        .arg(class)
        .arg("--suite")
        .arg(root().join(suite))
        .args(["--build", "gcc -O2 -pthread -o server server.c"])
        .args(["--program", "server=./server {port}"])
        .args(["--timeout", "4s", "--no-progress", "--color", "never"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

fn class() -> tempfile::TempDir {
    let class = tempfile::tempdir().unwrap();
    submission(class.path(), "alice", None, "");
    submission(class.path(), "bob", Some("ITERATIVE"), "");
    submission(
        class.path(),
        "carol",
        None,
        "\nint broken(void) { return }\n",
    );
    submission(class.path(), "dave", Some("NO_SIGPIPE"), "");
    // erin's program is not a server at all: it never listens.
    let erin = class.path().join("erin");
    std::fs::create_dir_all(&erin).unwrap();
    std::fs::write(
        erin.join("server.c"),
        "#include <unistd.h>\nint main(void) { pause(); }\n",
    )
    .unwrap();
    class
}

#[test]
fn grades_a_class_and_writes_every_report() {
    let class = class();
    let out = tempfile::tempdir().unwrap();
    let result = grade(
        class.path(),
        "scenarios/programs/echo-server",
        out.path(),
        &[],
    );
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert_eq!(
        result.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );

    // The table: one row per submission with its score.
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .to_string()
    };
    assert!(row("alice").contains("26/26"), "{}", row("alice"));
    assert!(row("bob").contains("17/26"), "{}", row("bob"));
    assert!(row("carol").contains("0/26") && row("carol").contains("build failed"));
    assert!(row("dave").contains("24/26"), "{}", row("dave"));
    assert!(row("erin").contains("0/26"), "{}", row("erin"));

    // The submissions folder is untouched: builds ran in copies.
    assert!(!class.path().join("alice/server").exists());

    // Gradescope: the fields its autograder reads, and messages a student can act on.
    let results = |name: &str| -> serde_json::Value {
        let text =
            std::fs::read_to_string(out.path().join("results").join(name).join("results.json"))
                .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let dave = results("dave");
    assert_eq!(dave["score"], 24.0);
    let tests = dave["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 16, "a build test and 15 scenarios");
    for t in tests {
        for field in [
            "name",
            "score",
            "max_score",
            "status",
            "output",
            "visibility",
        ] {
            assert!(!t[field].is_null(), "{field} missing in {t}");
        }
    }
    let sigpipe = tests.iter().find(|t| t["status"] == "failed").unwrap();
    let output = sigpipe["output"].as_str().unwrap();
    assert!(output.contains("killed by SIGPIPE"), "{output}");
    assert!(output.contains("What to check:"), "{output}");
    // bob's iterative server is looked at while it hangs, and the advice about the
    // timeout, which a student cannot change, is not given.
    let bob = results("bob").to_string();
    assert!(bob.contains("it serves one client at a time"), "{bob}");
    assert!(!bob.contains("raise --timeout"), "{bob}");
    let carol = results("carol");
    assert_eq!(carol["tests"][0]["status"], "failed");
    assert!(carol["tests"][0]["output"]
        .as_str()
        .unwrap()
        .contains("error: expected expression"));
    let erin = results("erin");
    let erin_text = erin["tests"][1]["output"].to_string();
    assert!(erin_text.contains("not listening on port"), "{erin_text}");
    // Seen once, a program that never listens is reported for every scenario (by the
    // failure's kind, not its text), with the advice about the port argument.
    assert!(
        erin_text.contains("must listen on the port given"),
        "{erin_text}"
    );
    let erin_next = erin["tests"][2]["output"].to_string();
    assert!(erin_next.contains("not run: in `"), "{erin_next}");
    assert!(
        erin_next.contains("must listen on the port given"),
        "{erin_next}"
    );

    // CSV: a header and one row per submission, points per scenario adding up.
    let csv = std::fs::read_to_string(out.path().join("scores.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6);
    assert!(lines[0].starts_with("submission,score,max_score,build,"));
    let bob: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("bob,"))
        .unwrap()
        .split(',')
        .collect();
    let points: f64 = bob[4..bob.len() - 1]
        .iter()
        .map(|p| p.parse::<f64>().unwrap())
        .sum();
    assert_eq!(points, bob[1].parse::<f64>().unwrap());
    // The last column says why, in a line: bob's server serves one client at a time.
    assert!(lines[0].ends_with(",reason"), "{}", lines[0]);
    let bob_reason = bob[bob.len() - 1];
    assert!(bob_reason.starts_with("17/26: "), "{bob_reason}");
    assert!(bob_reason.contains("one client at a time"), "{bob_reason}");

    // JUnit per submission parses as XML with one testcase per scenario.
    let junit = std::fs::read_to_string(out.path().join("junit/bob.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 15);
    assert_eq!(junit.matches("<failure").count(), 4);
    // bob's failed wire scenario kept its capture beside the reports, named in JUnit.
    let pcap = out
        .path()
        .join("pcap/bob/a-client-with-a-shut-window-does-not-stall-the-others.pcap");
    assert!(pcap.is_file(), "{}", pcap.display());
    assert!(
        junit.contains(&format!("[[ATTACHMENT|{}]]", pcap.display())),
        "{junit}"
    );
    let carol = std::fs::read_to_string(out.path().join("junit/carol.xml")).unwrap();
    assert_eq!(
        carol.matches("<failure").count(),
        1,
        "the build is a failing test case"
    );

    html_renders_in_chromium(&out.path().join("report.html"));
}

/// A restarted server that cannot bind is the restart scenario's finding, told with
/// the scenario's own hint and the program's stderr, not the setup advice for a
/// program that never listened; one that ignores the failed bind and listens on a
/// port the kernel picked is told that, not to take the port from its command line.
#[test]
fn a_restart_that_cannot_bind_gets_the_scenarios_own_advice() {
    let class = tempfile::tempdir().unwrap();
    submission(class.path(), "frank", Some("NO_REUSEADDR"), "");
    submission(
        class.path(),
        "gina",
        Some("NO_REUSEADDR\n#define BUG_IGNORE_BIND_ERROR"),
        "",
    );
    let out = tempfile::tempdir().unwrap();
    let suite = "scenarios/programs/echo-server/restart-on-the-same-port.scn";
    let result = grade(class.path(), suite, out.path(), &[]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert_eq!(result.status.code(), Some(0), "{stdout}");
    let output = |name: &str| -> String {
        let text =
            std::fs::read_to_string(out.path().join("results").join(name).join("results.json"))
                .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["tests"][1]["output"].as_str().unwrap().to_string()
    };
    let frank = output("frank");
    assert!(frank.contains("Address already in use"), "{frank}");
    assert!(frank.contains("SO_REUSEADDR"), "{frank}");
    assert!(!frank.contains("must listen on the port given"), "{frank}");
    let gina = output("gina");
    assert!(gina.contains("a port the kernel picked"), "{gina}");
    assert!(gina.contains("check bind()'s return value"), "{gina}");
    assert!(
        !gina.contains("take the port from the command line"),
        "{gina}"
    );
    assert!(!gina.contains("must listen on the port given"), "{gina}");
}

/// A scenario whose outcome changes between runs is named, not hidden: grading runs a
/// failed scenario again, says "passed 1 of 3 runs" with the usual causes, and gives
/// its points only under --flaky-credit full. The sample stands in for a race with a
/// program that fails every other start (counted in a file of its folder), so that the
/// test itself never flickers.
#[test]
fn a_scenario_that_passes_in_some_runs_only_is_named_a_race() {
    let grade = |credit: &str| -> (String, serde_json::Value) {
        let class = tempfile::tempdir().unwrap();
        submission(class.path(), "hana", Some("FAILS_EVERY_OTHER_RUN"), "");
        let out = tempfile::tempdir().unwrap();
        let suite = "scenarios/programs/echo-server/one-client.scn";
        // The stand-in counts its starts in a file, and the sandbox gives each
        // scenario a private view of the folder: without it the count persists.
        let extra = ["--flaky-credit", credit, "-j", "1", "--sandbox", "off"];
        let result = grade(class.path(), suite, out.path(), &extra);
        let stdout = String::from_utf8_lossy(&result.stdout).to_string();
        assert_eq!(result.status.code(), Some(0), "{stdout}");
        let text = std::fs::read_to_string(out.path().join("results/hana/results.json")).unwrap();
        let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
        assert!(html.contains("<td class=\"flaky\""), "the HTML marks it");
        (stdout, serde_json::from_str(&text).unwrap())
    };
    let (table, hana) = grade("none");
    assert!(
        table.contains("~ failed, then passed in a rerun"),
        "{table}"
    );
    let output = hana["tests"][1]["output"].as_str().unwrap();
    assert!(
        output.contains("passed 1 of 3 runs: the outcome depends on timing"),
        "{output}"
    );
    assert!(output.contains("&sock"), "{output}");
    assert_eq!(hana["score"], 0.0, "{table}");
    let (table, hana) = grade("full");
    assert!(hana["score"].as_f64().unwrap() > 0.0, "{table}");
}

/// A class split in two shards (`--shard 1/2`, `--shard 2/2`), graded separately and
/// joined by `sockspec merge`: every submission once, in name order, with its own
/// score, in every report; shards that overlap, or a folder that is no shard, are
/// refused with the reason.
#[test]
fn shards_graded_apart_merge_into_one_class() {
    let class = tempfile::tempdir().unwrap();
    submission(class.path(), "alice", None, "");
    submission(
        class.path(),
        "carol",
        None,
        "\nint broken(void) { return }\n",
    );
    submission(class.path(), "fay", None, "");
    let suite = "scenarios/programs/echo-server/one-client.scn";
    let shards = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (k, out) in shards.iter().enumerate() {
        let shard = format!("{}/2", k + 1);
        let result = grade(class.path(), suite, out.path(), &["--shard", &shard]);
        assert_eq!(result.status.code(), Some(0), "{result:?}");
    }
    let first = std::fs::read_to_string(shards[0].path().join("scores.csv")).unwrap();
    assert!(
        first.contains("\nalice,") && first.contains("\nfay,"),
        "{first}"
    );
    assert!(
        !first.contains("carol"),
        "shard 1/2 takes the 1st and 3rd: {first}"
    );
    let merged = tempfile::tempdir().unwrap();
    let out = sockspec()
        .args(["merge", "--color", "never", "-o"])
        .arg(merged.path())
        .arg(shards[1].path())
        .arg(shards[0].path())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    assert!(
        table.contains("merged 2 shards of 3 submissions"),
        "{table}"
    );
    let csv = std::fs::read_to_string(merged.path().join("scores.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("alice,2,2,ok,"), "{csv}");
    assert!(rows[1].starts_with("carol,0,2,failed,"), "{csv}");
    assert!(rows[2].starts_with("fay,2,2,ok,"), "{csv}");
    for name in ["alice", "carol", "fay"] {
        assert!(merged
            .path()
            .join(format!("results/{name}/results.json"))
            .exists());
        assert!(merged.path().join(format!("junit/{name}.xml")).exists());
    }
    let twice = sockspec()
        .arg("merge")
        .arg("-o")
        .arg(merged.path())
        .arg(shards[0].path())
        .arg(shards[0].path())
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(2));
    let err = String::from_utf8_lossy(&twice.stderr);
    assert!(err.contains("submission `alice` was graded in"), "{err}");
    let nothing = sockspec()
        .args(["merge", "-o"])
        .arg(merged.path())
        .arg(class.path())
        .output()
        .unwrap();
    assert_eq!(nothing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&nothing.stderr);
    assert!(err.contains("grades.json: cannot read it"), "{err}");
}

/// The HTML is self-contained and works in a real browser: Chromium loads it from
/// disk with the network off, runs its script, and the DOM has every submission.
fn html_renders_in_chromium(report: &Path) {
    let html = std::fs::read_to_string(report).unwrap();
    for external in ["http://", "https://", "<link", "src=\""] {
        assert!(!html.contains(external), "the report refers to {external}");
    }
    let Some(dom) = chromium_dom(report) else {
        return;
    };
    assert!(dom.contains("5 of 5 submissions shown"), "{dom}");
    assert_eq!(dom.matches("<tr class=\"submission\"").count(), 5);
    assert!(dom.contains("build failed"));
    // A line per submission at the top, and scenario names over the columns.
    assert!(dom.contains("dave</a> 24/26: dies of SIGPIPE"), "{dom}");
    assert!(dom.contains("five-clients-at-once</th>"), "{dom}");
    assert!(dom.contains("killed by SIGPIPE"));
}

/// ci/examples/grade-a-class-in-shards.yml is valid YAML (Python's parser reads it) and
/// every option its `sockspec grade` and `sockspec merge` lines pass is one those
/// commands have.
#[test]
fn the_ci_matrix_example_passes_options_that_exist() {
    let example = root().join("ci/examples/grade-a-class-in-shards.yml");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, yaml; w = yaml.safe_load(open(sys.argv[1])); \
             print(json.dumps([s['run'] for j in w['jobs'].values() for s in j['steps'] if 'run' in s]))",
        )
        .arg(&example)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    let mut checked = 0;
    for command in ["grade", "merge"] {
        let help = sockspec().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout).to_string();
        let line = runs
            .iter()
            .find(|r| r.contains(&format!("sockspec {command} ")))
            .unwrap_or_else(|| panic!("the example runs sockspec {command}: {runs:?}"));
        let (_, args) = line.split_once(&format!("sockspec {command} ")).unwrap();
        for option in args.split_whitespace().filter(|w| w.starts_with('-')) {
            let option = option.split('=').next().unwrap();
            assert!(
                help.contains(option),
                "`{option}` is not an option of {command}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "{runs:?}");
}
