//! The terminal report.

use crate::run::{RunReport, ScenarioResult, Settings, Status};
use anstyle::{AnsiColor, Style};
use std::fmt::Write;
use std::time::Duration;

/// Renders results for people; `color` adds ANSI colours (off for NO_COLOR and pipes).
#[derive(Debug, Clone, Copy)]
pub struct Human {
    pub color: bool,
    /// Also list each executed step of failed scenarios.
    pub verbose: bool,
}

const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

/// Control characters from adapters never reach the terminal raw (they could move the
/// cursor or recolour the screen): they are shown as `\u{1}`.
fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn ms(d: Duration) -> String {
    format!("{:>5} ms", d.as_millis())
}

impl Human {
    /// The line a run starts with: how many scenarios, against what, how.
    pub fn run_header(&self, scenarios: usize, settings: &Settings, jobs: usize) -> String {
        format!(
            "running {scenarios} scenario{} against {}, profile {}, {jobs} job{}",
            if scenarios == 1 { "" } else { "s" },
            settings.describe_target(),
            settings.profile,
            if jobs == 1 { "" } else { "s" }
        )
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn status(&self, s: Status) -> String {
        let style = match s {
            Status::Passed => GREEN,
            Status::Failed | Status::Error => RED,
            Status::Skipped => YELLOW,
        };
        self.paint(style, &format!("{:>5}", s.label()))
    }

    /// The line printed when a scenario finishes.
    pub fn result_line(&self, r: &ScenarioResult) -> String {
        let mut line = format!("{} [{}] {}", self.status(r.status), ms(r.duration), r.name);
        if let Some(reason) = &r.skip_reason {
            line.push_str(&self.paint(DIM, &format!(" ({})", safe(reason))));
        }
        line
    }

    /// Each failure in detail, then the summary line.
    pub fn summary(&self, report: &RunReport) -> String {
        let mut out = String::new();
        let bad: Vec<&ScenarioResult> = report
            .results
            .iter()
            .filter(|r| matches!(r.status, Status::Failed | Status::Error))
            .collect();
        for r in &bad {
            out.push('\n');
            out.push_str(&self.failure(r));
        }
        let leaks: Vec<String> = report
            .results
            .iter()
            .flat_map(|r| r.teardown.iter().map(move |t| format!("{}: {t}", r.name)))
            .collect();
        if !leaks.is_empty() {
            let _ = writeln!(out, "\n{}", self.paint(YELLOW, "teardown problems:"));
            for l in leaks {
                let _ = writeln!(out, "  {}", safe(&l));
            }
        }
        let counts = format!(
            "{} passed, {} failed, {} skipped, {}",
            report.count(Status::Passed),
            report.count(Status::Failed),
            report.count(Status::Skipped),
            plural(report.count(Status::Error), "error")
        );
        let style = if report.all_passed() { GREEN } else { RED };
        let _ = writeln!(
            out,
            "\n{} in {:.2} s against {}{}, profile {}",
            self.paint(style.bold(), &counts),
            report.duration.as_secs_f64(),
            report.target,
            report
                .implementation
                .as_ref()
                .map(|i| format!(" [{i}]"))
                .unwrap_or_default(),
            report.profile
        );
        if report.interrupted {
            let _ = writeln!(
                out,
                "{}",
                self.paint(
                    YELLOW,
                    "the run was interrupted: scenarios not listed did not run"
                )
            );
        }
        out
    }

    /// One failed or errored scenario, in the shape of a compiler error.
    pub fn failure(&self, r: &ScenarioResult) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {}: {}",
            self.status(r.status).trim_start(),
            self.paint(BOLD, &r.name),
            r.title
        );
        let Some(f) = &r.failure else {
            return out;
        };
        let gutter = f.line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {}:{}:{}", r.path.display(), f.line, f.column);
        if !f.step.is_empty() {
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{} | {}", f.line, safe(&f.step));
            let _ = writeln!(out, "{pad} |");
        }
        let _ = writeln!(
            out,
            "{pad} = expected: {}",
            self.paint(GREEN, &safe(&f.expected))
        );
        let _ = writeln!(
            out,
            "{pad} =      got: {}",
            self.paint(RED, &safe(&f.actual))
        );
        if let Some(d) = &f.detail {
            let _ = writeln!(out, "{pad} =     note: {}", safe(d));
        }
        if !r.refs.is_empty() {
            let _ = writeln!(out, "{pad} =     rule: {}", r.refs.join("; "));
        }
        if let Some(pcap) = &r.pcap {
            let _ = writeln!(out, "{pad} =     pcap: {}", pcap.display());
        }
        if self.verbose {
            let _ = writeln!(out, "{pad} =    steps:");
            for s in &r.steps {
                let mark = if s.passed { "ok " } else { "BAD" };
                let _ = writeln!(
                    out,
                    "{pad}     {mark} {:>3} | {}  => {}",
                    s.line,
                    safe(&s.step),
                    safe(&s.outcome)
                );
            }
        }
        out
    }
}
