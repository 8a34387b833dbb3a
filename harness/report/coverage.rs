//! Coverage by requirement: RFC 9293's MUST requirements (Table 8), each with the
//! scenarios that check it, or the reason none can, or nothing (a gap).
//!
//! Scenarios name requirements in their `refs` ("RFC 9293 3.7.1 MUST-14"), so the map
//! is read from the corpus itself and cannot drift from it. The catalogue
//! (`rfc9293.toml` beside this file) gives each requirement in a few words and says
//! which ones no black-box scenario can observe. Verdicts per target come from a
//! `sockspec compare --format json` report, so coverage costs no run of its own.

use crate::script::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const CATALOGUE: &str = include_str!("rfc9293.toml");

/// One requirement of the catalogue.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Requirement {
    pub label: String,
    pub section: String,
    pub text: String,
    /// Why no scenario can check it, when none can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unobservable: Option<String>,
}

#[derive(Deserialize)]
struct Catalogue {
    requirement: Vec<Requirement>,
}

/// RFC 9293's MUST requirements, in label order.
pub fn catalogue() -> Vec<Requirement> {
    let parsed: Catalogue = toml::from_str(CATALOGUE).expect("rfc9293.toml parses");
    parsed.requirement
}

/// The requirement labels a scenario's refs name: `MUST-14` in any ref that cites
/// RFC 9293.
pub fn labels_in(refs: &[String]) -> Vec<String> {
    let label = regex_lite::Regex::new(r"\bMUST-\d+\b").expect("a valid pattern");
    let mut out: Vec<String> = refs
        .iter()
        .filter(|r| r.contains("9293"))
        .flat_map(|r| label.find_iter(r).map(|m| m.as_str().to_string()))
        .collect();
    out.dedup();
    out
}

/// How each target fared on each scenario: scenario name, then (target, status) in the
/// targets' order.
pub type Verdicts = BTreeMap<String, Vec<(String, String)>>;

/// Reads the verdicts from a `sockspec compare --format json` report.
pub fn verdicts_from_compare(json: &str) -> Result<Verdicts, String> {
    let doc: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not a JSON report: {e}"))?;
    let targets: Vec<String> = doc["targets"]
        .as_array()
        .ok_or("no `targets`: is this a `sockspec compare --format json` report?")?
        .iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    let mut out = Verdicts::new();
    for row in doc["scenarios"].as_array().ok_or("no `scenarios`")? {
        let Some(name) = row["name"].as_str() else {
            continue;
        };
        let cells = targets
            .iter()
            .map(|t| {
                let status = row["results"][t]["status"].as_str().unwrap_or("not run");
                (t.clone(), status.to_string())
            })
            .collect();
        out.insert(name.to_string(), cells);
    }
    Ok(out)
}

/// A requirement with the scenarios that name it.
#[derive(Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub requirement: Requirement,
    pub scenarios: Vec<String>,
}

impl Row {
    pub fn status(&self) -> &'static str {
        if !self.scenarios.is_empty() {
            "checked"
        } else if self.requirement.unobservable.is_some() {
            "unobservable"
        } else {
            "gap"
        }
    }
}

/// The whole map, and the labels scenarios name that the catalogue does not have.
#[derive(Debug, Serialize)]
pub struct Coverage {
    pub requirements: Vec<Row>,
    /// (scenario, label): a typo, or a requirement this catalogue lacks.
    pub unknown: Vec<(String, String)>,
}

impl Coverage {
    pub fn count(&self, status: &str) -> usize {
        self.requirements
            .iter()
            .filter(|r| r.status() == status)
            .count()
    }
}

pub fn coverage(scenarios: &[Scenario]) -> Coverage {
    let mut requirements: Vec<Row> = catalogue()
        .into_iter()
        .map(|requirement| Row {
            requirement,
            scenarios: Vec::new(),
        })
        .collect();
    let mut unknown = Vec::new();
    for s in scenarios {
        for label in labels_in(&s.meta.refs) {
            match requirements
                .iter_mut()
                .find(|r| r.requirement.label == label)
            {
                Some(row) => row.scenarios.push(s.name.clone()),
                None => unknown.push((s.name.clone(), label)),
            }
        }
    }
    Coverage {
        requirements,
        unknown,
    }
}

