#!/usr/bin/env python3
"""A sockspec adapter (protocol v1) for Python's socket module.

It doubles as the example of an adapter in another language: everything here follows
docs/adapter-protocol.md and nothing else. Run it as

    sockspec run --adapter 'python3 adapters/python/sockspec_adapter.py'

Requests arrive one JSON object per line on stdin; each gets exactly one response line
on stdout. Calls that can block (accept, connect, send, recv, poll) run on their own
thread, so a blocked call never holds up the next request. stderr is free for logs.
"""

import errno
import fcntl
import json
import select
import socket
import struct
import sys
import threading

PROTOCOL = 1
BLOCKING = {"accept", "connect", "send", "recv", "poll", "send_pattern", "recv_pattern"}
MASK = (1 << 64) - 1
OPTIONS = {
    "SO_REUSEADDR": (socket.SOL_SOCKET, socket.SO_REUSEADDR),
    "SO_REUSEPORT": (socket.SOL_SOCKET, socket.SO_REUSEPORT),
    "SO_KEEPALIVE": (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "SO_RCVBUF": (socket.SOL_SOCKET, socket.SO_RCVBUF),
    "SO_SNDBUF": (socket.SOL_SOCKET, socket.SO_SNDBUF),
    "TCP_NODELAY": (socket.IPPROTO_TCP, socket.TCP_NODELAY),
    "TCP_CORK": (socket.IPPROTO_TCP, socket.TCP_CORK),
    "TCP_KEEPIDLE": (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    "TCP_KEEPINTVL": (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
    "TCP_KEEPCNT": (socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
    "SO_LINGER": (socket.SOL_SOCKET, socket.SO_LINGER),
    "SO_ERROR": (socket.SOL_SOCKET, socket.SO_ERROR),
    "SO_ACCEPTCONN": (socket.SOL_SOCKET, getattr(socket, "SO_ACCEPTCONN", 30)),
    "SO_RCVTIMEO": (socket.SOL_SOCKET, socket.SO_RCVTIMEO),
    "SO_SNDTIMEO": (socket.SOL_SOCKET, socket.SO_SNDTIMEO),
    "SO_RCVLOWAT": (socket.SOL_SOCKET, socket.SO_RCVLOWAT),
    "TCP_MAXSEG": (socket.IPPROTO_TCP, socket.TCP_MAXSEG),
    "TCP_USER_TIMEOUT": (socket.IPPROTO_TCP, getattr(socket, "TCP_USER_TIMEOUT", 18)),
    "IPV6_V6ONLY": (socket.IPPROTO_IPV6, socket.IPV6_V6ONLY),
    "IP_TTL": (socket.IPPROTO_IP, socket.IP_TTL),
    "IP_TOS": (socket.IPPROTO_IP, socket.IP_TOS),
    "SO_OOBINLINE": (socket.SOL_SOCKET, socket.SO_OOBINLINE),
}
# Options whose value is a number, not on/off.
COUNTED = {
    "SO_RCVBUF",
    "SO_SNDBUF",
    "TCP_KEEPIDLE",
    "TCP_KEEPINTVL",
    "TCP_KEEPCNT",
    "SO_RCVLOWAT",
    "TCP_MAXSEG",
    "TCP_USER_TIMEOUT",
    "IP_TTL",
    "IP_TOS",
}
# Options in milliseconds that the kernel takes as a struct timeval.
TIMEVALS = {"SO_RCVTIMEO", "SO_SNDTIMEO"}
POLL_BITS = [
    ("in", select.POLLIN),
    ("pri", select.POLLPRI),
    ("out", select.POLLOUT),
    ("err", select.POLLERR),
    ("hup", select.POLLHUP),
    ("rdhup", getattr(select, "POLLRDHUP", 0x2000)),
]
RECV_FLAGS = {
    "oob": socket.MSG_OOB,
    "peek": socket.MSG_PEEK,
    "waitall": socket.MSG_WAITALL,
    "dontwait": socket.MSG_DONTWAIT,
    "trunc": socket.MSG_TRUNC,
}
SEND_FLAGS = {"oob": socket.MSG_OOB}
# sockatmark(3) is this ioctl on Linux (asm-generic/sockios.h); Python has no wrapper.
SIOCATMARK = 0x8905
MAX_RECV = 16 << 20


class Error(Exception):
    """A failed call: an errno name and a message."""

    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


def parse_addr(text):
    """'127.0.0.1:80' or '[::1]:80' to (family, sockaddr)."""
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise Error("EINVAL", "bad address %r" % text)
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def sockaddr_for(sock, text):
    """The sockaddr of `text` for `sock`. An address of the other family is EINVAL, as
    Linux answers (Python would try a name lookup and fail with a gaierror)."""
    family, addr = parse_addr(text)
    if family != sock.family:
        raise Error("EINVAL", "%s is not an address of this socket's family" % text)
    return addr


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def pattern(seed, offset, length):
    """Bytes [offset, offset + length) of the bulk pattern (docs/adapter-protocol.md)."""
    first, last = offset // 8, (offset + length + 7) // 8
    words = b"".join(splitmix64(seed ^ splitmix64(k)).to_bytes(8, "little") for k in range(first, last))
    start = offset - first * 8
    return words[start:start + length]


def format_addr(sockaddr):
    host, port = sockaddr[0], sockaddr[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


class Adapter:
    def __init__(self, out):
        self.out = out
        self.out_lock = threading.Lock()
        self.lock = threading.Lock()
        self.socks = {}
        self.next_handle = 0

    # -- plumbing --------------------------------------------------------------------

    def write(self, obj):
        line = json.dumps(obj, separators=(",", ":")) + "\n"
        with self.out_lock:
            self.out.write(line)
            self.out.flush()

    def register(self, sock):
        with self.lock:
            self.next_handle += 1
            self.socks[self.next_handle] = sock
            return self.next_handle

    def lingers(self, req):
        """A close of a socket with SO_LINGER on may block until its data is delivered:
        it runs on a thread then. Other closes run here, in order, so that a request
        after one finds the handle gone."""
        if req.get("op") != "close":
            return False
        with self.lock:
            sock = self.socks.get(req.get("sock"))
        try:
            onoff, seconds = struct.unpack("ii", sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
        except (AttributeError, OSError):
            return False
        return onoff != 0 and seconds > 0

    def get(self, handle):
        with self.lock:
            sock = self.socks.get(handle)
        if sock is None:
            raise Error("EBADF", "no open socket with handle %s" % handle)
        return sock

    def execute(self, req):
        rid = req.get("id", 0)
        try:
            handler = getattr(self, "op_" + str(req.get("op")), None)
            if handler is None:
                raise Error("ENOSYS", "unknown op %r" % req.get("op"))
            self.write({"id": rid, "ok": handler(req)})
        except Error as e:
            self.write({"id": rid, "err": {"errno": e.name, "message": e.message}})
        except OSError as e:
            name = errno.errorcode.get(e.errno, "EIO")
            self.write({"id": rid, "err": {"errno": name, "message": e.strerror or str(e)}})
        except (KeyError, TypeError, ValueError) as e:
            self.write({"id": rid, "err": {"errno": "EINVAL", "message": "bad request: %s" % e}})

    def serve(self, lines):
        for line in lines:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
            except ValueError as e:
                self.write({"id": 0, "err": {"errno": "EINVAL", "message": "bad request: %s" % e}})
                continue
            if req.get("op") in BLOCKING or self.lingers(req):
                threading.Thread(target=self.execute, args=(req,), daemon=True).start()
            else:
                self.execute(req)

    # -- operations ------------------------------------------------------------------

    def op_hello(self, req):
        if req["protocol"] != PROTOCOL:
            raise Error("EPROTO", "this adapter speaks protocol %d" % PROTOCOL)
        caps = ["bulk", "concurrent", "ipv4", "ipv6", "nonblocking", "oob", "poll"] + sorted(OPTIONS)
        name = "python %d.%d socket module" % sys.version_info[:2]
        return {"name": name, "protocol": PROTOCOL, "capabilities": caps}

    def op_socket(self, req):
        family = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}[req["family"]]
        return {"sock": self.register(socket.socket(family, socket.SOCK_STREAM))}

    def op_bind(self, req):
        sock = self.get(req["sock"])
        sock.bind(sockaddr_for(sock, req["addr"]))
        return {}

    def op_listen(self, req):
        self.get(req["sock"]).listen(req["backlog"])
        return {}

    def op_accept(self, req):
        new, addr = self.get(req["sock"]).accept()
        return {"sock": self.register(new), "addr": format_addr(addr)}

    def op_connect(self, req):
        sock = self.get(req["sock"])
        err = sock.connect_ex(sockaddr_for(sock, req["addr"]))
        if err:
            raise OSError(err, errno.errorcode.get(err, "error"))
        return {}

    # All data goes through these two, so that a subclass can change how bytes move.
    def _send(self, sock, data, flags=0):
        return sock.send(data, flags | socket.MSG_NOSIGNAL)

    def _recv(self, sock, size, flags=0):
        return sock.recv(size, flags)

    def op_send(self, req):
        flags = 0
        for f in req.get("flags", []):
            if f not in SEND_FLAGS:
                raise Error("ENOSYS", "unknown send flag %r" % f)
            flags |= SEND_FLAGS[f]
        return {"sent": self._send(self.get(req["sock"]), bytes.fromhex(req["data"]), flags)}

    def op_sockatmark(self, req):
        sock = self.get(req["sock"])
        at = struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCATMARK, struct.pack("i", 0)))[0]
        return {"value": 1 if at else 0}

    def op_recv(self, req):
        sock = self.get(req["sock"])
        flags = 0
        for f in req.get("flags", []):
            if f not in RECV_FLAGS:
                raise Error("ENOSYS", "unknown recv flag %r" % f)
            flags |= RECV_FLAGS[f]
        return {"data": self._recv(sock, min(req["max"], MAX_RECV), flags).hex()}

    def op_send_pattern(self, req):
        sock = self.get(req["sock"])
        data = pattern(req["seed"], req["offset"], min(req["len"], MAX_RECV))
        return {"sent": self._send(sock, data)}

    def op_recv_pattern(self, req):
        sock = self.get(req["sock"])
        data = self._recv(sock, min(req["max"], MAX_RECV))
        done = {"received": len(data)}
        expected = pattern(req["seed"], req["offset"], len(data))
        if data != expected:
            i = next(k for k in range(len(data)) if data[k] != expected[k])
            lo, hi = max(0, i - 8), min(len(data), i + 9)
            done["mismatch"] = {
                "at": req["offset"] + i,
                "got": data[i],
                "context_at": req["offset"] + lo,
                "context": data[lo:hi].hex(),
            }
        return done

    def op_shutdown(self, req):
        how = {"rd": socket.SHUT_RD, "wr": socket.SHUT_WR, "rdwr": socket.SHUT_RDWR}[req["how"]]
        self.get(req["sock"]).shutdown(how)
        return {}

    def op_close(self, req):
        sock = self.get(req["sock"])
        with self.lock:
            del self.socks[req["sock"]]
        # A thread blocked in recv on this socket keeps the kernel's file alive until its
        # call returns, exactly as close(2) NOTES describe for C programs.
        sock.close()
        return {}

    def op_getsockname(self, req):
        return {"addr": format_addr(self.get(req["sock"]).getsockname())}

    def op_getpeername(self, req):
        return {"addr": format_addr(self.get(req["sock"]).getpeername())}

    def op_setsockopt(self, req):
        sock, opt, value = self.get(req["sock"]), req["opt"], req["value"]
        if opt not in OPTIONS:
            raise Error("ENOPROTOOPT", "unknown option %s" % opt)
        level, name = OPTIONS[opt]
        if opt == "SO_LINGER":
            sock.setsockopt(level, name, struct.pack("ii", value is not None, value or 0))
        elif opt in TIMEVALS:
            ms = int(value)
            sock.setsockopt(level, name, struct.pack("ll", ms // 1000, ms % 1000 * 1000))
        else:
            sock.setsockopt(level, name, int(value))
        return {}

    def op_getsockopt(self, req):
        sock, opt = self.get(req["sock"]), req["opt"]
        if opt not in OPTIONS:
            raise Error("ENOPROTOOPT", "unknown option %s" % opt)
        level, name = OPTIONS[opt]
        if opt == "SO_LINGER":
            on, secs = struct.unpack("ii", sock.getsockopt(level, name, 8))
            return {"value": secs if on else None}
        if opt in TIMEVALS:
            secs, usecs = struct.unpack("ll", sock.getsockopt(level, name, struct.calcsize("ll")))
            return {"value": secs * 1000 + usecs // 1000}
        if opt == "SO_ERROR":
            # Reading it clears it; a pending error is answered by its name.
            err = sock.getsockopt(level, name)
            if err:
                return {"value": err, "errno": errno.errorcode.get(err, "EIO")}
            return {"value": 0}
        value = sock.getsockopt(level, name)
        return {"value": value if opt in COUNTED else int(bool(value))}

    def op_nonblocking(self, req):
        self.get(req["sock"]).setblocking(not req["on"])
        return {}

    def op_poll(self, req):
        sock = self.get(req["sock"])
        mask = 0
        for e in req["events"]:
            mask |= dict(POLL_BITS)[e]
        p = select.poll()
        p.register(sock.fileno(), mask)
        ready = p.poll(req["timeout_ms"])
        revents = ready[0][1] if ready else 0
        return {"revents": [n for n, bit in POLL_BITS if revents & bit]}


def main(adapter_class=Adapter):
    adapter_class(sys.stdout).serve(sys.stdin)


if __name__ == "__main__":
    main()
