//! Splits one step line into tokens. Lines are independent: an error on one line never
//! hides the errors of the next, which is what lets `check` report a whole file at once.

use super::ast::{Host, Span};
use super::diagnostic::Diagnostic;
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Int(u64),
    /// A text or `hex"..."` literal, already decoded.
    Bytes(Vec<u8>),
    Addr(SocketAddr),
    /// `target:0`: a host named by its role, and a port.
    HostAddr(Host, u16),
    /// `any:l.port`: a host named by its role, and the port of what `l` names.
    HostPortOf(Host, String, Span),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Eq,
    Amp,
    Arrow,
    Pipe,
    Dot,
    /// `re"..."`: a regular expression, matched against a program's output.
    Regex(String),
    /// `*` and `+` build data: `"a" * 3000 + "\n"` (folded into one [`Tok::Bytes`]).
    Star,
    Plus,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(n) => format!("number {n}"),
            Tok::Bytes(_) => "a data literal".into(),
            Tok::Addr(a) => format!("address {a}"),
            Tok::HostAddr(h, port) => format!("address {}:{port}", h.name()),
            Tok::HostPortOf(h, name, _) => format!("address {}:{name}.port", h.name()),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Eq => "`=`".into(),
            Tok::Amp => "`&`".into(),
            Tok::Arrow => "`->`".into(),
            Tok::Pipe => "`|`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Regex(_) => "a regex literal".into(),
            Tok::Star => "`*`".into(),
            Tok::Plus => "`+`".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Tokenizes `line`, which starts at byte `base` of the file. Stops at `#`.
