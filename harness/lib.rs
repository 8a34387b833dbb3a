//! sockspec: a conformance harness for TCP.
//!
//! Layers, bottom up: [`script`] parses scenario files; [`protocol`] is the adapter
//! protocol's wire types; [`target`] runs socket calls (the in-process Linux reference,
//! or an adapter process); [`run`] executes scenarios against targets and checks
//! expectations; [`report`] turns results into human, JSON, JUnit and TAP output. The
//! `sockspec` binary ([`cli`]) is a thin layer over these. [`sandbox`] gives every
//! scenario its own namespaces and limits; [`process`] holds the process helpers both
//! it and [`target`] use.

pub mod cli;
pub mod grade;
pub mod process;
pub mod program;
pub mod prop;
pub mod protocol;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod script;
pub mod target;
pub mod wire;
