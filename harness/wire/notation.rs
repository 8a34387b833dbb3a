//! Segments as text, in packetdrill's notation, because that is what stack authors
//! already read: `S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,nop,wscale 7>`.
//!
//! - flags: any of `S F R P U E W` (SYN, FIN, RST, PSH, URG, ECE, CWR), then `.` for ACK;
//!   a lone `.` is a bare ACK;
//! - `start:end(len)`: relative sequence numbers of the segment's first byte and the one
//!   after its last, and the payload length (`end - start` must equal `len`);
//! - `ack N`, `win N`, `urg N` (the urgent pointer); any number may be `*`, which
//!   matches anything when expected;
//! - options between `<` and `>`: `mss N`, `sackOK`, `sack L:R L:R`, `wscale N`,
//!   `TS val N ecr N`, `nop`, `eol`; `<...>` matches any options;
//! - the payload as text (`"hello"`) or hex (`hex"00ff"`) after everything else;
//!   without it a segment carries `len` bytes of a known pattern;
//! - for a segment to send only: `checksum bad`, `ipopt hex"..."` (IPv4 header
//!   options), `from ADDR`, `to ADDR`.
//!
//! This module parses the text into a [`SegmentSpec`] and knows nothing of the
//! scenario language around it, of connections or of sockets.

use super::segment::{Flags, TcpOption};
use std::fmt;

/// A number given, or `*` for any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<T> {
    Is(T),
    Any,
}

impl<T: Copy + PartialEq> Field<T> {
    pub fn matches(self, actual: T) -> bool {
        match self {
            Field::Is(v) => v == actual,
            Field::Any => true,
        }
    }

    pub fn value(self) -> Option<T> {
        match self {
            Field::Is(v) => Some(v),
            Field::Any => None,
        }
    }
}

/// The options of a segment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsSpec {
    /// No `<...>` at all: the segment has no options.
    None,
    /// `<...>`: any options.
    Any,
    /// These, in this order; a number may be `*` where expected.
    Exact(Vec<OptionSpec>),
}

/// One option of a segment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionSpec {
    Eol,
    Nop,
    Mss(Field<u16>),
    WindowScale(Field<u8>),
    SackPermitted,
    Sack(Vec<(u32, u32)>),
    Timestamps {
        val: Field<u32>,
        ecr: Field<u32>,
    },
    /// `opt 253 hex"abcd"`: an option of any kind, with its length field.
    Other {
        kind: u8,
        data: Vec<u8>,
    },
    /// `raw hex"fd00"`: bytes put in the options area as they are, to send what no
    /// correct sender would (an illegal length).
    Raw(Vec<u8>),
}

impl OptionSpec {
    /// Whether `actual` is this option (with `*` matching any value).
    pub fn matches(&self, actual: &TcpOption) -> bool {
        match (self, actual) {
            (OptionSpec::Eol, TcpOption::Eol)
            | (OptionSpec::Nop, TcpOption::Nop)
            | (OptionSpec::SackPermitted, TcpOption::SackPermitted) => true,
            (OptionSpec::Mss(f), TcpOption::Mss(v)) => f.matches(*v),
            (OptionSpec::WindowScale(f), TcpOption::WindowScale(v)) => f.matches(*v),
            (OptionSpec::Sack(want), TcpOption::Sack(got)) => want == got,
            (OptionSpec::Timestamps { val, ecr }, TcpOption::Timestamps { val: v, ecr: e }) => {
                val.matches(*v) && ecr.matches(*e)
            }
            (OptionSpec::Other { kind, data }, TcpOption::Unknown { kind: k, data: d }) => {
                kind == k && data == d
            }
            _ => false,
        }
    }

