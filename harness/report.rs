//! Report formats. Each takes a finished [`RunReport`](crate::run::RunReport) and
//! writes one document; the human format also renders single results as they finish.
//!
//! - human: one line per scenario, then each failure with its step, expectation,
//!   outcome and the rule it checks, then a summary line;
//! - json: the whole report, stable field names (see `docs/reports.md`);
//! - junit: JUnit XML, one `<testcase>` per scenario, one `<testsuite>` per topic;
//! - tap: TAP version 13 with YAML diagnostics.

mod human;
mod json;
mod junit;
mod tap;
mod xml;

pub use human::Human;
pub use json::json;
pub use junit::junit;
pub use tap::tap;

/// The formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
    Tap,
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
