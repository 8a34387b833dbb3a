//! Every call a scenario can make, described once.
//!
//! The parser takes names, arity, signatures and whether a call may run in the
//! background from here; [`Op`](super::Op) takes what a call yields and whether it can
//! block; the scenario-language document's tables and the parser fuzz test's tokens are
//! checked against it. Adding a call is an entry here, a variant of `Op`, its arm in the
//! parser, and (for adapter calls) its protocol request.

/// The kind of value a successful call yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yield {
    Nothing,
    Socket,
    Count,
    Data,
    Addr,
    OptValue,
    Events,
    Backlog,
    /// A started program, to name.
    Program,
    /// A program's output: a text it contains, a regex, or eof.
    Output,
    /// How a program ended: an exit status, `nonzero`, or a signal.
    Exit,
    /// A wire connection, to name.
    Connection,
}

/// Who executes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOn {
    /// An adapter (the target's, or the peer's with `peer.`).
    Adapter,
    /// The harness itself: programs under test and the namespace's socket tables.
    Harness,
}

/// One call of the scenario language.
#[derive(Debug)]
pub struct OpSpec {
    pub name: &'static str,
    /// How it is written, for messages and the docs: `bind(sock, address)`.
    pub signature: &'static str,
    /// The fewest and most arguments.
    pub arity: (usize, usize),
    pub yields: Yield,
    pub runs_on: RunsOn,
    /// Whether it may legitimately wait (for a peer, data or buffer space): one that
    /// cannot block and never answers means the implementation hung.
    pub can_block: bool,
    /// Whether it may run in the background with `&`.
    pub background: bool,
    /// Capabilities an adapter must declare for it, whatever its arguments (an IPv6
    /// socket or an option name adds more, decided by the parser).
    pub needs: &'static [&'static str],
    /// What it yields, in the docs' words; empty for nothing.
    pub yields_doc: &'static str,
    /// The docs' note.
    pub doc: &'static str,
    /// A step using it, after [`EXAMPLE_SETUP`]: it must parse.
    pub example: &'static str,
}

/// The steps every [`OpSpec::example`] may use: sockets `s` (target) and `p` (peer),
/// and a started program `srv`.
pub const EXAMPLE_SETUP: &str = "s = socket()\np = peer.socket()\nsrv = start(server)\n";

const fn adapter(name: &'static str, signature: &'static str, arity: (usize, usize)) -> OpSpec {
    OpSpec {
        name,
        signature,
        arity,
        yields: Yield::Nothing,
        runs_on: RunsOn::Adapter,
        can_block: false,
        background: false,
        needs: &[],
        yields_doc: "",
        doc: "",
        example: "",
    }
}

const fn harness(name: &'static str, signature: &'static str, arity: (usize, usize)) -> OpSpec {
    OpSpec {
        runs_on: RunsOn::Harness,
        ..adapter(name, signature, arity)
    }
}

