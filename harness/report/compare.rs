//! The differential report: the same scenarios run against several targets, one table
//! of scenario by target, and each difference named in one line per target that did
//! not do what the others did (expected against got, at the step that decided it).
//!
//! A scenario is a difference when its targets' statuses are not all the same: that is
//! where two implementations disagree, which is what a stack author reads first. A
//! scenario every target fails alike is a common failure, listed apart.

use crate::run::{RunReport, ScenarioResult, Status};
use serde::Serialize;
use std::fmt::Write as _;

/// One target's run.
pub struct TargetRun {
    /// The name the user gave it (`--target NAME=CMD`).
    pub name: String,
    pub report: RunReport,
    /// The differences accepted for this target, by scenario name, with their reasons
    /// (`--known NAME=FILE`).
    pub known: Vec<Known>,
}

/// An accepted difference: this target is known to differ on this scenario, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Known {
    pub scenario: String,
    pub reason: String,
}

/// A file of known differences: `[[difference]]` tables with `scenario` and `reason`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFile {
    #[serde(default)]
    pub difference: Vec<Known>,
}

/// What the run's verdict rests on: differences nobody accepted, and accepted ones
/// that no longer happen (the file must be updated: a fixed bug must not hide a
/// regression later, as gVisor's packetimpact insists).
pub struct Verdict<'a> {
    pub unexpected: Vec<(&'a str, &'a str)>,
    pub stale: Vec<(&'a str, &'a Known)>,
    /// Differences that a known-differences file accepts.
    pub known: usize,
}

impl Verdict<'_> {
    pub fn clean(&self) -> bool {
        self.unexpected.is_empty() && self.stale.is_empty()
    }
}

/// Sorts each differing target of each scenario into known or unexpected, and finds
/// the known differences that did not happen.
pub fn verdict(runs: &[TargetRun]) -> Verdict<'_> {
    let rows = rows(runs);
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    for (i, t) in runs.iter().enumerate() {
        for k in &t.known {
            // Listed, run, and no longer a difference of this target.
            if let Some(row) = rows.iter().find(|r| r.name == k.scenario) {
                let failed = matches!(row.results[i].status, Status::Failed | Status::Error);
                if !(row.differs() && failed) {
                    stale.push((t.name.as_str(), k));
                }
            }
        }
    }
    // In a scenario the targets disagree on, each target that ran it and failed differs.
    let mut known = 0;
    for row in rows.iter().filter(|r| r.differs()) {
        for (t, r) in runs.iter().zip(&row.results) {
            if !matches!(r.status, Status::Failed | Status::Error) {
                continue;
            }
            if t.known.iter().any(|k| k.scenario == row.name) {
                known += 1;
            } else {
                unexpected.push((row.name, t.name.as_str()));
            }
        }
    }
    Verdict {
        unexpected,
        stale,
        known,
    }
}

/// A scenario's results across targets, in the targets' order.
pub struct Row<'a> {
    pub name: &'a str,
    pub results: Vec<&'a ScenarioResult>,
}

impl Row<'_> {
    /// Whether the targets that ran this scenario disagree about it. A target that
    /// skipped it (a capability it lacks, a wire it has not) says nothing either way.
    pub fn differs(&self) -> bool {
        let ran: Vec<Status> = self
            .results
            .iter()
            .map(|r| r.status)
            .filter(|s| *s != Status::Skipped)
            .collect();
        ran.windows(2).any(|w| w[0] != w[1])
    }

    /// Whether every target failed it (or erred), alike.
    pub fn fails_everywhere(&self) -> bool {
        !self.differs()
            && self
                .results
                .first()
                .is_some_and(|r| matches!(r.status, Status::Failed | Status::Error))
    }
}

/// The rows of scenarios every target ran, in the first target's order.
pub fn rows(runs: &[TargetRun]) -> Vec<Row<'_>> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .report
        .results
        .iter()
        .filter_map(|r| {
            let results: Option<Vec<&ScenarioResult>> = runs
                .iter()
                .map(|t| t.report.results.iter().find(|x| x.name == r.name))
                .collect();
            results.map(|results| Row {
                name: &r.name,
                results,
            })
        })
        .collect()
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Passed => "pass",
        Status::Failed => "FAIL",
        Status::Skipped => "skip",
        Status::Error => "ERROR",
    }
}

/// What a target did with a scenario, in one line.
fn said(r: &ScenarioResult) -> String {
    match (&r.failure, r.status) {
        (Some(f), _) => super::one_line(f),
        (None, Status::Skipped) => format!(
            "skipped: {}",
            r.skip_reason.as_deref().unwrap_or("no reason given")
        ),
        (None, status) => mark(status).to_lowercase(),
    }
}