/// The terminal report: each requirement, its scenarios (with each target's verdict
/// when there are verdicts), then the gaps and a summary.
pub fn human(cov: &Coverage, verdicts: Option<&Verdicts>) -> String {
    let mut out = String::new();
    for row in &cov.requirements {
        let r = &row.requirement;
        let _ = writeln!(
            out,
            "{:<8} {:<10} {}",
            r.label,
            format!("§{}", r.section),
            r.text
        );
        for name in &row.scenarios {
            let cells = verdicts
                .and_then(|v| v.get(name))
                .map(|cells| {
                    cells
                        .iter()
                        .map(|(t, s)| format!("{t} {s}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .map(|c| format!("  [{c}]"))
                .unwrap_or_default();
            let _ = writeln!(out, "         checked by {name}{cells}");
        }
        match (row.status(), &r.unobservable) {
            ("unobservable", Some(why)) => {
                let _ = writeln!(out, "         not observable: {why}");
            }
            ("gap", _) => {
                let _ = writeln!(out, "         GAP: no scenario checks it");
            }
            _ => {}
        }
    }
    for (scenario, label) in &cov.unknown {
        let _ = writeln!(
            out,
            "\nerror: {scenario} names {label}, which RFC 9293's requirement summary does not have"
        );
    }
    let checked: usize = cov
        .requirements
        .iter()
        .map(|r| r.scenarios.len())
        .sum::<usize>();
    let _ = writeln!(
        out,
        "\n{} MUST requirements of RFC 9293: {} checked ({} references from scenarios), {} not observable from outside, {} without a scenario",
        cov.requirements.len(),
        cov.count("checked"),
        checked,
        cov.count("unobservable"),
        cov.count("gap"),
    );
    out
}

/// The JSON report: every requirement with its status, scenarios and, given verdicts,
/// each scenario's status per target.
pub fn json(cov: &Coverage, verdicts: Option<&Verdicts>) -> String {
    let requirements: Vec<serde_json::Value> = cov
        .requirements
        .iter()
        .map(|row| {
            let mut v = serde_json::to_value(row).expect("serialisable");
            v["status"] = row.status().into();
            if let Some(verdicts) = verdicts {
                let mut by_scenario = serde_json::Map::new();
                for name in &row.scenarios {
                    let cells: serde_json::Map<String, serde_json::Value> = verdicts
                        .get(name)
                        .into_iter()
                        .flatten()
                        .map(|(t, s)| (t.clone(), s.clone().into()))
                        .collect();
                    by_scenario.insert(name.clone(), cells.into());
                }
                v["verdicts"] = by_scenario.into();
            }
            v
        })
        .collect();
    let doc = serde_json::json!({
        "requirements": requirements,
        "checked": cov.count("checked"),
        "unobservable": cov.count("unobservable"),
        "gaps": cov.count("gap"),
        "unknown": cov.unknown.iter().map(|(s, l)| serde_json::json!({"scenario": s, "label": l})).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&doc).expect("serialisable") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_every_must_once_in_order() {
        let labels: Vec<String> = catalogue().into_iter().map(|r| r.label).collect();
        let expected: Vec<String> = (1..=69).map(|n| format!("MUST-{n}")).collect();
        assert_eq!(labels, expected);
    }

    #[test]
    fn labels_are_read_from_rfc_9293_refs_only() {
        let refs = vec![
            "RFC 9293 3.8.4 MUST-24, MUST-25".to_string(),
            "RFC 1122 MUST-7 (another RFC's numbering)".to_string(),
            "tcp(7)".to_string(),
        ];
        assert_eq!(labels_in(&refs), ["MUST-24", "MUST-25"]);
    }

    #[test]
    fn verdicts_are_read_from_a_compare_report() {
        let report = r#"{"targets":[{"name":"linux"},{"name":"lwip"}],
            "scenarios":[{"name":"a/b","results":{"linux":{"status":"passed"},"lwip":{"status":"failed"}}}]}"#;
        let v = verdicts_from_compare(report).unwrap();
        assert_eq!(
            v["a/b"],
            [
                ("linux".to_string(), "passed".to_string()),
                ("lwip".to_string(), "failed".to_string())
            ]
        );
        assert!(verdicts_from_compare("{}").is_err());
    }
}
