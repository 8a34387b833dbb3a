//! The typed syntax tree of a scenario. Every node that a diagnostic or a report can
//! point at carries a [`Span`].

pub use super::ops::Yield;
pub use crate::protocol::SockOpt;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A byte range in the scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A parsed, checked scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Path below the scenario root without the extension, e.g. `bind/bind-twice-expects-error`.
    pub name: String,
    pub path: PathBuf,
    pub meta: FrontMatter,
    pub steps: Vec<Step>,
    /// Capabilities the adapter must declare: what the front matter requires plus what
    /// the steps need (background calls need `concurrent`, `socket(ipv6)` needs `ipv6` ...).
    pub requires: Vec<String>,
    /// Program roles the steps start (`start(server)`), in order of first use: each
    /// needs a command from the user (`--program server='./server {port}'`).
    pub roles: Vec<String>,
}

impl Scenario {
    /// Whether the scenario plays segments on the wire (it then needs a sandbox with a
    /// wire device).
    pub fn uses_wire(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Wire { .. }))
    }

    /// Whether any step talks to the target adapter; program scenarios need none.
    pub fn uses_target(&self) -> bool {
        self.steps.iter().any(|s| match &s.kind {
            StepKind::Call { side, .. } => *side == Side::Target,
            _ => false,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrontMatter {
    pub title: String,
    pub tags: Vec<String>,
    pub refs: Vec<String>,
    /// Capabilities declared by the author on top of those inferred from the steps.
    pub requires: Vec<String>,
    /// Profiles this scenario applies to; empty means all.
    pub profiles: Vec<String>,
    /// Points the scenario is worth when grading (default 1).
    pub weight: f64,
    /// What to check when this scenario fails, written for the author of the program
    /// under test (a student): shown with every failure in grading reports.
    pub hint: Option<String>,
}

impl Default for FrontMatter {
    fn default() -> Self {
        FrontMatter {
            title: String::new(),
            tags: Vec::new(),
            refs: Vec::new(),
            requires: Vec::new(),
            profiles: Vec::new(),
            weight: 1.0,
            hint: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based line number.
    pub line: u32,
    /// The whole step, for reports.
    pub span: Span,
    /// The step's text as written, without a comment.
    pub text: String,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `[name =] [peer.]call(args) [&] [-> expect]`
    Call {
        bind: Option<Ident>,
        side: Side,
        op: Op,
        background: bool,
        expect: Option<Expect>,
    },
    /// `name -> blocks`: a background call is still pending after the blocking window.
    StillBlocked { handle: Ident },
    /// `[name =] await handle [-> expect]`
    Await {
        bind: Option<Ident>,
        handle: Ident,
        expect: Option<Expect>,
    },
    /// `w < ...` (the harness sends) or `w > ...` (the target must send), on the wire
    /// connection `w`: a segment in packetdrill's notation, or a step the harness
    /// plays as a plain TCP.
    Wire {
        conn: Ident,
        direction: WireDirection,
        action: WireAction,
    },
}

/// Which way a wire line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireDirection {
    /// `<`: injected by the harness.
    Inject,
    /// `>`: expected from the target.
    Expect,
}

/// What a wire line does.
#[derive(Debug, Clone, PartialEq)]
pub enum WireAction {
    /// A segment line, with `after A..B` when it must arrive in that window after the
    /// connection's previous segment.
    Segment {
        spec: crate::wire::notation::SegmentSpec,
        timing: Option<TimeWindow>,
    },
    /// `handshake`: the three-way handshake, opened by the side the arrow names
    /// (`<` the harness, `>` the target).
    Handshake,
    /// `"text"`, `hex"..."` or `N bytes`: data as a plain TCP sends or receives it.
    Data(Payload),
    /// `fin`: the side closes its stream.
    Fin,
    /// `nothing for D`: the target sends no segment on the connection for `D`.
    Nothing(Duration),
    /// `window N`: from now on the harness advertises at most `N` bytes (an
    /// application that stops reading), and says so at once.
    Window(u16),
    /// `icmp host-unreachable`: an ICMP error about the target's last segment on the
    /// connection, as a router on the path would send.
    Icmp(crate::wire::icmp::IcmpError),
    /// `fill`: the harness sends data until the target advertises a zero window with
    /// all of it acknowledged (an application that stopped reading, a full buffer).
    Fill,
    /// `rst`: an RST with ACK at the harness's SND.NXT, wherever the steps before left it.
    Rst,
    /// `at most N bytes for D` (`no new data for D`: 0): whatever the target sends for
    /// `D`, unacknowledged, carries at most `N` bytes it had not sent before.
    AtMost { bytes: u32, window: Duration },
    /// `resend`: the harness sends again what it sent and the target has not
    /// acknowledged (segments declared `lost` among them), as a correct sender would.
    Resend,
    /// `acks only data sent`: from here on, an ACK or SACK block of bytes that never
    /// went on the wire fails the step that reads it.
    AcksOnlyDataSent,
}

/// The data of a wire line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Bytes(Vec<u8>),
    /// `N bytes`: a known pattern when sent; any bytes when expected.
    Count(usize),
}

/// `after A..B`: the bounds, before `--time-scale` widens them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub earliest: Duration,
    pub latest: Duration,
}

/// Where a call executes: the implementation under test, the harness's own kernel
/// sockets (`peer.`), used to talk to the target from the other end, or the harness
/// itself (starting and watching programs under test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Target,
    Peer,
    Harness,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Target => "target",
            Side::Peer => "peer",
            Side::Harness => "harness",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AddrExpr {
    Literal(SocketAddr),
    /// `s.local`: the address `getsockname(s)` reports.
    LocalOf(Ident),
    /// `s.remote`: the address `getpeername(s)` reports.
    RemoteOf(Ident),
    /// `p`, bound by `p = getsockname(s)`: an address saved earlier, still usable after
    /// its socket is closed.
    Saved(Ident),
    /// `srv.addr`: 127.0.0.1 and the port a started program was given.
    ProgramAddr(Ident),
    /// `w.addr`: the remote address and port a wire connection plays.
    WireAddr(Ident),
    /// `target:0`, `peer6:8080`: a host named by its role, and a port.
    Host(Host, u16),
    /// `any:l.port`, `peer_mapped:p.port`: a host named by its role, and the port of
    /// the socket `l` (its local address) or of the saved address `p`: the same port at
    /// another address (a wildcard, an IPv4-mapped form).
    HostWithPortOf(Host, Ident),
}

/// A host named by its role rather than its address, so one scenario runs unchanged
/// over loopback (where both are 127.0.0.1 or ::1) and over a stack's own link (where
/// the target has the stack's address and the peer the harness's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host {
    /// `target`: the implementation under test's own IPv4 address.
    Target,
    /// `target6`: its IPv6 address.
    Target6,
    /// `peer`: the IPv4 address of the harness's own sockets (`peer.` calls).
    Peer,
    /// `peer6`: their IPv6 address.
    Peer6,
    /// `any`: the IPv4 wildcard, 0.0.0.0.
    Any,
    /// `any6`: the IPv6 wildcard, `::`.
    Any6,
    /// `target_mapped`: the target's IPv4 address in IPv4-mapped IPv6 form
    /// (`::ffff:a.b.c.d`, RFC 4291 2.5.5.2), for IPv6 sockets talking IPv4.
    TargetMapped,
    /// `peer_mapped`: the peer's IPv4 address in IPv4-mapped IPv6 form.
    PeerMapped,
}

impl Host {
    pub const ALL: [Host; 8] = [
        Host::Target,
        Host::Target6,
        Host::Peer,
        Host::Peer6,
        Host::Any,
        Host::Any6,
        Host::TargetMapped,
        Host::PeerMapped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Host::Target => "target",
            Host::Target6 => "target6",
            Host::Peer => "peer",
            Host::Peer6 => "peer6",
            Host::Any => "any",
            Host::Any6 => "any6",
            Host::TargetMapped => "target_mapped",
            Host::PeerMapped => "peer_mapped",
        }
    }

    pub fn from_name(name: &str) -> Option<Host> {
        Host::ALL.into_iter().find(|h| h.name() == name)
    }
}

