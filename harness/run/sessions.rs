//! Opening what a scenario (or a property case) talks to: the sandbox, if any, the
//! target session and the peer session; and closing all three in the right order.

use super::settings::Settings;
use crate::adapter::{Fault, Session, TargetSpec};
use crate::sandbox::Sandbox;
use std::sync::atomic::Ordering;

pub struct Sessions {
    pub sandbox: Option<Sandbox>,
    /// Absent for scenarios that only start programs and talk to them from the peer.
    pub target: Option<Box<dyn Session>>,
    pub peer: Box<dyn Session>,
}

/// Where opening failed, for the report.
pub struct OpenError {
    pub fault: Fault,
    /// `(creating the sandbox)` or `(starting the adapter)`.
    pub stage: &'static str,
    pub teardown: Vec<String>,
}

impl Sessions {
    /// Opens the sandbox and sessions; `with_programs` when the scenario starts
    /// programs, which then see their folder as an overlay (see `sandbox::mounts`).
    pub fn open(
        settings: &Settings,
        with_target: bool,
        with_programs: bool,
    ) -> Result<Sessions, OpenError> {
        let sandbox = match &settings.sandbox {
            None => None,
            Some(spec) => {
                let folder = with_programs.then(|| {
                    std::path::absolute(&settings.program_dir)
                        .unwrap_or_else(|_| settings.program_dir.clone())
                });
                Some(
                    spec.open(settings.timeout, folder.as_deref())
                        .map_err(|e| OpenError {
                            fault: Fault::Sandbox(std::sync::Arc::new(e)),
                            stage: "(creating the sandbox)",
                            teardown: Vec::new(),
                        })?,
                )
            }
        };
        let boxed = sandbox.as_ref().zip(settings.sandbox.as_ref());
        let opened = with_target
            .then(|| settings.target.open(settings.grace, boxed))
            .transpose()
            .and_then(|t| Ok((t, TargetSpec::open_peer(settings.grace, boxed)?)));
        match opened {
            Ok((target, peer)) => Ok(Sessions {
                sandbox,
                target,
                peer,
            }),
            Err(fault) => Err(OpenError {
                fault,
                stage: "(starting the adapter)",
                teardown: sandbox
                    .map(|sb| sb.close(settings.cancel.load(Ordering::SeqCst)))
                    .unwrap_or_default(),
            }),
        }
    }
}

/// Closes the sandbox after its sessions, which must already be closed. `hurry` must
/// match how the sessions were closed: adapters killed outright leave zombies that only
/// the host reaps, and waiting for the namespace to empty would wait for that.
pub fn close_sandbox(sandbox: Option<Sandbox>, hurry: bool) -> Vec<String> {
    sandbox.map(|sb| sb.close(hurry)).unwrap_or_default()
}
