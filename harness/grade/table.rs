//! The class at a glance: a terminal table (submissions by scenarios) and CSV.

use super::class::ClassReport;
use super::gradescope::fmt_points;
use crate::run::Status;
use anstyle::AnsiColor;

/// One mark per scenario: `✓` passed, `✗` failed, `~` failed but passed in a rerun (its
/// outcome depends on timing), `!` harness error, `-` not run.
pub fn table(class: &ClassReport, color: bool) -> String {
    let paint = |color_of: AnsiColor, s: &str| {
        if color {
            let style = color_of.on_default();
            format!("{style}{s}{style:#}")
        } else {
            s.to_string()
        }
    };
    let name_w = class
        .submissions
        .iter()
        .map(|g| g.name.chars().count())
        .max()
        .unwrap_or(10)
        .clamp(10, 32);
    let max = fmt_points(class.max_score());
    let score_w = 2 * max.len() + 1;
    let mut out = format!("{:<name_w$}  {:>score_w$}  ", "submission", "score");
    for i in 1..=class.scenarios.len() {
        out.push_str(&format!("{i:>2} "));
    }
    out = out.trim_end().to_string() + "\n";
    for g in &class.submissions {
        let name: String = g.name.chars().take(name_w).collect();
        let score = format!("{}/{max}", fmt_points(g.score));
        out.push_str(&format!("{name:<name_w$}  {score:>score_w$}  "));
        if g.build_failed() {
            out.push_str(&paint(AnsiColor::Red, "build failed"));
        } else {
            for s in &class.scenarios {
                let mark = match g.result(&s.name).map(|r| r.status) {
                    Some(Status::Passed) => paint(AnsiColor::Green, " ✓"),
                    Some(Status::Failed) if g.is_flaky(&s.name) => paint(AnsiColor::Yellow, " ~"),
                    Some(Status::Failed) => paint(AnsiColor::Red, " ✗"),
                    Some(Status::Error) => paint(AnsiColor::Yellow, " !"),
                    Some(Status::Skipped) | None => " -".to_string(),
                };
                out.push_str(&mark);
                out.push(' ');
            }
        }
        out = out.trim_end().to_string() + "\n";
    }
    out.push('\n');
    if class.submissions.iter().any(|g| !g.flaky.is_empty()) {
        out.push_str("~ failed, then passed in a rerun: the outcome depends on timing\n\n");
    }
    for (i, s) in class.scenarios.iter().enumerate() {
        out.push_str(&format!(
            "{:>2} {} ({} pt{})\n",
            i + 1,
            s.name,
            fmt_points(s.weight),
            if s.weight == 1.0 { "" } else { "s" }
        ));
    }
    out
}

/// `submission,score,max_score,build,<scenario>...`; each scenario column holds the
/// points earned. Fields are quoted when they need it (RFC 4180).
pub fn csv(class: &ClassReport) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut header = vec![
        "submission".to_string(),
        "score".into(),
        "max_score".into(),
        "build".into(),
    ];
    header.extend(class.scenarios.iter().map(|s| quote(&s.name)));
    // Last, so the points per scenario stay where scripts expect them.
    header.push("reason".into());
    let mut out = header.join(",") + "\n";
    for g in &class.submissions {
        let build = match &g.build {
            None => "none",
            Some(b) if b.ok => "ok",
            Some(_) => "failed",
        };
        let mut row = vec![
            quote(&g.name),
            fmt_points(g.score),
            fmt_points(g.max_score),
            build.to_string(),
        ];
        for s in &class.scenarios {
            let passed = g
                .result(&s.name)
                .is_some_and(|r| r.status == Status::Passed);
            let credited = passed || (class.flaky_credit && g.is_flaky(&s.name));
            row.push(fmt_points(if credited { s.weight } else { 0.0 }));
        }
        row.push(quote(&super::reason(g)));
        out.push_str(&(row.join(",") + "\n"));
    }
    out
}