/// A program's output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownHow {
    Read,
    Write,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecvFlags {
    /// MSG_OOB: the urgent byte (RFC 9293 3.8.5), out of band.
    pub oob: bool,
    pub peek: bool,
    pub waitall: bool,
    pub dontwait: bool,
    /// MSG_TRUNC: on a Linux TCP socket, discard up to `max` bytes without copying them.
    pub trunc: bool,
}

/// A socket option value. `SO_LINGER` takes `off` or a timeout in seconds; the rest
/// take integers (booleans as 0/1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptValue {
    Int(i64),
    Off,
}

impl fmt::Display for OptValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptValue::Int(v) => write!(f, "{v}"),
            OptValue::Off => f.write_str("off"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PollEvent {
    In,
    /// POLLPRI: urgent data waits (RFC 9293 3.8.5, MUST-32's notice).
    Pri,
    Out,
    Err,
    Hup,
    RdHup,
}

impl PollEvent {
    pub const ALL: [PollEvent; 6] = [
        PollEvent::In,
        PollEvent::Pri,
        PollEvent::Out,
        PollEvent::Err,
        PollEvent::Hup,
        PollEvent::RdHup,
    ];
    pub fn name(self) -> &'static str {
        match self {
            PollEvent::In => "in",
            PollEvent::Pri => "pri",
            PollEvent::Out => "out",
            PollEvent::Err => "err",
            PollEvent::Hup => "hup",
            PollEvent::RdHup => "rdhup",
        }
    }
    pub fn from_name(name: &str) -> Option<PollEvent> {
        PollEvent::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// One operation. Socket arguments are names resolved by the parser.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Socket {
        family: Family,
    },
    Bind {
        sock: Ident,
        addr: AddrExpr,
    },
    Listen {
        sock: Ident,
        backlog: i32,
    },
    Accept {
        sock: Ident,
    },
    Connect {
        sock: Ident,
        addr: AddrExpr,
    },
    Send {
        sock: Ident,
        data: Vec<u8>,
        /// MSG_OOB: urgent data.
        oob: bool,
    },
    /// sockatmark(3): whether the next byte to read is the urgent mark.
    SockAtMark {
        sock: Ident,
    },
    Recv {
        sock: Ident,
        max: u64,
        flags: RecvFlags,
    },
    /// Harness composite: recv in a loop until `len` bytes or EOF or an error.
    RecvAll {
        sock: Ident,
        len: u64,
    },
    Shutdown {
        sock: Ident,
        how: ShutdownHow,
    },
    Close {
        sock: Ident,
    },
    GetSockName {
        sock: Ident,
    },
    GetPeerName {
        sock: Ident,
    },
    SetSockOpt {
        sock: Ident,
        opt: SockOpt,
        value: OptValue,
    },
    GetSockOpt {
        sock: Ident,
        opt: SockOpt,
    },
    SetNonBlocking {
        sock: Ident,
        on: bool,
    },
    Poll {
        sock: Ident,
        events: Vec<PollEvent>,
        timeout_ms: u64,
    },
    /// Harness composite: open peer connections to a target listener until one stalls;
    /// yields how many completed and keeps the stalled connect pending.
    FillBacklog {
        sock: Ident,
        limit: u32,
    },
    /// Harness composite: send `len` pattern bytes on a connected socket while reading
    /// `len` bytes back, interleaved (non-blocking, poll), checking every byte.
    BulkEcho {
        sock: Ident,
        len: u64,
    },
    /// Starts the program bound to `role`. `{port}` is a fresh free port, or `addr`'s
    /// port (a second server on the same port; a client's server).
    Start {
        role: Ident,
        addr: Option<AddrExpr>,
    },
    /// Waits until the program listens on its port (read from the socket tables of the
    /// scenario's network namespace: no connection the program could see).
    Listening {
        prog: Ident,
    },
    /// Writes to the program's stdin.
    Stdin {
        prog: Ident,
        data: Vec<u8>,
    },
    /// Closes the program's stdin (end of input).
    CloseStdin {
        prog: Ident,
    },
    /// Waits for the program's output to contain a text or match a regex, or to close.
    Output {
        prog: Ident,
        stream: Stream,
    },
    /// Waits until no connection waits in the program's accept queue (every client
    /// that connected so far has been accepted).
    Accepted {
        prog: Ident,
    },
    /// Waits for the program to exit.
    Exit {
        prog: Ident,
    },
    /// The program is still running after the blocking window.
    Running {
        prog: Ident,
    },
    /// Stops the program: SIGTERM, a grace period, then SIGKILL.
    Stop {
        prog: Ident,
    },
    /// Waits until the other end has read every byte sent on this socket (its receive
    /// queue in the socket table is empty).
    Consumed {
        sock: Ident,
    },
    /// `w = wire(l)`: a remote TCP on the scenario's wire that will talk to the target
    /// socket `l`'s port; `w = wire()` waits for the target to connect to `w.addr`.
    Wire {
        listener: Option<Ident>,
        /// The harness's initial sequence number, when the scenario chooses it (a
        /// replayed property case that crosses 2^32).
        isn: Option<u32>,
    },
}

