//! What the harness leaves outside a namespace carries its PID in its name
//! (`PREFIXPID-rest`), so a later harness can tell whose it is and whether the owner
//! still runs. Temporary folders and cgroups both use this.

use std::path::Path;

/// The PID in `PREFIXPID-rest`, if `name` has that form.
pub fn owner_pid(name: &str, prefix: &str) -> Option<i32> {
    let rest = name.strip_prefix(prefix)?;
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok().filter(|p| *p > 0)
}

/// Whether a process with this PID exists (any user's).
pub fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The prefix for a temporary folder of this process: `PREFIXPID-`.
pub fn temp_prefix(prefix: &str) -> String {
    format!("{prefix}{}-", std::process::id())
}
