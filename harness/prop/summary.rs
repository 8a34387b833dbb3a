//! What `prop stream` prints: a header, one line per case when verbose, and the
//! outcome with the seed and the command that replays it.

use super::case::StreamCase;
use super::runner::{PropConfig, PropOutcome};
use super::stream::StreamError;

/// The first line: what runs against what.
pub fn header(target: &str, cfg: &PropConfig) -> String {
    format!(
        "stream integrity against {target}: {} cases up to {} bytes, seed {}",
        cfg.cases, cfg.max_len, cfg.seed
    )
}

/// One case and its verdict, for `--verbose`.
pub fn case_line(case: &StreamCase, result: &Result<(), StreamError>) -> String {
    let verdict = match result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("FAILED: {e}"),
    };
    format!("  {}: {verdict}", case.describe())
}

/// The first line of `prop reassembly`.
pub fn reassembly_header(
    target: &str,
    cfg: &PropConfig,
    bounds: &crate::prop::segments::Bounds,
) -> String {
    let rcvbuf = bounds
        .rcvbuf
        .map(|n| format!(", a third with a {n}-byte receive buffer"))
        .unwrap_or_default();
    format!(
        "reassembly against {target}: {} cases up to {} bytes in up to {} segments of up to {} bytes{rcvbuf}, seed {}",
        cfg.cases, bounds.max_len, bounds.max_segments, bounds.max_segment, cfg.seed
    )
}

/// One case of `prop reassembly` or `prop retransmission` and its verdict, for
/// `--verbose`.
pub fn reassembly_line(
    case: &impl Described,
    result: &Result<(), crate::prop::deliver::ReassemblyError>,
) -> String {
    let verdict = match result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("FAILED: {e}"),
    };
    format!("  {}: {verdict}", case.describe())
}

/// The command that runs the same cases of `prop COMMAND` again.
pub fn replay(command: &str, cfg: &PropConfig, adapter: Option<&str>) -> String {
    let base = format!(
        "sockspec prop {command} --seed {} --cases {}",
        cfg.seed, cfg.cases
    );
    match adapter {
        Some(cmd) => format!("{base} --adapter '{cmd}'"),
        None => base,
    }
}

/// The flags of bounds other than the defaults, for a replay command: the same seed
/// makes other cases under other bounds.
pub fn bounds_flags(bounds: &crate::prop::segments::Bounds) -> String {
    let default = crate::prop::segments::Bounds::default();
    let mut out = String::new();
    if bounds.max_len != default.max_len {
        out.push_str(&format!(" --max-len {}", bounds.max_len));
    }
    if bounds.max_segments != default.max_segments {
        out.push_str(&format!(" --max-segments {}", bounds.max_segments));
    }
    if bounds.max_segment != default.max_segment {
        out.push_str(&format!(" --max-segment {}", bounds.max_segment));
    }
    if let Some(n) = bounds.rcvbuf {
        out.push_str(&format!(" --rcvbuf {n}"));
    }
    out
}

/// How the run ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    Interrupted,
    Error,
}

/// The outcome in words: what goes to stdout, what goes to stderr, and the verdict.
/// A case that says what it is in a line.
pub trait Described {
    fn describe(&self) -> String;
}

impl Described for StreamCase {
    fn describe(&self) -> String {
        StreamCase::describe(self)
    }
}

impl Described for crate::prop::acks::SendCase {
    fn describe(&self) -> String {
        crate::prop::acks::SendCase::describe(self)
    }
}

impl Described for crate::prop::segments::ReassemblyCase {
    fn describe(&self) -> String {
        crate::prop::segments::ReassemblyCase::describe(self)
    }
}

pub fn outcome<C: Described>(
    outcome: &PropOutcome<C>,
    cfg: &PropConfig,
    replay: &str,
) -> (String, String, Verdict) {
    let seed = cfg.seed;
    match outcome {
        PropOutcome::Passed { cases, elapsed } => (
            format!(
                "{cases} passed, 0 failed in {:.2} s (seed {seed})\n",
                elapsed.as_secs_f64()
            ),
            String::new(),
            Verdict::Passed,
        ),
        PropOutcome::Failed {
            minimal,
            reason,
            cases_before,
            shrink_steps,
            shrink_time,
            scenario,
            story,
        } => {
            let mut out = format!(
                "FAIL after {cases_before} passing case{} (seed {seed})\n",
                if *cases_before == 1 { "" } else { "s" }
            );
            out.push_str(&format!(
                "minimal case, after {shrink_steps} shrink steps in {:.2} s:\n",
                shrink_time.as_secs_f64()
            ));
            out.push_str(&format!("  {}\n", minimal.describe()));
            if !story.is_empty() {
                out.push_str("as it went (sequence numbers from the harness's ISN):\n");
                for line in story {
                    out.push_str(&format!("  {line}\n"));
                }
            }
            out.push_str(&format!("what went wrong:\n  {reason}\n"));
            out.push_str(&format!("replay: {replay}\n"));
            match scenario {
                Some(path) => out.push_str(&format!(
                    "scenario written: {} (run it with `sockspec run`)\n",
                    path.display()
                )),
                None if cfg.scenario_dir.is_some() => {
                    out.push_str("the minimal case is too large to write as a scenario\n")
                }
                None => {}
            }
            (out, String::new(), Verdict::Failed)
        }
        PropOutcome::Interrupted => (
            String::new(),
            format!("interrupted (seed {seed})\n"),
            Verdict::Interrupted,
        ),
        PropOutcome::Error(e) => (String::new(), format!("error: {e}\n"), Verdict::Error),
    }
}
