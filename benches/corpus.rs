//! `cargo bench`: the corpus's wall time against the in-process reference, through
//! `sockspec adapter` (a process per scenario), and sandboxed (namespaces, limits, the
//! reference and the peer as processes inside), each with `--jobs` = cores and 1; and
//! the median per-scenario cost of an adapter process and of the sandbox.
//!
//! All configurations are measured in the same run, interleaved round by round, so the
//! ratios hold on a noisy shared machine even when absolute figures move.
//! `SOCKSPEC_BENCH_ROUNDS` sets the number of rounds (default 5).

mod support;

use sockspec::adapter::TargetSpec;
use sockspec::run::{run_all, Settings, Status};
use sockspec::sandbox::{Limits, SandboxSpec};
use sockspec::script::load_all;
use std::path::PathBuf;
use std::time::Duration;
use support::{median, ms, rounds};

fn main() {
    let rounds = rounds();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sockspec"));
    // Program suites need programs under test: benches/grade.rs measures those; wire
    // scenarios need a sandbox: benches/wire.rs.
    let scenarios: Vec<_> = load_all(&[root.join("scenarios")])
        .expect("corpus loads")
        .scenarios
        .into_iter()
        .filter(|s| s.roles.is_empty() && !s.uses_wire())
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut configs = vec![
        ("in-process reference", Settings::default()),
        (
            "sockspec adapter (process)",
            Settings {
                target: TargetSpec::Adapter {
                    command: format!("{} adapter", exe.display()),
                },
                ..Settings::default()
            },
        ),
    ];
    match SandboxSpec::probe(exe.clone(), Limits::default(), Vec::new()) {
        Ok((spec, _)) => {
            configs.push((
                "sandboxed reference",
                Settings {
                    sandbox: Some(spec),
                    ..Settings::default()
                },
            ));
        }
        Err(e) => println!("sandbox not measured: {e}"),
    }
    println!(
        "corpus: {} scenarios, {rounds} rounds, --jobs {cores} and 1",
        scenarios.len()
    );
    let mut wall: Vec<[Vec<Duration>; 2]> = vec![Default::default(); configs.len()];
    let mut per_scenario: Vec<Vec<Duration>> = vec![Vec::new(); configs.len()];
    for _ in 0..rounds {
        for (c, (_, settings)) in configs.iter().enumerate() {
            for (j, jobs) in [cores, 1].into_iter().enumerate() {
                let report = run_all(&scenarios, settings, jobs, |_| {});
                assert!(
                    report.results.iter().all(|r| r.status == Status::Passed),
                    "the corpus must pass to be timed"
                );
                wall[c][j].push(report.duration);
                if jobs == 1 {
                    // Scenarios that wait on purpose (blocking windows, SYN retransmits)
                    // measure the kernel's timers, not the harness: leave them out.
                    per_scenario[c].extend(
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
    for (c, (name, _)) in configs.iter().enumerate() {
        println!(
            "{name:<28} corpus wall time: median {} with --jobs {cores}, {} with --jobs 1; median quick scenario {}",
            ms(median(wall[c][0].clone())),
            ms(median(wall[c][1].clone())),
            ms(median(per_scenario[c].clone()))
        );
    }
    let base = median(per_scenario[0].clone());
    for (c, (name, _)) in configs.iter().enumerate().skip(1) {
        println!(
            "per-scenario cost of {name} over in-process: {} (median of quick scenarios); wall-time ratio at --jobs {cores}: {:.2}",
            ms(median(per_scenario[c].clone()).saturating_sub(base)),
            median(wall[c][0].clone()).as_secs_f64() / median(wall[0][0].clone()).as_secs_f64()
        );
    }
}