/// Every call, in the order the docs list them.
pub const OPS: [OpSpec; 31] = [
    OpSpec {
        yields: Yield::Socket,
        yields_doc: "a socket",
        doc: "`socket(ipv6)` for IPv6",
        example: "a = socket(ipv6)",
        ..adapter("socket", "socket() or socket(ipv6)", (0, 1))
    },
    OpSpec {
        example: "bind(s, target:0)",
        ..adapter("bind", "bind(sock, address)", (2, 2))
    },
    OpSpec {
        example: "listen(s, 1)",
        ..adapter("listen", "listen(sock, backlog)", (2, 2))
    },
    OpSpec {
        yields: Yield::Socket,
        can_block: true,
        background: true,
        yields_doc: "a socket",
        doc: "blocks until a client is queued",
        example: "a = accept(s)",
        ..adapter("accept", "accept(sock)", (1, 1))
    },
    OpSpec {
        can_block: true,
        background: true,
        doc: "blocks until the handshake completes",
        example: "connect(s, 127.0.0.1:9)",
        ..adapter("connect", "connect(sock, address)", (2, 2))
    },
    OpSpec {
        yields: Yield::Count,
        can_block: true,
        background: true,
        yields_doc: "a byte count",
        doc: "`oob` sends the data as urgent (MSG_OOB; adapter capability `oob`)",
        example: "send(s, \"!\", oob)",
        ..adapter("send", "send(sock, \"data\" [, oob])", (2, 3))
    },
    OpSpec {
        yields: Yield::Data,
        can_block: true,
        background: true,
        yields_doc: "data",
        doc: "may return fewer than `max` bytes; `trunc` (Linux) discards them: expect a count; `oob` reads the urgent byte (capability `oob`)",
        example: "recv(s, 5, peek, waitall)",
        ..adapter(
            "recv",
            "recv(sock, max [, oob] [, peek] [, waitall] [, dontwait] [, trunc])",
            (2, 7),
        )
    },
    OpSpec {
        yields: Yield::Data,
        can_block: true,
        yields_doc: "data",
        doc: "harness composite: `recv` until `length` bytes, end of stream or an error",
        example: "recvall(s, 5)",
        ..adapter("recvall", "recvall(sock, length)", (2, 2))
    },
    OpSpec {
        example: "shutdown(s, rd)",
        ..adapter("shutdown", "shutdown(sock, rd | wr | rdwr)", (2, 2))
    },
    OpSpec {
        can_block: true,
        background: true,
        doc: "with SO_LINGER on, blocks until the data is delivered or the linger time runs out",
        example: "close(s)",
        ..adapter("close", "close(sock)", (1, 1))
    },
    OpSpec {
        yields: Yield::Addr,
        yields_doc: "an address",
        doc: "`a = getsockname(s)` saves it in `a`",
        example: "getsockname(s) -> 127.0.0.1:0",
        ..adapter("getsockname", "getsockname(sock)", (1, 1))
    },
    OpSpec {
        yields: Yield::Addr,
        yields_doc: "an address",
        doc: "`a = getpeername(s)` saves it in `a`",
        example: "getpeername(s) -> ENOTCONN",
        ..adapter("getpeername", "getpeername(sock)", (1, 1))
    },
    OpSpec {
        doc: "options: `SO_REUSEADDR`, `SO_REUSEPORT`, `SO_KEEPALIVE`, `SO_RCVBUF`, `SO_SNDBUF`, `SO_LINGER` (`off` or seconds), `SO_RCVTIMEO`/`SO_SNDTIMEO` (milliseconds, 0 for none), `SO_RCVLOWAT` (bytes), `TCP_NODELAY`, `TCP_CORK` (Linux), `TCP_KEEPIDLE`/`TCP_KEEPINTVL` (seconds), `TCP_KEEPCNT`, `TCP_MAXSEG` (bytes), `TCP_USER_TIMEOUT` (milliseconds), `IPV6_V6ONLY`, `IP_TTL`, `IP_TOS`, `SO_OOBINLINE`; read only: `SO_ERROR`, `SO_ACCEPTCONN`; values are numbers or `on`/`off`",
        example: "setsockopt(s, SO_LINGER, off)",
        ..adapter("setsockopt", "setsockopt(sock, OPTION, value)", (3, 3))
    },
    OpSpec {
        yields: Yield::OptValue,
        yields_doc: "a value",
        doc: "`v = getsockopt(s, SO_RCVBUF)` saves it in `v`, for a later `-> v`; `getsockopt(s, SO_ERROR) -> ECONNREFUSED` checks the pending error (`-> 0`: none)",
        example: "getsockopt(s, TCP_NODELAY) -> off",
        ..adapter("getsockopt", "getsockopt(sock, OPTION)", (2, 2))
    },
    OpSpec {
        yields: Yield::OptValue,
        needs: &["oob"],
        yields_doc: "0 or 1",
        doc: "whether the next byte to read is the urgent mark: `-> 1` at it",
        example: "sockatmark(s) -> 0",
        ..adapter("sockatmark", "sockatmark(sock)", (1, 1))
    },
    OpSpec {
        needs: &["nonblocking"],
        example: "nonblocking(s, on)",
        ..adapter("nonblocking", "nonblocking(sock, on | off)", (2, 2))
    },
    OpSpec {
        yields: Yield::Events,
        can_block: true,
        background: true,
        needs: &["poll"],
        yields_doc: "poll events",
        doc: "events `in`, `pri` (urgent data), `out`, `rdhup`; `[]` waits only for `err`/`hup`",
        example: "poll(s, [in, out, rdhup], 10) -> [out]",
        ..adapter("poll", "poll(sock, [in, out], timeout_ms)", (3, 3))
    },
    OpSpec {
        yields: Yield::Backlog,
        can_block: true,
        yields_doc: "a count",
        doc: "harness composite: peer clients connect until the listen queue is full (below)",
        example: "q = fill_backlog(s, 8)",
        ..adapter("fill_backlog", "fill_backlog(listener [, limit])", (1, 2))
    },
    OpSpec {
        yields: Yield::Count,
        can_block: true,
        needs: &["bulk", "nonblocking", "poll"],
        yields_doc: "a byte count",
        doc: "sends `length` pattern bytes on `sock` and reads them back as they are echoed, both at once, checked inside the adapter",
        example: "bulk_echo(s, 1M)",
        ..adapter("bulk_echo", "bulk_echo(sock, length)", (2, 2))
    },
    OpSpec {
        yields: Yield::Program,
        yields_doc: "a program",
        doc: "starts the `server` role with a fresh free port; `start(server, srv.addr)` reuses a port (a second instance, a restart), and any address works, e.g. `start(client, l.local)` for a client of a peer listener",
        example: "srv2 = start(server, srv.addr)",
        ..harness("start", "start(role) or start(role, address)", (1, 2))
    },
    OpSpec {
        doc: "waits until the program listens on its port, read from the namespace's socket tables (`/proc/net/tcp`), so no probe connection is made; fails at once if it exits, and says where it listens instead",
        example: "listening(srv)",
        ..harness("listening", "listening(program)", (1, 1))
    },
    OpSpec {
        doc: "waits until no connection waits in the program's accept queue",
        example: "accepted(srv)",
        ..harness("accepted", "accepted(program)", (1, 1))
    },
    OpSpec {
        doc: "waits until the other end has read every byte sent on `sock` (its receive queue is empty)",
        example: "consumed(p)",
        ..harness("consumed", "consumed(sock)", (1, 1))
    },
    OpSpec {
        doc: "feeds the program's stdin",
        example: "stdin(srv, \"text\\n\")",
        ..harness("stdin", "stdin(program, \"data\")", (2, 2))
    },
    OpSpec {
        doc: "closes the program's stdin",
        example: "close_stdin(srv)",
        ..harness("close_stdin", "close_stdin(program)", (1, 1))
    },
    OpSpec {
        yields: Yield::Output,
        yields_doc: "output",
        doc: "`-> \"text\"` waits until its stdout contains the text (consumed up to the match); also `-> re\"regex\"` and `-> eof`",
        example: "stdout(srv) -> re\"ready\"",
        ..harness("stdout", "stdout(program)", (1, 1))
    },
    OpSpec {
        yields: Yield::Output,
        yields_doc: "output",
        doc: "like `stdout`, for its stderr",
        example: "stderr(srv) -> eof",
        ..harness("stderr", "stderr(program)", (1, 1))
    },
    OpSpec {
        yields: Yield::Exit,
        yields_doc: "exit",
        doc: "`-> 0` waits for the program to end; also `-> nonzero`, `-> SIGPIPE` (killed by that signal), `-> ok` (status 0)",
        example: "exit(srv) -> SIGPIPE",
        ..harness("exit", "exit(program)", (1, 1))
    },
    OpSpec {
        doc: "the program is still running after the blocking window",
        example: "running(srv)",
        ..harness("running", "running(program)", (1, 1))
    },
    OpSpec {
        yields: Yield::Connection,
        yields_doc: "a wire connection",
        doc: "a remote TCP the harness plays on the scenario's wire: `w = wire(l)` talks to the target socket `l`'s port (or to a started program's: `wire(srv)`), `w = wire()` waits for the target to connect to `w.addr`; then `w < SEGMENT` sends and `w > SEGMENT` expects (see \"The wire\")",
        example: "w = wire(s)",
        ..harness("wire", "wire() or wire(listener or program [, isn])", (0, 2))
    },
    OpSpec {
        doc: "SIGTERM, the grace period, SIGKILL",
        example: "stop(srv)",
        ..harness("stop", "stop(program)", (1, 1))
    },
];