impl Op {
    /// The call's name as written in scenarios.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Socket { .. } => "socket",
            Op::Bind { .. } => "bind",
            Op::Listen { .. } => "listen",
            Op::Accept { .. } => "accept",
            Op::Connect { .. } => "connect",
            Op::Send { .. } => "send",
            Op::SockAtMark { .. } => "sockatmark",
            Op::Recv { .. } => "recv",
            Op::RecvAll { .. } => "recvall",
            Op::Shutdown { .. } => "shutdown",
            Op::Close { .. } => "close",
            Op::GetSockName { .. } => "getsockname",
            Op::GetPeerName { .. } => "getpeername",
            Op::SetSockOpt { .. } => "setsockopt",
            Op::GetSockOpt { .. } => "getsockopt",
            Op::SetNonBlocking { .. } => "nonblocking",
            Op::Poll { .. } => "poll",
            Op::FillBacklog { .. } => "fill_backlog",
            Op::BulkEcho { .. } => "bulk_echo",
            Op::Start { .. } => "start",
            Op::Listening { .. } => "listening",
            Op::Stdin { .. } => "stdin",
            Op::CloseStdin { .. } => "close_stdin",
            Op::Output { stream, .. } => stream.name(),
            Op::Exit { .. } => "exit",
            Op::Accepted { .. } => "accepted",
            Op::Running { .. } => "running",
            Op::Stop { .. } => "stop",
            Op::Consumed { .. } => "consumed",
            Op::Wire { .. } => "wire",
        }
    }

    /// The call's entry in the table of calls.
    pub fn spec(&self) -> &'static super::OpSpec {
        super::ops::spec(self.name()).expect("every Op has an entry in OPS")
    }

    /// Whether the call may legitimately wait (for a peer, data or buffer space); a
    /// call that cannot block and never answers means the implementation hung.
    pub fn can_block(&self) -> bool {
        self.spec().can_block
    }

    /// Whether the harness itself runs this step (programs, socket tables) rather than
    /// an adapter.
    pub fn on_harness(&self) -> bool {
        self.spec().runs_on == super::RunsOn::Harness
    }

    /// What a successful call yields, which decides the expectations it can carry.
    pub fn yields(&self) -> Yield {
        self.spec().yields
    }
}

