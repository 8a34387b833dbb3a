//! Words for outcomes: what a step expected and what happened, as a student reads them.

use crate::script::{Outcome, PollEvent, Yield};
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// What a call actually did.
#[derive(Debug, Clone, PartialEq)]
pub enum Actual {
    Done(Value),
    Errno {
        name: String,
        message: Option<String>,
    },
    /// No answer within the wait.
    Blocked(Duration),
    /// `fill_backlog` reached its limit without a connection stalling.
    NeverStalled(u32),
}

/// What a successful call yielded.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nothing,
    Socket(u64),
    Sent(u64),
    Data(Vec<u8>),
    Addr(SocketAddr),
    Opt(crate::script::OptValue),
    /// SO_ERROR read with an error pending: its errno name.
    PendingError(String),
    Events(Vec<PollEvent>),
    /// Connections that completed before one stalled.
    Backlog(u32),
    /// How a program ended.
    Exit(std::process::ExitStatus),
}

/// `1 byte`, `5 bytes`.
pub fn count(n: u64) -> String {
    format!("{n} byte{}", if n == 1 { "" } else { "s" })
}

/// A limit in the units it was given in: `64 MiB`, `512 KiB`, `1000 bytes`.
/// Sentences for the sandbox limits a scenario ran into.
pub fn limit_notes(hit: &crate::sandbox::LimitsHit) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(limit) = hit.memory {
        notes.push(format!(
            "the scenario reached its memory limit ({}; --memory-limit) and the kernel killed a process to stay within it: does the program allocate without end?",
            size(limit)
        ));
    }
    if let Some(limit) = hit.disk {
        notes.push(format!(
            "the scenario's files filled its disk limit ({}; --disk-limit), so writes failed with ENOSPC: does the program write files without end?",
            size(limit)
        ));
    }
    notes
}

pub fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => count(n),
    }
}

pub fn bytes(data: &[u8]) -> String {
    const SHOW: usize = 48;
    let mut s = String::from("\"");
    for &b in data.iter().take(SHOW) {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    if data.len() > SHOW {
        s.push('…');
    }
    let _ = write!(s, " ({})", count(data.len() as u64));
    s
}

pub fn events(ev: &[PollEvent]) -> String {
    let names: Vec<&str> = ev.iter().map(|e| e.name()).collect();
    format!("[{}]", names.join(", "))
}

pub fn duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// An expected outcome in words; `addr` is the resolved address of an `Addr` outcome.
pub fn expected(outcome: &Outcome, yields: Yield, addr: Option<SocketAddr>) -> String {
    match outcome {
        Outcome::Ok if yields == Yield::Exit => "exit status 0".into(),
        Outcome::Ok => "success".into(),
        Outcome::Errno(e) => e.clone(),
        Outcome::Count(n) => match yields {
            Yield::Count => format!("{} sent", count(*n)),
            Yield::Data => count(*n),
            Yield::Backlog => format!("{n} connections completed, then one stalled"),
            Yield::Exit => format!("exit status {n}"),
            _ => format!("value {n}"),
        },
        Outcome::Data(d) => bytes(d),
        Outcome::Eof => "eof (0 bytes: the peer closed its side)".into(),
        Outcome::Off => "off".into(),
        Outcome::On => "on".into(),
        Outcome::Addr(_) => addr.map_or_else(|| "an address".into(), |a| a.to_string()),
        Outcome::SameAs(id) => format!("the value `{}` holds", id.name),
        Outcome::Events(e) => events(e),
        Outcome::Regex(r) => format!("output matching re\"{r}\""),
        Outcome::Signal(s) => format!("killed by {s}"),
        Outcome::NonZero => "a non-zero exit status".into(),
    }
}

pub fn actual(a: &Actual) -> String {
    match a {
        Actual::Done(v) => match v {
            Value::Nothing => "success".into(),
            Value::Socket(_) => "success (a new socket)".into(),
            Value::Sent(n) => format!("{} sent", count(*n)),
            Value::Data(d) if d.is_empty() => "eof (0 bytes)".into(),
            Value::Data(d) => bytes(d),
            Value::Addr(a) => a.to_string(),
            Value::Opt(o) => format!("value {o}"),
            Value::PendingError(name) => format!("pending error {name}"),
            Value::Events(e) => events(e),
            Value::Backlog(n) => format!("{n} connections completed, then one stalled"),
            Value::Exit(s) => crate::signals::describe_status(*s),
        },
        Actual::Errno {
            name,
            message: Some(m),
        } => format!("{name} ({m})"),
        Actual::Errno {
            name,
            message: None,
        } => name.clone(),
        Actual::Blocked(d) => format!("no answer: still blocked after {}", duration(*d)),
        Actual::NeverStalled(n) => format!("all {n} connections completed; none stalled"),
    }
}

pub fn blocked_window(d: Duration) -> String {
    format!("still blocked after the {} blocking window", duration(d))
}

pub fn returned_within(a: &Actual, d: Duration) -> String {
    format!("returned {} within {}", actual(a), duration(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_the_unit_they_were_given_in() {
        assert_eq!(size(64 << 20), "64 MiB");
        assert_eq!(size(1 << 30), "1 GiB");
        assert_eq!(size(1536), "1536 bytes");
        assert_eq!(size(512 << 10), "512 KiB");
        assert_eq!(size(1), "1 byte");
    }
}
