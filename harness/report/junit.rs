//! JUnit XML as CI systems read it (Jenkins, GitLab, GitHub test reporters): one
//! `<testsuite>` per topic (the scenario's first path component), one `<testcase>`
//! per scenario; failures carry the one-line cause as `message` and the whole
//! explanation as text.

use super::xml::{escape, escape_text};
use crate::run::{RunReport, ScenarioResult, Status};
use std::collections::BTreeMap;
use std::fmt::Write;

fn secs(d: std::time::Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn topic(r: &ScenarioResult) -> &str {
    r.name.split('/').next().unwrap_or(&r.name)
}

fn counts<'a>(rs: impl Iterator<Item = &'a ScenarioResult> + Clone) -> String {
    let n = |s: Status| rs.clone().filter(|r| r.status == s).count();
    format!(
        "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
        rs.clone().count(),
        n(Status::Failed),
        n(Status::Error),
        n(Status::Skipped)
    )
}

pub fn junit(report: &RunReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sockspec\" {} time=\"{}\">",
        counts(report.results.iter()),
        secs(report.duration)
    );
    let mut topics: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in &report.results {
        topics.entry(topic(r)).or_default().push(r);
    }
    for (name, rs) in topics {
        let time: std::time::Duration = rs.iter().map(|r| r.duration).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" {} time=\"{}\">",
            escape(name),
            counts(rs.iter().copied()),
            secs(time)
        );
        let _ = writeln!(out, "    <properties>");
        for (k, v) in [
            ("target", Some(&report.target)),
            ("implementation", report.implementation.as_ref()),
            ("profile", Some(&report.profile)),
        ] {
            if let Some(v) = v {
                let _ = writeln!(
                    out,
                    "      <property name=\"{k}\" value=\"{}\"/>",
                    escape(v)
                );
            }
        }
        let _ = writeln!(out, "    </properties>");
        for r in rs {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\" file=\"{}\"",
                escape(&r.name),
                escape(&format!("sockspec.{name}")),
                secs(r.duration),
                escape(&r.path.display().to_string())
            );
            if let Some(f) = &r.failure {
                let _ = write!(out, " line=\"{}\"", f.line);
            }
            out.push_str(">\n");
            match (r.status, &r.failure) {
                (Status::Failed | Status::Error, Some(f)) => {
                    let tag = if r.status == Status::Failed {
                        "failure"
                    } else {
                        "error"
                    };
                    let mut body = format!(
                        "{}\n{}:{}: {}\nexpected: {}\n     got: {}\n",
                        r.title,
                        r.path.display(),
                        f.line,
                        f.step,
                        f.expected,
                        f.actual
                    );
                    if let Some(d) = &f.detail {
                        let _ = writeln!(body, "    note: {d}");
                    }
                    if !r.refs.is_empty() {
                        let _ = writeln!(body, "    rule: {}", r.refs.join("; "));
                    }
                    let _ = writeln!(
                        out,
                        "      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>",
                        escape(&super::one_line(f)),
                        if r.status == Status::Failed {
                            "mismatch"
                        } else {
                            "adapter"
                        },
                        escape_text(&body)
                    );
                }
                (Status::Skipped, _) => {
                    let _ = writeln!(
                        out,
                        "      <skipped message=\"{}\"/>",
                        escape(r.skip_reason.as_deref().unwrap_or("skipped"))
                    );
                }
                _ => {}
            }
            if !r.steps.is_empty() || r.pcap.is_some() {
                let mut log: String = r
                    .steps
                    .iter()
                    .map(|s| format!("{:>4} | {}  => {}\n", s.line, s.step, s.outcome))
                    .collect();
                // Jenkins' and GitLab's JUnit readers attach a file named this way.
                if let Some(pcap) = &r.pcap {
                    let _ = writeln!(log, "[[ATTACHMENT|{}]]", pcap.display());
                }
                let _ = writeln!(out, "      <system-out>{}</system-out>", escape_text(&log));
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
