//! The interface between the runner and a target, and the ways a target can misbehave.

use crate::protocol::{Request, Response};
use crate::sandbox::SandboxError;
use std::sync::Arc;
use std::time::Instant;

/// One protocol conversation with an implementation under test.
pub trait Session: Send {
    /// Sends a request without waiting for its answer.
    fn send(&mut self, request: &Request) -> Result<(), Fault>;
    /// The next response, or `None` once `deadline` passes without one.
    fn recv(&mut self, deadline: Instant) -> Result<Option<Response>, Fault>;
    /// Another way to send requests, usable while a thread waits in [`Session::recv`]:
    /// so that threads sharing a session never wait for each other to send.
    fn sender(&self) -> Box<dyn RequestSender>;
    /// Ends the session and everything it started. Returns problems found on the way
    /// out (threads or processes that would not stop), for the report. `hurry` (the run
    /// was interrupted) skips the grace periods: everything is killed at once.
    fn close(self: Box<Self>, hurry: bool) -> Vec<String>;
}

/// Sends requests on a session from any thread (see [`Session::sender`]).
pub trait RequestSender: Send + Sync {
    fn send(&self, request: &Request) -> Result<(), Fault>;
}

/// A target that broke the protocol or died. Ends the scenario as an error. Causes
/// are kept as sources (shared, so a fault can be cloned into several reports).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    #[error("failed to start the adapter: {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("the adapter exited ({status}){stderr}")]
    Exited { status: String, stderr: String },
    #[error("the adapter closed its stdout but kept running{stderr}")]
    ClosedOutput { stderr: String },
    #[error(
        "the adapter printed a line that is not a protocol response: {line:?} ({reason}){stderr}"
    )]
    Garbage {
        line: String,
        reason: String,
        stderr: String,
    },
    #[error("the adapter printed a line longer than {limit} bytes")]
    LineTooLong { limit: usize },
    #[error("the adapter answered id {id}, which has no request waiting")]
    UnknownId { id: u64 },
    #[error("the adapter did not answer `hello` within {0:?}")]
    NoHello(std::time::Duration),
    #[error("the adapter's hello is unusable: {0}")]
    BadHello(String),
    #[error("the adapter's answer to `{op}` lacks `{field}`")]
    MissingField {
        op: &'static str,
        field: &'static str,
    },
    #[error("the adapter's answer to `{op}` has an invalid `{field}`: {value:?}")]
    InvalidField {
        op: &'static str,
        field: &'static str,
        value: String,
    },
    #[error("the adapter never answered `{op}`, a call that cannot block, within {after:?}")]
    NoAnswer {
        op: &'static str,
        after: std::time::Duration,
    },
    #[error("the adapter printed more than {limit} bytes (the output limit)")]
    OutputLimit { limit: u64 },
    #[error("failed to create the sandbox: {0}")]
    Sandbox(#[source] Arc<SandboxError>),
    #[error("the run was interrupted")]
    Cancelled,
    #[error("failed to write to the adapter's stdin: {0}")]
    Write(String),
}