    /// The option to send; `*` cannot be sent.
    pub fn to_option(&self) -> Option<TcpOption> {
        Some(match self {
            OptionSpec::Eol => TcpOption::Eol,
            OptionSpec::Nop => TcpOption::Nop,
            OptionSpec::Mss(f) => TcpOption::Mss(f.value()?),
            OptionSpec::WindowScale(f) => TcpOption::WindowScale(f.value()?),
            OptionSpec::SackPermitted => TcpOption::SackPermitted,
            OptionSpec::Sack(b) => TcpOption::Sack(b.clone()),
            OptionSpec::Timestamps { val, ecr } => TcpOption::Timestamps {
                val: val.value()?,
                ecr: ecr.value()?,
            },
            OptionSpec::Other { kind, data } => TcpOption::Unknown {
                kind: *kind,
                data: data.clone(),
            },
            OptionSpec::Raw(bytes) => TcpOption::Raw(bytes.clone()),
        })
    }
}

/// A segment line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    pub flags: Flags,
    /// Flags an expected segment may or may not carry (`P?.`: PSH optional; `R.?`: an
    /// RST with or without ACK), for what the RFC leaves to the sender.
    pub maybe: Flags,
    /// Relative sequence number of the first byte (or of the SYN/FIN).
    pub start: Field<u32>,
    pub len: Field<u32>,
    pub ack: Option<Field<u32>>,
    pub win: Option<Field<u16>>,
    pub options: OptionsSpec,
    pub payload: Option<Vec<u8>>,
    /// `checksum bad`: a segment sent with a wrong checksum, which a receiver must drop
    /// (RFC 9293 3.1, MUST-3).
    pub bad_checksum: bool,
    /// `from ADDR`, `to ADDR`: a segment sent from or to another address than the
    /// connection's (a multicast source, the broadcast address; RFC 9293 3.9.2.3).
    pub from: Option<std::net::IpAddr>,
    pub to: Option<std::net::IpAddr>,
    /// `urg N`: the urgent pointer, an offset from the segment's sequence number to
    /// the octet after the urgent data (RFC 9293 3.8.5, MUST-62). Unchecked when absent.
    pub urgent: Option<Field<u16>>,
    /// `ipopt hex"..."`: options in the IPv4 header of a segment the harness sends
    /// (RFC 791 3.1), which a receiver must ignore when it does not know them (MUST-50).
    pub ip_options: Option<Vec<u8>>,
    /// `lost`: the harness counts the segment as sent but does not put it on the wire,
    /// as if the network lost it; `w < resend` sends it again.
    pub lost: bool,
}

impl SegmentSpec {
    /// Why a received segment cannot be checked against this line (what only a sender
    /// can do: a wrong checksum, raw option bytes), or `None` when it can.
    pub fn unexpectable(&self) -> Option<&'static str> {
        if self.bad_checksum {
            return Some("a segment with a bad checksum never reaches a check: it is dropped");
        }
        if self.from.is_some() || self.to.is_some() {
            return Some("`from` and `to` change where the harness's own segments go");
        }
        if self.ip_options.is_some() {
            return Some("`ipopt` puts options in the IP header of a segment the harness sends");
        }
        if self.lost {
            return Some("`lost` is a segment the harness sends and the network loses");
        }
        match &self.options {
            OptionsSpec::Exact(list) if list.iter().any(|o| matches!(o, OptionSpec::Raw(_))) => {
                Some("raw option bytes are sent as they are, never read back")
            }
            _ => None,
        }
    }

    /// Why the harness cannot send this segment (a `*` or `<...>` where a value is
    /// needed), or `None` when it can.
    pub fn unsendable(&self) -> Option<&'static str> {
        if self.start.value().is_none() || self.len.value().is_none() {
            return Some("the sequence numbers and length must be numbers");
        }
        if self.maybe.0 != 0 {
            return Some("a flag marked `?` may or may not be set: a sent segment says which");
        }
        if self.ack.is_some_and(|f| f.value().is_none()) {
            return Some("`ack *` has no value");
        }
        if self.win.is_some_and(|f| f.value().is_none()) {
            return Some("`win *` has no value");
        }
        if self.urgent.is_some_and(|f| f.value().is_none()) {
            return Some("`urg *` has no value");
        }
        match &self.options {
            OptionsSpec::Any => Some("`<...>` names no options"),
            OptionsSpec::Exact(list) if list.iter().any(|o| o.to_option().is_none()) => {
                Some("an option has `*` for a value")
            }
            _ => None,
        }
    }
}

