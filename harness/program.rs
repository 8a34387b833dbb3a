//! Programs under test as black boxes: a student's echo server, a chat server, a client.
//!
//! A scenario starts a program in a role the user binds to a command
//! (`--program server='./server {port}'`), then watches it from outside: its socket
//! tables, its stdin, stdout and stderr, and how it ends. Nothing here speaks the
//! adapter protocol; the harness talks to the program through ordinary peer sockets.
//!
//! Why this shape:
//! - "Is it listening yet?" is read from `/proc/PID/net/tcp{,6}` of the scenario's own
//!   network namespace ([`tables`]), not probed with a connection: a probe would be
//!   the program's first client, and an iterative server would serve it instead of
//!   the scenario's. The tables have no change notification, so the wait polls them on
//!   a short interval until a deadline; that is the one wait here without an event.
//! - Output is captured on threads into buffers with a condition variable: an output
//!   step waits for the text to appear (or the stream to close) and never sleeps.
//! - Exit statuses come back through the sandbox trampoline unchanged (same code, same
//!   signal), and [`explain`] turns them into a sentence a student can act on.

mod child;
pub mod explain;
pub mod inspect;
pub mod tables;

pub use child::{Captured, Program, SpawnError};
