//! Executing scenarios: one scenario's steps against its sessions ([`execute`]), many
//! scenarios in parallel ([`schedule`]), and the results both produce ([`outcome`]).
//!
//! Every wait has a deadline: a foreground call waits at most `timeout`, a `blocks`
//! check waits exactly the blocking window, and teardown waits at most the grace
//! period before it kills. Scenarios share nothing: each gets fresh sessions, and every
//! address in the corpus is bound to port 0, so the kernel hands out distinct ports.

mod bulk;
mod describe;
mod execute;
mod fixed_ports;
mod outcome;
mod preflight;
mod programs;
mod repeat;
mod runner;
mod schedule;
mod select;
mod sessions;
mod settings;
mod wires;

pub use describe::limit_notes;
pub use execute::run_scenario;
pub use fixed_ports::ProgramPort;
pub use outcome::{
    from_millis, millis, Failure, FailureKind, RunReport, ScenarioResult, Status, StepRecord,
};
pub use preflight::preflight;
pub use repeat::{fold as fold_repeats, repeated, RACE_CAUSES};
pub use runner::RAISE_TIMEOUT;
pub use schedule::{run_all, Event};
pub use select::{Selection, Shard};
pub use sessions::{close_sandbox, OpenError, Sessions};
pub use settings::{Hosts, Settings, CANCEL_POLL};
pub use wires::{lan_wire, wire_of, WireEnds};
