//! `run --repeat N`: every selected scenario runs N times, and the N results fold into
//! one. A scenario whose runs disagree fails with "passed K of N runs": an outcome that
//! depends on timing is a finding (a race in a program, a stack that loses data under
//! some interleavings), never a pass that a lucky run gave.

use super::outcome::{RunReport, ScenarioResult, Status};
use crate::script::Scenario;

/// What typically makes a socket program pass or fail with timing, for the message.
pub const RACE_CAUSES: &str = "typical causes: a thread handed the address of a variable \
    the next accept() overwrites (pthread_create(..., &sock) instead of passing the value), \
    data shared between threads without a lock, a reply assumed to arrive in one recv(), or \
    a step that waits with sleep() instead of for the event";

/// Each scenario `n` times, the copies side by side.
pub fn repeated(scenarios: &[Scenario], n: usize) -> Vec<Scenario> {
    scenarios
        .iter()
        .flat_map(|s| std::iter::repeat_n(s, n.max(1)))
        .cloned()
        .collect()
}

/// One result per scenario name, in the order first seen.
pub fn fold(report: RunReport) -> RunReport {
    let mut groups: Vec<Vec<ScenarioResult>> = Vec::new();
    for r in report.results {
        match groups.iter_mut().find(|g| g[0].name == r.name) {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    RunReport {
        results: groups.into_iter().map(fold_one).collect(),
        ..report
    }
}

fn fold_one(runs: Vec<ScenarioResult>) -> ScenarioResult {
    let total = runs.len();
    let passed = runs.iter().filter(|r| r.status == Status::Passed).count();
    let duration = runs.iter().map(|r| r.duration).sum();
    let mut first_other = runs
        .iter()
        .find(|r| r.status != Status::Passed)
        .unwrap_or(&runs[0])
        .clone();
    first_other.duration = duration;
    if passed == 0 || passed == total {
        return first_other;
    }
    first_other.status = Status::Failed;
    if let Some(f) = first_other.failure.as_mut() {
        let note = format!(
            "passed {passed} of {total} runs: the outcome depends on timing ({RACE_CAUSES})"
        );
        f.detail = Some(match f.detail.take() {
            Some(d) => format!("{note}; this run: {d}"),
            None => note,
        });
    }
    first_other
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Failure;
    use std::time::Duration;

    fn result(name: &str, status: Status) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            path: Default::default(),
            title: String::new(),
            tags: vec![],
            refs: vec![],
            status,
            duration: Duration::from_millis(10),
            failure: (status == Status::Failed).then(|| Failure {
                kind: crate::run::FailureKind::Expectation,
                line: 3,
                column: 1,
                step: "peer.recv(c, 5)".into(),
                expected: "\"hello\"".into(),
                actual: "eof".into(),
                detail: None,
            }),
            skip_reason: None,
            steps: vec![],
            teardown: vec![],
            pcap: None,
        }
    }

    #[test]
    fn runs_that_disagree_fail_and_say_how_often_they_passed() {
        let report = RunReport {
            target: String::new(),
            implementation: None,
            profile: "linux".into(),
            duration: Duration::ZERO,
            results: vec![
                result("steady", Status::Passed),
                result("racy", Status::Passed),
                result("steady", Status::Passed),
                result("racy", Status::Failed),
                result("racy", Status::Passed),
            ],
            interrupted: false,
        };
        let folded = fold(report);
        assert_eq!(folded.results.len(), 2);
        let steady = &folded.results[0];
        assert_eq!(
            (steady.status, steady.duration),
            (Status::Passed, Duration::from_millis(20))
        );
        let racy = &folded.results[1];
        assert_eq!(racy.status, Status::Failed);
        let detail = racy.failure.as_ref().unwrap().detail.as_deref().unwrap();
        assert!(
            detail.starts_with("passed 2 of 3 runs: the outcome depends on timing"),
            "{detail}"
        );
    }
}
