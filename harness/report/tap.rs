//! TAP version 13, with a YAML diagnostic block under each failing test. YAML strings
//! are written as JSON strings, which YAML reads as they are.

use crate::run::{RunReport, Status};
use std::fmt::Write;

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

pub fn tap(report: &RunReport) -> String {
    let mut out = String::from("TAP version 13\n");
    let _ = writeln!(out, "1..{}", report.results.len());
    for (i, r) in report.results.iter().enumerate() {
        let n = i + 1;
        // `#` starts a directive in TAP, so a name must not carry one.
        let name = r.name.replace('#', "_");
        match r.status {
            Status::Passed => {
                let _ = writeln!(out, "ok {n} - {name}");
            }
            Status::Skipped => {
                let reason = r
                    .skip_reason
                    .as_deref()
                    .unwrap_or("skipped")
                    .replace('\n', " ");
                let _ = writeln!(out, "ok {n} - {name} # SKIP {reason}");
            }
            Status::Failed | Status::Error => {
                let _ = writeln!(out, "not ok {n} - {name}");
                out.push_str("  ---\n");
                let _ = writeln!(out, "  title: {}", q(&r.title));
                let _ = writeln!(
                    out,
                    "  severity: {}",
                    if r.status == Status::Failed {
                        "fail"
                    } else {
                        "error"
                    }
                );
                if let Some(f) = &r.failure {
                    let _ = writeln!(
                        out,
                        "  at: {}",
                        q(&format!("{}:{}:{}", r.path.display(), f.line, f.column))
                    );
                    let _ = writeln!(out, "  step: {}", q(&f.step));
                    let _ = writeln!(out, "  expected: {}", q(&f.expected));
                    let _ = writeln!(out, "  got: {}", q(&f.actual));
                    if let Some(d) = &f.detail {
                        let _ = writeln!(out, "  note: {}", q(d));
                    }
                }
                if !r.refs.is_empty() {
                    let _ = writeln!(out, "  rule: {}", q(&r.refs.join("; ")));
                }
                out.push_str("  ...\n");
            }
        }
    }
    out
}
