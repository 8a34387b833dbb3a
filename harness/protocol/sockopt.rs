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
    /// Read only: the pending error, cleared by reading it (socket(7)). Answered as
    /// `value` 0, or with `errno` naming the error.
    Error,
    /// Read only: whether the socket is listening.
    AcceptConn,
    /// Milliseconds a blocking receive waits before `EAGAIN` (0: forever).
    RcvTimeo,
    /// Milliseconds a blocking send (and, on Linux, connect) waits.
    SndTimeo,
    /// Bytes a receive (and poll's `in`) waits for.
    RcvLowat,
    /// The maximum segment size: the user's clamp before connecting, the MSS in use after.
    MaxSeg,
    /// Milliseconds transmitted data may stay unacknowledged before the connection is
    /// dropped with `ETIMEDOUT` (RFC 5482; tcp(7)).
    UserTimeout,
    /// An IPv6 socket that takes IPv6 peers only, no IPv4-mapped ones (ipv6(7)).
    V6Only,
    /// The IPv4 time to live of the socket's packets (ip(7); RFC 9293 3.9.2.1).
    IpTtl,
    /// The IPv4 type of service byte: DSCP and ECN (ip(7); RFC 9293 3.9.1.9).
    IpTos,
    /// Urgent data stays in the stream instead of being taken out of band (socket(7);
    /// RFC 9293 3.8.5).
    OobInline,
}

impl SockOpt {
    pub const ALL: [SockOpt; 22] = [
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
        SockOpt::Error,
        SockOpt::AcceptConn,
        SockOpt::RcvTimeo,
        SockOpt::SndTimeo,
        SockOpt::RcvLowat,
        SockOpt::MaxSeg,
        SockOpt::UserTimeout,
        SockOpt::V6Only,
        SockOpt::IpTtl,
        SockOpt::IpTos,
        SockOpt::OobInline,
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
            SockOpt::Error => "SO_ERROR",
            SockOpt::AcceptConn => "SO_ACCEPTCONN",
            SockOpt::RcvTimeo => "SO_RCVTIMEO",
            SockOpt::SndTimeo => "SO_SNDTIMEO",
            SockOpt::RcvLowat => "SO_RCVLOWAT",
            SockOpt::MaxSeg => "TCP_MAXSEG",
            SockOpt::UserTimeout => "TCP_USER_TIMEOUT",
            SockOpt::V6Only => "IPV6_V6ONLY",
            SockOpt::IpTtl => "IP_TTL",
            SockOpt::IpTos => "IP_TOS",
            SockOpt::OobInline => "SO_OOBINLINE",
        }
    }
    pub fn from_name(name: &str) -> Option<SockOpt> {
        SockOpt::ALL.into_iter().find(|o| o.name() == name)
    }
}