/// Why a segment line does not parse: what was expected, at which byte of the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotationError {
    /// Byte offset in the line where the problem starts.
    pub at: usize,
    pub message: String,
    /// What to write instead, when there is an obvious fix.
    pub hint: Option<String>,
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        while self.text[self.pos..].starts_with([' ', '\t']) {
            self.pos += 1;
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn err(&self, message: impl Into<String>) -> NotationError {
        NotationError {
            at: self.pos,
            message: message.into(),
            hint: None,
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str, what: &str) -> Result<(), NotationError> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.err(format!("expected {what}")))
        }
    }

    /// A word: letters, digits and `.` (`sackOK`, `wscale`, `S.`).
    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        self.pos += end;
        &rest[..end]
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<Field<T>, NotationError> {
        if self.eat("*") {
            return Ok(Field::Any);
        }
        let rest = self.rest();
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if end == 0 {
            return Err(self.err(format!("expected {what} (a number or *)")));
        }
        let value = rest[..end]
            .parse()
            .map_err(|_| self.err(format!("{what} {} is too large", &rest[..end])))?;
        self.pos += end;
        Ok(Field::Is(value))
    }
}

/// The flags of a segment line, and those marked optional with `?`.
fn flags(word: &str) -> Option<(Flags, Flags)> {
    let mut f = Flags(0);
    let mut maybe = Flags(0);
    let mut last = None;
    for c in word.chars() {
        let flag = match c {
            '.' => Flags::ACK,
            '?' => {
                maybe = maybe | last.take()?;
                continue;
            }
            _ => Flags::LETTERS.into_iter().find(|(_, l)| *l == c)?.0,
        };
        // `.` (ACK) comes last, or last but for its `?`.
        if last == Some(Flags::ACK) || (f.contains(Flags::ACK) && flag != Flags::ACK) {
            return None;
        }
        f = f | flag;
        last = Some(flag);
    }
    (f.0 != 0).then_some((Flags(f.0 & !maybe.0), maybe))
}

/// Flags as a segment line writes them, with `?` after the optional ones.
pub fn flags_text(flags: Flags, maybe: Flags) -> String {
    let mut out = String::new();
    for (flag, c) in Flags::LETTERS.into_iter().chain([(Flags::ACK, '.')]) {
        if flags.contains(flag) {
            out.push(c);
        } else if maybe.contains(flag) {
            out.push(c);
            out.push('?');
        }
    }
    out
}

