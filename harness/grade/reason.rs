//! A submission's grade in one line, for the instructor who reads 200 of them: the
//! score and the few causes behind its failures (`13/21: one client at a time; dies of
//! SIGPIPE`), taken from what the failures already say, in the order first seen.

use super::class::Graded;
use super::gradescope::fmt_points;
use crate::run::{FailureKind, Status};

/// What a failure's words reveal, as a short cause; the first pattern found wins.
const CAUSES: &[(&str, &str)] = &[
    (
        "the next accept() overwrote",
        "a race on the descriptor passed to its threads (&sock)",
    ),
    ("serves one client at a time", "one client at a time"),
    (
        "that client does not read",
        "stalls on a client that does not read",
    ),
    ("killed by SIGPIPE", "dies of SIGPIPE"),
    ("never connected", "writes after a failed connect()"),
    ("exited by itself", "stops after a few clients"),
    ("a port the kernel picked", "goes on after a failed bind()"),
    (
        "Address already in use",
        "cannot restart on its port (SO_REUSEADDR)",
    ),
    ("printed more than", "prints in a loop"),
    ("processes (the limit", "forks in a loop"),
    ("instead: take the port", "listens on another port"),
];

const RACE: &str = "a race (passes in some runs only)";

/// `score/max: cause; cause`, or `score/max: all passed`.
pub fn reason(g: &Graded) -> String {
    let points = format!("{}/{}", fmt_points(g.score), fmt_points(g.max_score));
    if g.build_failed() {
        return format!("{points}: build failed");
    }
    let failed: Vec<_> = g
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Failed | Status::Error))
        .collect();
    if failed.is_empty() {
        return format!("{points}: all passed");
    }
    let mut causes: Vec<String> = Vec::new();
    for r in &failed {
        let Some(f) = &r.failure else {
            continue;
        };
        let words = format!(
            "{} {} {}",
            f.actual,
            f.detail.as_deref().unwrap_or(""),
            r.skip_reason.as_deref().unwrap_or("")
        );
        // A scenario that passed in a rerun is a race, whatever this run's failure said.
        let race = g.is_flaky(&r.name).then_some(RACE);
        let cause = race
            .or_else(|| {
                CAUSES
                    .iter()
                    .find(|(cue, _)| words.contains(cue))
                    .map(|(_, cause)| *cause)
            })
            .map(str::to_string)
            .or_else(|| {
                (f.kind == FailureKind::NeverListened)
                    .then(|| "never listened on the given port".to_string())
            })
            .unwrap_or_else(|| format!("fails `{}`", short_name(&r.name)));
        if !causes.contains(&cause) {
            causes.push(cause);
        }
    }
    format!("{points}: {}", causes.join("; "))
}

/// `programs/echo-server/large-transfer` → `large-transfer`.
fn short_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}