/// `-> alt | alt ...`
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub alternatives: Vec<Alternative>,
    pub span: Span,
}

/// One acceptable outcome, optionally limited to profiles: `EPIPE [linux]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub outcome: Outcome,
    pub profiles: Vec<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `ok`: succeeded, whatever it yielded.
    Ok,
    /// `EADDRINUSE`: failed with this errno.
    Errno(String),
    /// `5`: a byte count (send, recv), an option value, or a backlog count.
    Count(u64),
    /// `"hello"` or `hex"00ff"`: recv returned exactly these bytes.
    Data(Vec<u8>),
    /// `eof`: recv returned 0 bytes.
    Eof,
    /// `off`: SO_LINGER is off, or a boolean option reads 0.
    Off,
    /// `on`: a boolean option reads nonzero (the form `setsockopt` takes).
    On,
    /// `a.local` or a literal address (getsockname, getpeername).
    Addr(AddrExpr),
    /// `v`, bound by `v = getsockopt(s, OPT)`: the same value as that earlier read.
    SameAs(Ident),
    /// `[in, out]`: poll returned exactly these events.
    Events(Vec<PollEvent>),
    /// `re"..."`: a program's output matches.
    Regex(String),
    /// `SIGPIPE`: the program was killed by this signal.
    Signal(String),
    /// `nonzero`: the program exited with a status other than 0.
    NonZero,
}

impl Expect {
    /// The alternatives that apply under `profile`: untagged ones and those tagged with
    /// it. Empty means the scenario states nothing for this profile: any outcome passes.
    pub fn for_profile<'a>(&'a self, profile: &'a str) -> impl Iterator<Item = &'a Alternative> {
        self.alternatives
            .iter()
            .filter(move |a| a.profiles.is_empty() || a.profiles.iter().any(|p| p == profile))
    }
}
