//! `cargo bench --bench stacks`: what a user-space stack on its own link costs against
//! the kernel on loopback, and how long the API corpus takes against each stack.
//!
//! - per scenario: a few scenarios that connect and move data, against the C adapter on
//!   the kernel's sockets (loopback) and against the same C template on lwIP (a TAP
//!   link, ARP, lwIP's TCP thread) and against smoltcp (a TAP link, one event loop);
//!   the median wall time of each, round by round, interleaved;
//! - the whole API corpus (`scenarios` without `wire/` and `programs/`) against each,
//!   at `--jobs 2`, once per round.
//!
//! lwIP needs Debian's liblwip-dev; smoltcp is built from adapters/smoltcp (its own
//! Cargo project) into target/smoltcp-adapter. A stack that cannot be built is said and
//! left out. `SOCKSPEC_BENCH_ROUNDS` sets the number of rounds (default 5).

mod support;

use sockspec::adapter::TargetSpec;
use sockspec::run::{run_all, Settings};
use sockspec::sandbox::{Limits, SandboxSpec};
use sockspec::script::{load_all, Scenario};
use std::path::PathBuf;
use std::time::Duration;
use support::{median, ms, rounds, stack_targets};

const PER_SCENARIO: [&str; 4] = [
    "lifecycle/client-lifecycle",
    "lifecycle/server-lifecycle",
    "stream/send-and-recv-both-directions",
    "close/recv-eof-after-the-peers-orderly-close",
];

fn main() {
    let rounds = rounds();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sockspec"));
    let spec = match SandboxSpec::probe(exe, Limits::default(), Vec::new()) {
        Ok((spec, _)) => spec,
        Err(e) => {
            println!("stacks not measured: no sandbox, so no link ({e})");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let targets = stack_targets(&root, dir.path());
    let corpus: Vec<Scenario> = load_all(&[root.join("scenarios")])
        .expect("the corpus loads")
        .scenarios
        .into_iter()
        .filter(|s| s.roles.is_empty() && !s.name.starts_with("wire/"))
        .collect();
    let chosen: Vec<Scenario> = corpus
        .iter()
        .filter(|s| PER_SCENARIO.contains(&s.name.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        chosen.len(),
        PER_SCENARIO.len(),
        "the measured scenarios exist"
    );
    println!(
        "stacks: {} API scenarios, {rounds} rounds, {} cores",
        corpus.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let settings: Vec<Settings> = targets
        .iter()
        .map(|(_, command)| Settings {
            target: TargetSpec::Adapter {
                command: command.clone(),
            },
            sandbox: Some(spec.clone()),
            ..Settings::default()
        })
        .collect();
    let mut each: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
    let mut walls: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
    let mut counts = vec![(0, 0, 0); targets.len()];
    for _ in 0..rounds {
        for (i, s) in settings.iter().enumerate() {
            for _ in 0..5 {
                let report = run_all(&chosen, s, 1, |_| {});
                each[i].extend(report.results.iter().map(|r| r.duration));
            }
            let report = run_all(&corpus, s, 2, |_| {});
            walls[i].push(report.duration);
            use sockspec::run::Status;
            counts[i] = (
                report.count(Status::Passed),
                report.count(Status::Failed) + report.count(Status::Error),
                report.count(Status::Skipped),
            );
        }
    }
    let base = each.first().map(|v| median(v.clone()));
    for (i, (name, _)) in targets.iter().enumerate() {
        let per = median(each[i].clone());
        let ratio = base.map_or(String::new(), |b| {
            format!(
                " ({:.1}x the kernel's)",
                per.as_secs_f64() / b.as_secs_f64()
            )
        });
        let (passed, failed, skipped) = counts[i];
        println!(
            "{name}: a connecting scenario {}{ratio}; the API corpus at -j2 {} ({passed} passed, {failed} failed, {skipped} skipped)",
            ms(per),
            ms(median(walls[i].clone())),
        );
    }
}
