//! Front matter and steps to a checked [`Scenario`], collecting every error of the file.
//!
//! Step grammar (one per line, `#` starts a comment):
//!
//! ```text
//! step    := [name "="] ["peer" "."] call ["&"] ["->" expect]
//!          | [name "="] "await" name ["->" expect]
//!          | name "->" "blocks"
//! call    := ident "(" [arg {"," arg}] ")"
//! expect  := alt {"|" alt}
//! alt     := outcome ["[" profile {"," profile} "]"]
//! outcome := ERRNO | int | "text" | hex"00ff" | eof | ok | off | addr | name.local
//!          | "[" event {"," event} "]"
//! ```

use super::ast::*;
use super::diagnostic::{closest, Diagnostic, SourceFile};
use super::lexer::{lex_line, Tok, Token};
use super::ops::{self, OPS};
use crate::protocol::errno;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// How many connections `fill_backlog` opens at most when no limit is given.
pub const DEFAULT_FILL_LIMIT: u32 = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrontMatter {
    title: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    refs: Vec<String>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    profiles: Vec<String>,
    weight: Option<f64>,
    hint: Option<String>,
}

/// What a name stands for while parsing.
#[derive(Debug, Clone)]
enum Binding {
    Socket {
        side: Side,
    },
    Addr,
    /// A socket option value read earlier (`v = getsockopt(s, SO_RCVBUF)`).
    Value,
    /// A wire connection (`w = wire(l)`).
    Connection,
    Program,
    Pending {
        side: Side,
        op: &'static str,
        yields: Yield,
        awaited_at: Option<u32>,
    },
}

struct Parser<'a> {
    src: &'a SourceFile,
    errors: Vec<Diagnostic>,
    names: HashMap<String, (Binding, u32)>,
    requires: Vec<String>,
    roles: Vec<String>,
}

/// Parses a scenario file. `name` is the scenario's name (its path below the root).
pub fn parse(src: &SourceFile, name: &str) -> Result<Scenario, Vec<Diagnostic>> {
    let mut p = Parser {
        src,
        errors: Vec::new(),
        names: HashMap::new(),
        requires: Vec::new(),
        roles: Vec::new(),
    };
    let (meta, body_start) = p.front_matter();
    let mut steps = Vec::new();
    let mut offset = body_start;
    let text = &src.text;
    let first_line = text[..body_start].matches('\n').count() as u32 + 1;
    for (i, raw) in text[body_start..].split('\n').enumerate() {
        let line_no = first_line + i as u32;
        let line_start = offset;
        offset += raw.len() + 1;
        // Segment lines have a notation of their own (wire::notation).
        if let Some(parsed) = p.segment_line(raw, line_start, line_no) {
            match parsed {
                Ok(step) => steps.push(step),
                Err(d) => p.errors.push(d),
            }
            continue;
        }
        match lex_line(raw, line_start) {
            Ok(tokens) if tokens.is_empty() => {}
            Ok(tokens) => {
                if let Some(step) = p.step(&tokens, line_no) {
                    steps.push(step);
                }
            }
            Err(d) => p.errors.push(d),
        }
    }
    for cap in &meta.requires {
        p.require(cap);
    }
    if p.errors.is_empty() && steps.is_empty() {
        let end = text.len();
        p.errors.push(
            Diagnostic::new(Span::new(end, end), "scenario has no steps")
                .with_hint("add steps after the closing `+++`, e.g. `a = socket()`"),
        );
    }
    if p.errors.is_empty() {
        Ok(Scenario {
            name: name.to_string(),
            path: src.path.clone(),
            meta,
            steps,
            requires: p.requires,
            roles: p.roles,
        })
    } else {
        p.errors.sort_by_key(|d| d.span.start);
        Err(p.errors)
    }
}

