//! Discovering, building, running and scoring submissions.

use crate::process::ChildStdio;
use crate::program::Program;
use crate::run::{
    self, limit_notes, FailureKind, RunReport, ScenarioResult, Settings, Status, RACE_CAUSES,
};
use crate::run::{from_millis, millis};
use crate::script::Scenario;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How much of a failed build's output is kept for the report.
const BUILD_LOG_TAIL: usize = 4000;

/// A scenario of the suite as grading sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub title: String,
    pub weight: f64,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildResult {
    pub command: String,
    pub ok: bool,
    /// `exit status 0`, `exit status 2`, `did not finish within 120 s`.
    pub status: String,
    /// The end of what the build printed (stdout, then stderr).
    pub log: String,
    #[serde(
        rename = "duration_ms",
        serialize_with = "millis",
        deserialize_with = "from_millis"
    )]
    pub duration: Duration,
}

/// One submission's grade.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Graded {
    pub name: String,
    pub build: Option<BuildResult>,
    /// Empty when the build failed: nothing ran.
    pub results: Vec<ScenarioResult>,
    pub score: f64,
    pub max_score: f64,
    /// Scenarios that failed but passed in a rerun: their outcome depends on timing.
    #[serde(default)]
    pub flaky: Vec<String>,
    #[serde(
        rename = "duration_ms",
        serialize_with = "millis",
        deserialize_with = "from_millis"
    )]
    pub duration: Duration,
}

impl Graded {
    pub fn build_failed(&self) -> bool {
        self.build.as_ref().is_some_and(|b| !b.ok)
    }

    /// Whether scenario `name` failed but passed in a rerun.
    pub fn is_flaky(&self, name: &str) -> bool {
        self.flaky.iter().any(|f| f == name)
    }

