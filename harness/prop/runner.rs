//! Driving proptest's `TestRunner` against a target, and reporting a failure as its
//! shrunk minimal case, the seed to replay it, and a scenario file.

use super::case::{strategy, StreamCase};
use super::stream::{run_case, StreamError};
use crate::run::Settings;
use proptest::test_runner::{
    basic_result_cache, Config, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner,
};
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct PropConfig {
    pub cases: u32,
    /// The seed of the case generator: the same seed replays the same cases.
    pub seed: u64,
    /// The largest payload in either direction.
    pub max_len: usize,
    pub max_shrink_iters: u32,
    pub max_shrink_time: Duration,
    /// Where to write the minimal failing case as a scenario file.
    pub scenario_dir: Option<PathBuf>,
}

impl Default for PropConfig {
    fn default() -> Self {
        PropConfig {
            cases: 64,
            seed: 0,
            max_len: 4 << 20,
            max_shrink_iters: 512,
            max_shrink_time: Duration::from_secs(120),
            scenario_dir: None,
        }
    }
}

#[derive(Debug)]
pub enum PropOutcome {
    Passed {
        cases: u32,
        elapsed: Duration,
    },
    Failed {
        /// The shrunk case and what went wrong with it.
        minimal: StreamCase,
        reason: String,
        /// Cases run before the first failure, and the shrink steps and time after it.
        cases_before: u32,
        shrink_steps: u32,
        shrink_time: Duration,
        scenario: Option<PathBuf>,
    },
    /// Stopped by SIGINT or SIGTERM.
    Interrupted,
    /// The run could not go on.
    Error(PropError),
}

/// Why a property run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PropError {
    #[error("failed to write {}: {source}", path.display())]
    WriteScenario {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// proptest gave up (too many rejected cases).
    #[error("{0}")]
    GaveUp(String),
}

/// Everything proptest reads is set here; nothing comes from `PROPTEST_*`.
fn config(cfg: &PropConfig) -> Config {
    Config {
        cases: cfg.cases,
        max_local_rejects: 65_536,
        max_global_rejects: 1024,
        max_flat_map_regens: 1_000_000,
        failure_persistence: None,
        source_file: None,
        test_name: Some("sockspec prop stream"),
        max_shrink_time: cfg.max_shrink_time.as_millis().min(u32::MAX as u128) as u32,
        max_shrink_iters: cfg.max_shrink_iters,
        max_default_size_range: 100,
        result_cache: basic_result_cache,
        verbose: 0,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(cfg.seed),
        _non_exhaustive: (),
    }
}

/// Runs the stream-integrity property; `on_case` sees each case and its outcome.
pub fn run_stream(
    settings: &Settings,
    cfg: &PropConfig,
    on_case: impl FnMut(&StreamCase, &Result<(), StreamError>),
) -> PropOutcome {
    let started = Instant::now();
    let mut runner = TestRunner::new(config(cfg));
    // proptest takes a `Fn` test: the bookkeeping lives in cells.
    let ran = Cell::new(0u32);
    let first_failure: Cell<Option<(Instant, u32)>> = Cell::new(None);
    let after_failure = Cell::new(0u32);
    let on_case = RefCell::new(on_case);
    let result = runner.run(&strategy(cfg.max_len), |case| {
        if settings.cancel.load(Ordering::SeqCst) {
            return Err(TestCaseError::reject("interrupted"));
        }
        ran.set(ran.get() + 1);
        if first_failure.get().is_some() {
            after_failure.set(after_failure.get() + 1);
        }
        let outcome = run_case(settings, &case);
        (on_case.borrow_mut())(&case, &outcome);
        match outcome {
            Ok(()) => Ok(()),
            Err(reason) => {
                if first_failure.get().is_none() {
                    first_failure.set(Some((Instant::now(), ran.get() - 1)));
                }
                Err(TestCaseError::fail(reason.to_string()))
            }
        }
    });
    if settings.cancel.load(Ordering::SeqCst) {
        return PropOutcome::Interrupted;
    }
    match result {
        Ok(()) => PropOutcome::Passed {
            cases: cfg.cases,
            elapsed: started.elapsed(),
        },
        Err(TestError::Fail(reason, minimal)) => {
            let (at, cases_before) = first_failure.get().unwrap_or((Instant::now(), ran.get()));
            let reason = reason.message().to_string();
            let scenario = match &cfg.scenario_dir {
                None => None,
                Some(dir) => match minimal.to_scenario(&reason) {
                    None => None,
                    Some(text) => {
                        let path = dir.join(format!("stream-seed-{}.scn", cfg.seed));
                        if let Err(source) =
                            std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, text))
                        {
                            return PropOutcome::Error(PropError::WriteScenario { path, source });
                        }
                        Some(path)
                    }
                },
            };
            PropOutcome::Failed {
                minimal,
                reason,
                cases_before,
                shrink_steps: after_failure.get(),
                shrink_time: at.elapsed(),
                scenario,
            }
        }
        Err(TestError::Abort(reason)) => {
            PropOutcome::Error(PropError::GaveUp(reason.message().to_string()))
        }
    }
}
