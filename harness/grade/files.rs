//! Every grading report on disk: `report.html`, `scores.csv`, `grades.json`,
//! `results/NAME/results.json` (Gradescope) and `junit/NAME.xml`, each written
//! atomically so a reader never sees half a file.

use super::class::{BuildResult, ClassReport};
use super::{csv, gradescope, html};
use crate::report::{self, write_atomically};
use crate::run::{self, FailureKind, ScenarioResult, Status};
use std::path::{Path, PathBuf};

/// Writes every grade report under `out`.
pub fn write_reports(out: &Path, class: &ClassReport) -> std::io::Result<()> {
    std::fs::create_dir_all(out.join("results"))?;
    std::fs::create_dir_all(out.join("junit"))?;
    write_atomically(&out.join("report.html"), &html(class))?;
    write_atomically(&out.join("scores.csv"), &csv(class))?;
    let json = serde_json::to_string_pretty(class).expect("reports serialize") + "\n";
    write_atomically(&out.join("grades.json"), &json)?;
    for g in &class.submissions {
        let safe: String = g
            .name
            .chars()
            .map(|c| if c == '/' || c == '\0' { '_' } else { c })
            .collect();
        let dir = out.join("results").join(&safe);
        std::fs::create_dir_all(&dir)?;
        write_atomically(&dir.join("results.json"), &gradescope(class, g))?;
        let mut results = g.results.clone();
        if let Some(b) = g.build.as_ref().filter(|b| !b.ok) {
            // JUnit consumers see the failed build as a failing test case.
            results.push(b.as_scenario_result());
        }
        let run = run::RunReport {
            target: format!("submission {}", g.name),
            implementation: Some(g.name.clone()),
            profile: "linux".into(),
            duration: g.duration,
            results,
            interrupted: false,
        };
        write_atomically(
            &out.join("junit").join(format!("{safe}.xml")),
            &report::junit(&run),
        )?;
    }
    Ok(())
}

impl BuildResult {
    /// A failed build as a failing scenario named `build`, for JUnit consumers.
    pub fn as_scenario_result(&self) -> ScenarioResult {
        ScenarioResult {
            name: "build".into(),
            path: PathBuf::new(),
            title: format!("`{}` builds the submission", self.command),
            tags: vec!["build".into()],
            refs: Vec::new(),
            status: Status::Failed,
            duration: self.duration,
            failure: Some(run::Failure {
                kind: FailureKind::Build,
                line: 0,
                column: 0,
                step: self.command.clone(),
                expected: "exit status 0".into(),
                actual: self.status.clone(),
                detail: Some(self.log.clone()),
            }),
            skip_reason: None,
            steps: Vec::new(),
            teardown: Vec::new(),
            pcap: None,
        }
    }
}
