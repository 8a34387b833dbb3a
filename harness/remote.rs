//! The harness as a remote TCP on a scenario's wire (see `sandbox::wire_link` for the
//! device): [`link`] moves and records IP packets, [`connection`] plays connections
//! with relative sequence numbers and checks what the target sends, field by field,
//! and [`plain`] plays a plain correct TCP on them for the segments a scenario leaves out;
//! on a user-space stack's link the same, as a host on its LAN ([`link::Lan`]).
//! [`capture`] records the traffic of scenarios without a wire. It builds on the codecs
//! in [`crate::wire`] and knows nothing of scenarios.

pub mod capture;
pub mod connection;
pub mod link;
pub mod plain;
pub mod sendbuf;

pub use connection::{Connection, Direction, ExpectError, Outgoing, Wire};
pub use link::{Arrival, Lan, Link, LinkError};
