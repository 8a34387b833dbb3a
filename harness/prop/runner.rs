//! Driving proptest's `TestRunner` against a target, and reporting a failure as its
//! shrunk minimal case, the seed to replay it, and a scenario file.

use super::acks::{self, SendCase};
use super::case::{strategy, StreamCase};
use super::deliver::{Delivery, Property, ReassemblyError, Target};
use super::segments::{self, Bounds, ReassemblyCase};
use super::stream::{run_case, StreamError};
use crate::run::Settings;
use proptest::strategy::Strategy;
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
    /// Reassembly: how long retransmissions may go unacknowledged before a case fails
    /// for want of progress.
    pub stall: Duration,
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
            stall: Duration::from_secs(1),
        }
    }
}

#[derive(Debug)]
pub enum PropOutcome<C> {
    Passed {
        cases: u32,
        elapsed: Duration,
    },
    Failed {
        /// The shrunk case and what went wrong with it.
        minimal: C,
        reason: String,
        /// Cases run before the first failure, and the shrink steps and time after it.
        cases_before: u32,
        shrink_steps: u32,
        shrink_time: Duration,
        scenario: Option<PathBuf>,
        /// The minimal case as it went, one line each (segments and the application's
        /// reads), where the property can tell it.
        story: Vec<String>,
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
    /// The target cannot be tested this way (no sandbox, no wire, a broken adapter).
    #[error("{0}")]
    Setup(String),
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

/// What proptest's runner left: its verdict, and when the first failure came.
struct Driven<C> {
    result: Result<(), TestError<C>>,
    ran: u32,
    first_failure: Option<(Instant, u32)>,
    after_failure: u32,
}

/// Runs `test` on the cases of `strategy` under `cfg`, counting cases and shrink steps.
fn drive<C: Clone + std::fmt::Debug>(
    settings: &Settings,
    cfg: &PropConfig,
    name: &'static str,
    strategy: impl Strategy<Value = C>,
    test: impl FnMut(&C) -> Result<(), String>,
) -> Driven<C> {
    let mut config = config(cfg);
    config.test_name = Some(name);
    let mut runner = TestRunner::new(config);
    // proptest takes a `Fn` test: the bookkeeping lives in cells.
    let ran = Cell::new(0u32);
    let first_failure: Cell<Option<(Instant, u32)>> = Cell::new(None);
    let after_failure = Cell::new(0u32);
    let test = RefCell::new(test);
    let result = runner.run(&strategy, |case| {
        if settings.cancel.load(Ordering::SeqCst) {
            return Err(TestCaseError::reject("interrupted"));
        }
        ran.set(ran.get() + 1);
        if first_failure.get().is_some() {
            after_failure.set(after_failure.get() + 1);
        }
        match (test.borrow_mut())(&case) {
            Ok(()) => Ok(()),
            Err(reason) => {
                if first_failure.get().is_none() {
                    first_failure.set(Some((Instant::now(), ran.get() - 1)));
                }
                Err(TestCaseError::fail(reason))
            }
        }
    });
    Driven {
        result,
        ran: ran.get(),
        first_failure: first_failure.get(),
        after_failure: after_failure.get(),
    }
}

/// The outcome of a run, with `scenario` writing the minimal case (given the reason)
/// where the run asked for it.
fn outcome<C>(
    settings: &Settings,
    cfg: &PropConfig,
    driven: Driven<C>,
    started: Instant,
    scenario: impl FnOnce(&C, &str) -> Result<Option<PathBuf>, PropError>,
) -> PropOutcome<C> {
    if settings.cancel.load(Ordering::SeqCst) {
        return PropOutcome::Interrupted;
    }
    match driven.result {
        Ok(()) => PropOutcome::Passed {
            cases: cfg.cases,
            elapsed: started.elapsed(),
        },
        Err(TestError::Fail(reason, minimal)) => {
            let (at, cases_before) = driven.first_failure.unwrap_or((Instant::now(), driven.ran));
            let shrink_time = at.elapsed();
            let reason = reason.message().to_string();
            let scenario = match scenario(&minimal, &reason) {
                Ok(path) => path,
                Err(e) => return PropOutcome::Error(e),
            };
            PropOutcome::Failed {
                minimal,
                reason,
                cases_before,
                shrink_steps: driven.after_failure,
                shrink_time,
                scenario,
                story: Vec::new(),
            }
        }
        Err(TestError::Abort(reason)) => {
            PropOutcome::Error(PropError::GaveUp(reason.message().to_string()))
        }
    }
}

/// Writes `text` as `DIR/NAME`, creating DIR.
fn write_scenario(dir: &std::path::Path, name: String, text: &str) -> Result<PathBuf, PropError> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(&path, text))
        .map_err(|source| PropError::WriteScenario {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// Runs the stream-integrity property; `on_case` sees each case and its outcome.
pub fn run_stream(
    settings: &Settings,
    cfg: &PropConfig,
    mut on_case: impl FnMut(&StreamCase, &Result<(), StreamError>),
) -> PropOutcome<StreamCase> {
    let started = Instant::now();
    let driven = drive(
        settings,
        cfg,
        "sockspec prop stream",
        strategy(cfg.max_len),
        |case| {
            let outcome = run_case(settings, case);
            on_case(case, &outcome);
            outcome.map_err(|e| e.to_string())
        },
    );
    outcome(settings, cfg, driven, started, |minimal, reason| {
        match (&cfg.scenario_dir, minimal.to_scenario(reason)) {
            (Some(dir), Some(text)) => {
                write_scenario(dir, format!("stream-seed-{}.scn", cfg.seed), &text).map(Some)
            }
            _ => Ok(None),
        }
    })
}

/// One target for a run's cases: kept while cases pass, thrown away after a failure
/// (a stack that failed may be broken), opened again for the next; a target that cannot
/// be had at all stops the run with `setup`.
struct Targets<'a> {
    settings: &'a Settings,
    stall: Duration,
    target: Option<Target>,
    setup: Option<String>,
}

impl<'a> Targets<'a> {
    fn new(settings: &'a Settings, stall: Duration) -> Self {
        Targets {
            settings,
            stall,
            target: None,
            setup: None,
        }
    }

    /// Runs `case` on the target: `None` when no target could be had.
    fn run(
        &mut self,
        case: impl FnOnce(&mut Target) -> Result<(), ReassemblyError>,
    ) -> Option<Result<(), ReassemblyError>> {
        if self.setup.is_some() {
            return None;
        }
        let mut t = match self
            .target
            .take()
            .map_or_else(|| Target::open(self.settings, self.stall), Ok)
        {
            Ok(t) => t,
            Err(e) => {
                self.setup = Some(e.to_string());
                return None;
            }
        };
        let result = case(&mut t);
        match &result {
            Ok(()) => self.target = Some(t),
            Err(e) => {
                t.close(true);
                if let ReassemblyError::Setup(why) = e {
                    self.setup = Some(why.clone());
                }
            }
        }
        Some(result)
    }

    /// Ends the run's target; the reason no target could be had, if so.
    fn finish(self) -> Option<String> {
        if let Some(t) = self.target {
            t.close(false);
        }
        self.setup
    }
}

/// A case's result as proptest takes it: a setup problem is no verdict (the run
/// reports it instead).
fn verdict(result: Option<Result<(), ReassemblyError>>) -> Result<(), String> {
    match result {
        Some(Err(e)) if !matches!(e, ReassemblyError::Setup(_)) => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Runs the reassembly properties against the target's wire; `on_case` sees each case
/// and its outcome. One target serves the cases until one fails; a failed case's
/// target is thrown away, so each case after a failure (shrinking's) starts afresh.
pub fn run_reassembly(
    settings: &Settings,
    cfg: &PropConfig,
    bounds: Bounds,
    mut on_case: impl FnMut(&ReassemblyCase, &Result<(), ReassemblyError>),
) -> PropOutcome<ReassemblyCase> {
    let started = Instant::now();
    let mut targets = Targets::new(settings, cfg.stall);
    // Half the shrink time for proptest's shrinking, the rest for dropping segments.
    let halved = PropConfig {
        max_shrink_time: cfg.max_shrink_time / 2,
        ..cfg.clone()
    };
    // The last failing run, for the story: a run of the same case again may pass.
    let mut failing: Option<(ReassemblyCase, Delivery)> = None;
    let driven = drive(
        settings,
        &halved,
        "sockspec prop reassembly",
        segments::strategy(bounds),
        |case| {
            verdict(targets.run(|t| {
                let (delivery, result) = t.deliver(case);
                on_case(case, &result);
                if result.is_err() {
                    failing = Some((case.clone(), delivery));
                }
                result
            }))
        },
    );
    if let Some(why) = targets.finish() {
        return PropOutcome::Error(PropError::Setup(why));
    }
    match outcome(settings, cfg, driven, started, |_, _| Ok(None)) {
        PropOutcome::Failed {
            minimal,
            reason,
            cases_before,
            shrink_steps,
            shrink_time,
            ..
        } => {
            let began = Instant::now();
            let left = cfg
                .max_shrink_time
                .saturating_sub(shrink_time.min(halved.max_shrink_time));
            let (minimal, reason, removals) =
                fewer_segments(settings, cfg, minimal, reason, left, &mut failing);
            let told = failing.filter(|(case, _)| *case == minimal).map(|(_, d)| d);
            let (scenario, story) = match replay_minimal(settings, cfg, &minimal, told, &reason) {
                Ok(told) => told,
                Err(e) => return PropOutcome::Error(e),
            };
            PropOutcome::Failed {
                minimal,
                reason,
                cases_before,
                shrink_steps: shrink_steps + removals,
                shrink_time: shrink_time + began.elapsed(),
                scenario,
                story,
            }
        }
        other => other,
    }
}

/// Runs the other direction: the target sends, and the harness answers its segments
/// as each case says (withheld, repeated, reordered ACKs, changing windows). One target
/// serves the cases until one fails.
pub fn run_retransmission(
    settings: &Settings,
    cfg: &PropConfig,
    mut on_case: impl FnMut(&SendCase, &Result<(), ReassemblyError>),
) -> PropOutcome<SendCase> {
    let started = Instant::now();
    let mut targets = Targets::new(settings, cfg.stall);
    let driven = drive(
        settings,
        cfg,
        "sockspec prop retransmission",
        acks::strategy(cfg.max_len.min(u32::MAX as usize) as u32),
        |case| {
            verdict(targets.run(|t| {
                let result = t.receive(case);
                on_case(case, &result);
                result
            }))
        },
    );
    if let Some(why) = targets.finish() {
        return PropOutcome::Error(PropError::Setup(why));
    }
    outcome(settings, cfg, driven, started, |_, _| Ok(None))
}

/// proptest shrinks the parts a case is built from, and can get stuck where removing
/// one part changes all the others; this pass works on the case itself: it drops one
/// segment at a time (its bytes are then sent only as retransmissions) and keeps each
/// drop after which the case still breaks the same property, within `left`. Returns
/// the case, its failure and the number of runs.
fn fewer_segments(
    settings: &Settings,
    cfg: &PropConfig,
    mut case: ReassemblyCase,
    mut reason: String,
    left: Duration,
    failing: &mut Option<(ReassemblyCase, Delivery)>,
) -> (ReassemblyCase, String, u32) {
    let deadline = Instant::now() + left;
    let property = Property::ALL
        .into_iter()
        .find(|p| reason.starts_with(&format!("{}:", p.name())));
    let mut runs = 0;
    let mut targets = Targets::new(settings, cfg.stall);
    let mut changed = true;
    while changed && Instant::now() < deadline && runs < cfg.max_shrink_iters {
        changed = false;
        let mut k = 0;
        while k < case.simplifications() && Instant::now() < deadline {
            let Some(simpler) = case.simplified(k) else {
                k += 1;
                continue;
            };
            match fails_the_same(&mut targets, &simpler, property, &mut runs, failing) {
                Some(why) => {
                    case = simpler;
                    reason = why;
                    changed = true;
                }
                None => k += 1,
            }
        }
    }
    targets.finish();
    (case, reason, runs)
}

/// Whether `case` still breaks `property` (or what counts as the same failure), and
/// how. Run twice at most: whether a bug shows can depend on when the target's answers
/// arrive, and one lucky pass must not keep a segment in the story.
fn fails_the_same(
    targets: &mut Targets,
    case: &ReassemblyCase,
    property: Option<Property>,
    runs: &mut u32,
    failing: &mut Option<(ReassemblyCase, Delivery)>,
) -> Option<String> {
    for _ in 0..2 {
        *runs += 1;
        let mut told = None;
        let result = targets.run(|t| {
            let (delivery, result) = t.deliver(case);
            told = Some(delivery);
            result
        });
        match result {
            Some(Ok(())) => continue,
            Some(Err(e)) => {
                let same = property
                    .zip(e.property())
                    .is_some_and(|(was, now)| was.same_failure(now));
                if same {
                    *failing = told.map(|d| (case.clone(), d));
                }
                return same.then(|| e.to_string());
            }
            None => return None,
        }
    }
    None
}

/// Runs the minimal case once more on a fresh target, for a pcap and, where the run
/// asked for it, a wire scenario. The story (the segments as they went, cut to the
/// target's MSS, and the application's reads) is the failing run's, `told`, where it
/// was kept, and says so when the run again passed.
fn replay_minimal(
    settings: &Settings,
    cfg: &PropConfig,
    minimal: &ReassemblyCase,
    told: Option<Delivery>,
    reason: &str,
) -> Result<(Option<PathBuf>, Vec<String>), PropError> {
    let mut t = Target::open(settings, cfg.stall).map_err(|e| PropError::Setup(e.to_string()))?;
    let (again, result) = t.deliver(minimal);
    let pcap = t.pcap();
    t.close(true);
    let delivery = told.unwrap_or(again);
    let mut story = delivery.story();
    if result.is_ok() {
        story.push(
            "(one more run of this case passed: whether it fails depends on timing)".to_string(),
        );
    }
    let Some(dir) = &cfg.scenario_dir else {
        return Ok((None, story));
    };
    // The pcap always: a case too long to replay as a scenario is still evidence.
    let name = format!("reassembly-seed-{}", cfg.seed);
    let pcap_path = dir.join(format!("{name}.pcap"));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&pcap_path, pcap))
        .map_err(|source| PropError::WriteScenario {
            path: pcap_path.clone(),
            source,
        })?;
    let Some(text) = segments::scenario(minimal, &delivery.sent, delivery.rcvbuf, reason, cfg.seed)
    else {
        return Ok((None, story));
    };
    let path = write_scenario(dir, format!("{name}.scn"), &text)?;
    Ok((Some(path), story))
}
