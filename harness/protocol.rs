//! The adapter protocol, version 1: JSON Lines between the harness and an adapter.
//!
//! This module is the contract documented in `docs/adapter-protocol.md`; every type
//! here is (de)serialized exactly as that document shows. It knows nothing of
//! scenarios or processes. Data travels as lowercase hex so that any language can
//! handle it with its standard library.

pub mod errno;
mod hex;
mod message;
pub mod pattern;
mod sockopt;

pub use hex::{decode as hex_decode, encode as hex_encode};
pub use message::*;
pub use sockopt::SockOpt;

/// The protocol version this harness speaks.
pub const VERSION: u32 = 1;
