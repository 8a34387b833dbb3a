//! The JSON report: one document for the whole run.

use crate::run::{RunReport, Status};
use serde_json::json as j;

/// The version of the JSON report's shape; bumped when a field changes meaning.
pub const SCHEMA: u32 = 1;

pub fn json(report: &RunReport) -> String {
    let doc = j!({
        "schema": SCHEMA,
        "sockspec": env!("CARGO_PKG_VERSION"),
        "target": report.target,
        "implementation": report.implementation,
        "profile": report.profile,
        "duration_ms": (report.duration.as_secs_f64() * 1e6).round() / 1e3,
        "interrupted": report.interrupted,
        "summary": {
            "total": report.results.len(),
            "passed": report.count(Status::Passed),
            "failed": report.count(Status::Failed),
            "skipped": report.count(Status::Skipped),
            "errors": report.count(Status::Error),
        },
        "scenarios": report.results,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("reports serialize");
    text.push('\n');
    text
}
