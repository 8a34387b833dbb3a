//! `cargo bench --bench grade`: grading a class of 50 submissions (copies of the
//! correct sample echo server, built once) with the echo-server suite, sandboxed, at
//! `--jobs 1` and `--jobs 2`: total wall time and the median per submission. Both
//! settings run in the same invocation, so their ratio holds on a noisy machine.
//! `SOCKSPEC_BENCH_SUBMISSIONS` sets the class size (default 50).

use sockspec::grade::{grade_class, GradeOptions};
use sockspec::run::Settings;
use sockspec::sandbox::{Limits, SandboxSpec};
use sockspec::script::load_all;
use std::path::PathBuf;
use std::time::Duration;

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
    let first = class.path().join("student-000");
    std::fs::create_dir_all(&first).unwrap();
    let built = std::process::Command::new("gcc")
        .args(["-O2", "-pthread", "-o"])
        .arg(first.join("server"))
        .arg(root.join("tests/programs/echo_server.c"))
        .status()
        .expect("gcc runs");
    assert!(built.success());
    for i in 1..n {
        let dir = class.path().join(format!("student-{i:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(first.join("server"), dir.join("server")).unwrap();
    }
    let sandbox = SandboxSpec::probe(exe.clone(), Limits::default(), Vec::new())
        .map(|(spec, _)| spec)
        .ok();
    if sandbox.is_none() {
        println!("note: no sandbox on this machine; grading unsandboxed");
    }
    let settings = Settings {
        sandbox,
        programs: [("server".to_string(), "./server {port}".to_string())].into(),
        ..Settings::default()
    };
    println!(
        "grading {n} submissions with the echo-server suite ({} scenarios)",
        suite.len()
    );
    for jobs in [1, 2] {
        let opts = GradeOptions {
            suite: "echo-server".into(),
            build: None,
            build_timeout: Duration::from_secs(60),
            jobs,
            reruns: 2,
            flaky_credit: false,
        };
        let report =
            grade_class(class.path(), &suite, &settings, &opts, |_, _, _| {}).expect("grades");
        let full = report
            .submissions
            .iter()
            .filter(|g| g.score == g.max_score)
            .count();
        assert_eq!(full, n, "every copy of the correct server gets full marks");
        let mut each: Vec<Duration> = report.submissions.iter().map(|g| g.duration).collect();
        each.sort();
        println!(
            "--jobs {jobs}: {:.1} s in all, median {:.0} ms per submission (min {:.0}, max {:.0})",
            report.duration.as_secs_f64(),
            each[each.len() / 2].as_secs_f64() * 1e3,
            each[0].as_secs_f64() * 1e3,
            each[each.len() - 1].as_secs_f64() * 1e3,
        );
    }
}
