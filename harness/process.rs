//! Processes the harness starts and watches, below the sandbox and the adapters.
//!
//! [`GroupChild`] is the one child-process type: an adapter, a program under test and
//! (later) a user-space stack under test are each a process group whose stdin is fed
//! by a thread, whose stdout and stderr are drained by threads against one output
//! limit, and whose end is stdin EOF, then SIGTERM to the group after a grace period,
//! then SIGKILL. How the command is started (a plain shell, or the sandbox's
//! trampoline) is the caller's: it hands over a prepared `Command`.

mod group;
mod terminal;
mod wait;

pub use group::{ChildStdio, GroupChild, Leftover, Sink, StdinError, StdinHandle};
pub use wait::{stat_state_and_group, wait_exit};
