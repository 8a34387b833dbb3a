//! Per-scenario isolation: a fresh user, network and PID namespace for every scenario,
//! resource limits on the adapter, and a temporary working directory.
//!
//! Why this shape:
//! - Namespaces are made by a small holder process (`sockspec sandbox-init`), not by the
//!   harness: `unshare(CLONE_NEWUSER)` fails in a multi-threaded process, and the holder
//!   is single-threaded. It brings loopback up and forks the PID namespace's init, then
//!   waits for its stdin to close. Closing it (or the harness dying: parent-death signal)
//!   kills init, and with it every process in the namespace, `setsid()` daemons included.
//! - Adapters (the target, and the reference peer) join with `setns` between fork and
//!   exec, where the child is single-threaded. A process that joins a PID namespace
//!   stays outside it and can no longer start threads (clone(CLONE_THREAD) fails), so
//!   the joined process is a trampoline, `sockspec sandbox-exec`, that forks the real
//!   adapter inside the namespace and mirrors its exit. Both share a process group.
//! - A user namespace is made even as root, and as root its uid 0 is mapped to
//!   `nobody` on the host, not to root: the kernel exempts root's own user from
//!   RLIMIT_NPROC in every namespace (fork() checks `real_cred->user != INIT_USER`), so
//!   a fork bomb mapped to root filled the host's PID space (measured: the host's own
//!   shell got EAGAIN from fork). Programs under test and their builds take that uid
//!   between fork and exec ([`Join::for_program`]); then RLIMIT_NPROC counts only this
//!   sandbox's processes of that user, and the program has no owner rights on root's
//!   files. Without root the map can only be the harness's own uid, which RLIMIT_NPROC
//!   binds already. Adapters and the reference peer keep the caller's identity, so
//!   an adapter in a folder only the caller can read still runs.
//! - The fresh network namespace holds only `lo`: a program under test reaches its own
//!   loopback and nothing else, and scenarios running in parallel cannot see each
//!   other's ports (TIME_WAIT included).

mod cgroup;
mod command;
mod holder;
mod join;
mod limits;
pub mod mounts;
mod owner;
pub mod packet_tap;
mod spec;
pub mod stack_link;
pub mod sweep;
mod trampoline;
pub mod wire_link;

pub use command::group_command;
pub use holder::{
    init_main, unprivileged_owner, LimitsHit, Sandbox, SandboxError, UNPRIVILEGED_ID,
};
pub use join::Join;
pub use limits::Limits;
pub use owner::temp_prefix;
pub use spec::{choose, Chosen, SandboxSpec, Want};
pub use trampoline::{cloexec_inherited, exec_main};
