//! Removing what a SIGKILLed harness left behind.
//!
//! A scenario's files live on a tmpfs inside its mount namespace and go with it, so
//! only state outside a namespace can outlive a harness killed with SIGKILL: the
//! temporary folders of `grade` (a submission's copy) and of a sandbox without a mount
//! namespace, and memory cgroups. Each carries the harness's PID in its name
//! (`sockspec-PID-…`, `sockspec-grade-PID-…`); the next harness removes those whose
//! PID no longer runs and that belong to its own user (for root, any user: a grading
//! copy belongs to the sandbox's). A PID that was reused keeps its
//! folders until that process is gone too: conservative, never wrong.

use super::owner::{alive, owner_pid};
use std::path::Path;

/// The name prefixes of temporary folders, each followed by `PID-`.
pub const TEMP_PREFIXES: [&str; 2] = ["sockspec-grade-", "sockspec-"];

/// Removes stale temporary folders in `dir` (normally the system's temp folder) and
/// stale cgroups. Returns what it removed, for a test to check.
pub fn sweep(dir: &Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    super::cgroup::sweep();
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    let me = rustix::process::geteuid().as_raw();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // The longer prefix first: `sockspec-grade-` also starts with `sockspec-`.
        let Some(pid) = TEMP_PREFIXES.iter().find_map(|p| owner_pid(&name, p)) else {
            continue;
        };
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        // Ours, or (for root) given to the sandbox's user, as a grading copy is.
        let owned = meta.uid() == me || me == 0;
        if !meta.is_dir() || !owned || alive(pid) {
            continue;
        }
        if std::fs::remove_dir_all(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_owner_from_a_name() {
        assert_eq!(
            owner_pid("sockspec-grade-42-abc", "sockspec-grade-"),
            Some(42)
        );
        assert_eq!(owner_pid("sockspec-42-xyz", "sockspec-"), Some(42));
        assert_eq!(owner_pid("sockspec-grade-42-abc", "sockspec-"), None);
        assert_eq!(owner_pid("sockspec-abc", "sockspec-"), None);
        assert_eq!(owner_pid("other-42-x", "sockspec-"), None);
    }

    #[test]
    fn removes_only_folders_of_harnesses_that_are_gone() {
        let tmp = tempfile::tempdir().unwrap();
        // PID 0x7fff_fff0 exceeds pid_max on every Linux: never alive.
        let dead = tmp.path().join("sockspec-grade-2147483632-x");
        let live = tmp
            .path()
            .join(format!("sockspec-{}-y", std::process::id()));
        let other = tmp.path().join("unrelated-2147483632-z");
        for d in [&dead, &live, &other] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("f"), "x").unwrap();
        }
        assert_eq!(sweep(tmp.path()), vec![dead.clone()]);
        assert!(!dead.exists() && live.exists() && other.exists());
    }
}