/// Parses one segment line (what follows `<` or `>` in a scenario).
pub fn parse(line: &str) -> Result<SegmentSpec, NotationError> {
    let mut c = Cursor { text: line, pos: 0 };
    c.skip_spaces();
    let at = c.pos;
    // The flags run to the first space: `?` marks an optional flag.
    let rest = c.rest();
    let word = &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())];
    c.pos += word.len();
    let (flags, maybe) = flags(word).ok_or_else(|| NotationError {
        at,
        message: format!("unknown flags `{word}`"),
        hint: Some(
            "flags are S F R P U E W, then `.` for ACK, each optionally followed by `?` (may be set): S, S., P., P?., R.?"
                .into(),
        ),
    })?;
    c.skip_spaces();
    let seq_at = c.pos;
    let start = c.number::<u32>("a sequence number")?;
    c.expect(":", "`:` as in 1:6(5)")?;
    let end = c.number::<u32>("an end sequence number")?;
    c.expect("(", "`(` and the length, as in 1:6(5)")?;
    let len = c.number::<u32>("a length")?;
    c.expect(")", "`)` after the length")?;
    if let (Field::Is(s), Field::Is(e), Field::Is(l)) = (start, end, len) {
        if e.wrapping_sub(s) != l {
            return Err(NotationError {
                at: seq_at,
                message: format!("{s}:{e} spans {} bytes, not {l}", e.wrapping_sub(s)),
                hint: Some(format!("write {s}:{}({l})", s.wrapping_add(l))),
            });
        }
    }
    let mut spec = SegmentSpec {
        flags,
        maybe,
        start,
        len,
        ack: None,
        win: None,
        options: OptionsSpec::None,
        payload: None,
        bad_checksum: false,
        from: None,
        to: None,
        urgent: None,
        ip_options: None,
        lost: false,
    };
    loop {
        c.skip_spaces();
        if c.rest().is_empty() {
            break;
        }
        if c.eat("<") {
            spec.options = options(&mut c)?;
        } else if c.rest().starts_with('"') || c.rest().starts_with("hex\"") {
            spec.payload = Some(payload(&mut c)?);
        } else {
            let at = c.pos;
            match c.word() {
                "ack" => {
                    c.skip_spaces();
                    spec.ack = Some(c.number("an acknowledgment number")?);
                }
                "win" => {
                    c.skip_spaces();
                    spec.win = Some(c.number("a window")?);
                }
                "urg" => {
                    c.skip_spaces();
                    spec.urgent = Some(c.number("an urgent pointer")?);
                }
                "ipopt" => {
                    c.skip_spaces();
                    if !c.rest().starts_with("hex\"") {
                        return Err(c.err("`ipopt` needs the option bytes, as in ipopt hex\"1e0400\""));
                    }
                    let bytes = payload(&mut c)?;
                    if bytes.len() > 40 {
                        return Err(c.err(format!(
                            "an IPv4 header holds at most 40 bytes of options, not {}",
                            bytes.len()
                        )));
                    }
                    spec.ip_options = Some(bytes);
                }
                "lost" => spec.lost = true,
                "checksum" => {
                    c.skip_spaces();
                    c.expect("bad", "`bad`: `checksum bad` sends a wrong checksum")?;
                    spec.bad_checksum = true;
                }
                word @ ("from" | "to") => {
                    c.skip_spaces();
                    let rest = c.rest();
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    let addr = rest[..end].parse().map_err(|_| {
                        c.err(format!("`{word}` needs an IP address, as in {word} 255.255.255.255"))
                    })?;
                    c.pos += end;
                    if word == "from" {
                        spec.from = Some(addr);
                    } else {
                        spec.to = Some(addr);
                    }
                }
                other => {
                    return Err(NotationError {
                        at,
                        message: match other {
                            "" => {
                                format!("unexpected `{}`", c.rest().chars().next().unwrap_or(' '))
                            }
                            word => format!("unexpected `{word}`"),
                        },
                        hint: Some(
                            "after start:end(len) come `ack N`, `win N`, `urg N`, <options>, \"payload\", `checksum bad`, `ipopt hex\"..\"`, `lost`, `from ADDR` and `to ADDR`"
                                .into(),
                        ),
                    })
                }
            }
        }
    }
    if let (Some(p), Field::Is(l)) = (&spec.payload, spec.len) {
        if p.len() as u32 != l {
            return Err(NotationError {
                at: seq_at,
                message: format!("the payload has {} bytes but the length says {l}", p.len()),
                hint: None,
            });
        }
    }
    Ok(spec)
}