/// The terminal report: a header per target, the table of the scenarios that differ
/// (every scenario with `all`), then each difference in words and a summary.
pub fn human(runs: &[TargetRun], all: bool) -> String {
    let mut out = String::new();
    let rows = rows(runs);
    for t in runs {
        let _ = writeln!(
            out,
            "{}: {} [{}]: {} passed, {} failed, {} skipped, {} errors in {:.2} s",
            t.name,
            t.report.target,
            t.report
                .implementation
                .as_deref()
                .unwrap_or("no answer to hello"),
            t.report.count(Status::Passed),
            t.report.count(Status::Failed),
            t.report.count(Status::Skipped),
            t.report.count(Status::Error),
            t.report.duration.as_secs_f64(),
        );
    }
    let shown: Vec<&Row> = rows.iter().filter(|r| all || r.differs()).collect();
    if !shown.is_empty() {
        let width = shown.iter().map(|r| r.name.len()).max().unwrap_or(8).max(8);
        let mut header = format!("\n{:<width$}", "scenario");
        for t in runs {
            let w = t.name.len().max(6);
            let _ = write!(header, "  {:<w$}", t.name);
        }
        let _ = writeln!(out, "{}", header.trim_end());
        for row in &shown {
            let mut line = format!("{:<width$}", row.name);
            for (t, r) in runs.iter().zip(&row.results) {
                let w = t.name.len().max(6);
                let _ = write!(line, "  {:<w$}", mark(r.status));
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let differing: Vec<&Row> = rows.iter().filter(|r| r.differs()).collect();
    if !differing.is_empty() {
        out.push_str("\ndifferences:\n");
        for row in &differing {
            for (t, r) in runs.iter().zip(&row.results) {
                if matches!(r.status, Status::Passed | Status::Skipped) {
                    continue;
                }
                let _ = writeln!(out, "  {}: {}: {}", row.name, t.name, said(r));
                if let Some(k) = t.known.iter().find(|k| k.scenario == row.name) {
                    let _ = writeln!(out, "    known: {}", k.reason);
                }
            }
        }
    }
    let judged = verdict(runs);
    if !judged.stale.is_empty() {
        out.push_str("\nknown differences that no longer happen (remove them from the file):\n");
        for (target, k) in &judged.stale {
            let _ = writeln!(out, "  {}: {}: {}", k.scenario, target, k.reason);
        }
    }
    let common: Vec<&Row> = rows.iter().filter(|r| r.fails_everywhere()).collect();
    if !common.is_empty() {
        out.push_str("\nfailing on every target:\n");
        for row in &common {
            let _ = writeln!(out, "  {}: {}", row.name, said(row.results[0]));
        }
    }
    let _ =
        writeln!(
        out,
        "\n{} scenario{} on {} targets: {} differ ({} known, {} not), {} fail on every target{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        runs.len(),
        differing.len(),
        judged.known,
        judged.unexpected.len(),
        common.len(),
        if judged.stale.is_empty() {
            String::new()
        } else {
            format!(", {} known differences no longer happen", judged.stale.len())
        }
    );
    out
}

#[derive(Serialize)]
struct JsonTarget<'a> {
    name: &'a str,
    target: &'a str,
    implementation: Option<&'a str>,
    passed: usize,
    failed: usize,
    skipped: usize,
    errors: usize,
    /// The target's run's wall time: each target runs the corpus alone, one after the
    /// other, so these compare the stacks' speed.
    duration_ms: f64,
}

#[derive(Serialize)]
struct JsonCell<'a> {
    status: Status,
    failure: Option<&'a crate::run::Failure>,
    skip_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    name: &'a str,
    differs: bool,
    /// By target name, in the targets' order.
    results: serde_json::Map<String, serde_json::Value>,
}

/// The JSON report: targets with their counts, then every scenario with each target's
/// status and failure, and whether they differ.
pub fn json(runs: &[TargetRun]) -> String {
    let targets: Vec<JsonTarget> = runs
        .iter()
        .map(|t| JsonTarget {
            name: &t.name,
            target: &t.report.target,
            implementation: t.report.implementation.as_deref(),
            passed: t.report.count(Status::Passed),
            failed: t.report.count(Status::Failed),
            skipped: t.report.count(Status::Skipped),
            errors: t.report.count(Status::Error),
            duration_ms: t.report.duration.as_secs_f64() * 1000.0,
        })
        .collect();
    let rows = rows(runs);
    let scenarios: Vec<JsonRow> = rows
        .iter()
        .map(|row| {
            let mut results = serde_json::Map::new();
            for (t, r) in runs.iter().zip(&row.results) {
                let cell = JsonCell {
                    status: r.status,
                    failure: r.failure.as_ref(),
                    skip_reason: r.skip_reason.as_deref(),
                };
                results.insert(
                    t.name.clone(),
                    serde_json::to_value(&cell).expect("a cell serializes"),
                );
            }
            JsonRow {
                name: row.name,
                differs: row.differs(),
                results,
            }
        })
        .collect();
    let differences = rows.iter().filter(|r| r.differs()).count();
    let judged = verdict(runs);
    let unexpected: Vec<serde_json::Value> = judged
        .unexpected
        .iter()
        .map(|(scenario, target)| serde_json::json!({"scenario": scenario, "target": target}))
        .collect();
    let stale: Vec<serde_json::Value> = judged
        .stale
        .iter()
        .map(|(target, k)| {
            serde_json::json!({"scenario": k.scenario, "target": target, "reason": k.reason})
        })
        .collect();
    let document = serde_json::json!({
        "targets": targets,
        "scenarios": scenarios,
        "differences": differences,
        "unexpected": unexpected,
        "stale": stale,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("the report serializes");
    text.push('\n');
    text
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:80em;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.2em .5em}
td.name{text-align:left}td.passed{background:#dfd}td.failed{background:#fdd}td.error{background:#ffd}
td.skipped{background:#eee}td.known{background:#fec}li{margin:.3em 0}.muted{color:#666}";

const SCRIPT: &str = "(function(){
var box=document.getElementById('only');var rows=[].slice.call(document.querySelectorAll('tr.scenario'));
var shown=document.getElementById('shown');
function apply(){var n=0;rows.forEach(function(r){var on=!box.checked||r.dataset.differs==='yes';
r.hidden=!on;if(on)n++;});shown.textContent=n+' of '+rows.length+' scenarios shown';}
box.addEventListener('change',apply);apply();document.body.dataset.ready='yes';})();";

/// One self-contained HTML page: the targets, the table of every scenario by target
/// (a box shows only those that differ), then each difference in words. Inline style
/// and script only, so the file can be mailed or opened offline.
pub fn html(runs: &[TargetRun]) -> String {
    use super::escape_html as esc;
    let rows = rows(runs);
    let judged = verdict(runs);
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>sockspec compare</title>\n",
    );
    let _ = write!(h, "<style>{STYLE}</style></head>\n<body>\n<h1>");
    let names: Vec<String> = runs.iter().map(|t| esc(&t.name)).collect();
    let _ = write!(h, "{}</h1>\n<ul>\n", names.join(" vs "));
    for t in runs {
        let _ = writeln!(
            h,
            "<li><b>{}</b>: {} [{}]: {} passed, {} failed, {} skipped, {} errors</li>",
            esc(&t.name),
            esc(&t.report.target),
            esc(t
                .report
                .implementation
                .as_deref()
                .unwrap_or("no answer to hello")),
            t.report.count(Status::Passed),
            t.report.count(Status::Failed),
            t.report.count(Status::Skipped),
            t.report.count(Status::Error),
        );
    }
    let differing = rows.iter().filter(|r| r.differs()).count();
    let _ = writeln!(
        h,
        "</ul>\n<p>{} scenarios: {differing} differ, {} unexpectedly; {} known differences no longer happen. <span id=\"shown\" class=\"muted\"></span></p>",
        rows.len(),
        judged.unexpected.len(),
        judged.stale.len()
    );
    h.push_str("<p><label><input type=\"checkbox\" id=\"only\" checked> only the scenarios that differ</label></p>\n");
    h.push_str("<table><thead><tr><th>scenario</th>");
    for n in &names {
        let _ = write!(h, "<th>{n}</th>");
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for row in &rows {
        let _ = write!(
            h,
            "<tr class=\"scenario\" data-differs=\"{}\"><td class=\"name\">{}</td>",
            if row.differs() { "yes" } else { "no" },
            esc(row.name)
        );
        for (t, r) in runs.iter().zip(&row.results) {
            let known = t.known.iter().any(|k| k.scenario == row.name)
                && matches!(r.status, Status::Failed | Status::Error);
            let class = if known {
                "known"
            } else {
                match r.status {
                    Status::Passed => "passed",
                    Status::Failed => "failed",
                    Status::Skipped => "skipped",
                    Status::Error => "error",
                }
            };
            let _ = write!(
                h,
                "<td class=\"{class}\" title=\"{}\">{}</td>",
                esc(&said(r)),
                if known { "known" } else { mark(r.status) }
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n<h2>Differences</h2>\n<ul>\n");
    for row in rows.iter().filter(|r| r.differs()) {
        for (t, r) in runs.iter().zip(&row.results) {
            if !matches!(r.status, Status::Failed | Status::Error) {
                continue;
            }
            let _ = write!(
                h,
                "<li><b>{}</b>: {}: {}",
                esc(row.name),
                esc(&t.name),
                esc(&said(r))
            );
            if let Some(k) = t.known.iter().find(|k| k.scenario == row.name) {
                let _ = write!(
                    h,
                    "<br><span class=\"muted\">known: {}</span>",
                    esc(&k.reason)
                );
            }
            h.push_str("</li>\n");
        }
    }
    h.push_str("</ul>\n");
    if !judged.stale.is_empty() {
        h.push_str("<h2>Known differences that no longer happen</h2>\n<ul>\n");
        for (target, k) in &judged.stale {
            let _ = writeln!(
                h,
                "<li><b>{}</b>: {}: {}</li>",
                esc(&k.scenario),
                esc(target),
                esc(&k.reason)
            );
        }
        h.push_str("</ul>\n");
    }
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Failure, FailureKind};
    use std::path::PathBuf;
    use std::time::Duration;

    fn result(name: &str, status: Status) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            path: PathBuf::from(format!("{name}.scn")),
            title: name.into(),
            tags: vec![],
            refs: vec![],
            status,
            duration: Duration::ZERO,
            failure: (status == Status::Failed).then(|| Failure {
                kind: FailureKind::Expectation,
                line: 7,
                column: 1,
                step: "recv(s, 5) -> \"hello\"".into(),
                expected: "\"hello\"".into(),
                actual: "\"hell\"".into(),
                detail: None,
            }),
            skip_reason: None,
            steps: vec![],
            teardown: vec![],
            pcap: None,
        }
    }

    fn run(name: &str, results: Vec<ScenarioResult>) -> TargetRun {
        TargetRun {
            name: name.into(),
            known: Vec::new(),
            report: RunReport {
                target: format!("adapter `{name}`"),
                implementation: Some(format!("{name} 1.0")),
                profile: "linux".into(),
                duration: Duration::ZERO,
                results,
                interrupted: false,
            },
        }
    }

    #[test]
    fn a_difference_is_named_per_target_and_a_common_failure_apart() {
        let runs = [
            run(
                "linux",
                vec![
                    result("a/same", Status::Passed),
                    result("a/differs", Status::Passed),
                    result("a/broken", Status::Failed),
                ],
            ),
            run(
                "stack",
                vec![
                    result("a/same", Status::Passed),
                    result("a/differs", Status::Failed),
                    result("a/broken", Status::Failed),
                ],
            ),
        ];
        let text = human(&runs, false);
        assert!(
            text.contains("\nscenario   linux   stack\na/differs  pass    FAIL\n"),
            "{text}"
        );
        assert!(!text.contains("a/same  "), "{text}");
        assert!(text.contains(
            "differences:\n  a/differs: stack: line 7: `recv(s, 5) -> \"hello\"`: expected \"hello\", got \"hell\"\n"
        ));
        assert!(
            text.contains("failing on every target:\n  a/broken: line 7:"),
            "{text}"
        );
        assert!(text.ends_with(
            "3 scenarios on 2 targets: 1 differ (0 known, 1 not), 1 fail on every target\n"
        ));
        let doc: serde_json::Value = serde_json::from_str(&json(&runs)).unwrap();
        assert_eq!(doc["differences"], 1);
        assert_eq!(doc["scenarios"][1]["results"]["stack"]["status"], "failed");
        assert_eq!(doc["scenarios"][1]["differs"], true);
        assert_eq!(doc["targets"][1]["failed"], 2);
        assert_eq!(doc["unexpected"][0]["target"], "stack");
    }

    #[test]
    fn a_target_that_skipped_a_scenario_does_not_differ_on_it() {
        let runs = [
            run("linux", vec![result("w/wire", Status::Passed)]),
            run("stack", vec![result("w/wire", Status::Skipped)]),
        ];
        assert!(!rows(&runs)[0].differs());
        assert!(verdict(&runs).clean());
    }

    #[test]
    fn known_differences_are_accepted_strictly() {
        let known = |scenario: &str| Known {
            scenario: scenario.into(),
            reason: "no SO_LINGER".into(),
        };
        let mut stack = run(
            "stack",
            vec![
                result("a/differs", Status::Failed),
                result("a/fixed", Status::Passed),
            ],
        );
        stack.known = vec![known("a/differs"), known("a/fixed")];
        let runs = [
            run(
                "linux",
                vec![
                    result("a/differs", Status::Passed),
                    result("a/fixed", Status::Passed),
                ],
            ),
            stack,
        ];
        let judged = verdict(&runs);
        assert!(judged.unexpected.is_empty());
        // a/fixed passes now: the known difference is stale, and that fails the run.
        assert_eq!(judged.stale.len(), 1);
        assert_eq!(judged.stale[0].1.scenario, "a/fixed");
        assert!(!judged.clean());
        let text = human(&runs, false);
        assert!(text.contains("    known: no SO_LINGER\n"), "{text}");
        assert!(
            text.contains("no longer happen (remove them from the file):\n  a/fixed: stack:"),
            "{text}"
        );
    }
}
