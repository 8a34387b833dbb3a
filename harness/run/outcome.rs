//! What a run produces, the input of every report format.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
    /// The harness or the adapter broke (crash, protocol violation): no verdict on the
    /// implementation's behaviour.
    Error,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::Skipped => "SKIP",
            Status::Error => "ERROR",
        }
    }
}

/// What kind of thing went wrong, for callers that decide by it (grading reports a
/// program that never listened once for all scenarios) and for report consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A step's outcome is not what the scenario expects.
    Expectation,
    /// A program under test never listened on its port, so the scenario never began.
    NeverListened,
    /// The adapter broke the protocol, died, or could not start.
    Adapter,
    /// The harness itself failed (a bug in sockspec).
    Harness,
    /// A submission did not build (grading).
    Build,
}

/// Why a scenario did not pass, located at the step that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub line: u32,
    pub column: u32,
    /// The step as written.
    pub step: String,
    pub expected: String,
    pub actual: String,
    /// One sentence that explains, e.g. the adapter's last exchange for an error.
    /// Always present in JSON (null when there is none): consumers script against keys.
    pub detail: Option<String>,
}

/// One executed step, for verbose and JSON reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub line: u32,
    pub step: String,
    pub outcome: String,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub path: PathBuf,
    pub title: String,
    pub tags: Vec<String>,
    pub refs: Vec<String>,
    pub status: Status,
    #[serde(
        rename = "duration_ms",
        serialize_with = "millis",
        deserialize_with = "from_millis"
    )]
    pub duration: Duration,
    /// Null unless failed or error. Like every key here, always present in JSON.
    pub failure: Option<Failure>,
    /// Null unless skipped.
    pub skip_reason: Option<String>,
    pub steps: Vec<StepRecord>,
    /// Problems found at teardown (threads or processes that would not stop); `[]`.
    pub teardown: Vec<String>,
    /// The pcap file of what crossed the scenario's wire (`--pcap DIR`); null when
    /// none was written.
    pub pcap: Option<PathBuf>,
}

impl ScenarioResult {
    /// A passing result with nothing run yet: the scenario's identity and metadata.
    pub fn new(scenario: &crate::script::Scenario) -> Self {
        ScenarioResult {
            name: scenario.name.clone(),
            path: scenario.path.clone(),
            title: scenario.meta.title.clone(),
            tags: scenario.meta.tags.clone(),
            refs: scenario.meta.refs.clone(),
            status: Status::Passed,
            duration: Duration::ZERO,
            failure: None,
            skip_reason: None,
            pcap: None,
            steps: Vec::new(),
            teardown: Vec::new(),
        }
    }
}

/// A whole run, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub target: String,
    pub implementation: Option<String>,
    pub profile: String,
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    pub results: Vec<ScenarioResult>,
    /// True when the run was interrupted before every scenario ran.
    pub interrupted: bool,
}

impl RunReport {
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }
    pub fn all_passed(&self) -> bool {
        !self.interrupted
            && self
                .results
                .iter()
                .all(|r| matches!(r.status, Status::Passed | Status::Skipped))
    }
}

/// A duration in JSON: milliseconds, to the microsecond.
pub fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

/// The other way, for reports read back (grading shards merged).
pub fn from_millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let ms = f64::deserialize(d)?;
    Duration::try_from_secs_f64(ms / 1e3).map_err(serde::de::Error::custom)
}