    /// The result of scenario `name`, if it ran.
    pub fn result(&self, name: &str) -> Option<&ScenarioResult> {
        self.results.iter().find(|r| r.name == name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassReport {
    pub suite: String,
    pub scenarios: Vec<ScenarioInfo>,
    pub submissions: Vec<Graded>,
    /// Whether a flaky scenario earned its points (`--flaky-credit full`).
    #[serde(default)]
    pub flaky_credit: bool,
    #[serde(
        rename = "duration_ms",
        serialize_with = "millis",
        deserialize_with = "from_millis"
    )]
    pub duration: Duration,
    pub interrupted: bool,
}

impl ClassReport {
    pub fn max_score(&self) -> f64 {
        self.scenarios.iter().map(|s| s.weight).sum()
    }
}

pub struct GradeOptions {
    /// The suite's name for reports (`echo-server`).
    pub suite: String,
    /// Run in each submission's copy before the suite (`make`, `gcc -o server *.c`).
    pub build: Option<String>,
    pub build_timeout: Duration,
    /// Scenarios of one submission at a time.
    pub jobs: usize,
    /// Submissions at a time: most of a submission's time is deliberate waiting
    /// (blocking windows, timeouts of programs that do not answer), which overlaps.
    pub at_once: usize,
    /// How many more times a failed scenario runs: one that then passes depends on
    /// timing (a race), and says so.
    pub reruns: u32,
    /// Whether a scenario that passed in some runs only earns its points.
    pub flaky_credit: bool,
    /// Grade only this slice of the submissions (`--shard K/N`, by name order).
    pub shard: Option<run::Shard>,
}

/// The submission folders of `dir`: its subdirectories, hidden ones skipped, by name.
pub fn submissions(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if entry.file_type()?.is_dir() && !hidden {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Grades every submission in `dir`. `on_done` sees each grade as it is made.
pub fn grade_class(
    dir: &Path,
    scenarios: &[Scenario],
    settings: &Settings,
    opts: &GradeOptions,
    mut on_done: impl FnMut(&Graded, usize, usize),
) -> std::io::Result<ClassReport> {
    let started = Instant::now();
    let folders: Vec<PathBuf> = submissions(dir)?
        .into_iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|s| s.takes(*i)))
        .map(|(_, f)| f)
        .collect();
    let infos: Vec<ScenarioInfo> = scenarios
        .iter()
        .map(|s| ScenarioInfo {
            name: s.name.clone(),
            title: s.meta.title.clone(),
            weight: s.meta.weight,
            hint: s.meta.hint.clone(),
        })
        .collect();
    let max_score: f64 = infos.iter().map(|s| s.weight).sum();
    // Workers take the next folder until none is left, the run is cancelled, or one
    // submission could not be graded at all (its error ends the class run).
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut slots: Vec<Option<Graded>> = folders.iter().map(|_| None).collect();
    let mut error = None;
    let mut done = 0;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..opts.at_once.clamp(1, folders.len().max(1)) {
            let tx = tx.clone();
            let (next, failed, folders) = (&next, &failed, &folders);
            scope.spawn(move || loop {
                if settings.cancel.load(Ordering::SeqCst) || failed.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(folder) = folders.get(i) else {
                    break;
                };
                let g = grade_one(folder, scenarios, settings, opts, max_score);
                failed.fetch_or(g.is_err(), Ordering::SeqCst);
                if tx.send((i, g)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, g) in rx {
            match g {
                Ok(g) => {
                    done += 1;
                    on_done(&g, done, folders.len());
                    slots[i] = Some(g);
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
    });
    if let Some(e) = error {
        return Err(e);
    }
    let graded: Vec<Graded> = slots.into_iter().flatten().collect();
    Ok(ClassReport {
        suite: opts.suite.clone(),
        scenarios: infos,
        interrupted: settings.cancel.load(Ordering::SeqCst) || graded.len() < folders.len(),
        flaky_credit: opts.flaky_credit,
        submissions: graded,
        duration: started.elapsed(),
    })
}

fn grade_one(
    folder: &Path,
    scenarios: &[Scenario],
    settings: &Settings,
    opts: &GradeOptions,
    max_score: f64,
) -> std::io::Result<Graded> {
    let started = Instant::now();
    let name = folder.file_name().map_or_else(
        || folder.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let temp = || {
        tempfile::Builder::new()
            .prefix(&crate::sandbox::temp_prefix("sockspec-grade-"))
            .tempdir()
    };
    let work = temp()?;
    // The build and the program run as the sandbox's user, if it is not ours: the copy
    // is theirs.
    let owner = settings
        .sandbox
        .as_ref()
        .and_then(|_| crate::sandbox::unprivileged_owner());
    copy_tree(folder, work.path(), owner)?;
    // The build sees the copy as an overlay on the sandbox's bounded storage; what it
    // made is copied out into `built` (see `build`).
    let built = temp()?;
    let build = opts.build.as_ref().map(|cmd| {
        build(
            cmd,
            (work.path(), built.path(), owner),
            settings,
            opts.build_timeout,
        )
    });
    let program_dir = match &build {
        Some((_, true)) => built.path(),
        _ => work.path(),
    };
    let build = build.map(|(b, _)| b);
    let mut results = Vec::new();
    if build.as_ref().is_none_or(|b| b.ok) && !scenarios.is_empty() {
        let mut s = settings.clone();
        s.program_dir = program_dir.to_path_buf();
        // Captures per student: the same scenario fails in many submissions.
        s.pcap_dir = settings.pcap_dir.as_ref().map(|d| d.join(&name));
        s.failed_pcap_dir = settings.failed_pcap_dir.as_ref().map(|d| d.join(&name));
        // One scenario first: a program that never listens fails every scenario the
        // same way, each after the full timeout; seen once, it is reported for all.
        let first: RunReport = run::run_all(&scenarios[..1], &s, 1, |_| {});
        results = first.results;
        let never_listened = results[0].failure.as_ref().filter(|f| {
            results[0].status == Status::Failed && f.kind == FailureKind::NeverListened
        });
        match never_listened.cloned() {
            Some(f) => {
                for sc in &scenarios[1..] {
                    let mut r = ScenarioResult::new(sc);
                    r.status = Status::Failed;
                    r.failure = Some(run::Failure {
                        detail: Some(format!(
                            "not run: in `{}` the program never listened, so this could not be tested either; {}",
                            scenarios[0].name,
                            f.detail.as_deref().unwrap_or("")
                        )),
                        ..f.clone()
                    });
                    results.push(r);
                }
            }
            None => {
                let rest: RunReport = run::run_all(&scenarios[1..], &s, opts.jobs, |_| {});
                results.extend(rest.results);
            }
        }
    }
    // Failures that may hide a race run again, one at a time (a program that never
    // listened is not one of them: nothing ran).
    let mut flaky = std::collections::BTreeSet::new();
    if opts.reruns > 0 {
        let mut s = settings.clone();
        s.program_dir = program_dir.to_path_buf();
        for r in results.iter_mut() {
            let rerun = r.status == Status::Failed
                && r.failure.as_ref().is_some_and(|f| {
                    f.kind != FailureKind::NeverListened
                        && !f.detail.as_deref().unwrap_or("").starts_with("not run:")
                });
            let Some(sc) = scenarios
                .iter()
                .find(|sc| sc.name == r.name)
                .filter(|_| rerun)
            else {
                continue;
            };
            let mut passed = 0;
            for _ in 0..opts.reruns {
                let again = run::run_all(std::slice::from_ref(sc), &s, 1, |_| {});
                passed += again
                    .results
                    .iter()
                    .filter(|a| a.status == Status::Passed)
                    .count() as u32;
            }
            if passed > 0 {
                let runs = opts.reruns + 1;
                let note = format!(
                    "passed {passed} of {runs} runs: the outcome depends on timing ({RACE_CAUSES}); {}",
                    if opts.flaky_credit { "its points are given (--flaky-credit full)" } else { "it counts as failed (--flaky-credit none)" }
                );
                if let Some(f) = r.failure.as_mut() {
                    f.detail = Some(match f.detail.take() {
                        Some(d) => format!("{note}; this run: {d}"),
                        None => note,
                    });
                }
                flaky.insert(r.name.clone());
            }
        }
    }
    let score = results
        .iter()
        .filter(|r| r.status == Status::Passed || (opts.flaky_credit && flaky.contains(&r.name)))
        .filter_map(|r| scenarios.iter().find(|s| s.name == r.name))
        .map(|s| s.meta.weight)
        // A float sum of nothing is -0.0: start from +0.0.
        .fold(0.0, |a, b| a + b);
    Ok(Graded {
        name,
        build,
        results,
        score,
        max_score,
        flaky: flaky.into_iter().collect(),
        duration: started.elapsed(),
    })
}

/// Copies a folder recursively; symbolic links are copied as links (never followed,
/// so a submission cannot pull in files from outside itself). With `owner`, `to` and
/// everything made in it are given to that uid and gid (links themselves, not targets).
fn copy_tree(from: &Path, to: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    let give = |path: &Path| match owner {
        Some((uid, gid)) => std::os::unix::fs::lchown(path, Some(uid), Some(gid)),
        None => Ok(()),
    };
    give(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst, owner)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
            give(&dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)?;
            give(&dst)?;
        }
    }
    Ok(())
}

/// Runs the build command in `dir`, sandboxed like the programs, with a deadline.
/// In a sandbox with a mount namespace the build writes to an overlay on the
/// scenario's bounded tmpfs (so `--disk-limit` bounds it too), and a successful build's
/// folder is copied out into `out`, given to `owner`: then the second value is true.
/// Without one it writes into `dir` itself.
fn build(
    command: &str,
    (dir, out, owner): (&Path, &Path, Option<(u32, u32)>),
    settings: &Settings,
    timeout: Duration,
) -> (BuildResult, bool) {
    let started = Instant::now();
    let failed = |status: String, log: String| BuildResult {
        command: command.to_string(),
        ok: false,
        status,
        log,
        duration: started.elapsed(),
    };
    let sandbox = match &settings.sandbox {
        None => None,
        Some(spec) => match spec.open(settings.timeout, Some(dir)) {
            Ok(sb) => Some(sb),
            Err(e) => return (failed("not run".into(), format!("sockspec: {e}")), false),
        },
    };
    let join = sandbox
        .as_ref()
        .zip(settings.sandbox.as_ref())
        .map(|(sb, spec)| sb.join(&spec.exe, Some(spec.limits)).for_program());
    let unbound = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut p = match Program::spawn(
        "build",
        command.to_string(),
        unbound,
        (dir, ChildStdio::Pipes),
        join,
    ) {
        Ok(p) => p,
        Err(e) => {
            let _ = sandbox.map(|sb| sb.close(true));
            return (failed("not run".into(), e.to_string()), false);
        }
    };
    p.close_stdin();
    let status = p.wait(Instant::now() + timeout, &settings.cancel);
    // Let the pipe threads take the last words before reading them.
    let drained = Instant::now() + settings.grace;
    for stderr in [false, true] {
        p.wait_output(stderr, |_| None, drained, &settings.cancel);
    }
    let mut log = p.captured(false);
    log.extend_from_slice(&p.captured(true));
    let flooded = p.flooded();
    let (_, killed) = p.close(settings.grace, status.is_none());
    let mut ok = status.is_some_and(|s| s.success());
    let mut copied = false;
    let mut notes = Vec::new();
    if let Some(sb) = sandbox {
        let hit = sb.limits_hit();
        notes.extend(limit_notes(&hit));
        if let (true, Some(view)) = (ok, sb.folder_view()) {
            match copy_tree(&view, out, owner) {
                Ok(()) => copied = true,
                Err(e) => {
                    ok = false;
                    notes.push(format!("copying what the build made failed: {e}"));
                }
            }
        }
        sb.close(killed || status.is_none());
    }
    let text = String::from_utf8_lossy(&log);
    let log = tail_chars(text.trim_end(), BUILD_LOG_TAIL);
    let mut status_text = match (status, flooded) {
        (_, Some(limit)) => format!("printed more than {limit} bytes and was stopped"),
        (Some(s), None) => crate::signals::describe_status(s),
        (None, None) => format!("did not finish within {} s", timeout.as_secs()),
    };
    if !notes.is_empty() {
        status_text = format!("{status_text}; {}", notes.join("; "));
    }
    let result = BuildResult {
        command: command.to_string(),
        ok,
        status: status_text,
        log,
        duration: started.elapsed(),
    };
    (result, copied)
}

fn tail_chars(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let rest: String = text.chars().skip(n - max).collect();
    format!("…{rest}")
}

/// What a student reads about one scenario: passed, or what failed and what to check.
pub fn student_message(info: &ScenarioInfo, result: Option<&ScenarioResult>) -> String {
    let Some(r) = result else {
        return "Not run: the build failed.".into();
    };
    match r.status {
        Status::Passed => "Passed.".into(),
        Status::Skipped => format!(
            "Skipped: {}",
            r.skip_reason.as_deref().unwrap_or("no reason given")
        ),
        Status::Failed | Status::Error => {
            let mut m = String::new();
            if r.status == Status::Error {
                m.push_str("The harness could not finish this test (not necessarily your program's fault; ask your instructor).\n");
            }
            if let Some(f) = &r.failure {
                m.push_str(&format!("Failed at line {}: {}\n", f.line, f.step));
                m.push_str(&format!("  expected: {}\n", f.expected));
                m.push_str(&format!("  got:      {}\n", f.actual));
                if let Some(d) = &f.detail {
                    let d = d.replace(crate::run::RAISE_TIMEOUT, "");
                    m.push_str(&format!("  note:     {d}\n"));
                }
            }
            let setup = r
                .failure
                .as_ref()
                .is_some_and(|f| f.kind == FailureKind::NeverListened);
            if setup {
                // The scenario's own hint is about what it tests, which never began.
                m.push_str("What to check: the server must listen on the port given on its command line (argv) before anything else can be tested; run it by hand with a port and try `nc 127.0.0.1 PORT`.\n");
            } else if let Some(h) = &info.hint {
                m.push_str(&format!("What to check: {h}\n"));
            }
            m.trim_end().to_string()
        }
    }
}
