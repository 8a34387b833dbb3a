//! `cargo bench --bench grade`: grading a class of 50 submissions with the
//! echo-server suite, sandboxed, `--jobs 2`, a 3 s timeout: four in five are copies of
//! the correct sample echo server, one in five a buggy variant (iterative, dies of
//! SIGPIPE, stops after 5 clients, no SO_REUSEADDR, at most 16 clients), each built
//! once. It measures, in one invocation so that the ratios hold on a noisy machine:
//! one submission at a time against 2 and 4 at once (total and median per
//! submission), the cost of the race reruns (`--reruns 0` against 2), and of the
//! pseudo-terminal (`--stdio pipe` against `terminal`).
//! `SOCKSPEC_BENCH_SUBMISSIONS` sets the class size (default 50).

use sockspec::grade::{grade_class, GradeOptions};
use sockspec::process::ChildStdio;
use sockspec::run::Settings;
use sockspec::sandbox::{Limits, SandboxSpec};
use sockspec::script::load_all;
use std::path::{Path, PathBuf};
use std::time::Duration;

const BUGS: [&str; 5] = [
    "ITERATIVE",
    "NO_SIGPIPE",
    "STOP_AFTER_5",
    "NO_REUSEADDR",
    "MAX_16",
];

fn build(root: &Path, bug: Option<&str>, out: &Path) {
    let mut gcc = std::process::Command::new("gcc");
    gcc.args(["-O2", "-pthread", "-o"])
        .arg(out)
        .arg(root.join("tests/programs/echo_server.c"));
    if let Some(b) = bug {
        gcc.arg(format!("-DBUG_{b}"));
    }
    assert!(gcc.status().expect("gcc runs").success());
}

fn main() {
    let n: usize = std::env::var("SOCKSPEC_BENCH_SUBMISSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sockspec"));
    let suite = load_all(&[root.join("scenarios/programs/echo-server")])
        .expect("suite loads")
        .scenarios;
    let class = tempfile::tempdir().expect("temp dir");
    let binaries = tempfile::tempdir().expect("temp dir");
    let correct = binaries.path().join("correct");
    build(&root, None, &correct);
    for bug in BUGS {
        build(&root, Some(bug), &binaries.path().join(bug));
    }
    let mut buggy = 0;
    for i in 0..n {
        let dir = class.path().join(format!("student-{i:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = if i % 5 == 4 {
            buggy += 1;
            binaries.path().join(BUGS[(i / 5) % BUGS.len()])
        } else {
            correct.clone()
        };
        std::fs::copy(bin, dir.join("server")).unwrap();
    }
    let sandbox = SandboxSpec::probe(exe.clone(), Limits::default(), Vec::new())
        .map(|(spec, _)| spec)
        .ok();
    if sandbox.is_none() {
        println!("note: no sandbox on this machine; grading unsandboxed");
    }
    let base = Settings {
        sandbox,
        timeout: Duration::from_secs(3),
        programs: [("server".to_string(), "./server {port}".to_string())].into(),
        ..Settings::default()
    };
    println!(
        "grading {n} submissions ({buggy} buggy) with the echo-server suite ({} scenarios), --jobs 2, --timeout 3s",
        suite.len()
    );
    let runs = [
        ("--at-once 1", 1, 2, ChildStdio::Terminal),
        ("--at-once 2", 2, 2, ChildStdio::Terminal),
        ("--at-once 4", 4, 2, ChildStdio::Terminal),
        ("--at-once 2 --reruns 0", 2, 0, ChildStdio::Terminal),
        ("--at-once 2 --stdio pipe", 2, 2, ChildStdio::Pipes),
    ];
    for (label, at_once, reruns, stdio) in runs {
        let opts = GradeOptions {
            suite: "echo-server".into(),
            build: None,
            build_timeout: Duration::from_secs(60),
            jobs: 2,
            at_once,
            reruns,
            flaky_credit: false,
            shard: None,
        };
        let settings = Settings {
            program_stdio: stdio,
            ..base.clone()
        };
        let report =
            grade_class(class.path(), &suite, &settings, &opts, |_, _, _| {}).expect("grades");
        let full = report
            .submissions
            .iter()
            .filter(|g| g.score == g.max_score)
            .count();
        let mut each: Vec<Duration> = report.submissions.iter().map(|g| g.duration).collect();
        each.sort();
        println!(
            "{label}: {:.1} s in all, median {:.0} ms per submission (min {:.0}, max {:.0}); {full} of {n} with full marks",
            report.duration.as_secs_f64(),
            each[each.len() / 2].as_secs_f64() * 1e3,
            each[0].as_secs_f64() * 1e3,
            each[each.len() - 1].as_secs_f64() * 1e3,
        );
    }
}
