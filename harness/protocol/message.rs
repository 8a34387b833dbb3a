//! Requests and responses of protocol v1.
//!
//! ```text
//! -> {"id":3,"op":"bind","sock":1,"addr":"127.0.0.1:0"}
//! <- {"id":3,"ok":{}}
//! <- {"id":3,"err":{"errno":"EADDRINUSE","message":"Address already in use"}}
//! ```

use serde::{Deserialize, Deserializer, Serialize};

/// A request: an id the response echoes, and the operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    #[serde(flatten)]
    pub call: Call,
}

/// The operations. Socket handles (`sock`) are numbers the adapter chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Call {
    Hello {
        protocol: u32,
    },
    Socket {
        family: Family,
    },
    Bind {
        sock: u64,
        addr: String,
    },
    Listen {
        sock: u64,
        backlog: i32,
    },
    Accept {
        sock: u64,
    },
    Connect {
        sock: u64,
        addr: String,
    },
    /// `data` is hex.
    Send {
        sock: u64,
        data: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        flags: Vec<SendFlag>,
    },
    Recv {
        sock: u64,
        max: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        flags: Vec<RecvFlag>,
    },
    Shutdown {
        sock: u64,
        how: How,
    },
    Close {
        sock: u64,
    },
    Getsockname {
        sock: u64,
    },
    Getpeername {
        sock: u64,
    },
    /// `value`: an integer; for `SO_LINGER`, `null` is off and a number is on with that
    /// many seconds.
    Setsockopt {
        sock: u64,
        opt: String,
        #[serde(deserialize_with = "nullable")]
        value: Option<i64>,
    },
    Getsockopt {
        sock: u64,
        opt: String,
    },
    Nonblocking {
        sock: u64,
        on: bool,
    },
    Poll {
        sock: u64,
        events: Vec<String>,
        timeout_ms: u64,
    },
    /// `oob`: whether the next byte to read is the urgent mark (sockatmark(3)); `value`
    /// 1 or 0.
    Sockatmark {
        sock: u64,
    },
    /// `bulk`: one send of pattern bytes `[offset, offset + len)`; may be partial.
    SendPattern {
        sock: u64,
        seed: u64,
        offset: u64,
        len: u64,
    },
    /// `bulk`: one recv of up to `max` bytes, checked against the pattern from `offset`.
    RecvPattern {
        sock: u64,
        seed: u64,
        offset: u64,
        max: u64,
    },
    /// An `op` this side does not know (read only: the harness never sends it). An
    /// adapter answers it `ENOSYS`; decided by the type, not by an error's text.
    #[serde(other)]
    Unknown,
}

impl Call {
    pub fn op_name(&self) -> &'static str {
        match self {
            Call::Unknown => "unknown",
            Call::Hello { .. } => "hello",
            Call::Socket { .. } => "socket",
            Call::Bind { .. } => "bind",
            Call::Listen { .. } => "listen",
            Call::Accept { .. } => "accept",
            Call::Connect { .. } => "connect",
            Call::Send { .. } => "send",
            Call::Recv { .. } => "recv",
            Call::Shutdown { .. } => "shutdown",
            Call::Close { .. } => "close",
            Call::Getsockname { .. } => "getsockname",
            Call::Getpeername { .. } => "getpeername",
            Call::Setsockopt { .. } => "setsockopt",
            Call::Getsockopt { .. } => "getsockopt",
            Call::Nonblocking { .. } => "nonblocking",
            Call::Poll { .. } => "poll",
            Call::Sockatmark { .. } => "sockatmark",
            Call::SendPattern { .. } => "send_pattern",
            Call::RecvPattern { .. } => "recv_pattern",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
    /// A word this side does not know (read only: the harness never sends it); an
    /// adapter answers `ENOSYS`.
    #[serde(other)]
    Unknown,
}

/// A flag of `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendFlag {
    /// MSG_OOB: the data is urgent (RFC 9293 3.8.5); capability `oob`.
    Oob,
    /// A word this side does not know (read only: the harness never sends it); an
    /// adapter answers `ENOSYS`.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecvFlag {
    /// MSG_OOB: the urgent byte, taken out of band (capability `oob`).
    Oob,
    Peek,
    Waitall,
    Dontwait,
    /// MSG_TRUNC: the bytes are discarded, not copied; `data` is that many bytes of
    /// any value.
    Trunc,
    /// A word this side does not know (read only: the harness never sends it); an
    /// adapter answers `ENOSYS`.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    Rd,
    Wr,
    Rdwr,
    /// A word this side does not know (read only: the harness never sends it); an
    /// adapter answers `ENOSYS`.
    #[serde(other)]
    Unknown,
}

