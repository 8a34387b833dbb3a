//! Resource limits of a sandboxed adapter (setrlimit between fork and exec), and the
//! harness-side cap on what it may print.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time: SIGXCPU at the limit, SIGKILL a second later (RLIMIT_CPU).
    pub cpu: Duration,
    /// Private writable memory, heap and thread stacks included (RLIMIT_DATA).
    pub memory: u64,
    /// Open file descriptors (RLIMIT_NOFILE).
    pub open_files: u64,
    /// Processes and threads of the scenario's user namespace (RLIMIT_NPROC).
    pub processes: u64,
    /// Bytes the adapter may print on stdout and stderr together; also the largest file
    /// it may write (RLIMIT_FSIZE).
    pub output: u64,
    /// Bytes the whole scenario may write: the size of its tmpfs (see `mounts`).
    pub disk: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: Duration::from_secs(60),
            memory: 1 << 30,
            open_files: 1024,
            processes: 512,
            output: 64 << 20,
            disk: 256 << 20,
        }
    }
}

impl Limits {
    /// Applies the limits to the calling process; with `address_space`, the memory
    /// limit binds the address space too (RLIMIT_AS: where no memory cgroup counts
    /// shared mappings). Only async-signal-safe calls: this runs between fork and exec.
    pub fn apply(&self, address_space: bool) -> std::io::Result<()> {
        let set = |resource, soft: u64, hard: u64| {
            // A limit can only be lowered: stay within the current hard limit.
            let max = getrlimit(resource).maximum.unwrap_or(u64::MAX);
            let limit = Rlimit {
                current: Some(soft.min(max)),
                maximum: Some(hard.min(max)),
            };
            setrlimit(resource, limit).map_err(std::io::Error::from)
        };
        let cpu = self.cpu.as_secs().max(1);
        set(Resource::Cpu, cpu, cpu + 1)?;
        set(Resource::Data, self.memory, self.memory)?;
        if address_space {
            set(Resource::As, self.memory, self.memory)?;
        }
        set(Resource::Nofile, self.open_files, self.open_files)?;
        set(Resource::Nproc, self.processes, self.processes)?;
        set(Resource::Fsize, self.output, self.output)?;
        Ok(())
    }
}
