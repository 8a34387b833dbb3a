//! `cargo bench`: the corpus's wall time against the in-process reference and through
//! `sockspec adapter` (a process per scenario), and the median per-scenario overhead.
//!
//! Both targets are measured in the same run, interleaved, so the ratio holds on a
//! noisy shared machine even when the absolute figures move. `SOCKSPEC_BENCH_ROUNDS`
//! sets the number of rounds (default 5).

use sockspec::run::{run_all, RunReport, Settings, Status};
use sockspec::script::load_all;
use sockspec::target::TargetSpec;
use std::path::PathBuf;
use std::time::Duration;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let rounds: usize = std::env::var("SOCKSPEC_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenarios = load_all(&[root.join("scenarios")])
        .expect("corpus loads")
        .scenarios;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let targets = [
        ("in-process reference", TargetSpec::Reference),
        (
            "sockspec adapter (process)",
            TargetSpec::Adapter {
                command: format!("{} adapter", env!("CARGO_BIN_EXE_sockspec")),
            },
        ),
    ];
    println!(
        "corpus: {} scenarios, {rounds} rounds, jobs {jobs} and 1",
        scenarios.len()
    );
    let mut wall: Vec<Vec<Duration>> = vec![Vec::new(); 4];
    let mut per_scenario: Vec<Vec<Duration>> = vec![Vec::new(); 2];
    for _ in 0..rounds {
        for (t, (_, target)) in targets.iter().enumerate() {
            let settings = Settings {
                target: target.clone(),
                ..Settings::default()
            };
            for (j, jobs) in [jobs, 1].into_iter().enumerate() {
                let report: RunReport = run_all(&scenarios, &settings, jobs, |_| {});
                assert!(
                    report.results.iter().all(|r| r.status == Status::Passed),
                    "the corpus must pass to be timed"
                );
                wall[t * 2 + j].push(report.duration);
                if jobs == 1 {
                    // Scenarios that wait on purpose (blocking windows, SYN retransmits)
                    // measure the kernel's timers, not the harness: leave them out.
                    per_scenario[t].extend(
                        report
                            .results
                            .iter()
                            .filter(|r| r.duration < Duration::from_millis(150))
                            .map(|r| r.duration),
                    );
                }
            }
        }
    }
    for (t, (name, _)) in targets.iter().enumerate() {
        println!(
            "{name:<28} corpus wall time: median {} with --jobs {jobs}, {} with --jobs 1",
            ms(median(wall[t * 2].clone())),
            ms(median(wall[t * 2 + 1].clone()))
        );
    }
    let (inproc, external) = (
        median(per_scenario[0].clone()),
        median(per_scenario[1].clone()),
    );
    println!(
        "median duration of a scenario that does not wait on purpose: in-process {}, through an adapter process {}",
        ms(inproc),
        ms(external)
    );
    println!(
        "median per-scenario overhead of an adapter process (spawn, handshake, teardown): {}",
        ms(external.saturating_sub(inproc))
    );
    println!(
        "wall-time ratio adapter process / in-process (--jobs {jobs}): {:.2}",
        median(wall[2].clone()).as_secs_f64() / median(wall[0].clone()).as_secs_f64()
    );
}
