//! Property engines: proptest's `TestRunner`, driven at run time against any target
//! through its adapter, with shrinking, so a failure comes back as a minimal case.
//!
//! The configuration is always built explicitly (no `PROPTEST_*` environment, no
//! persistence files), the seed is printed and replayable, and cases, shrink iterations
//! and shrink time are bounded.

pub mod acks;
mod case;
pub mod deliver;
mod runner;
pub mod segments;
mod stream;
pub mod summary;

pub use case::{Ending, StreamCase};
pub use runner::{
    run_reassembly, run_retransmission, run_stream, PropConfig, PropError, PropOutcome,
};
pub use stream::{run_case, StreamError};