pub fn lex_line(line: &str, base: usize) -> Result<Vec<Token>, Diagnostic> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let span = |a: usize, b: usize| Span::new(base + a, base + b);
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = match c {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => break,
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b']' => Some(Tok::RBracket),
            b',' => Some(Tok::Comma),
            b'=' => Some(Tok::Eq),
            b'&' => Some(Tok::Amp),
            b'|' => Some(Tok::Pipe),
            b'.' => Some(Tok::Dot),
            b'*' => Some(Tok::Star),
            b'+' => Some(Tok::Plus),
            _ => None,
        };
        if let Some(tok) = single {
            i += 1;
            out.push(Token {
                tok,
                span: span(start, i),
            });
            continue;
        }
        if c == b'-' && bytes.get(i + 1) == Some(&b'>') {
            i += 2;
            out.push(Token {
                tok: Tok::Arrow,
                span: span(start, i),
            });
            continue;
        }
        if c == b'[' {
            // `[::1]:80` is an address; any other `[` opens a list.
            if let Some(len) = bracketed_addr_len(&line[i..]) {
                let text = &line[i..i + len];
                let addr = text.parse::<SocketAddr>().map_err(|_| {
                    Diagnostic::new(span(start, i + len), format!("invalid address `{text}`"))
                        .with_hint("IPv6 addresses are written [::1]:port")
                })?;
                i += len;
                out.push(Token {
                    tok: Tok::Addr(addr),
                    span: span(start, i),
                });
            } else {
                i += 1;
                out.push(Token {
                    tok: Tok::LBracket,
                    span: span(start, i),
                });
            }
            continue;
        }
        if c == b'"' {
            let (data, len) = lex_text(&line[i..], base + i)?;
            i += len;
            out.push(Token {
                tok: Tok::Bytes(data),
                span: span(start, i),
            });
            continue;
        }
        if c.is_ascii_digit() {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || b"._:".contains(&bytes[i]))
            {
                i += 1;
            }
            let text = &line[start..i];
            let tok = if text.contains('.') || text.contains(':') {
                Tok::Addr(text.parse::<SocketAddr>().map_err(|_| {
                    Diagnostic::new(span(start, i), format!("invalid address `{text}`"))
                        .with_hint("write an address with its port, e.g. 127.0.0.1:0")
                })?)
            } else {
                Tok::Int(parse_int(text).ok_or_else(|| {
                    Diagnostic::new(span(start, i), format!("invalid number `{text}`"))
                        .with_hint("numbers are decimal, optionally with `_` separators or a k/M suffix (1k = 1024)")
                })?)
            };
            out.push(Token {
                tok,
                span: span(start, i),
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &line[start..i];
            // `target:0`, `peer6:8080`: a role's host and a port.
            if let Some(host) = Host::from_name(word).filter(|_| {
                bytes.get(i) == Some(&b':') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            }) {
                let digits = i + 1;
                i = digits;
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let port = line[digits..i].parse::<u16>().map_err(|_| {
                    Diagnostic::new(
                        span(start, i),
                        format!("invalid port `{}`", &line[digits..i]),
                    )
                    .with_hint("a port is a number from 0 to 65535, e.g. target:0")
                })?;
                out.push(Token {
                    tok: Tok::HostAddr(host, port),
                    span: span(start, i),
                });
                continue;
            }
            // `any:l.port`: the port of a socket or a saved address, at a role's host.
            if let Some(host) = Host::from_name(word).filter(|_| {
                bytes.get(i) == Some(&b':')
                    && bytes
                        .get(i + 1)
                        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            }) {
                let name_start = i + 1;
                i = name_start;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let name = &line[name_start..i];
                if !line[i..].starts_with(".port") {
                    return Err(Diagnostic::new(
                        span(start, i),
                        format!("expected a port after `{word}:`"),
                    )
                    .with_hint(format!(
                        "a port is a number or the port of a socket or saved address: {word}:0, {word}:{name}.port"
                    )));
                }
                let name_span = span(name_start, i);
                i += ".port".len();
                out.push(Token {
                    tok: Tok::HostPortOf(host, name.to_string(), name_span),
                    span: span(start, i),
                });
                continue;
            }
            if word == "re" && bytes.get(i) == Some(&b'"') {
                let (pattern, len) = lex_regex(&line[i..], base + start)?;
                i += len;
                out.push(Token {
                    tok: Tok::Regex(pattern),
                    span: span(start, i),
                });
                continue;
            }
            if word == "hex" && bytes.get(i) == Some(&b'"') {
                let close = line[i + 1..].find('"').ok_or_else(|| {
                    Diagnostic::new(span(start, line.len()), "unterminated hex literal")
                })?;
                let end = i + close + 2;
                let data = crate::literal::hex(&line[i + 1..i + 1 + close]).ok_or_else(|| {
                    Diagnostic::new(span(start, end), "invalid hex literal")
                        .with_hint("use an even number of hex digits, e.g. hex\"00ff\"")
                })?;
                i = end;
                out.push(Token {
                    tok: Tok::Bytes(data),
                    span: span(start, i),
                });
                continue;
            }
            out.push(Token {
                tok: Tok::Ident(word.to_string()),
                span: span(start, i),
            });
            continue;
        }
        let ch = line[i..].chars().next().unwrap_or('?');
        return Err(Diagnostic::new(
            span(start, i + ch.len_utf8()),
            format!("unexpected character `{ch}`"),
        ));
    }
    fold_data(out)
}