/// The call named `name`.
pub fn spec(name: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|o| o.name == name)
}

/// The names of every call.
pub fn names() -> impl Iterator<Item = &'static str> {
    OPS.iter().map(|o| o.name)
}

/// The docs' table of the calls that run on `runs_on`, one row per call, as
/// `docs/scenario-language.md` holds it between its `calls` markers.
pub fn doc_table(runs_on: RunsOn) -> String {
    let mut out = String::from(
        "| call | yields | may run with `&` | adapter declares | notes |\n|---|---|---|---|---|\n",
    );
    for op in OPS.iter().filter(|o| o.runs_on == runs_on) {
        let needs: Vec<String> = op.needs.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            op.signature.replace('|', "\\|"),
            op.yields_doc,
            if op.background { "yes" } else { "" },
            needs.join(", "),
            op.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{parse, SourceFile, StepKind};

    #[test]
    fn every_call_has_a_unique_name_and_a_parser() {
        let mut names: Vec<&str> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OPS.len(), "two entries share a name");
        for op in &OPS {
            let text = format!("+++\ntitle = \"t\"\n+++\n{EXAMPLE_SETUP}{}\n", op.example);
            let scenario = parse(&SourceFile::new("t.scn", &text), "t")
                .unwrap_or_else(|d| panic!("the example of `{}` does not parse: {d:?}", op.name));
            let last = scenario.steps.last().expect("a step");
            let StepKind::Call { op: parsed, .. } = &last.kind else {
                panic!("the example of `{}` is not a call", op.name)
            };
            assert_eq!(parsed.name(), op.name, "the example of `{}`", op.name);
            assert_eq!(parsed.yields(), op.yields);
        }
    }

    /// The tables in docs/scenario-language.md are this table, rendered.
    #[test]
    fn the_docs_list_every_call_as_the_table_describes_it() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenario-language.md"),
        )
        .expect("the scenario language doc");
        for (which, runs_on) in [("socket", RunsOn::Adapter), ("harness", RunsOn::Harness)] {
            let table = doc_table(runs_on);
            let marked = format!(
                "<!-- {which} calls: made from harness/script/ops.rs -->\n{table}<!-- end -->"
            );
            assert!(
                doc.contains(&marked),
                "docs/scenario-language.md must hold the {which} calls table as generated:\n{marked}"
            );
        }
    }
}
