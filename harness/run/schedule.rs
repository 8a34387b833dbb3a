//! Runs scenarios on `jobs` worker threads and streams results to the caller, which
//! owns the terminal (progress bar, reporters).

use super::execute::{run_scenario, Settings};
use super::outcome::{Failure, RunReport, ScenarioResult, Status};
use crate::script::Scenario;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// Runs every scenario and returns the report, results in input order. `stop` ends the
/// run early: running scenarios finish their current step, queued ones are not started.
pub fn run_all(
    scenarios: &[Scenario],
    settings: &Settings,
    jobs: usize,
    stop: &AtomicBool,
    mut on_event: impl FnMut(Event),
) -> RunReport {
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
        name: scenario.name.clone(),
        path: scenario.path.clone(),
        title: scenario.meta.title.clone(),
        tags: scenario.meta.tags.clone(),
        refs: scenario.meta.refs.clone(),
        status: Status::Error,
        duration: Duration::ZERO,
        failure: Some(Failure {
            line: 1,
            column: 1,
            step: String::new(),
            expected: "the harness to work".into(),
            actual: format!("the harness panicked: {msg}"),
            detail: Some("this is a bug in sockspec; please report it with this scenario".into()),
        }),
        skip_reason: None,
        steps: Vec::new(),
        teardown: Vec::new(),
    }
}