/// Folds data expressions into single literals: `"ab" * 3` is `"ababab"`, and `+`
/// joins literals. Repetition is capped so a typo cannot ask for gigabytes.
fn fold_data(toks: Vec<Token>) -> Result<Vec<Token>, Diagnostic> {
    const MAX: usize = 64 << 20;
    let mut out: Vec<Token> = Vec::with_capacity(toks.len());
    let mut it = toks.into_iter().peekable();
    while let Some(t) = it.next() {
        match t.tok {
            Tok::Star => {
                let (
                    Some(Token {
                        tok: Tok::Bytes(data),
                        span: left,
                    }),
                    Some(Token {
                        tok: Tok::Int(n),
                        span: right,
                    }),
                ) = (out.pop(), it.next())
                else {
                    return Err(
                        Diagnostic::new(t.span, "`*` repeats data: write \"ab\" * 3")
                            .with_hint("`*` goes between a data literal and a count"),
                    );
                };
                let total = usize::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_mul(data.len()))
                    .filter(|&t| t <= MAX)
                    .ok_or_else(|| {
                        Diagnostic::new(left.to(right), "repeated data is larger than 64 MiB")
                    })?;
                let mut rep = Vec::with_capacity(total);
                for _ in 0..n {
                    rep.extend_from_slice(&data);
                }
                out.push(Token {
                    tok: Tok::Bytes(rep),
                    span: left.to(right),
                });
            }
            Tok::Plus => {
                let Some(Token {
                    tok: Tok::Bytes(_), ..
                }) = out.last()
                else {
                    return Err(Diagnostic::new(
                        t.span,
                        "`+` joins data: write \"ab\" + \"cd\"",
                    ));
                };
                match it.peek() {
                    Some(Token {
                        tok: Tok::Bytes(_), ..
                    }) => {}
                    _ => {
                        return Err(Diagnostic::new(t.span, "`+` needs data on its right")
                            .with_hint("write \"ab\" + \"cd\""))
                    }
                }
                // Bind `*` tighter than `+`: fold the right operand's repetition first.
                let Some(Token {
                    tok: Tok::Bytes(mut right),
                    span: rspan,
                }) = it.next()
                else {
                    unreachable!()
                };
                let mut rspan = rspan;
                if matches!(it.peek(), Some(Token { tok: Tok::Star, .. })) {
                    let star = it.next().expect("peeked");
                    let folded = fold_data(
                        vec![
                            Token {
                                tok: Tok::Bytes(right),
                                span: rspan,
                            },
                            star,
                        ]
                        .into_iter()
                        .chain(it.next())
                        .collect(),
                    )?;
                    let Some(Token {
                        tok: Tok::Bytes(r),
                        span,
                    }) = folded.into_iter().next()
                    else {
                        unreachable!()
                    };
                    right = r;
                    rspan = span;
                }
                let Some(Token {
                    tok: Tok::Bytes(left),
                    span: lspan,
                }) = out.last_mut()
                else {
                    unreachable!()
                };
                if left.len() + right.len() > MAX {
                    return Err(Diagnostic::new(
                        lspan.to(rspan),
                        "joined data is larger than 64 MiB",
                    ));
                }
                left.extend_from_slice(&right);
                *lspan = lspan.to(rspan);
            }
            tok => out.push(Token { tok, span: t.span }),
        }
    }
    Ok(out)
}

/// `re"..."` after the `re`: the pattern (only `\"` is unescaped, everything else is
/// left for the regex engine) and the literal's length from the quote.
fn lex_regex(s: &str, base: usize) -> Result<(String, usize), Diagnostic> {
    let mut pattern = String::new();
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                if let Err(e) = regex_lite::Regex::new(&pattern) {
                    return Err(Diagnostic::new(
                        Span::new(base, base + 2 + i + 1),
                        "invalid regex",
                    )
                    .with_hint(
                        e.to_string()
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                    ));
                }
                return Ok((pattern, i + 1));
            }
            '\\' if matches!(chars.peek(), Some((_, '"'))) => {
                pattern.push('"');
                chars.next();
            }
            c => pattern.push(c),
        }
    }
    Err(
        Diagnostic::new(Span::new(base, base + 2 + s.len()), "unterminated regex")
            .with_hint("close the regex with `\"`"),
    )
}

/// Length of `[v6addr]:port` at the start of `s`, if that is what it holds.
fn bracketed_addr_len(s: &str) -> Option<usize> {
    let close = s.find(']')?;
    let inner = &s[1..close];
    if inner.is_empty()
        || !inner.contains(':')
        || !inner
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    {
        return None;
    }
    let rest = &s[close + 1..];
    let port_len = rest
        .strip_prefix(':')?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .count();
    (port_len > 0).then_some(close + 2 + port_len)
}

/// Decodes `"..."` (see [`crate::literal::text`]); returns the bytes and the literal's
/// length in the line, or a diagnostic at the offending escape.
fn lex_text(s: &str, base: usize) -> Result<(Vec<u8>, usize), Diagnostic> {
    use crate::literal::TextError;
    crate::literal::text(s).map_err(|e| match e {
        TextError::UnfinishedEscape { at } => {
            Diagnostic::new(Span::new(base + at, base + at + 1), "unterminated string")
        }
        TextError::BadHexEscape { at, end } => {
            Diagnostic::new(Span::new(base + at, base + end), "invalid `\\x` escape")
                .with_hint("write two hex digits, e.g. \\x00")
        }
        TextError::UnknownEscape { at, end, escape } => Diagnostic::new(
            Span::new(base + at, base + end),
            format!("unknown escape `\\{escape}`"),
        )
        .with_hint("escapes are \\n \\r \\t \\0 \\\\ \\\" and \\xHH"),
        TextError::Unterminated => {
            Diagnostic::new(Span::new(base, base + s.len()), "unterminated string")
                .with_hint("close the string with `\"`")
        }
    })
}

