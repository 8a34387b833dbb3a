//! `cargo bench --bench wire`: what the wire costs and how fast wire scenarios run.
//!
//! - the cost of the wire and of the captures per scenario: one sandboxed scenario that
//!   never touches the wire, as it runs (the TUN device made, its loopback recorded),
//!   without the loopback capture, and without the device either (`SOCKSPEC_TUN`
//!   naming none); and a timer-free wire scenario that plays a handshake;
//! - the wall time of each wire scenario that waits for no timer (the target: under 50
//!   ms each), and of the whole wire corpus at `--jobs 1` and `--jobs 2`.
//!
//! Configurations are interleaved round by round, so ratios hold on a noisy machine.
//! `SOCKSPEC_BENCH_ROUNDS` sets the number of rounds (default 5).

mod support;

use sockspec::run::{run_all, Settings, Status};
use sockspec::sandbox::{wire_link, Limits, SandboxSpec};
use sockspec::script::{load_all, Scenario};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use support::{median, ms, rounds};

fn load(path: PathBuf) -> Vec<Scenario> {
    load_all(&[path]).expect("scenarios load").scenarios
}

/// Runs `scenarios` once, all passing, and returns the run's wall time and each one's.
fn timed(scenarios: &[Scenario], settings: &Settings, jobs: usize) -> (Duration, Vec<Duration>) {
    let report = run_all(scenarios, settings, jobs, |_| {});
    for r in &report.results {
        assert_eq!(r.status, Status::Passed, "{} must pass to be timed", r.name);
    }
    let each = report.results.iter().map(|r| r.duration).collect();
    (report.duration, each)
}

fn main() {
    let rounds = rounds();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sockspec"));
    let spec = match SandboxSpec::probe(exe, Limits::default(), Vec::new()) {
        Ok((spec, _)) if spec.wire_problem.is_none() => spec,
        Ok((spec, _)) => {
            println!(
                "wire not measured: {}",
                spec.wire_problem.unwrap_or_default()
            );
            return;
        }
        Err(e) => {
            println!("wire not measured: no sandbox ({e})");
            return;
        }
    };
    let settings = Settings {
        sandbox: Some(spec),
        ..Settings::default()
    };
    let corpus = load(root.join("scenarios/wire"));
    let plain = load(root.join("scenarios/bind/bind-twice-expects-error.scn"));
    let handshake =
        load(root.join("scenarios/wire/handshake-as-server-negotiates-the-options.scn"));
    println!(
        "wire: {} scenarios, {rounds} rounds, {} cores",
        corpus.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let mut as_run = Vec::new();
    let mut without_capture = Vec::new();
    let mut without_device = Vec::new();
    let no_capture = Settings {
        loopback_capture: false,
        ..settings.clone()
    };
    let mut handshakes = Vec::new();
    let mut walls: [Vec<Duration>; 2] = Default::default();
    let mut each: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for _ in 0..rounds {
        for _ in 0..10 {
            as_run.push(timed(&plain, &settings, 1).0);
            without_capture.push(timed(&plain, &no_capture, 1).0);
            handshakes.push(timed(&handshake, &settings, 1).0);
            // The sandbox's holder reads this when it makes the namespace: no device.
            std::env::set_var(wire_link::TUN_VAR, "/nonexistent/tun");
            without_device.push(timed(&plain, &no_capture, 1).0);
            std::env::remove_var(wire_link::TUN_VAR);
        }
        for (j, jobs) in [1, 2].into_iter().enumerate() {
            let (wall, times) = timed(&corpus, &settings, jobs);
            walls[j].push(wall);
            if jobs == 1 {
                for (s, t) in corpus.iter().zip(times) {
                    each.entry(s.name.clone()).or_default().push(t);
                }
            }
        }
    }
    let base = median(without_device.clone());
    println!(
        "a sandboxed scenario without the wire (median): {} as run, {} without the loopback capture, {} without the TUN device either; a handshake on the wire: {} ({} over the last)",
        ms(median(as_run)),
        ms(median(without_capture)),
        ms(base),
        ms(median(handshakes.clone())),
        ms(median(timed_cost(&handshakes, base))),
    );
    let timer_free: Vec<(String, Duration)> = each
        .into_iter()
        .map(|(n, t)| (n, median(t)))
        .filter(|(n, _)| !waits_for_a_timer(&corpus, n))
        .collect();
    let slowest = timer_free.iter().max_by_key(|(_, t)| *t).expect("some");
    let over: Vec<&str> = timer_free
        .iter()
        .filter(|(_, t)| *t >= Duration::from_millis(50))
        .map(|(n, _)| n.as_str())
        .collect();
    println!(
        "{} timer-free wire scenarios: median {}, slowest {} ({}); at 50 ms or more: {:?}",
        timer_free.len(),
        ms(median(timer_free.iter().map(|(_, t)| *t).collect())),
        ms(slowest.1),
        slowest.0,
        over
    );
    println!(
        "wire corpus wall time: median {} with --jobs 1, {} with --jobs 2",
        ms(median(walls[0].clone())),
        ms(median(walls[1].clone()))
    );
}

/// Each handshake's time over the median plain scenario without the device.
fn timed_cost(times: &[Duration], base: Duration) -> Vec<Duration> {
    times.iter().map(|t| t.saturating_sub(base)).collect()
}

/// Whether a scenario waits on purpose: a timing window, a silence, a blocking check,
/// or a timer the target runs (tagged `timer`).
fn waits_for_a_timer(corpus: &[Scenario], name: &str) -> bool {
    let s = corpus
        .iter()
        .find(|s| s.name == name)
        .expect("in the corpus");
    s.meta.tags.iter().any(|t| t == "timer")
        || s.steps.iter().any(|step| {
            step.text.contains(" after ")
                || step.text.contains("nothing for")
                || step.text.contains("-> blocks")
        })
}
