//! How a run isolates its scenarios: what the probe at its start found, and opening
//! each scenario's sandbox to match it.

use super::{Limits, Sandbox, SandboxError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a run isolates its scenarios.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSpec {
    /// The `sockspec` binary: runs `sandbox-init` and the reference adapter.
    pub exe: PathBuf,
    pub limits: Limits,
    /// Why the probe could make no mount namespace; `None` when it could.
    pub mount_problem: Option<String>,
}

impl SandboxSpec {
    /// Probes this machine with one sandbox, closed again: the spec, and the problems
    /// the probe's teardown found.
    pub fn probe(exe: PathBuf, limits: Limits) -> Result<(SandboxSpec, Vec<String>), SandboxError> {
        let probe = Sandbox::create(&exe, Duration::from_secs(10), &limits, None)?;
        let mount_problem = probe.mount_problem().map(str::to_string);
        let problems = probe.close(false);
        let spec = SandboxSpec {
            exe,
            limits,
            mount_problem,
        };
        Ok((spec, problems))
    }

    /// A scenario's sandbox, showing `folder` as its program folder. Where the probe
    /// made a mount namespace, a sandbox that cannot make its own (a program folder an
    /// overlay cannot take) is an error, never a quiet loss of containment.
    pub fn open(&self, timeout: Duration, folder: Option<&Path>) -> Result<Sandbox, SandboxError> {
        let sandbox = Sandbox::create(&self.exe, timeout, &self.limits, folder)?;
        match sandbox.mount_problem() {
            Some(why) if self.mount_problem.is_none() => {
                let why = why.to_string();
                sandbox.close(false);
                Err(SandboxError::Mounts(why))
            }
            _ => Ok(sandbox),
        }
    }
}