fn options(c: &mut Cursor) -> Result<OptionsSpec, NotationError> {
    if c.eat("...>") {
        return Ok(OptionsSpec::Any);
    }
    let mut out = Vec::new();
    loop {
        c.skip_spaces();
        let at = c.pos;
        let opt = match c.word() {
            "mss" => {
                c.skip_spaces();
                OptionSpec::Mss(c.number("an MSS")?)
            }
            "wscale" => {
                c.skip_spaces();
                OptionSpec::WindowScale(c.number("a window scale")?)
            }
            "sackOK" => OptionSpec::SackPermitted,
            "nop" => OptionSpec::Nop,
            "eol" => OptionSpec::Eol,
            "TS" => {
                c.skip_spaces();
                c.expect("val", "`val` as in TS val 1 ecr 0")?;
                c.skip_spaces();
                let val = c.number("a timestamp value")?;
                c.skip_spaces();
                c.expect("ecr", "`ecr` as in TS val 1 ecr 0")?;
                c.skip_spaces();
                OptionSpec::Timestamps {
                    val,
                    ecr: c.number("a timestamp echo")?,
                }
            }
            "sack" => {
                let mut blocks = Vec::new();
                loop {
                    c.skip_spaces();
                    if !c.rest().starts_with(|ch: char| ch.is_ascii_digit()) {
                        break;
                    }
                    let l = c.number::<u32>("a block's left edge")?.value().unwrap_or(0);
                    c.expect(":", "`:` in a SACK block, as in 1:5")?;
                    let r = c.number::<u32>("a block's right edge")?.value().unwrap_or(0);
                    blocks.push((l, r));
                }
                if blocks.is_empty() {
                    return Err(c.err("expected SACK blocks, as in sack 1:5"));
                }
                OptionSpec::Sack(blocks)
            }
            "opt" => {
                c.skip_spaces();
                let kind = c
                    .number::<u8>("an option kind")?
                    .value()
                    .ok_or_else(|| c.err("an option's kind is a number"))?;
                c.skip_spaces();
                OptionSpec::Other {
                    kind,
                    data: payload(c)?,
                }
            }
            "raw" => {
                c.skip_spaces();
                OptionSpec::Raw(payload(c)?)
            }
            other => {
                return Err(NotationError {
                    at,
                    message: format!("unknown option `{other}`"),
                    hint: Some("options are mss N, sackOK, sack L:R, wscale N, TS val N ecr N, nop, eol, opt KIND hex\"..\", raw hex\"..\", or <...> for any".into()),
                })
            }
        };
        out.push(opt);
        c.skip_spaces();
        if c.eat(">") {
            return Ok(OptionsSpec::Exact(out));
        }
        c.expect(",", "`,` or `>` after an option")?;
    }
}

/// A payload literal at the start of `text` (`"text"` or `hex"00 ff"`): its bytes and
/// its length in `text`. Wire lines that carry data without a segment
/// (`w < "hello"`) read it as segment lines do.
pub fn payload_literal(text: &str) -> Result<(Vec<u8>, usize), NotationError> {
    let mut c = Cursor { text, pos: 0 };
    let bytes = payload(&mut c)?;
    Ok((bytes, c.pos))
}

/// `"text"` or `hex"00 ff"`, decoded as the scenario language decodes them
/// ([`crate::literal`]).
fn payload(c: &mut Cursor) -> Result<Vec<u8>, NotationError> {
    use crate::literal::TextError;
    if c.eat("hex") {
        c.expect("\"", "`\"`")?;
        let close = c
            .rest()
            .find('"')
            .ok_or_else(|| c.err("unterminated payload: a closing `\"` is missing"))?;
        let digits = &c.rest()[..close];
        let bytes = crate::literal::hex(digits)
            .ok_or_else(|| c.err("hex payload: write an even number of hex digits"))?;
        c.pos += close + 1;
        return Ok(bytes);
    }
    let start = c.pos;
    let (bytes, len) = crate::literal::text(c.rest()).map_err(|e| {
        let (at, message) = match e {
            TextError::UnfinishedEscape { at } => (at, "unfinished escape".to_string()),
            TextError::BadHexEscape { at, .. } => (at, "bad \\x escape".to_string()),
            TextError::UnknownEscape { at, escape, .. } => {
                (at, format!("unknown escape `\\{escape}`"))
            }
            TextError::Unterminated => {
                (0, "unterminated payload: a closing `\"` is missing".into())
            }
        };
        NotationError {
            at: start + at,
            message,
            hint: None,
        }
    })?;
    c.pos = start + len;
    Ok(bytes)
}

