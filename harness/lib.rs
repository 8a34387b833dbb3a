//! sockspec: a conformance harness for TCP.
//!
//! Layers, bottom up; a module imports only from layers below it (docs/architecture.md
//! has the full table and how a call travels):
//!
//! 1. [`signals`], [`interrupt`], [`process`], [`protocol`], [`atomic`], [`literal`];
//!    then [`wire`], which uses [`literal`]: leaves. Signal names, SIGINT handling,
//!    waiting on a process, the adapter protocol's messages, atomic file writes, data
//!    literals and TCP segment codecs know nothing of their callers.
//! 2. [`script`]: the scenario language (it names protocol calls and signals);
//!    [`remote`]: the harness as a remote TCP on a wire device.
//! 3. [`sandbox`]: per-scenario namespaces, mounts and limits, and the one way a
//!    command is started ([`sandbox::group_command`]).
//! 4. [`adapter`]: where socket calls execute (the in-process Linux reference, or an
//!    adapter process); [`program`]: programs under test as black boxes.
//! 5. [`run`]: executes scenarios against adapters and programs and checks
//!    expectations.
//! 6. [`prop`]: property tests over the same sessions; [`report`]: results as human,
//!    JSON, JUnit and TAP output.
//! 7. [`grade`]: grading a class.
//! 8. [`cli`]: argument parsing and wiring, for the `sockspec` binary.
//!
//! `layers.rs` (a test) holds this table and fails on an import that goes up or
//! sideways, or on two files of one module that import each other.

pub mod adapter;
pub mod atomic;
pub mod cli;
pub mod grade;
pub mod interrupt;
#[cfg(test)]
mod layers;
pub mod literal;
pub mod process;
pub mod program;
pub mod prop;
pub mod protocol;
pub mod remote;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod script;
pub mod signals;
pub mod wire;