impl Parser<'_> {
    fn error(&mut self, span: Span, msg: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(span, msg);
        d.hint = hint;
        self.errors.push(d);
    }

    fn require(&mut self, cap: &str) {
        if !self.requires.iter().any(|c| c == cap) {
            self.requires.push(cap.to_string());
        }
    }

    /// Parses the `+++` block; returns the metadata and the byte offset of the steps.
    fn front_matter(&mut self) -> (FrontMatter, usize) {
        let text = &self.src.text;
        let first_end = text.find('\n').unwrap_or(text.len());
        if text[..first_end].trim_end() != "+++" {
            self.error(
                Span::new(0, first_end),
                "missing front matter",
                Some("start the file with `+++`, a `title = \"...\"` line, and `+++`".into()),
            );
            return (FrontMatter::default(), 0);
        }
        let body = first_end + 1;
        let mut pos = body.min(text.len());
        let close = loop {
            if pos >= text.len() {
                break None;
            }
            let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
            if text[pos..end].trim_end() == "+++" {
                break Some((pos, (end + 1).min(text.len())));
            }
            pos = end + 1;
        };
        let Some((close_start, steps_start)) = close else {
            self.error(
                Span::new(0, 3),
                "unterminated front matter",
                Some("close the front matter with a line holding only `+++`".into()),
            );
            return (FrontMatter::default(), text.len());
        };
        let toml_text = &text[body..close_start];
        let raw: RawFrontMatter = match toml::from_str(toml_text) {
            Ok(raw) => raw,
            Err(e) => {
                let span = e
                    .span()
                    .map(|r| Span::new(body + r.start, body + r.end))
                    .unwrap_or(Span::new(body, close_start));
                let msg = e.message().trim().to_string();
                let hint = msg.contains("unknown field").then(|| {
                    "front matter fields are title, tags, refs, requires, profiles, weight, hint"
                        .to_string()
                });
                self.error(span, format!("invalid front matter: {msg}"), hint);
                return (FrontMatter::default(), steps_start);
            }
        };
        let title = match raw.title {
            Some(t) if !t.trim().is_empty() => t,
            _ => {
                self.error(
                    Span::new(0, 3),
                    "front matter has no title",
                    Some("add `title = \"What this scenario shows\"`".into()),
                );
                String::new()
            }
        };
        let weight = raw.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight >= 0.0) {
            let at = text[body..close_start]
                .find("weight")
                .map_or(Span::new(0, 3), |i| Span::new(body + i, body + i + 6));
            self.error(
                at,
                "weight must be a number of points, 0 or more",
                Some("write e.g. `weight = 2`".into()),
            );
        }
        (
            FrontMatter {
                title,
                tags: raw.tags,
                refs: raw.refs,
                requires: raw.requires,
                profiles: raw.profiles,
                weight,
                hint: raw.hint.filter(|h| !h.trim().is_empty()),
            },
            steps_start,
        )
    }

    /// `w < LINE` or `w > LINE`, if `raw` has that shape: a name, spaces, `<` or `>`,
    /// a space. `None` for any other line.
    fn segment_line(
        &mut self,
        raw: &str,
        start: usize,
        line: u32,
    ) -> Option<Result<Step, Diagnostic>> {
        let indent = raw.len() - raw.trim_start().len();
        let rest = &raw[indent..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let after = rest[name_len..].trim_start();
        let direction = match after.as_bytes() {
            [b'<', b' ' | b'\t', ..] => WireDirection::Inject,
            [b'>', b' ' | b'\t', ..] => WireDirection::Expect,
            _ => return None,
        };
        let name = Ident {
            name: rest[..name_len].to_string(),
            span: Span::new(start + indent, start + indent + name_len),
        };
        // The segment text, without a trailing comment (a `#` outside quotes).
        let seg_start = raw.len() - after.len() + 1;
        let mut seg = &raw[seg_start..];
        let mut quoted = false;
        for (i, ch) in seg.char_indices() {
            match ch {
                '"' => quoted = !quoted,
                '#' if !quoted => {
                    seg = &seg[..i];
                    break;
                }
                _ => {}
            }
        }
        let seg = seg.trim_end();
        let span = Span::new(start + indent, start + seg_start + seg.len());
        Some(self.segment_step(name, direction, seg, start + seg_start, line, span))
    }

    fn segment_step(
        &mut self,
        conn: Ident,
        direction: WireDirection,
        text: &str,
        text_start: usize,
        line: u32,
        span: Span,
    ) -> Result<Step, Diagnostic> {
        match self.names.get(&conn.name) {
            Some((Binding::Connection, _)) => {}
            Some(_) => {
                return Err(Diagnostic::new(
                    conn.span,
                    format!("`{}` is not a wire connection", conn.name),
                )
                .with_hint(format!("make one first: `{} = wire(l)`", conn.name)))
            }
            None => return Err(self.unknown_name(&conn)),
        }
        let action = super::wire_line::action(direction, text, text_start)?;
        Ok(Step {
            line,
            span,
            text: self.src.slice(span).to_string(),
            kind: StepKind::Wire {
                conn,
                direction,
                action,
            },
        })
    }

    fn step(&mut self, toks: &[Token], line: u32) -> Option<Step> {
        let span = toks[0].span.to(toks[toks.len() - 1].span);
        let text = self.src.slice(span).to_string();
        match self.step_kind(toks, line) {
            Ok(kind) => Some(Step {
                line,
                span,
                text,
                kind,
            }),
            Err(d) => {
                self.errors.push(d);
                None
            }
        }
    }

    fn step_kind(&mut self, toks: &[Token], line: u32) -> Result<StepKind, Diagnostic> {
        let mut c = Cursor { toks, pos: 0 };
        // `name =`
        let bind = match (c.peek_ident(), toks.get(1).map(|t| &t.tok)) {
            (Some(_), Some(Tok::Eq)) => {
                let id = c.ident("a name")?;
                c.pos += 1;
                Some(id)
            }
            _ => None,
        };
        if let Some(b) = &bind {
            if let Some((_, at)) = self.names.get(&b.name) {
                return Err(Diagnostic::new(
                    b.span,
                    format!("`{}` is already bound at line {at}", b.name),
                )
                .with_hint("each name is bound once; pick a new name"));
            }
        }
        // `name -> blocks`
        if bind.is_none() && matches!(toks.get(1).map(|t| &t.tok), Some(Tok::Arrow)) {
            let handle = c.ident("a background call's name")?;
            c.pos += 1;
            let word = c.ident("`blocks`")?;
            if word.name != "blocks" {
                return Err(
                    Diagnostic::new(word.span, "only `blocks` can follow a name").with_hint(
                        format!(
                            "to check the result, write `await {} -> {}`",
                            handle.name, word.name
                        ),
                    ),
                );
            }
            c.end()?;
            self.pending(&handle)?;
            return Ok(StepKind::StillBlocked { handle });
        }
        // `await name`
        if c.peek_ident() == Some("await") {
            c.pos += 1;
            let handle = c.ident("the name of a background call")?;
            let (side, op, yields) = self.pending(&handle)?;
            if let Some(Binding::Pending { awaited_at, .. }) =
                self.names.get_mut(&handle.name).map(|(b, _)| b)
            {
                *awaited_at = Some(line);
            }
            let expect = self.arrow_expect(&mut c, yields, op)?;
            c.end()?;
            if let Some(b) = &bind {
                if yields != Yield::Socket {
                    return Err(
                        Diagnostic::new(b.span, format!("`{op}` yields nothing to name"))
                            .with_hint(format!(
                                "write `await {}` without `{} =`",
                                handle.name, b.name
                            )),
                    );
                }
                self.names
                    .insert(b.name.clone(), (Binding::Socket { side }, line));
            }
            return Ok(StepKind::Await {
                bind,
                handle,
                expect,
            });
        }
        // `[peer.]call(args) [&] [-> expect]`
        let mut side = Side::Target;
        if c.peek_ident() == Some("peer")
            && matches!(toks.get(c.pos + 1).map(|t| &t.tok), Some(Tok::Dot))
        {
            side = Side::Peer;
            c.pos += 2;
        }
        let call = c.ident("a call such as `socket()`")?;
        if ops::spec(&call.name).is_none() {
            let hint = closest(&call.name, ops::names())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    format!("calls are: {}", ops::names().collect::<Vec<_>>().join(", "))
                });
            return Err(
                Diagnostic::new(call.span, format!("unknown call `{}`", call.name)).with_hint(hint),
            );
        }
        let open = c.expect(Tok::LParen, "`(`")?;
        let args = c.args()?;
        let close = c.expect(Tok::RParen, "`)`")?;
        let op = self.op(&call, &args, side, open.to(close))?;
        if op.on_harness() {
            if side == Side::Peer {
                return Err(Diagnostic::new(
                    call.span,
                    format!("`{}` runs in the harness, not on the peer", op.name()),
                )
                .with_hint("drop the `peer.` prefix"));
            }
            side = Side::Harness;
        }
        if side == Side::Peer && matches!(op, Op::FillBacklog { .. }) {
            return Err(Diagnostic::new(
                call.span,
                "`fill_backlog` always opens its connections from the peer",
            )
            .with_hint(
                "write `fill_backlog(listener)` without `peer.`, for a listener of either side",
            ));
        }
        let background = c.eat(&Tok::Amp);
        let expect = self.arrow_expect(&mut c, op.yields(), op.name())?;
        c.end()?;
        if background {
            let amp = toks
                .iter()
                .find(|t| t.tok == Tok::Amp)
                .map_or(call.span, |t| t.span);
            if !op.spec().background {
                return Err(Diagnostic::new(
                    amp,
                    format!("`{}` cannot run in the background", op.name()),
                )
                .with_hint(format!(
                    "only calls that block can: {}",
                    OPS.iter()
                        .filter(|o| o.background)
                        .map(|o| o.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let Some(b) = &bind else {
                return Err(Diagnostic::new(call.span, "a background call needs a name")
                    .with_hint(format!("write `r = {}(...) &`, then `await r`", op.name())));
            };
            if let Some(e) = &expect {
                return Err(
                    Diagnostic::new(e.span, "a background call has no result yet")
                        .with_hint(format!("check it later with `await {} -> ...`", b.name)),
                );
            }
            if side == Side::Target {
                self.require("concurrent");
            }
            self.names.insert(
                b.name.clone(),
                (
                    Binding::Pending {
                        side,
                        op: op.name(),
                        yields: op.yields(),
                        awaited_at: None,
                    },
                    line,
                ),
            );
        } else if let Some(b) = &bind {
            match op.yields() {
                Yield::Socket => {
                    self.names
                        .insert(b.name.clone(), (Binding::Socket { side }, line));
                }
                Yield::Addr => {
                    self.names.insert(b.name.clone(), (Binding::Addr, line));
                }
                Yield::OptValue => {
                    self.names.insert(b.name.clone(), (Binding::Value, line));
                }
                Yield::Program => {
                    self.names.insert(b.name.clone(), (Binding::Program, line));
                }
                Yield::Connection => {
                    self.names
                        .insert(b.name.clone(), (Binding::Connection, line));
                }
                Yield::Backlog => {
                    self.names.insert(
                        b.name.clone(),
                        (
                            Binding::Pending {
                                side: Side::Peer,
                                op: "fill_backlog",
                                yields: Yield::Nothing,
                                awaited_at: None,
                            },
                            line,
                        ),
                    );
                }
                _ => {
                    return Err(Diagnostic::new(
                        b.span,
                        format!("`{}` yields nothing to name", op.name()),
                    )
                    .with_hint(
                        "names hold sockets, addresses, option values and background calls; check other results with `->`",
                    ));
                }
            }
        } else if op.yields() == Yield::Socket && matches!(op, Op::Socket { .. }) {
            return Err(Diagnostic::new(call.span, "a new socket needs a name")
                .with_hint("write `s = socket()`"));
        } else if op.yields() == Yield::Connection {
            return Err(Diagnostic::new(call.span, "a wire connection needs a name")
                .with_hint("write `w = wire(l)`, then `w < S 0:0(0) win 65535`"));
        } else if op.yields() == Yield::Program {
            return Err(Diagnostic::new(call.span, "a started program needs a name")
                .with_hint("write `srv = start(server)`"));
        }
        if side == Side::Target {
            self.infer_requirements(&op);
        }
        Ok(StepKind::Call {
            bind,
            side,
            op,
            background,
            expect,
        })
    }

    fn infer_requirements(&mut self, op: &Op) {
        for cap in op.spec().needs {
            self.require(cap);
        }
        // What the arguments add.
        match op {
            Op::Socket {
                family: Family::Ipv6,
            } => self.require("ipv6"),
            Op::SetSockOpt { opt, .. } | Op::GetSockOpt { opt, .. } => self.require(opt.name()),
            Op::Send { oob: true, .. }
            | Op::Recv {
                flags: RecvFlags { oob: true, .. },
                ..
            } => self.require("oob"),
            _ => {}
        }
    }

    /// Resolves a background call's name.
    fn pending(&self, handle: &Ident) -> Result<(Side, &'static str, Yield), Diagnostic> {
        match self.names.get(&handle.name) {
            Some((
                Binding::Pending {
                    side,
                    op,
                    yields,
                    awaited_at,
                },
                _,
            )) => {
                if let Some(at) = awaited_at {
                    return Err(Diagnostic::new(
                        handle.span,
                        format!("`{}` was already awaited at line {at}", handle.name),
                    ));
                }
                Ok((*side, op, *yields))
            }
            Some((
                Binding::Socket { .. }
                | Binding::Addr
                | Binding::Value
                | Binding::Program
                | Binding::Connection,
                _,
            )) => Err(Diagnostic::new(
                handle.span,
                format!("`{}` is not a background call", handle.name),
            )
            .with_hint("start a background call with `r = recv(s, 10) &`")),
            None => Err(self.unknown_name(handle)),
        }
    }

    fn unknown_name(&self, id: &Ident) -> Diagnostic {
        let known: Vec<&str> = self.names.keys().map(String::as_str).collect();
        let hint = closest(&id.name, known.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("create it first, e.g. `{} = socket()`", id.name));
        Diagnostic::new(id.span, format!("no socket or call named `{}`", id.name)).with_hint(hint)
    }

    /// Resolves a socket argument and checks it lives on the call's side.
    fn socket(&self, id: &Ident, side: Side) -> Result<Ident, Diagnostic> {
        match self.names.get(&id.name) {
            Some((Binding::Socket { side: s }, _)) if *s == side => Ok(id.clone()),
            Some((Binding::Socket { side: s }, _)) => Err(Diagnostic::new(
                id.span,
                format!(
                    "`{}` is a {s} socket but this call runs on the {side}",
                    id.name
                ),
            )
            .with_hint(match s {
                Side::Peer => {
                    "prefix the call with `peer.` to run it on the reference side".to_string()
                }
                Side::Target | Side::Harness => {
                    "drop the `peer.` prefix to run it on the target".to_string()
                }
            })),
            Some((
                other @ (Binding::Addr | Binding::Connection | Binding::Value | Binding::Program),
                _,
            )) => {
                let (noun, hint) = match other {
                    Binding::Addr => (
                        "an address",
                        "addresses go where an address is expected, e.g. `bind(s, p)`".to_string(),
                    ),
                    Binding::Connection => (
                        "a wire connection",
                        format!(
                            "send and expect segments on it: `{} < S 0:0(0) win 65535`",
                            id.name
                        ),
                    ),
                    Binding::Value => (
                        "an option value",
                        format!(
                            "compare a later read with it: `getsockopt(s, SO_RCVBUF) -> {}`",
                            id.name
                        ),
                    ),
                    _ => (
                        "a program",
                        format!("connect to it with `peer.connect(c, {}.addr)`", id.name),
                    ),
                };
                Err(
                    Diagnostic::new(id.span, format!("`{}` is {noun}, not a socket", id.name))
                        .with_hint(hint),
                )
            }
            Some((Binding::Pending { op, .. }, _)) => Err(Diagnostic::new(
                id.span,
                format!("`{}` is a background `{op}`, not a socket", id.name),
            )
            .with_hint(format!(
                "`s = await {}` gives the socket of a background accept",
                id.name
            ))),
            None => Err(self.unknown_name(id)),
        }
    }

    /// A started program's name.
    fn program(&self, arg: &Arg) -> Result<Ident, Diagnostic> {
        match arg {
            Arg::Name(id) => match self.names.get(&id.name) {
                Some((Binding::Program, _)) => Ok(id.clone()),
                Some(_) => Err(
                    Diagnostic::new(id.span, format!("`{}` is not a program", id.name))
                        .with_hint(format!("start one first: `{} = start(server)`", id.name)),
                ),
                None => Err(self.unknown_name(id)),
            },
            other => Err(Diagnostic::new(
                other.span(),
                format!("expected a program's name, found {}", other.describe()),
            )),
        }
    }

    /// What `any:NAME.port` takes the port of: a socket (its local address) or a saved
    /// address.
    fn port_source(&self, id: &Ident) -> Result<Ident, Diagnostic> {
        match self.names.get(&id.name) {
            Some((Binding::Addr, _)) => Ok(id.clone()),
            _ => self.any_socket(id),
        }
    }

    /// Any socket, whatever its side (addresses can be read across sides).
    fn any_socket(&self, id: &Ident) -> Result<Ident, Diagnostic> {
        match self.names.get(&id.name) {
            Some((Binding::Socket { .. }, _)) => Ok(id.clone()),
            _ => self.socket(id, Side::Target),
        }
    }

    fn addr(&self, arg: &Arg) -> Result<AddrExpr, Diagnostic> {
        match arg {
            Arg::Addr(a, _) => Ok(AddrExpr::Literal(*a)),
            Arg::HostAddr(h, port, _) => Ok(AddrExpr::Host(*h, *port)),
            Arg::HostPortOf(h, id, _) => Ok(AddrExpr::HostWithPortOf(*h, self.port_source(id)?)),
            Arg::Name(id) if matches!(self.names.get(&id.name), Some((Binding::Addr, _))) => {
                Ok(AddrExpr::Saved(id.clone()))
            }
            // A program's and a wire connection's one address: `srv.addr`, `w.addr`.
            Arg::Member(id, member)
                if matches!(
                    self.names.get(&id.name),
                    Some((Binding::Program | Binding::Connection, _))
                ) =>
            {
                let program = matches!(self.names.get(&id.name), Some((Binding::Program, _)));
                match (member.name.as_str(), program) {
                    ("addr", true) => Ok(AddrExpr::ProgramAddr(id.clone())),
                    ("addr", false) => Ok(AddrExpr::WireAddr(id.clone())),
                    _ => Err(Diagnostic::new(
                        member.span,
                        format!("unknown address `{}.{}`", id.name, member.name),
                    )
                    .with_hint(if program {
                        format!(
                            "a program's address is `{}.addr` (127.0.0.1 and its port)",
                            id.name
                        )
                    } else {
                        format!(
                            "a wire connection's address is `{}.addr` (the remote TCP's)",
                            id.name
                        )
                    })),
                }
            }
            Arg::Member(id, member) => match member.name.as_str() {
                "local" => Ok(AddrExpr::LocalOf(self.any_socket(id)?)),
                "remote" => Ok(AddrExpr::RemoteOf(self.any_socket(id)?)),
                other => Err(Diagnostic::new(
                    member.span,
                    format!("unknown address `{}.{other}`", id.name),
                )
                .with_hint(format!(
                    "write `{0}.local` (its own address) or `{0}.remote` (its peer's)",
                    id.name
                ))),
            },
            other => Err(Diagnostic::new(
                other.span(),
                format!("expected an address, found {}", other.describe()),
            )
            .with_hint("write target:0, peer6:0, any:s.port, 127.0.0.1:0, or s.local for another socket's address")),
        }
    }

    fn op(
        &mut self,
        call: &Ident,
        args: &[Arg],
        side: Side,
        parens: Span,
    ) -> Result<Op, Diagnostic> {
        let name = call.name.as_str();
        let Some(spec) = ops::spec(name) else {
            return Err(Diagnostic::new(call.span, format!("unknown call `{name}`")));
        };
        let (lo, hi) = spec.arity;
        if args.len() < lo || args.len() > hi {
            return Err(Diagnostic::new(
                parens,
                format!("`{name}` takes {}, found {}", count(lo, hi), args.len()),
            )
            .with_hint(format!("write `{}`", spec.signature)));
        }
        let sock = |p: &Self, i: usize| -> Result<Ident, Diagnostic> {
            match &args[i] {
                Arg::Name(id) => p.socket(id, side),
                other => Err(Diagnostic::new(
                    other.span(),
                    format!("expected a socket name, found {}", other.describe()),
                )),
            }
        };
        let int = |i: usize, what: &str| -> Result<u64, Diagnostic> {
            match &args[i] {
                Arg::Int(n, _) => Ok(*n),
                other => Err(Diagnostic::new(
                    other.span(),
                    format!("expected {what}, found {}", other.describe()),
                )),
            }
        };
        let word = |i: usize, choices: &[&str]| -> Result<String, Diagnostic> {
            match &args[i] {
                Arg::Name(id) if choices.contains(&id.name.as_str()) => Ok(id.name.clone()),
                other => Err(Diagnostic::new(
                    other.span(),
                    format!(
                        "expected one of {}, found {}",
                        choices.join(", "),
                        other.describe()
                    ),
                )),
            }
        };
        Ok(match name {
            "socket" => {
                let family = if args.is_empty() || word(0, &["ipv4", "ipv6"])? == "ipv4" {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                };
                Op::Socket { family }
            }
            "bind" | "connect" => {
                let (s, addr) = (sock(self, 0)?, self.addr(&args[1])?);
                if name == "bind" {
                    Op::Bind { sock: s, addr }
                } else {
                    Op::Connect { sock: s, addr }
                }
            }
            "listen" => {
                let backlog = int(1, "a backlog")?;
                let backlog = i32::try_from(backlog)
                    .map_err(|_| Diagnostic::new(args[1].span(), "backlog is too large"))?;
                Op::Listen {
                    sock: sock(self, 0)?,
                    backlog,
                }
            }
            "accept" => Op::Accept {
                sock: sock(self, 0)?,
            },
            "close" => Op::Close {
                sock: sock(self, 0)?,
            },
            "getsockname" => Op::GetSockName {
                sock: sock(self, 0)?,
            },
            "getpeername" => Op::GetPeerName {
                sock: sock(self, 0)?,
            },
            "send" => {
                let data = match &args[1] {
                    Arg::Bytes(b, _) => b.clone(),
                    other => {
                        return Err(Diagnostic::new(
                            other.span(),
                            format!("expected data, found {}", other.describe()),
                        )
                        .with_hint("write \"text\" or hex\"00ff\""))
                    }
                };
                let oob = match args.len() {
                    3 => {
                        word(2, &["oob"])?;
                        true
                    }
                    _ => false,
                };
                Op::Send {
                    sock: sock(self, 0)?,
                    data,
                    oob,
                }
            }
            "sockatmark" => Op::SockAtMark {
                sock: sock(self, 0)?,
            },
            "recv" => {
                let mut flags = RecvFlags::default();
                for i in 2..args.len() {
                    match word(i, &["oob", "peek", "waitall", "dontwait", "trunc"])?.as_str() {
                        "oob" => flags.oob = true,
                        "peek" => flags.peek = true,
                        "waitall" => flags.waitall = true,
                        "trunc" => flags.trunc = true,
                        _ => flags.dontwait = true,
                    }
                }
                Op::Recv {
                    sock: sock(self, 0)?,
                    max: int(1, "a byte count")?,
                    flags,
                }
            }
            "recvall" => Op::RecvAll {
                sock: sock(self, 0)?,
                len: int(1, "a byte count")?,
            },
            "shutdown" => {
                let how = match word(1, &["rd", "wr", "rdwr"])?.as_str() {
                    "rd" => ShutdownHow::Read,
                    "wr" => ShutdownHow::Write,
                    _ => ShutdownHow::Both,
                };
                Op::Shutdown {
                    sock: sock(self, 0)?,
                    how,
                }
            }
            "setsockopt" | "getsockopt" => {
                let opt = match &args[1] {
                    Arg::Name(id) => SockOpt::from_name(&id.name).ok_or_else(|| {
                        let names: Vec<&str> = SockOpt::ALL.iter().map(|o| o.name()).collect();
                        let hint = closest(&id.name, names.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("options are: {}", names.join(", ")));
                        Diagnostic::new(id.span, format!("unknown socket option `{}`", id.name))
                            .with_hint(hint)
                    })?,
                    other => {
                        return Err(Diagnostic::new(
                            other.span(),
                            format!("expected a socket option, found {}", other.describe()),
                        ))
                    }
                };
                let s = sock(self, 0)?;
                if name == "getsockopt" {
                    Op::GetSockOpt { sock: s, opt }
                } else {
                    let value = match &args[2] {
                        Arg::Int(n, sp) => OptValue::Int(
                            i64::try_from(*n)
                                .map_err(|_| Diagnostic::new(*sp, "value is too large"))?,
                        ),
                        Arg::Name(id) if id.name == "off" && opt == SockOpt::Linger => {
                            OptValue::Off
                        }
                        Arg::Name(id) if id.name == "on" && opt != SockOpt::Linger => {
                            OptValue::Int(1)
                        }
                        Arg::Name(id) if id.name == "off" => OptValue::Int(0),
                        other => {
                            return Err(Diagnostic::new(
                                other.span(),
                                format!("expected a value, found {}", other.describe()),
                            )
                            .with_hint(
                                "values are numbers, on/off; SO_LINGER takes off or seconds",
                            ))
                        }
                    };
                    Op::SetSockOpt {
                        sock: s,
                        opt,
                        value,
                    }
                }
            }
            "nonblocking" => {
                let on = word(1, &["on", "off"])? == "on";
                Op::SetNonBlocking {
                    sock: sock(self, 0)?,
                    on,
                }
            }
            "poll" => {
                let events = match &args[1] {
                    Arg::List(items, _) => self.events(items)?,
                    other => {
                        return Err(Diagnostic::new(
                            other.span(),
                            format!("expected a list of events, found {}", other.describe()),
                        )
                        .with_hint("write [in], [out] or [in, out]"))
                    }
                };
                Op::Poll {
                    sock: sock(self, 0)?,
                    events,
                    timeout_ms: int(2, "a timeout in milliseconds")?,
                }
            }
            "bulk_echo" => Op::BulkEcho {
                sock: sock(self, 0)?,
                len: int(1, "a byte count")?,
            },
            "start" => {
                let role = match &args[0] {
                    Arg::Name(id) => id.clone(),
                    other => {
                        return Err(Diagnostic::new(
                            other.span(),
                            format!("expected a role name, found {}", other.describe()),
                        )
                        .with_hint(
                            "write `srv = start(server)`; the user binds `server` to a command",
                        ))
                    }
                };
                if !self.roles.contains(&role.name) {
                    self.roles.push(role.name.clone());
                }
                let addr = match args.get(1) {
                    Some(a) => Some(self.addr(a)?),
                    None => None,
                };
                Op::Start { role, addr }
            }
            "stdin" => {
                let data = match &args[1] {
                    Arg::Bytes(b, _) => b.clone(),
                    other => {
                        return Err(Diagnostic::new(
                            other.span(),
                            format!("expected data, found {}", other.describe()),
                        )
                        .with_hint("write \"text\\n\""))
                    }
                };
                Op::Stdin {
                    prog: self.program(&args[0])?,
                    data,
                }
            }
            "listening" | "accepted" | "close_stdin" | "stdout" | "stderr" | "exit" | "running"
            | "stop" => {
                let prog = self.program(&args[0])?;
                match name {
                    "listening" => Op::Listening { prog },
                    "accepted" => Op::Accepted { prog },
                    "close_stdin" => Op::CloseStdin { prog },
                    "stdout" => Op::Output {
                        prog,
                        stream: Stream::Stdout,
                    },
                    "stderr" => Op::Output {
                        prog,
                        stream: Stream::Stderr,
                    },
                    "exit" => Op::Exit { prog },
                    "running" => Op::Running { prog },
                    _ => Op::Stop { prog },
                }
            }
            "consumed" => match &args[0] {
                Arg::Name(id) => Op::Consumed {
                    sock: self.any_socket(id)?,
                },
                other => {
                    return Err(Diagnostic::new(
                        other.span(),
                        format!("expected a socket name, found {}", other.describe()),
                    ))
                }
            },
            "fill_backlog" => {
                let limit = if args.len() == 2 {
                    int(1, "a connection limit")?
                } else {
                    u64::from(DEFAULT_FILL_LIMIT)
                };
                let limit = u32::try_from(limit)
                    .ok()
                    .filter(|l| *l > 0)
                    .ok_or_else(|| {
                        Diagnostic::new(args[1].span(), "limit must be between 1 and 2^32-1")
                    })?;
                // The listener may be either side's: the connections always come from
                // the peer (a full peer listener stalls a target client's handshake).
                Op::FillBacklog {
                    sock: match &args[0] {
                        Arg::Name(id) => self.any_socket(id)?,
                        other => {
                            return Err(Diagnostic::new(
                                other.span(),
                                format!("expected a socket name, found {}", other.describe()),
                            ))
                        }
                    },
                    limit,
                }
            }
            "wire" => Op::Wire {
                listener: match args.first() {
                    None => None,
                    // A program under test: the remote TCP talks to its port.
                    Some(arg @ Arg::Name(id))
                        if matches!(self.names.get(&id.name), Some((Binding::Program, _))) =>
                    {
                        Some(self.program(arg)?)
                    }
                    Some(Arg::Name(id)) => Some(self.socket(id, Side::Target)?),
                    Some(other) => {
                        return Err(Diagnostic::new(
                            other.span(),
                            format!("expected a listening socket, found {}", other.describe()),
                        ))
                    }
                },
                isn: match args.len() {
                    2 => Some(
                        u32::try_from(int(1, "an initial sequence number")?).map_err(|_| {
                            Diagnostic::new(
                                args[1].span(),
                                "an initial sequence number is below 2^32",
                            )
                        })?,
                    ),
                    _ => None,
                },
            },
            // A call in the table without an arm here: a sockspec bug, caught by the
            // test that parses every table entry's example.
            _ => {
                return Err(Diagnostic::new(
                    call.span,
                    format!("`{name}` is listed but has no parser (a bug in sockspec)"),
                ))
            }
        })
    }

    fn events(&self, items: &[Ident]) -> Result<Vec<PollEvent>, Diagnostic> {
        let mut out = Vec::new();
        for id in items {
            let e = PollEvent::from_name(&id.name).ok_or_else(|| {
                Diagnostic::new(id.span, format!("unknown poll event `{}`", id.name))
                    .with_hint("events are in, out, err, hup, rdhup")
            })?;
            if !out.contains(&e) {
                out.push(e);
            }
        }
        out.sort();
        Ok(out)
    }

    /// `-> expect`, checked against what the call yields.
    fn arrow_expect(
        &mut self,
        c: &mut Cursor,
        yields: Yield,
        op: &str,
    ) -> Result<Option<Expect>, Diagnostic> {
        if !c.eat(&Tok::Arrow) {
            return Ok(None);
        }
        let mut alternatives = Vec::new();
        loop {
            let alt = self.alternative(c, yields, op)?;
            alternatives.push(alt);
            if !c.eat(&Tok::Pipe) {
                break;
            }
        }
        let span = alternatives[0]
            .span
            .to(alternatives[alternatives.len() - 1].span);
        Ok(Some(Expect { alternatives, span }))
    }

    fn alternative(
        &mut self,
        c: &mut Cursor,
        yields: Yield,
        op: &str,
    ) -> Result<Alternative, Diagnostic> {
        let Some(tok) = c.next().cloned() else {
            return Err(
                Diagnostic::new(c.end_span(), "expected an outcome after `->`")
                    .with_hint("outcomes are an errno (EADDRINUSE), a count, \"data\", eof, ok"),
            );
        };
        let start = tok.span;
        let outcome = match &tok.tok {
            Tok::Ident(w) if w == "ok" => Outcome::Ok,
            Tok::Ident(w) if w == "eof" => Outcome::Eof,
            Tok::Ident(w) if w == "off" => Outcome::Off,
            Tok::Ident(w) if w == "on" => Outcome::On,
            Tok::Ident(w) if w == "nonzero" => Outcome::NonZero,
            Tok::Ident(w) if w.starts_with("SIG") => {
                if crate::signals::signal_number(w).is_none() {
                    return Err(Diagnostic::new(start, format!("unknown signal `{w}`"))
                        .with_hint("write a signal name such as SIGPIPE, SIGSEGV or SIGKILL"));
                }
                Outcome::Signal(w.clone())
            }
            Tok::Regex(r) => Outcome::Regex(r.clone()),
            Tok::Ident(w) if w == "blocks" => {
                return Err(
                    Diagnostic::new(start, "`blocks` is checked on a background call")
                        .with_hint(format!("write `r = {op}(...) &` and then `r -> blocks`")),
                )
            }
            Tok::Ident(w)
                if w.starts_with('E')
                    && w.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) =>
            {
                if errno::by_name(w).is_none() {
                    let hint = closest(w, errno::names())
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "write an errno name such as ECONNREFUSED".into());
                    return Err(
                        Diagnostic::new(start, format!("unknown errno `{w}`")).with_hint(hint)
                    );
                }
                Outcome::Errno(w.clone())
            }
            Tok::Ident(w) if matches!(c.peek(), Some(Tok::Dot)) => {
                let id = Ident {
                    name: w.clone(),
                    span: start,
                };
                c.pos += 1;
                let member = c.ident("`local` or `remote`")?;
                Outcome::Addr(self.addr(&Arg::Member(id, member))?)
            }
            Tok::Ident(w) if matches!(self.names.get(w.as_str()), Some((Binding::Addr, _))) => {
                Outcome::Addr(AddrExpr::Saved(Ident {
                    name: w.clone(),
                    span: start,
                }))
            }
            Tok::Ident(w) if matches!(self.names.get(w.as_str()), Some((Binding::Value, _))) => {
                Outcome::SameAs(Ident {
                    name: w.clone(),
                    span: start,
                })
            }
            Tok::Int(n) => Outcome::Count(*n),
            Tok::Bytes(b) => Outcome::Data(b.clone()),
            Tok::Addr(a) => Outcome::Addr(AddrExpr::Literal(*a)),
            Tok::HostAddr(h, port) => Outcome::Addr(AddrExpr::Host(*h, *port)),
            Tok::HostPortOf(h, name, name_span) => Outcome::Addr(AddrExpr::HostWithPortOf(
                *h,
                self.port_source(&Ident {
                    name: name.clone(),
                    span: *name_span,
                })?,
            )),
            Tok::LBracket => {
                let items = c.ident_list(start)?;
                Outcome::Events(self.events(&items)?)
            }
            other => {
                return Err(Diagnostic::new(
                    start,
                    format!("expected an outcome, found {}", other.describe()),
                )
                .with_hint("outcomes are an errno (EADDRINUSE), a count, \"data\", eof, ok"))
            }
        };
        let outcome_span = start.to(c.prev_span());
        let harness = matches!(
            yields,
            Yield::Program | Yield::Output | Yield::Exit | Yield::Connection
        );
        let fits = match &outcome {
            Outcome::Ok => true,
            Outcome::Errno(_) => !harness,
            Outcome::Count(_) => matches!(
                yields,
                Yield::Count | Yield::Data | Yield::OptValue | Yield::Backlog | Yield::Exit
            ),
            Outcome::Data(_) | Outcome::Eof => matches!(yields, Yield::Data | Yield::Output),
            Outcome::Regex(_) => yields == Yield::Output,
            Outcome::Signal(_) | Outcome::NonZero => yields == Yield::Exit,
            Outcome::Off | Outcome::On | Outcome::SameAs(_) => yields == Yield::OptValue,
            Outcome::Addr(_) => yields == Yield::Addr,
            Outcome::Events(_) => yields == Yield::Events,
        };
        if !fits {
            let what = match yields {
                Yield::Nothing | Yield::Socket => "ok or an errno",
                Yield::Count => "a byte count, ok or an errno",
                Yield::Data => "data, a byte count, eof, ok or an errno",
                Yield::Addr => "an address, ok or an errno",
                Yield::OptValue => "a value, on, off, ok or an errno",
                Yield::Events => "a list of poll events, ok or an errno",
                Yield::Backlog => "a count of completed connections",
                Yield::Program | Yield::Connection => "ok",
                Yield::Output => "a text it contains, re\"regex\", or eof",
                Yield::Exit => {
                    "an exit status, nonzero, a signal such as SIGPIPE, or ok (status 0)"
                }
            };
            return Err(
                Diagnostic::new(outcome_span, format!("`{op}` cannot yield this"))
                    .with_hint(format!("`{op}` can be expected to give {what}")),
            );
        }
        let mut profiles = Vec::new();
        if c.eat(&Tok::LBracket) {
            let open = c.prev_span();
            for id in c.ident_list(open)? {
                if !id
                    .name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
                {
                    return Err(Diagnostic::new(
                        id.span,
                        format!("invalid profile name `{}`", id.name),
                    )
                    .with_hint("profiles are lowercase names such as linux or posix"));
                }
                profiles.push(id.name);
            }
        }
        Ok(Alternative {
            outcome,
            profiles,
            span: start.to(c.prev_span()),
        })
    }
}

fn count(lo: usize, hi: usize) -> String {
    let n = |k: usize| {
        if k == 1 {
            "1 argument".to_string()
        } else {
            format!("{k} arguments")
        }
    };
    if lo == hi {
        n(lo)
    } else {
        format!("{lo} to {}", n(hi))
    }
}

/// A call argument before it is typed by its position.
#[derive(Debug, Clone)]
enum Arg {
    Name(Ident),
    Member(Ident, Ident),
    Int(u64, Span),
    Bytes(Vec<u8>, Span),
    Addr(std::net::SocketAddr, Span),
    HostAddr(Host, u16, Span),
    HostPortOf(Host, Ident, Span),
    List(Vec<Ident>, Span),
}

impl Arg {
    fn span(&self) -> Span {
        match self {
            Arg::Name(id) => id.span,
            Arg::Member(a, b) => a.span.to(b.span),
            Arg::Int(_, s)
            | Arg::Bytes(_, s)
            | Arg::Addr(_, s)
            | Arg::HostAddr(_, _, s)
            | Arg::HostPortOf(_, _, s)
            | Arg::List(_, s) => *s,
        }
    }
    fn describe(&self) -> String {
        match self {
            Arg::Name(id) => format!("`{}`", id.name),
            Arg::Member(a, b) => format!("`{}.{}`", a.name, b.name),
            Arg::Int(n, _) => format!("number {n}"),
            Arg::Bytes(..) => "a data literal".into(),
            Arg::Addr(a, _) => format!("address {a}"),
            Arg::HostAddr(h, port, _) => format!("address {}:{port}", h.name()),
            Arg::HostPortOf(h, id, _) => format!("address {}:{}.port", h.name(), id.name),
            Arg::List(..) => "a list".into(),
        }
    }
}

struct Cursor<'a> {
    toks: &'a [Token],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn peek_ident(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Ident(s)) => Some(s),
            _ => None,
        }
    }
    fn next(&mut self) -> Option<&Token> {
        let t = self.toks.get(self.pos);
        self.pos += usize::from(t.is_some());
        t
    }
    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == Some(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1).min(self.toks.len() - 1)].span
    }
    fn end_span(&self) -> Span {
        let s = self.toks[self.toks.len() - 1].span;
        Span::new(s.end, s.end + 1)
    }
    fn found(&self) -> (Span, String) {
        match self.toks.get(self.pos) {
            Some(t) => (t.span, t.tok.describe()),
            None => (self.end_span(), "end of line".into()),
        }
    }
    fn expect(&mut self, tok: Tok, what: &str) -> Result<Span, Diagnostic> {
        if self.eat(&tok) {
            Ok(self.prev_span())
        } else {
            let (span, found) = self.found();
            Err(Diagnostic::new(
                span,
                format!("expected {what}, found {found}"),
            ))
        }
    }
    fn ident(&mut self, what: &str) -> Result<Ident, Diagnostic> {
        if let Some(Token {
            tok: Tok::Ident(name),
            span,
        }) = self.toks.get(self.pos)
        {
            self.pos += 1;
            return Ok(Ident {
                name: name.clone(),
                span: *span,
            });
        }
        let (span, found) = self.found();
        Err(Diagnostic::new(
            span,
            format!("expected {what}, found {found}"),
        ))
    }
    fn end(&self) -> Result<(), Diagnostic> {
        match self.toks.get(self.pos) {
            None => Ok(()),
            Some(t) => Err(Diagnostic::new(
                t.span,
                format!("unexpected {} at the end of the step", t.tok.describe()),
            )
            .with_hint("one step per line; `#` starts a comment")),
        }
    }
    /// `a, b, c]` after an opening `[`.
    fn ident_list(&mut self, open: Span) -> Result<Vec<Ident>, Diagnostic> {
        let mut items = Vec::new();
        if self.eat(&Tok::RBracket) {
            return Ok(items);
        }
        loop {
            items.push(self.ident("a name")?);
            if self.eat(&Tok::RBracket) {
                return Ok(items);
            }
            if !self.eat(&Tok::Comma) {
                let (span, found) = self.found();
                return Err(
                    Diagnostic::new(span, format!("expected `,` or `]`, found {found}")).with_hint(
                        format!("the list opened at column {} needs a `]`", open.start),
                    ),
                );
            }
        }
    }
    fn args(&mut self) -> Result<Vec<Arg>, Diagnostic> {
        let mut args = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            return Ok(args);
        }
        loop {
            let Some(t) = self.next().cloned() else {
                return Err(Diagnostic::new(self.end_span(), "unclosed `(`").with_hint("add `)`"));
            };
            let arg = match t.tok {
                Tok::Ident(name) if self.peek() == Some(&Tok::Dot) => {
                    self.pos += 1;
                    let member = self.ident("`local` or `remote`")?;
                    Arg::Member(Ident { name, span: t.span }, member)
                }
                Tok::Ident(name) => Arg::Name(Ident { name, span: t.span }),
                Tok::Int(n) => Arg::Int(n, t.span),
                Tok::Bytes(b) => Arg::Bytes(b, t.span),
                Tok::Addr(a) => Arg::Addr(a, t.span),
                Tok::HostAddr(h, port) => Arg::HostAddr(h, port, t.span),
                Tok::HostPortOf(h, name, name_span) => Arg::HostPortOf(
                    h,
                    Ident {
                        name,
                        span: name_span,
                    },
                    t.span,
                ),
                Tok::LBracket => {
                    let items = self.ident_list(t.span)?;
                    Arg::List(items, t.span.to(self.prev_span()))
                }
                other => {
                    return Err(Diagnostic::new(
                        t.span,
                        format!("expected an argument, found {}", other.describe()),
                    ))
                }
            };
            args.push(arg);
            if !self.eat(&Tok::Comma) {
                return Ok(args);
            }
        }
    }
}

