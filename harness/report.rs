//! Report formats. Each takes a finished [`RunReport`](crate::run::RunReport) and
//! writes one document; the human format also renders single results as they finish.
//!
//! - human: one line per scenario, then each failure with its step, expectation,
//!   outcome and the rule it checks, then a summary line;
//! - json: the whole report, stable field names (see `docs/reports.md`);
//! - junit: JUnit XML, one `<testcase>` per scenario, one `<testsuite>` per topic;
//! - tap: TAP version 13 with YAML diagnostics.

pub mod compare;
pub mod coverage;
mod human;
mod json;
mod junit;
mod live;
mod tap;
mod xml;

pub use human::Human;
pub use json::json;
pub use junit::junit;
pub use live::Live;
pub use tap::tap;

pub use crate::atomic::{write_atomically, write_bytes_atomically};
use crate::run::RunReport;

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Junit,
    Tap,
}

/// The whole report as one document in `format` (the human one without colour).
pub fn render(format: Format, report: &RunReport, verbose: bool) -> String {
    match format {
        Format::Human => Human {
            color: false,
            verbose,
        }
        .summary(report),
        Format::Json => json(report),
        Format::Junit => junit(report),
        Format::Tap => tap(report),
    }
}

/// Escapes text for HTML element content and attribute values (the XML rules, which
/// HTML accepts).
pub fn escape_html(s: &str) -> String {
    xml::escape_text(s)
}

/// `expected X, got Y`: the one-line form of a failure, used by machine formats.
pub fn one_line(f: &crate::run::Failure) -> String {
    format!(
        "line {}: `{}`: expected {}, got {}",
        f.line, f.step, f.expected, f.actual
    )
}