/// Decimal with optional `_` separators and a `k` (1024) or `M` (1048576) suffix.
fn parse_int(text: &str) -> Option<u64> {
    let (digits, mult) = match text.strip_suffix('k') {
        Some(d) => (d, 1024),
        None => match text.strip_suffix('M') {
            Some(d) => (d, 1024 * 1024),
            None => (text, 1),
        },
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Vec<Tok> {
        lex_line(line, 0)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn lexes_a_step_with_addresses_and_data() {
        assert_eq!(
            toks(r#"r = peer.send(c, "hi\x00\n") & -> 3 # trailing"#),
            vec![
                Tok::Ident("r".into()),
                Tok::Eq,
                Tok::Ident("peer".into()),
                Tok::Dot,
                Tok::Ident("send".into()),
                Tok::LParen,
                Tok::Ident("c".into()),
                Tok::Comma,
                Tok::Bytes(b"hi\x00\n".to_vec()),
                Tok::RParen,
                Tok::Amp,
                Tok::Arrow,
                Tok::Int(3),
            ]
        );
        assert_eq!(
            toks("bind(a, 127.0.0.1:0) [::1]:80 [linux] hex\"00 ff\" 64k"),
            vec![
                Tok::Ident("bind".into()),
                Tok::LParen,
                Tok::Ident("a".into()),
                Tok::Comma,
                Tok::Addr("127.0.0.1:0".parse().unwrap()),
                Tok::RParen,
                Tok::Addr("[::1]:80".parse().unwrap()),
                Tok::LBracket,
                Tok::Ident("linux".into()),
                Tok::RBracket,
                Tok::Bytes(vec![0, 255]),
                Tok::Int(65536),
            ]
        );
    }

    #[test]
    fn lexes_hosts_named_by_role() {
        assert_eq!(
            toks("bind(a, target:0) peer6:8080 peer.bind target"),
            vec![
                Tok::Ident("bind".into()),
                Tok::LParen,
                Tok::Ident("a".into()),
                Tok::Comma,
                Tok::HostAddr(Host::Target, 0),
                Tok::RParen,
                Tok::HostAddr(Host::Peer6, 8080),
                Tok::Ident("peer".into()),
                Tok::Dot,
                Tok::Ident("bind".into()),
                Tok::Ident("target".into()),
            ]
        );
        let err = lex_line("bind(a, target:70000)", 0).unwrap_err();
        assert_eq!(err.message, "invalid port `70000`");
    }

    #[test]
    fn lexes_a_host_with_the_port_of_a_name() {
        assert_eq!(
            toks("bind(b, any:a.port) peer_mapped:l_2.port"),
            vec![
                Tok::Ident("bind".into()),
                Tok::LParen,
                Tok::Ident("b".into()),
                Tok::Comma,
                Tok::HostPortOf(Host::Any, "a".into(), Span::new(12, 13)),
                Tok::RParen,
                Tok::HostPortOf(Host::PeerMapped, "l_2".into(), Span::new(32, 35)),
            ]
        );
        let err = lex_line("bind(b, any:a)", 0).unwrap_err();
        assert_eq!(err.message, "expected a port after `any:`");
        assert_eq!(
            err.hint.as_deref(),
            Some("a port is a number or the port of a socket or saved address: any:0, any:a.port")
        );
        let err = lex_line("bind(b, any6:a.local)", 0).unwrap_err();
        assert_eq!(err.span, Span::new(8, 14));
    }

    #[test]
    fn errors_carry_spans() {
        let e = lex_line("send(a, \"abc)", 10).unwrap_err();
        assert_eq!(e.message, "unterminated string");
        assert_eq!(e.span.start, 18);
        let e = lex_line("bind(a, 127.0.0.1)", 0).unwrap_err();
        assert_eq!(e.span, Span::new(8, 17));
        let e = lex_line("send(a, \"\\q\")", 0).unwrap_err();
        assert_eq!(e.message, "unknown escape `\\q`");
        let e = lex_line("a ~ b", 0).unwrap_err();
        assert_eq!(e.span, Span::new(2, 3));
    }
}
