//! Runs scenarios on `jobs` worker threads and streams results to the caller, which
//! owns the terminal (progress bar, reporters).

use super::execute::run_scenario;
use super::outcome::{Failure, FailureKind, RunReport, ScenarioResult, Status};
use super::settings::Settings;
use crate::script::Scenario;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// Progress of a run, in the order things happen.
pub enum Event<'a> {
    Started {
        index: usize,
        scenario: &'a Scenario,
    },
    Finished {
        index: usize,
        result: &'a ScenarioResult,
    },
}

/// Runs every scenario and returns the report, results in input order. Setting
/// `settings.cancel` ends the run early: queued scenarios are not started, running ones
/// stop at their next wait and are left out of the report, which is marked interrupted.
pub fn run_all(
    scenarios: &[Scenario],
    settings: &Settings,
    jobs: usize,
    mut on_event: impl FnMut(Event),
) -> RunReport {
    let stop = &*settings.cancel;
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<ScenarioResult>> = vec![None; scenarios.len()];
    let mut implementation = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for worker in 0..jobs.max(1).min(scenarios.len().max(1)) {
            let tx = tx.clone();
            let next = &next;
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{worker}"))
                .spawn_scoped(scope, move || loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(scenario) = scenarios.get(index) else {
                        return;
                    };
                    if tx.send((index, None)).is_err() {
                        return;
                    }
                    let outcome =
                        catch_unwind(AssertUnwindSafe(|| run_scenario(scenario, settings)))
                            .unwrap_or_else(|panic| (panicked(scenario, panic), None));
                    // A scenario the interrupt cut short has no verdict: leave it out.
                    if stop.load(Ordering::SeqCst) && outcome.0.status == Status::Error {
                        return;
                    }
                    if tx.send((index, Some(outcome))).is_err() {
                        return;
                    }
                });
            if let Err(e) = spawned {
                eprintln!("sockspec: failed to start worker thread {worker}: {e}");
            }
        }
        drop(tx);
        for (index, outcome) in rx {
            match outcome {
                None => on_event(Event::Started {
                    index,
                    scenario: &scenarios[index],
                }),
                Some((result, imp)) => {
                    if implementation.is_none() {
                        implementation = imp;
                    }
                    on_event(Event::Finished {
                        index,
                        result: &result,
                    });
                    results[index] = Some(result);
                }
            }
        }
    });
    let interrupted = results.iter().any(Option::is_none);
    RunReport {
        target: settings.describe_target(),
        implementation,
        profile: settings.profile.clone(),
        duration: started.elapsed(),
        results: results.into_iter().flatten().collect(),
        interrupted,
    }
}

fn panicked(scenario: &Scenario, panic: Box<dyn std::any::Any + Send>) -> ScenarioResult {
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ScenarioResult {
        status: Status::Error,
        failure: Some(Failure {
            kind: FailureKind::Harness,
            line: 1,
            column: 1,
            step: String::new(),
            expected: "the harness to work".into(),
            actual: format!("the harness panicked: {msg}"),
            detail: Some("this is a bug in sockspec; please report it with this scenario".into()),
        }),
        ..ScenarioResult::new(scenario)
    }
}