/// Name of a scenario file relative to `root`, without the extension.
pub fn scenario_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let rel = rel.with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, start: usize) -> Ident {
        Ident {
            name: name.into(),
            span: Span::new(start, start + name.len()),
        }
    }

    #[test]
    fn parses_a_scenario_to_the_whole_tree() {
        let text = "+++\ntitle = \"t\"\ntags = [\"a\"]\nrequires = [\"x\"]\n+++\ns = socket()\nr = recv(s, 5) &\nsend(s, \"hi\") -> 2 [linux] | EPIPE\n";
        let src = SourceFile::new("t.scn", text);
        let got = parse(&src, "topic/t").unwrap();
        let base = text.find("s = socket").unwrap();
        let line2 = text.find("r = recv").unwrap();
        let line3 = text.find("send(").unwrap();
        let expected = Scenario {
            name: "topic/t".into(),
            path: "t.scn".into(),
            meta: FrontMatter {
                title: "t".into(),
                tags: vec!["a".into()],
                refs: vec![],
                requires: vec!["x".into()],
                profiles: vec![],
                weight: 1.0,
                hint: None,
            },
            steps: vec![
                Step {
                    line: 6,
                    span: Span::new(base, base + 12),
                    text: "s = socket()".into(),
                    kind: StepKind::Call {
                        bind: Some(id("s", base)),
                        side: Side::Target,
                        op: Op::Socket {
                            family: Family::Ipv4,
                        },
                        background: false,
                        expect: None,
                    },
                },
                Step {
                    line: 7,
                    span: Span::new(line2, line2 + 16),
                    text: "r = recv(s, 5) &".into(),
                    kind: StepKind::Call {
                        bind: Some(id("r", line2)),
                        side: Side::Target,
                        op: Op::Recv {
                            sock: id("s", line2 + 9),
                            max: 5,
                            flags: RecvFlags::default(),
                        },
                        background: true,
                        expect: None,
                    },
                },
                Step {
                    line: 8,
                    span: Span::new(line3, line3 + 34),
                    text: "send(s, \"hi\") -> 2 [linux] | EPIPE".into(),
                    kind: StepKind::Call {
                        bind: None,
                        side: Side::Target,
                        op: Op::Send {
                            sock: id("s", line3 + 5),
                            data: b"hi".to_vec(),
                            oob: false,
                        },
                        background: false,
                        expect: Some(Expect {
                            alternatives: vec![
                                Alternative {
                                    outcome: Outcome::Count(2),
                                    profiles: vec!["linux".into()],
                                    span: Span::new(line3 + 17, line3 + 26),
                                },
                                Alternative {
                                    outcome: Outcome::Errno("EPIPE".into()),
                                    profiles: vec![],
                                    span: Span::new(line3 + 29, line3 + 34),
                                },
                            ],
                            span: Span::new(line3 + 17, line3 + 34),
                        }),
                    },
                },
            ],
            requires: vec!["concurrent".into(), "x".into()],
            roles: vec![],
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn peer_calls_and_awaits_resolve_sides() {
        let text = "+++\ntitle = \"t\"\n+++\nl = peer.socket()\nt = peer.accept(l) &\ns = await t\npeer.send(s, \"x\")\n";
        let got = parse(&SourceFile::new("t.scn", text), "t").unwrap();
        assert!(
            got.requires.is_empty(),
            "peer calls need nothing from the target"
        );
        assert!(
            matches!(&got.steps[2].kind, StepKind::Await { bind: Some(b), .. } if b.name == "s")
        );
        let bad = "+++\ntitle = \"t\"\n+++\nl = peer.socket()\nsend(l, \"x\")\n";
        let errs = parse(&SourceFile::new("t.scn", bad), "t").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message.contains("peer socket"));
    }

    #[test]
    fn program_steps_resolve_roles_addresses_and_outcomes() {
        let text = "+++\ntitle = \"p\"\nweight = 2.5\nhint = \"loop until done\"\n+++\nsrv = start(server)\nlistening(srv)\nc = peer.socket()\npeer.connect(c, srv.addr)\npeer.send(c, \"ab\" * 2 + \"\\n\") -> 5\ndup = start(server, srv.addr)\nexit(dup) -> nonzero | SIGPIPE\nstdout(srv) -> re\"^listening\"\n";
        let src = SourceFile::new("p.scn", text);
        let s = parse(&src, "p").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(s.roles, vec!["server".to_string()]);
        assert_eq!(
            (s.meta.weight, s.meta.hint.as_deref()),
            (2.5, Some("loop until done"))
        );
        assert!(!s.uses_target());
        let ops: Vec<(&Side, &Op)> = s
            .steps
            .iter()
            .filter_map(|st| match &st.kind {
                StepKind::Call { side, op, .. } => Some((side, op)),
                _ => None,
            })
            .collect();
        assert!(matches!(
            ops[0],
            (Side::Harness, Op::Start { addr: None, .. })
        ));
        assert!(
            matches!(ops[3], (Side::Peer, Op::Connect { addr: AddrExpr::ProgramAddr(p), .. }) if p.name == "srv")
        );
        assert!(matches!(ops[4], (Side::Peer, Op::Send { data, .. }) if data == b"abab\n"));
        assert!(matches!(
            ops[5],
            (
                Side::Harness,
                Op::Start {
                    addr: Some(AddrExpr::ProgramAddr(_)),
                    ..
                }
            )
        ));
        let StepKind::Call {
            expect: Some(e), ..
        } = &s.steps[6].kind
        else {
            panic!()
        };
        let outcomes: Vec<&Outcome> = e.alternatives.iter().map(|a| &a.outcome).collect();
        assert_eq!(
            outcomes,
            vec![&Outcome::NonZero, &Outcome::Signal("SIGPIPE".into())]
        );
        assert!(matches!(
            ops[7],
            (
                Side::Harness,
                Op::Output {
                    stream: Stream::Stdout,
                    ..
                }
            )
        ));
    }

    #[test]
    fn program_steps_report_misuse() {
        let text = "+++\ntitle = \"p\"\n+++\nsrv = start(server)\npeer.listening(srv)\nexit(srv) -> EPIPE\nstdout(srv) -> SIGSEGV\nc = peer.socket()\npeer.connect(c, srv.local)\nexit(srv) -> SIGFOO\n";
        let src = SourceFile::new("p.scn", text);
        let msgs: Vec<String> = parse(&src, "p")
            .unwrap_err()
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(
            msgs,
            vec![
                "`listening` runs in the harness, not on the peer",
                "`exit` cannot yield this",
                "`stdout` cannot yield this",
                "unknown address `srv.local`",
                "unknown signal `SIGFOO`",
            ]
        );
    }

    #[test]
    fn option_values_can_be_named_and_compared() {
        let text = "+++\ntitle = \"v\"\n+++\na = socket()\nsize = getsockopt(a, SO_RCVBUF)\ngetsockopt(a, SO_SNDBUF) -> size\n";
        let s = parse(&SourceFile::new("v.scn", text), "v").unwrap_or_else(|d| panic!("{d:?}"));
        let StepKind::Call {
            expect: Some(e), ..
        } = &s.steps[2].kind
        else {
            panic!("a call with an expectation")
        };
        assert!(matches!(&e.alternatives[0].outcome, Outcome::SameAs(id) if id.name == "size"));

        let misuse = "+++\ntitle = \"v\"\n+++\na = socket()\nsize = getsockopt(a, SO_RCVBUF)\nclose(size)\nb = socket()\nbind(b, 127.0.0.1:0)\nlisten(b, 1) -> size\n";
        let msgs: Vec<String> = parse(&SourceFile::new("v.scn", misuse), "v")
            .unwrap_err()
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(
            msgs,
            vec![
                "`size` is an option value, not a socket",
                "`listen` cannot yield this",
            ]
        );
    }
}
