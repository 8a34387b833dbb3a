//! Errno names, the protocol's error vocabulary. Names are the contract; numbers are
//! this machine's (Linux) and are used only by the reference adapter.

const TABLE: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("EWOULDBLOCK", libc::EWOULDBLOCK),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("ENOSPC", libc::ENOSPC),
    ("EPIPE", libc::EPIPE),
    ("ENOSYS", libc::ENOSYS),
    ("ENOTSOCK", libc::ENOTSOCK),
    ("EDESTADDRREQ", libc::EDESTADDRREQ),
    ("EMSGSIZE", libc::EMSGSIZE),
    ("EPROTOTYPE", libc::EPROTOTYPE),
    ("ENOPROTOOPT", libc::ENOPROTOOPT),
    ("EPROTONOSUPPORT", libc::EPROTONOSUPPORT),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ENOTSUP", libc::ENOTSUP),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ENETDOWN", libc::ENETDOWN),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ENETRESET", libc::ENETRESET),
    ("ECONNABORTED", libc::ECONNABORTED),
    ("ECONNRESET", libc::ECONNRESET),
    ("ENOBUFS", libc::ENOBUFS),
    ("EISCONN", libc::EISCONN),
    ("ENOTCONN", libc::ENOTCONN),
    ("ESHUTDOWN", libc::ESHUTDOWN),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("EHOSTDOWN", libc::EHOSTDOWN),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("EALREADY", libc::EALREADY),
    ("EINPROGRESS", libc::EINPROGRESS),
    ("EPROTO", libc::EPROTO),
];

/// Names that are aliases of another on Linux and POSIX-permitted everywhere: an
/// expectation of either matches an answer of either.
const ALIASES: &[(&str, &str)] = &[("EWOULDBLOCK", "EAGAIN"), ("ENOTSUP", "EOPNOTSUPP")];

/// The number of a known errno name.
pub fn by_name(name: &str) -> Option<i32> {
    TABLE.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

/// The name of an errno number; the canonical one where two names share a number.
pub fn name_of(code: i32) -> Option<&'static str> {
    TABLE
        .iter()
        .find(|&&(n, v)| v == code && !ALIASES.iter().any(|(alias, _)| *alias == n))
        .map(|&(n, _)| n)
}

/// All known names, for hints.
pub fn names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|&(n, _)| n)
}

/// Folds aliases onto one name, so `EWOULDBLOCK` and `EAGAIN` compare equal.
pub fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |&(_, c)| c)
}

/// The name and message of an I/O error, for answers of the reference adapter.
pub fn describe(err: &std::io::Error) -> (String, String) {
    let name = err
        .raw_os_error()
        .and_then(name_of)
        .map(str::to_string)
        .unwrap_or_else(|| format!("E{:?}", err.kind()).to_ascii_uppercase());
    let message = err.to_string();
    let message = match message.find(" (os error") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    (name, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree() {
        assert_eq!(by_name("EADDRINUSE"), Some(libc::EADDRINUSE));
        assert_eq!(name_of(libc::EAGAIN), Some("EAGAIN"));
        assert_eq!(name_of(libc::EOPNOTSUPP), Some("EOPNOTSUPP"));
        assert_eq!(canonical("EWOULDBLOCK"), "EAGAIN");
        let (n, m) = describe(&std::io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(
            (n.as_str(), m.as_str()),
            ("ECONNREFUSED", "Connection refused")
        );
    }
}