impl fmt::Display for OptionSpec {
    /// As written in a segment line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionSpec::Eol => f.write_str("eol"),
            OptionSpec::Nop => f.write_str("nop"),
            OptionSpec::Mss(v) => write!(f, "mss {v}"),
            OptionSpec::WindowScale(v) => write!(f, "wscale {v}"),
            OptionSpec::SackPermitted => f.write_str("sackOK"),
            OptionSpec::Sack(blocks) => {
                f.write_str("sack")?;
                for (l, r) in blocks {
                    write!(f, " {l}:{r}")?;
                }
                Ok(())
            }
            OptionSpec::Timestamps { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            OptionSpec::Other { kind, data } => write!(f, "opt {kind} hex\"{}\"", hex(data)),
            OptionSpec::Raw(bytes) => write!(f, "raw hex\"{}\"", hex(bytes)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<T: fmt::Display> fmt::Display for Field<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Is(v) => write!(f, "{v}"),
            Field::Any => f.write_str("*"),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn what_no_correct_sender_sends_can_be_written() {
        let spec = parse("P. 1:6(5) ack 1 win 65535 <opt 253 hex\"cafe\",raw hex\"fd00\"> \"hello\" checksum bad").unwrap();
        assert!(spec.bad_checksum);
        assert_eq!(
            spec.options,
            OptionsSpec::Exact(vec![
                OptionSpec::Other {
                    kind: 253,
                    data: vec![0xca, 0xfe]
                },
                OptionSpec::Raw(vec![0xfd, 0]),
            ])
        );
        assert!(spec.unsendable().is_none());
        assert!(
            spec.unexpectable().is_some(),
            "only the harness sends such segments"
        );
        assert_eq!(
            OptionSpec::Other {
                kind: 253,
                data: vec![0xca, 0xfe]
            }
            .to_string(),
            "opt 253 hex\"cafe\""
        );
        assert!(parse("P. 1:6(5) checksum good").is_err());
    }

    #[test]
    fn urgent_pointer_and_ip_options() {
        let spec = parse("UP. 1:4(3) ack 1 win 100 urg 3 ipopt hex\"1e03 00\"").unwrap();
        assert_eq!(spec.flags, Flags::URG | Flags::PSH | Flags::ACK);
        assert_eq!(spec.urgent, Some(Field::Is(3)));
        assert_eq!(spec.ip_options, Some(vec![0x1e, 0x03, 0x00]));
        assert!(spec.unsendable().is_none());
        assert!(spec.unexpectable().is_some(), "IP options are only sent");
        let expected = parse("U. 1:4(3) urg *").unwrap();
        assert_eq!(expected.urgent, Some(Field::Any));
        assert!(expected.unsendable().is_some());
        assert!(parse("P. 1:1(0) ipopt \"ab\"").is_err());
        let too_long = format!("P. 1:1(0) ipopt hex\"{}\"", "01".repeat(41));
        assert!(parse(&too_long).is_err());
    }

    #[test]
    fn a_question_mark_makes_a_flag_optional() {
        let spec = parse("P?. 1:4(3) ack 1 win *").unwrap();
        assert_eq!((spec.flags, spec.maybe), (Flags::ACK, Flags::PSH));
        let rst = parse("R.? 5:5(0) win *").unwrap();
        assert_eq!((rst.flags, rst.maybe), (Flags::RST, Flags::ACK));
        assert_eq!(flags_text(rst.flags, rst.maybe), "R.?");
        assert!(rst.unsendable().is_some(), "a sent segment says which");
        for bad in ["?P.", ".P", "P??."] {
            assert!(parse(&format!("{bad} 1:1(0)")).is_err(), "{bad}");
        }
    }
    use super::*;

    #[test]
    fn packetdrills_lines_parse() {
        let syn =
            parse("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>").unwrap();
        assert_eq!(syn.flags, Flags::SYN);
        assert_eq!((syn.start, syn.len), (Field::Is(0), Field::Is(0)));
        assert_eq!(syn.win, Some(Field::Is(65535)));
        assert_eq!(
            syn.options,
            OptionsSpec::Exact(vec![
                OptionSpec::Mss(Field::Is(1460)),
                OptionSpec::SackPermitted,
                OptionSpec::Timestamps {
                    val: Field::Is(100),
                    ecr: Field::Is(0)
                },
                OptionSpec::Nop,
                OptionSpec::WindowScale(Field::Is(7)),
            ])
        );
        let synack = parse("S. 0:0(0) ack 1 <...>").unwrap();
        assert_eq!(synack.flags, Flags::SYN | Flags::ACK);
        assert_eq!(synack.ack, Some(Field::Is(1)));
        assert_eq!(synack.options, OptionsSpec::Any);
        let data = parse("P. 1:6(5) ack 1 win * \"hello\"").unwrap();
        assert_eq!(data.payload.as_deref(), Some(&b"hello"[..]));
        assert_eq!(data.win, Some(Field::Any));
        let ack = parse(". 1:1(0) ack 6 <nop,nop,sack 11:16>").unwrap();
        assert_eq!(ack.flags, Flags::ACK);
        assert_eq!(
            ack.options,
            OptionsSpec::Exact(vec![
                OptionSpec::Nop,
                OptionSpec::Nop,
                OptionSpec::Sack(vec![(11, 16)])
            ])
        );
        assert_eq!(parse("R. 1:1(0) ack *").unwrap().ack, Some(Field::Any));
        assert_eq!(
            parse("F. 6:6(0) ack 7").unwrap().flags,
            Flags::FIN | Flags::ACK
        );
        assert_eq!(
            parse("P. 1:3(2) hex\"00 ff\"").unwrap().payload,
            Some(vec![0, 0xff])
        );
    }

    #[test]
    fn mistakes_are_located_and_explained() {
        let e = parse("SX 0:0(0)").unwrap_err();
        assert_eq!((e.at, e.message.as_str()), (0, "unknown flags `SX`"));
        let e = parse("P. 1:6(4)").unwrap_err();
        assert_eq!(e.message, "1:6 spans 5 bytes, not 4");
        assert_eq!(e.hint.as_deref(), Some("write 1:5(4)"));
        let e = parse("S 0:0(0) <mss 1460,wscal 7>").unwrap_err();
        assert_eq!((e.at, e.message.as_str()), (19, "unknown option `wscal`"));
        let e = parse("P. 1:3(2) \"hello\"").unwrap_err();
        assert_eq!(e.message, "the payload has 5 bytes but the length says 2");
        let e = parse(". 1:1(0) ack").unwrap_err();
        assert!(
            e.message.starts_with("expected an acknowledgment number"),
            "{e:?}"
        );
        let e = parse(". 1:1(0) window 5").unwrap_err();
        assert_eq!(e.message, "unexpected `window`");
        assert!(parse("P. 1:2(1) \"x")
            .unwrap_err()
            .message
            .starts_with("unterminated"));
    }

    #[test]
    fn wildcards_match_anything_and_cannot_be_sent() {
        let spec = parse("S. 0:0(0) ack 1 <mss *,TS val * ecr 7>").unwrap();
        let OptionsSpec::Exact(opts) = &spec.options else {
            panic!()
        };
        assert!(opts[0].matches(&TcpOption::Mss(536)));
        assert!(opts[1].matches(&TcpOption::Timestamps { val: 99, ecr: 7 }));
        assert!(!opts[1].matches(&TcpOption::Timestamps { val: 99, ecr: 8 }));
        assert_eq!(opts[0].to_option(), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 2000, failure_persistence: None, ..Default::default() })]

        #[test]
        fn any_text_is_an_answer_never_a_panic(text in ".{0,80}") {
            let _ = parse(&text);
        }

        #[test]
        fn segment_like_text_is_an_answer_never_a_panic(text in "[SFRP.]{1,3} [0-9*]{1,3}:[0-9*]{1,3}\\([0-9*]{1,2}\\)[ a-z0-9<>,.*\"é]{0,30}") {
            let _ = parse(&text);
        }
    }
}
