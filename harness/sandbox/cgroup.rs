//! A memory cgroup per scenario, where the machine lets us make one.
//!
//! Why: RLIMIT_DATA does not count shared anonymous memory (`mmap(MAP_SHARED |
//! MAP_ANONYMOUS)` reached 5.6 GB resident under a 1 GiB limit), and RLIMIT_AS counts
//! address space a runtime only reserves (a JVM or V8 reserves gigabytes it never
//! touches). A memory cgroup counts what is resident, however it was allocated, tmpfs
//! pages included, for every process of the scenario together; at the limit the kernel
//! kills a process in it and counts an `oom_kill`, which the verdict reports.
//!
//! Both hierarchies occur: cgroup v1 (a `memory` controller mount; here, hybrid) and v2
//! (a `cgroup2` mount whose `cgroup.controllers` lists `memory`). The scenario's cgroup
//! is a child of the harness's own. Where neither works (no privilege, no delegation,
//! v2's "no internal processes" rule) the sandbox falls back to RLIMIT_AS on programs
//! under test (see [`super::Join::enter`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The name prefix of every cgroup sockspec makes: `sockspec-PID-N`.
pub const PREFIX: &str = "sockspec-";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// Where scenario cgroups go: the harness's own memory cgroup.
#[derive(Debug)]
struct Base {
    dir: PathBuf,
    version: Version,
}

/// One scenario's memory cgroup, removed on drop (when empty).
#[derive(Debug)]
pub struct MemoryCgroup {
    dir: PathBuf,
    version: Version,
}

/// The harness's memory cgroup, if scenario cgroups can be made below it. Probed once.
fn base() -> Option<&'static Base> {
    static BASE: OnceLock<Option<Base>> = OnceLock::new();
    BASE.get_or_init(|| {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let found = find_base(&own, &mounts)?;
        // Can we make a child and set its limit? (Privilege, delegation, v2's rule.)
        let probe = MemoryCgroup::make(&found, 64 << 20).ok()?;
        drop(probe);
        Some(found)
    })
    .as_ref()
}

/// The memory cgroup folder of this process from `/proc/self/cgroup` and
/// `/proc/self/mountinfo`: v1's `memory` controller first, else v2's unified tree.
fn find_base(own: &str, mountinfo: &str) -> Option<Base> {
    let mount_of = |fstype: &str, option: Option<&str>| {
        mountinfo.lines().find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut r = right.split_whitespace();
            let (fs, _src, opts) = (r.next()?, r.next()?, r.next().unwrap_or(""));
            let point = left.split_whitespace().nth(4)?;
            (fs == fstype && option.is_none_or(|o| opts.split(',').any(|x| x == o)))
                .then(|| PathBuf::from(point))
        })
    };
    for line in own.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        if controllers.split(',').any(|c| c == "memory") {
            let point = mount_of("cgroup", Some("memory"))?;
            return Some(Base {
                dir: point.join(path.trim_start_matches('/')),
                version: Version::V1,
            });
        }
    }
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let point = mount_of("cgroup2", None)?;
    let dir = point.join(path.trim_start_matches('/'));
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
    controllers
        .split_whitespace()
        .any(|c| c == "memory")
        .then_some(Base {
            dir,
            version: Version::V2,
        })
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(text.as_bytes())
}

impl MemoryCgroup {
    /// A new scenario cgroup limited to `limit` bytes, or `None` where none can be made.
    pub fn create(limit: u64) -> Option<MemoryCgroup> {
        MemoryCgroup::make(base()?, limit).ok()
    }

    fn make(base: &Base, limit: u64) -> std::io::Result<MemoryCgroup> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.dir.join(format!("{PREFIX}{}-{n}", std::process::id()));
        if base.version == Version::V2 {
            // Children get the memory controller only if the parent hands it down.
            write(&base.dir.join("cgroup.subtree_control"), "+memory")?;
        }
        std::fs::create_dir(&dir)?;
        let cg = MemoryCgroup {
            dir,
            version: base.version,
        };
        match cg.version {
            Version::V1 => {
                write(&cg.dir.join("memory.limit_in_bytes"), &limit.to_string())?;
                // Memory and swap together, where swap is accounted: no escape to swap.
                let memsw = cg.dir.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, &limit.to_string())?;
                }
            }
            Version::V2 => {
                write(&cg.dir.join("memory.max"), &limit.to_string())?;
                let swap = cg.dir.join("memory.swap.max");
                if swap.exists() {
                    write(&swap, "0")?;
                }
            }
        }
        Ok(cg)
    }

    /// `cgroup.procs`, open for writing: a child writes `0` to it between fork and
    /// exec to enter the cgroup (its children follow).
    pub fn procs(&self) -> std::io::Result<File> {
        OpenOptions::new()
            .write(true)
            .open(self.dir.join("cgroup.procs"))
    }

    /// Puts a process in the cgroup.
    pub fn add(&self, pid: u32) -> std::io::Result<()> {
        write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    /// How many processes the kernel killed for the limit so far.
    pub fn oom_kills(&self) -> u64 {
        let file = match self.version {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        std::fs::read_to_string(self.dir.join(file))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Fails while a process is still in it (an interrupted run that did not wait):
        // the sweep at the next start removes it.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Removes the cgroups of harnesses that are gone (SIGKILLed): `sockspec-PID-N` below
/// our memory cgroup whose PID no longer runs, and which are empty.
pub fn sweep() {
    let Some(base) = base() else { return };
    let Ok(entries) = std::fs::read_dir(&base.dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = super::owner::owner_pid(&name.to_string_lossy(), PREFIX) else {
            continue;
        };
        if !super::owner::alive(pid) {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_v1_memory_controller_of_a_hybrid_machine() {
        let own = "9:name=systemd:/\n4:memory:/ci/job\n0::/\n";
        let mounts = "34 25 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
                      40 25 0:36 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let b = find_base(own, mounts).expect("found");
        assert_eq!(b.version, Version::V1);
        assert_eq!(b.dir, PathBuf::from("/sys/fs/cgroup/memory/ci/job"));
    }

    #[test]
    fn without_v1_memory_looks_at_v2_controllers() {
        // A v2 folder that cannot be read (not this machine's) lists no controllers.
        let own = "0::/nowhere-sockspec-test\n";
        let mounts = "40 25 0:36 / /nonexistent-cgroup2 rw - cgroup2 cgroup2 rw\n";
        assert!(find_base(own, mounts).is_none());
    }
}
