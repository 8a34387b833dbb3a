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
    /// Why the probe's sandbox had no wire device (no access to /dev/net/tun, ...);
    /// `None` when it had one.
    pub wire_problem: Option<String>,
    /// Network settings of every scenario's namespace (`--sysctl net.ipv4.tcp_sack=0`):
    /// a Linux with a setting changed is a target of its own.
    pub sysctls: Vec<(String, String)>,
}

impl SandboxSpec {
    /// Probes this machine with one sandbox, closed again: the spec, and the problems
    /// the probe's teardown found.
    pub fn probe(
        exe: PathBuf,
        limits: Limits,
        sysctls: Vec<(String, String)>,
    ) -> Result<(SandboxSpec, Vec<String>), SandboxError> {
        let probe = Sandbox::create(&exe, Duration::from_secs(10), &limits, None, &sysctls)?;
        let mount_problem = probe.mount_problem().map(str::to_string);
        let wire_problem = probe.wire().err().map(str::to_string);
        let problems = probe.close(false);
        let spec = SandboxSpec {
            exe,
            limits,
            mount_problem,
            wire_problem,
            sysctls,
        };
        Ok((spec, problems))
    }

    /// A scenario's sandbox, showing `folder` as its program folder. Where the probe
    /// made a mount namespace, a sandbox that cannot make its own (a program folder an
    /// overlay cannot take) is an error, never a quiet loss of containment.
    pub fn open(&self, timeout: Duration, folder: Option<&Path>) -> Result<Sandbox, SandboxError> {
        let sandbox = Sandbox::create(&self.exe, timeout, &self.limits, folder, &self.sysctls)?;
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

/// What the user asked of the sandbox (`--sandbox auto|require`; `off` asks nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Isolate where this machine can, and say once where it cannot.
    Auto,
    /// Isolate fully, or refuse to run.
    Require,
}

/// The sandbox a run will use, decided by one probe.
#[derive(Debug)]
pub struct Chosen {
    /// `None`: this machine cannot make namespaces and `Auto` runs without.
    pub spec: Option<SandboxSpec>,
    /// What the user should know (`warning: ...`, `note: ...`), one line each.
    pub notices: Vec<String>,
}

impl Chosen {
    /// What to say when the selected scenarios play on the wire (`needs_wire`) and this
    /// machine gives the sandbox none: with [`Want::Require`] a refusal, else a note
    /// that those scenarios will be skipped. Nothing when no wire is needed.
    pub fn wire_check(&self, want: Want, needs_wire: bool) -> Result<Option<String>, String> {
        if !needs_wire {
            return Ok(None);
        }
        let why = match &self.spec {
            None => "there is no sandbox".to_string(),
            Some(spec) => match &spec.wire_problem {
                None => return Ok(None),
                Some(why) => format!("the sandbox has no wire device ({why})"),
            },
        };
        if want == Want::Require {
            return Err(format!(
                "--sandbox require, but {why}: wire scenarios cannot run"
            ));
        }
        Ok(Some(format!("note: {why}: wire scenarios are skipped")))
    }
}

/// Probes once and decides: with [`Want::Auto`], a machine that cannot make namespaces
/// gets one clear note and a run without them; with [`Want::Require`], an error.
pub fn choose(
    want: Want,
    limits: Limits,
    sysctls: Vec<(String, String)>,
) -> Result<Chosen, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("failed to find the sockspec binary for the sandbox: {e}"))?;
    let asked_settings = !sysctls.is_empty();
    match SandboxSpec::probe(exe, limits, sysctls) {
        Ok((spec, problems)) => {
            let mut notices: Vec<String> = problems
                .into_iter()
                .map(|p| format!("warning: sandbox probe: {p}"))
                .collect();
            if let Some(why) = &spec.mount_problem {
                if want == Want::Require {
                    return Err(format!(
                        "--sandbox require, but the sandbox cannot make a mount namespace ({why})"
                    ));
                }
                notices.push(format!(
                    "note: the sandbox has no mount namespace ({why}): programs and adapters see the host's \
                     files and Unix sockets as the user running sockspec does, and --disk-limit does not apply"
                ));
            }
            Ok(Chosen {
                spec: Some(spec),
                notices,
            })
        }
        Err(e @ SandboxError::Sysctl(_)) => Err(e.to_string()),
        Err(e) if want == Want::Require => Err(format!("--sandbox require, but {e}")),
        // Settings of a namespace that cannot be made would be silently lost.
        Err(e) if asked_settings => Err(format!("--sysctl needs the sandbox, but {e}")),
        Err(e) => Ok(Chosen {
            spec: None,
            notices: vec![format!(
                "note: running without a sandbox ({e}): scenarios share this machine's loopback, adapters run \
                 without resource limits, and their child processes are not contained; \
                 enable unprivileged user namespaces or run as root to isolate, or pass --sandbox off to silence this"
            )],
        }),
    }
}
