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
pub use session::{Fault, Session};

use std::time::Duration;

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
    pub fn open(&self, grace: Duration) -> Result<Box<dyn Session>, Fault> {
        match self {
            TargetSpec::Reference => Ok(Box::new(reference::InProcess::new())),
            TargetSpec::Adapter { command } => Ok(Box::new(External::spawn(command, grace)?)),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Reference => "the Linux reference (in-process)".to_string(),
            TargetSpec::Adapter { command } => format!("adapter `{command}`"),
        }
    }
}