/// A response: the request's id and either `ok` or `err`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: u64,
    #[serde(flatten)]
    pub result: Reply,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Ok(Done),
    Err(Failure),
}

/// The fields of a successful answer; which ones are present depends on the call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Done {
    /// socket, accept: the new handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sock: Option<u64>,
    /// getsockname, getpeername: `ip:port` or `[ip6]:port`; accept: the client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// send: bytes accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    /// recv: the bytes as hex; empty means end of stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// getsockopt: the value; `null` for SO_LINGER off. Absent in other answers.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_nullable"
    )]
    pub value: Option<Option<i64>>,
    /// getsockopt of SO_ERROR: the pending error's name, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    /// recv_pattern: bytes received (0 is end of stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    /// recv_pattern: the first received byte that differs from the pattern, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed: rare, and it would make every answer in flight larger.
    pub mismatch: Option<Box<Mismatch>>,
    /// poll: the events that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revents: Option<Vec<String>>,
    /// hello: the implementation's name, protocol version and capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
}

/// Where a `recv_pattern` first saw a wrong byte: its stream offset and value, and
/// optionally the received bytes around it (hex, starting at stream offset
/// `context_at`) so that a report can show expected against received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub at: u64,
    pub got: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

impl Mismatch {
    /// The mismatch at index `i` of `data`, which holds stream bytes from `offset`,
    /// with up to 8 bytes of context either side.
    pub fn found(offset: u64, data: &[u8], i: usize) -> Self {
        let (from, to) = (i.saturating_sub(8), (i + 9).min(data.len()));
        Mismatch {
            at: offset + i as u64,
            got: data[i],
            context_at: Some(offset + from as u64),
            context: Some(super::hex_encode(&data[from..to])),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub errno: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Response {
    pub fn ok(id: u64, done: Done) -> Self {
        Response {
            id,
            result: Reply::Ok(done),
        }
    }
    pub fn err(id: u64, errno: impl Into<String>, message: impl Into<String>) -> Self {
        Response {
            id,
            result: Reply::Err(Failure {
                errno: errno.into(),
                message: Some(message.into()),
            }),
        }
    }
}

/// Capabilities an adapter may declare in its `hello` answer.
pub mod capability {
    /// Answers requests out of order: a blocked call does not hold up the others.
    pub const CONCURRENT: &str = "concurrent";
    pub const IPV4: &str = "ipv4";
    pub const IPV6: &str = "ipv6";
    pub const NONBLOCKING: &str = "nonblocking";
    pub const POLL: &str = "poll";
    /// `send_pattern` and `recv_pattern`: bulk data generated and checked by the adapter.
    pub const BULK: &str = "bulk";
    /// Urgent data: `send` and `recv` with flag `oob`, `sockatmark`, poll's `pri`.
    pub const OOB: &str = "oob";
    /// A user-space stack on the sandbox's link, not the kernel's sockets.
    pub const LINK: &str = "link";
}

fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<i64>::deserialize(d)
}

fn present_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_serialize_as_documented() {
        let r = Request {
            id: 3,
            call: Call::Bind {
                sock: 1,
                addr: "127.0.0.1:0".into(),
            },
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"id":3,"op":"bind","sock":1,"addr":"127.0.0.1:0"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        let linger: Request = serde_json::from_str(
            r#"{"id":4,"op":"setsockopt","sock":1,"opt":"SO_LINGER","value":null}"#,
        )
        .unwrap();
        assert!(matches!(linger.call, Call::Setsockopt { value: None, .. }));
    }

    #[test]
    fn responses_parse_ok_and_err() {
        let ok: Response = serde_json::from_str(r#"{"id":2,"ok":{"sock":7}}"#).unwrap();
        assert_eq!(
            ok,
            Response::ok(
                2,
                Done {
                    sock: Some(7),
                    ..Done::default()
                }
            )
        );
        let err: Response = serde_json::from_str(
            r#"{"id":7,"err":{"errno":"EADDRINUSE","message":"Address already in use"}}"#,
        )
        .unwrap();
        assert_eq!(
            err,
            Response::err(7, "EADDRINUSE", "Address already in use")
        );
        let off: Response = serde_json::from_str(r#"{"id":1,"ok":{"value":null}}"#).unwrap();
        assert!(matches!(
            off.result,
            Reply::Ok(Done {
                value: Some(None),
                ..
            })
        ));
        assert_eq!(
            serde_json::to_string(&Response::ok(1, Done::default())).unwrap(),
            r#"{"id":1,"ok":{}}"#
        );
        assert!(serde_json::from_str::<Response>(r#"{"id":1}"#).is_err());
        assert!(serde_json::from_str::<Response>(r#"{"id":1,"maybe":{}}"#).is_err());
    }
}
