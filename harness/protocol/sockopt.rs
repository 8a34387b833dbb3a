//! The socket options of protocol v1, by the names requests carry (`SO_REUSEADDR`).
//! Scenarios use the same names, so the scenario language takes this list from here.

/// A socket option a `setsockopt`/`getsockopt` request may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOpt {
    ReuseAddr,
    ReusePort,
    NoDelay,
    Linger,
    RcvBuf,
    SndBuf,
    KeepAlive,
    /// Linux: hold partial segments until uncorked or closed (tcp(7)).
    Cork,
    /// Seconds idle before the first keepalive probe (tcp(7)).
    KeepIdle,
    /// Seconds between keepalive probes.
    KeepIntvl,
    /// Unanswered probes before the connection is dropped.
    KeepCnt,
}

impl SockOpt {
    pub const ALL: [SockOpt; 11] = [
        SockOpt::ReuseAddr,
        SockOpt::ReusePort,
        SockOpt::NoDelay,
        SockOpt::Linger,
        SockOpt::RcvBuf,
        SockOpt::SndBuf,
        SockOpt::KeepAlive,
        SockOpt::Cork,
        SockOpt::KeepIdle,
        SockOpt::KeepIntvl,
        SockOpt::KeepCnt,
    ];
    pub fn name(self) -> &'static str {
        match self {
            SockOpt::ReuseAddr => "SO_REUSEADDR",
            SockOpt::ReusePort => "SO_REUSEPORT",
            SockOpt::NoDelay => "TCP_NODELAY",
            SockOpt::Linger => "SO_LINGER",
            SockOpt::RcvBuf => "SO_RCVBUF",
            SockOpt::SndBuf => "SO_SNDBUF",
            SockOpt::KeepAlive => "SO_KEEPALIVE",
            SockOpt::Cork => "TCP_CORK",
            SockOpt::KeepIdle => "TCP_KEEPIDLE",
            SockOpt::KeepIntvl => "TCP_KEEPINTVL",
            SockOpt::KeepCnt => "TCP_KEEPCNT",
        }
    }
    pub fn from_name(name: &str) -> Option<SockOpt> {
        SockOpt::ALL.into_iter().find(|o| o.name() == name)
    }
}
