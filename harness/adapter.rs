//! Where socket operations execute.
//!
//! A [`Session`] is one conversation in the adapter protocol: requests go in, responses
//! come back in any order. Two kinds exist: the built-in reference adapter on the Linux
//! kernel ([`reference`], in-process, also served on stdin/stdout by `sockspec adapter`)
//! and an external adapter process ([`external`]). The runner sees only `Session`, so a
//! scenario runs identically against both.

mod external;
pub mod reference;
mod session;
pub mod stdio;

pub use external::External;
pub use session::{Fault, RequestSender, Session};

use crate::sandbox::{Sandbox, SandboxSpec};
use std::path::Path;
use std::time::Duration;

/// `'EXE' adapter`, quoted for `/bin/sh`.
fn reference_command(exe: &Path) -> String {
    format!(
        "'{}' adapter",
        exe.display().to_string().replace('\'', r"'\''")
    )
}

/// What the scenarios run against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// The reference adapter inside the harness process.
    Reference,
    /// A command that speaks the adapter protocol on stdin/stdout, run by `/bin/sh -c`.
    Adapter { command: String },
}

impl TargetSpec {
    /// Starts a fresh session: one per scenario, so no state leaks between scenarios.
    /// In a sandbox the reference runs as `sockspec adapter` inside it, since this
    /// process's threads cannot enter the scenario's namespaces.
    pub fn open(
        &self,
        grace: Duration,
        sandbox: Option<(&Sandbox, &SandboxSpec)>,
    ) -> Result<Box<dyn Session>, Fault> {
        match (self, sandbox) {
            (TargetSpec::Reference, None) => Ok(Box::new(reference::InProcess::new())),
            (TargetSpec::Adapter { command }, None) => {
                Ok(Box::new(External::spawn(command, grace, None)?))
            }
            (TargetSpec::Reference, Some((sb, spec))) => {
                let join = sb.join(&spec.exe, Some(spec.limits));
                Ok(Box::new(External::spawn(
                    &reference_command(&spec.exe),
                    grace,
                    Some(join),
                )?))
            }
            (TargetSpec::Adapter { command }, Some((sb, spec))) => {
                let join = sb.join(&spec.exe, Some(spec.limits));
                Ok(Box::new(External::spawn(command, grace, Some(join))?))
            }
        }
    }

    /// The peer: the reference, in this process or (sandboxed) as a process inside.
    pub fn open_peer(
        grace: Duration,
        sandbox: Option<(&Sandbox, &SandboxSpec)>,
    ) -> Result<Box<dyn Session>, Fault> {
        match sandbox {
            None => Ok(Box::new(reference::InProcess::new())),
            Some((sb, spec)) => {
                let join = sb.join(&spec.exe, None);
                Ok(Box::new(External::spawn(
                    &reference_command(&spec.exe),
                    grace,
                    Some(join),
                )?))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Reference => "the Linux reference (in-process)".to_string(),
            TargetSpec::Adapter { command } => format!("adapter `{command}`"),
        }
    }
}
