#!/usr/bin/env python3
"""Deliberately wrong adapters, for testing that the corpus catches real bugs.

Usage: mutant_adapter.py NAME. Each mutant is the Python reference adapter with one
classic bug. tests/mutants.rs lists, for every mutant, the scenario meant to catch it,
and checks that the scenario passes against the correct adapter and fails against the
mutant.
"""

import errno
import os
import select
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "adapters", "python"))
import sockspec_adapter as base  # noqa: E402

POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)
MAX_READ = 16 << 20


class BindNeverFails(base.Adapter):
    def op_bind(self, req):
        try:
            return super().op_bind(req)
        except OSError:
            return {}


class V4MappedOnV6(base.Adapter):
    """Takes an IPv4 address on an IPv6 socket as its v4-mapped form (::ffff:a.b.c.d),
    as some stacks do, where Linux answers EINVAL."""

    def op_bind(self, req):
        sock = self.get(req["sock"])
        family, (host, port) = base.parse_addr(req["addr"])
        if sock.family == socket.AF_INET6 and family == socket.AF_INET:
            sock.bind(("::ffff:" + host, port))
            return {}
        return super().op_bind(req)


class RecvDropsLastByte(base.Adapter):
    def op_recv(self, req):
        data = bytes.fromhex(super().op_recv(req)["data"])
        return {"data": (data[:-1] if len(data) > 1 else data).hex()}


class CloseLeavesHandleUsable(base.Adapter):
    def op_close(self, req):
        self.get(req["sock"])
        return {}


class AcceptReturnsListener(base.Adapter):
    def op_accept(self, req):
        done = super().op_accept(req)
        done["sock"] = req["sock"]
        return done


class AcceptedSocketOwnRcvbuf(base.Adapter):
    """Accepted sockets do not inherit the listener's buffer size: they get the default."""

    def op_accept(self, req):
        done = super().op_accept(req)
        with open("/proc/sys/net/core/rmem_default") as f:
            default = int(f.read())
        self.get(done["sock"]).setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, default // 2)
        return done


class ListenWithoutLimit(base.Adapter):
    def op_listen(self, req):
        self.get(req["sock"]).listen(4096)
        return {}


class SendSucceedsAfterClose(base.Adapter):
    def op_send(self, req):
        try:
            return super().op_send(req)
        except base.Error:
            return {"sent": len(req["data"]) // 2}


class RecvNeverBlocks(base.Adapter):
    def op_recv(self, req):
        req = dict(req, flags=list(req.get("flags", [])) + ["dontwait"])
        return super().op_recv(req)


class ConnectNeverRefused(base.Adapter):
    def op_connect(self, req):
        try:
            return super().op_connect(req)
        except ConnectionRefusedError:
            return {}


class AcceptNeverBlocks(base.Adapter):
    def op_accept(self, req):
        sock = self.get(req["sock"])
        sock.setblocking(False)
        try:
            return super().op_accept(req)
        finally:
            sock.setblocking(True)


class ShutdownWriteIgnored(base.Adapter):
    def op_shutdown(self, req):
        if req["how"] == "wr":
            self.get(req["sock"])
            return {}
        return super().op_shutdown(req)


class ShutdownReadIgnored(base.Adapter):
    def op_shutdown(self, req):
        if req["how"] == "rd":
            self.get(req["sock"])
            return {}
        return super().op_shutdown(req)


class EofAsReset(base.Adapter):
    def op_recv(self, req):
        done = super().op_recv(req)
        if not done["data"] and req["max"] > 0:
            raise base.Error("ECONNRESET", "connection reset by peer")
        return done


class SendPartial(base.Adapter):
    def op_send(self, req):
        return super().op_send(dict(req, data=req["data"][:16]))


class PeerNameIsLocalName(base.Adapter):
    def op_getpeername(self, req):
        return {"addr": base.format_addr(self.get(req["sock"]).getsockname())}


class ReuseAddrIgnored(base.Adapter):
    def op_setsockopt(self, req):
        if req["opt"] == "SO_REUSEADDR":
            self.get(req["sock"])
            return {}
        return super().op_setsockopt(req)


class CloseSendsNoFin(base.Adapter):
    """Forgets the handle but never closes the socket: the peer never sees EOF, and the
    socket stays bound (and listening)."""

    leaked = []

    def op_close(self, req):
        sock = self.get(req["sock"])
        with self.lock:
            del self.socks[req["sock"]]
        self.leaked.append(sock)
        return {}


class ConnectDoesNotBlock(base.Adapter):
    def op_connect(self, req):
        sock = self.get(req["sock"])
        sock.setblocking(False)
        try:
            sock.connect_ex(base.parse_addr(req["addr"])[1])
        finally:
            sock.setblocking(True)
        return {}


class NotConcurrent(base.Adapter):
    """Declares `concurrent` but runs every call, blocking ones too, on its one thread."""

    def serve(self, lines):
        for line in lines:
            if line.strip():
                self.execute(base.json.loads(line))


# API mutants: each a bug seen in real stacks or socket wrappers, for the scenario
# (or scenarios) tests/mutants/caught.toml names.


def option_ignored(option):
    """setsockopt of `option` succeeds and does nothing."""

    class OptionIgnored(base.Adapter):
        def op_setsockopt(self, req):
            if req["opt"] == option:
                self.get(req["sock"])
                return {}
            return super().op_setsockopt(req)

    return OptionIgnored


def option_scaled(option, factor):
    """`option`'s value is taken in the wrong unit: multiplied by `factor` on the way in
    (a timeout in seconds where milliseconds were meant, and the like)."""

    class OptionScaled(base.Adapter):
        def op_setsockopt(self, req):
            if req["opt"] == option:
                req = dict(req, value=int(req["value"] * factor))
            return super().op_setsockopt(req)

    return OptionScaled


class NonblockingIgnored(base.Adapter):
    def op_nonblocking(self, req):
        self.get(req["sock"])
        return {}


class EofBeforeData(base.Adapter):
    """Once the peer has closed, recv reports end of stream even with data still queued."""

    def op_recv(self, req):
        sock = self.get(req["sock"])
        p = select.poll()
        p.register(sock.fileno(), POLLRDHUP)
        if p.poll(0) and not set(req.get("flags", [])) & {"peek"}:
            return {"data": ""}
        return super().op_recv(req)


class AcceptListensImplicitly(base.Adapter):
    """accept on a socket that is not listening starts listening instead of failing."""

    def op_accept(self, req):
        sock = self.get(req["sock"])
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            sock.listen(1)
        return super().op_accept(req)


class AcceptNewestFirst(base.Adapter):
    """accept hands out the newest queued connection first (a stack instead of a queue)."""

    stash = []

    def op_accept(self, req):
        sock = self.get(req["sock"])
        sock.setblocking(False)
        try:
            while True:
                try:
                    self.stash.append(sock.accept())
                except BlockingIOError:
                    break
        finally:
            sock.setblocking(True)
        if not self.stash:
            return super().op_accept(req)
        new, addr = self.stash.pop()
        return {"sock": self.register(new), "addr": base.format_addr(addr)}


class AcceptInheritsNonblocking(base.Adapter):
    """The accepted socket inherits O_NONBLOCK from the listener (BSD does; Linux not)."""

    def op_accept(self, req):
        listener = self.get(req["sock"])
        done = super().op_accept(req)
        if not listener.getblocking():
            self.get(done["sock"]).setblocking(False)
        return done


class PollAlwaysReady(base.Adapter):
    """poll reports every event asked for at once, without looking."""

    def op_poll(self, req):
        self.get(req["sock"])
        return {"revents": list(req["events"])}


class PortZeroReusesLastPort(base.Adapter):
    """Port 0 always gets the port the previous port-0 bind got."""

    last = None

    def op_bind(self, req):
        family, (host, port) = base.parse_addr(req["addr"])
        if port == 0 and self.last is not None:
            addr = "[%s]:%d" % (host, self.last) if family == socket.AF_INET6 else "%s:%d" % (host, self.last)
            req = dict(req, addr=addr)
        done = super().op_bind(req)
        if port == 0:
            type(self).last = self.get(req["sock"]).getsockname()[1]
        return done


class CloseListenerClosesConnections(base.Adapter):
    """Closing a listener also closes every connection accepted from it."""

    children = {}

    def op_accept(self, req):
        done = super().op_accept(req)
        self.children.setdefault(req["sock"], []).append(done["sock"])
        return done

    def op_close(self, req):
        done = super().op_close(req)
        for child in self.children.pop(req["sock"], []):
            with self.lock:
                sock = self.socks.pop(child, None)
            if sock is not None:
                sock.close()
        return done


class ResetReportedAsEof(base.Adapter):
    def op_recv(self, req):
        try:
            return super().op_recv(req)
        except ConnectionResetError:
            return {"data": ""}


class ConnectRestarts(base.Adapter):
    """A connect while one is in progress answers EINPROGRESS again, not EALREADY."""

    def op_connect(self, req):
        try:
            return super().op_connect(req)
        except OSError as e:
            if e.errno == errno.EALREADY:
                raise base.Error("EINPROGRESS", "connecting")
            raise


class ConnectTimesOutQuickly(base.Adapter):
    """A blocking connect gives up after 100 ms (a fixed timeout in the stack)."""

    def op_connect(self, req):
        sock = self.get(req["sock"])
        if not sock.getblocking():
            return super().op_connect(req)
        sock.settimeout(0.1)
        try:
            sock.connect(base.sockaddr_for(sock, req["addr"]))
        except socket.timeout:
            raise base.Error("ETIMEDOUT", "connection timed out")
        finally:
            sock.settimeout(None)
        return {}


class ConnectIgnoresBind(base.Adapter):
    """connect on a bound socket connects a fresh socket from an ephemeral port."""

    def op_connect(self, req):
        sock = self.get(req["sock"])
        if sock.getsockname()[1] != 0:
            fresh = socket.socket(sock.family, socket.SOCK_STREAM)
            with self.lock:
                self.socks[req["sock"]] = fresh
            sock.close()
        return super().op_connect(req)


class ConnectReconnects(base.Adapter):
    """connect on a connected socket succeeds quietly."""

    def op_connect(self, req):
        try:
            return super().op_connect(req)
        except OSError as e:
            if e.errno == errno.EISCONN:
                return {}
            raise


class GetpeernameRemembers(base.Adapter):
    """getpeername answers the address of the connect or accept, whatever happened since."""

    peers = {}

    def op_connect(self, req):
        done = super().op_connect(req)
        self.peers[req["sock"]] = req["addr"]
        return done

    def op_getpeername(self, req):
        if req["sock"] in self.peers:
            self.get(req["sock"])
            return {"addr": self.peers[req["sock"]]}
        return super().op_getpeername(req)


class GetpeernameReturnsBoundAddress(base.Adapter):
    """getpeername of a socket without a peer answers its own address."""

    def op_getpeername(self, req):
        try:
            return super().op_getpeername(req)
        except OSError:
            return {"addr": base.format_addr(self.get(req["sock"]).getsockname())}


class GetpeernameFailsAfterEof(base.Adapter):
    """After the peer's FIN, the connection is treated as gone: getpeername fails."""

    ended = set()

    def op_recv(self, req):
        done = super().op_recv(req)
        if not done["data"] and req["max"] > 0:
            self.ended.add(req["sock"])
        return done

    def op_getpeername(self, req):
        if req["sock"] in self.ended:
            raise base.Error("ENOTCONN", "not connected")
        return super().op_getpeername(req)


class GetsocknameUnboundFails(base.Adapter):
    """getsockname of a socket never bound fails (as Windows' WSAEINVAL)."""

    def op_getsockname(self, req):
        if self.get(req["sock"]).getsockname()[1] == 0:
            raise base.Error("EINVAL", "not bound")
        return super().op_getsockname(req)


class SoErrorSticky(base.Adapter):
    """SO_ERROR is not cleared by reading it."""

    seen = {}

    def op_getsockopt(self, req):
        done = super().op_getsockopt(req)
        if req["opt"] == "SO_ERROR":
            if "errno" in done:
                self.seen[req["sock"]] = done
            return self.seen.get(req["sock"], done)
        return done


class SoErrorFromErrno(base.Adapter):
    """SO_ERROR answers the last failed call's errno, as if it were the socket's error."""

    last = {}

    def execute(self, req):
        if req.get("op") == "getsockopt" and req.get("opt") == "SO_ERROR" and req.get("sock") in self.last:
            self.write({"id": req["id"], "ok": {"value": 1, "errno": self.last[req["sock"]]}})
            return
        out = self.write

        def spy(obj):
            if "err" in obj and "sock" in req:
                self.last[req["sock"]] = obj["err"]["errno"]
            out(obj)

        self.write = spy
        try:
            super().execute(req)
        finally:
            self.write = out


class ListenNeverFails(base.Adapter):
    def op_listen(self, req):
        try:
            return super().op_listen(req)
        except OSError:
            return {}


class ListenTwiceFails(base.Adapter):
    def op_listen(self, req):
        if self.get(req["sock"]).getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise base.Error("EINVAL", "already listening")
        return super().op_listen(req)


class ListenNeedsBind(base.Adapter):
    """listen on a socket never bound fails instead of picking a port."""

    def op_listen(self, req):
        if self.get(req["sock"]).getsockname()[1] == 0:
            raise base.Error("EDESTADDRREQ", "bind first")
        return super().op_listen(req)


class AcceptconnAlwaysZero(base.Adapter):
    def op_getsockopt(self, req):
        if req["opt"] == "SO_ACCEPTCONN":
            self.get(req["sock"])
            return {"value": 0}
        return super().op_getsockopt(req)


class ShutdownAfterEofFails(base.Adapter):
    """After the peer's FIN, shutdown fails with ENOTCONN (as lwIP does)."""

    def op_shutdown(self, req):
        sock = self.get(req["sock"])
        p = select.poll()
        p.register(sock.fileno(), POLLRDHUP)
        if p.poll(0):
            raise base.Error("ENOTCONN", "not connected")
        return super().op_shutdown(req)


class ShutdownOnClosedHandleOk(base.Adapter):
    def op_shutdown(self, req):
        with self.lock:
            known = req["sock"] in self.socks
        return super().op_shutdown(req) if known else {}


class ReuseAddrOnByDefault(base.Adapter):
    def op_socket(self, req):
        done = super().op_socket(req)
        self.get(done["sock"]).setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return done


class BufferSizesAsSet(base.Adapter):
    """SO_RCVBUF and SO_SNDBUF read back what was set, not what the system uses."""

    sizes = {}

    def op_setsockopt(self, req):
        done = super().op_setsockopt(req)
        if req["opt"] in ("SO_RCVBUF", "SO_SNDBUF"):
            self.sizes[(req["sock"], req["opt"])] = req["value"]
        return done

    def op_getsockopt(self, req):
        key = (req["sock"], req["opt"])
        if key in self.sizes:
            self.get(req["sock"])
            return {"value": self.sizes[key]}
        return super().op_getsockopt(req)


class ReadOnlyOptionsSettable(base.Adapter):
    def op_setsockopt(self, req):
        if req["opt"] in ("SO_ERROR", "SO_ACCEPTCONN"):
            self.get(req["sock"])
            return {}
        return super().op_setsockopt(req)


class RecvStopsAtNul(base.Adapter):
    """Data is handled as a C string: a recv ends at the first NUL byte."""

    def op_recv(self, req):
        done = super().op_recv(req)
        data = bytes.fromhex(done["data"])
        if b"\0" in data:
            data = data[: data.index(b"\0")] or data[:1]
        return {"data": data.hex()}


class RecvFlagsIgnored(base.Adapter):
    def op_recv(self, req):
        return super().op_recv(dict(req, flags=[]))


class RecvDiscardsTheRest(base.Adapter):
    """recv reads everything queued and returns the first `max` bytes: the rest is lost."""

    def op_recv(self, req):
        sock = self.get(req["sock"])
        if "peek" in req.get("flags", []):
            return super().op_recv(req)
        data = sock.recv(MAX_READ)
        return {"data": data[: req["max"]].hex()}


class ZeroSendFails(base.Adapter):
    def op_send(self, req):
        if not req["data"]:
            self.get(req["sock"])
            raise base.Error("EINVAL", "nothing to send")
        return super().op_send(req)


class LingerCloseResets(base.Adapter):
    """Any SO_LINGER setting makes close abortive, as if the timeout were 0."""

    def op_setsockopt(self, req):
        if req["opt"] == "SO_LINGER" and req["value"] is not None:
            req = dict(req, value=0)
        return super().op_setsockopt(req)


class SendErrorsHidden(base.Adapter):
    """A failed send reports every byte sent (the error swallowed)."""

    def op_send(self, req):
        try:
            return super().op_send(req)
        except OSError:
            return {"sent": len(req["data"]) // 2}


class CloseResets(base.Adapter):
    """close is always abortive (SO_LINGER 0): what the peer has not read is lost."""

    def op_close(self, req):
        self.get(req["sock"]).setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return super().op_close(req)


class FamilyMismatchBindsWildcard(base.Adapter):
    """An address of the other family is taken as "any address" of the socket's own."""

    def op_bind(self, req):
        sock = self.get(req["sock"])
        family, (host, port) = base.parse_addr(req["addr"])
        if family != sock.family:
            sock.bind(("0.0.0.0" if sock.family == socket.AF_INET else "::", port))
            return {}
        return super().op_bind(req)


class TruncUnsupported(base.Adapter):
    """recv refuses MSG_TRUNC, as stacks without it do."""

    def op_recv(self, req):
        if "trunc" in req.get("flags", []):
            self.get(req["sock"])
            raise base.Error("EOPNOTSUPP", "MSG_TRUNC is not supported")
        return super().op_recv(req)


class MulticastConnectSucceeds(base.Adapter):
    """connect to a multicast or broadcast address answers success (and sends nothing)."""

    def op_connect(self, req):
        host = base.parse_addr(req["addr"])[1][0]
        if host == "255.255.255.255" or 224 <= int(host.split(".")[0] if "." in host else 0) < 240:
            self.get(req["sock"])
            return {}
        return super().op_connect(req)


class V6OnlyIgnored(base.Adapter):
    def op_setsockopt(self, req):
        if req["opt"] == "IPV6_V6ONLY":
            self.get(req["sock"])
            return {}
        return super().op_setsockopt(req)


# Stream mutants: each corrupts the byte stream only past amounts of data that no
# plain scenario moves, so `sockspec prop stream` must find and shrink them.


def pending(sock):
    """Bytes queued for reading (FIONREAD)."""
    import array
    import fcntl
    import termios

    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf)
    return buf[0]


class DropByteOnShortRead(base.Adapter):
    """A read smaller than the queued data (with over 1 KiB queued) loses its last byte."""

    def _recv(self, sock, size, flags=0):
        if size > 1 and not flags and pending(sock) > max(size, 1024):
            return sock.recv(size)[:-1]
        return super()._recv(sock, size, flags)


class ReorderAfter64k(base.Adapter):
    """After the first 64 KiB, the next write is held back and sent after the one following it."""

    sent = {}
    held = {}

    def _send(self, sock, data, flags=0):
        total = self.sent.get(sock, 0)
        self.sent[sock] = total + len(data)
        if total >= 65536 and sock not in self.held and len(data) > 0:
            self.held[sock] = data
            return len(data)
        n = super()._send(sock, data, flags)
        if sock in self.held:
            sock.sendall(self.held.pop(sock), socket.MSG_NOSIGNAL)
        return n

    def _flush(self, req):
        sock = self.socks.get(req["sock"])
        if sock in self.held:
            sock.sendall(self.held.pop(sock), socket.MSG_NOSIGNAL)

    def op_close(self, req):
        self._flush(req)
        return super().op_close(req)

    def op_shutdown(self, req):
        self._flush(req)
        return super().op_shutdown(req)


class DuplicatePartialTail(base.Adapter):
    """Writes over 32 KiB go out in two parts, and the first part's last byte goes out twice."""

    def _send(self, sock, data):
        if len(data) <= 32768:
            return super()._send(sock, data)
        half = len(data) // 2
        sock.sendall(data[:half], socket.MSG_NOSIGNAL)
        sock.sendall(data[half - 1:], socket.MSG_NOSIGNAL)
        return len(data)


class LoseAfterHalfClose(base.Adapter):
    """After shutdown(SHUT_WR), data received beyond the first 1 KiB loses a byte per read."""

    shut = {}

    def op_shutdown(self, req):
        if req["how"] == "wr":
            self.shut[self.get(req["sock"])] = 0
        return super().op_shutdown(req)

    def _recv(self, sock, size, flags=0):
        data = super()._recv(sock, size, flags)
        if sock in self.shut:
            self.shut[sock] += len(data)
            if self.shut[sock] > 1024 and len(data) > 1:
                return data[1:]
        return data


class TruncateAt64k(base.Adapter):
    """Everything written past byte 65536 of a connection is silently discarded."""

    sent = {}

    def _send(self, sock, data, flags=0):
        total = self.sent.get(sock, 0)
        keep = max(0, min(len(data), 65536 - total))
        self.sent[sock] = total + len(data)
        if keep:
            super()._send(sock, data[:keep]) if keep == len(data) else sock.sendall(data[:keep], socket.MSG_NOSIGNAL)
        return len(data)


class UrgentSentInline(base.Adapter):
    """send with MSG_OOB sends the bytes as ordinary data: no urgent pointer."""

    def op_send(self, req):
        return super().op_send(dict(req, flags=[f for f in req.get("flags", []) if f != "oob"]))


class SockatmarkNever(base.Adapter):
    """sockatmark always answers 0: the application never learns it reached the mark."""

    def op_sockatmark(self, req):
        super().op_sockatmark(req)
        return {"value": 0}


MUTANTS = {
    "drop-byte-on-short-read": DropByteOnShortRead,
    "reorder-after-64k": ReorderAfter64k,
    "duplicate-partial-tail": DuplicatePartialTail,
    "lose-after-half-close": LoseAfterHalfClose,
    "truncate-at-64k": TruncateAt64k,
    "not-concurrent": NotConcurrent,
    "bind-never-fails": BindNeverFails,
    "recv-drops-last-byte": RecvDropsLastByte,
    "close-leaves-handle-usable": CloseLeavesHandleUsable,
    "accept-returns-listener": AcceptReturnsListener,
    "listen-without-limit": ListenWithoutLimit,
    "accepted-socket-own-rcvbuf": AcceptedSocketOwnRcvbuf,
    "send-succeeds-after-close": SendSucceedsAfterClose,
    "recv-never-blocks": RecvNeverBlocks,
    "connect-never-refused": ConnectNeverRefused,
    "accept-never-blocks": AcceptNeverBlocks,
    "shutdown-write-ignored": ShutdownWriteIgnored,
    "eof-as-reset": EofAsReset,
    "shutdown-read-ignored": ShutdownReadIgnored,
    "send-partial": SendPartial,
    "peername-is-localname": PeerNameIsLocalName,
    "reuseaddr-ignored": ReuseAddrIgnored,
    "close-sends-no-fin": CloseSendsNoFin,
    "connect-does-not-block": ConnectDoesNotBlock,
    "v4-mapped-on-v6": V4MappedOnV6,
    "nonblocking-ignored": NonblockingIgnored,
    "eof-before-data": EofBeforeData,
    "accept-listens-implicitly": AcceptListensImplicitly,
    "accept-newest-first": AcceptNewestFirst,
    "accept-inherits-nonblocking": AcceptInheritsNonblocking,
    "poll-always-ready": PollAlwaysReady,
    "port-zero-reuses-last-port": PortZeroReusesLastPort,
    "reuseport-ignored": option_ignored("SO_REUSEPORT"),
    "close-listener-closes-connections": CloseListenerClosesConnections,
    "linger-ignored": option_ignored("SO_LINGER"),
    "reset-reported-as-eof": ResetReportedAsEof,
    "connect-restarts": ConnectRestarts,
    "connect-times-out-quickly": ConnectTimesOutQuickly,
    "connect-ignores-bind": ConnectIgnoresBind,
    "connect-reconnects": ConnectReconnects,
    "getpeername-remembers": GetpeernameRemembers,
    "getpeername-returns-bound-address": GetpeernameReturnsBoundAddress,
    "getpeername-fails-after-eof": GetpeernameFailsAfterEof,
    "getsockname-unbound-fails": GetsocknameUnboundFails,
    "so-error-sticky": SoErrorSticky,
    "so-error-from-errno": SoErrorFromErrno,
    "v6only-ignored": V6OnlyIgnored,
    "listen-never-fails": ListenNeverFails,
    "listen-twice-fails": ListenTwiceFails,
    "listen-needs-bind": ListenNeedsBind,
    "acceptconn-always-zero": AcceptconnAlwaysZero,
    "shutdown-after-eof-fails": ShutdownAfterEofFails,
    "shutdown-on-closed-handle-ok": ShutdownOnClosedHandleOk,
    "keepalive-ignored": option_ignored("SO_KEEPALIVE"),
    "reuseaddr-on-by-default": ReuseAddrOnByDefault,
    "buffer-sizes-as-set": BufferSizesAsSet,
    "read-only-options-settable": ReadOnlyOptionsSettable,
    "rcvlowat-ignored": option_ignored("SO_RCVLOWAT"),
    "timeouts-in-seconds": option_scaled("SO_RCVTIMEO", 1000),
    "sndtimeo-in-seconds": option_scaled("SO_SNDTIMEO", 1000),
    "cork-ignored": option_ignored("TCP_CORK"),
    "keepidle-ignored": option_ignored("TCP_KEEPIDLE"),
    "maxseg-ignored": option_ignored("TCP_MAXSEG"),
    "nodelay-ignored": option_ignored("TCP_NODELAY"),
    "user-timeout-in-seconds": option_scaled("TCP_USER_TIMEOUT", 0.001),
    "recv-stops-at-nul": RecvStopsAtNul,
    "recv-flags-ignored": RecvFlagsIgnored,
    "recv-discards-the-rest": RecvDiscardsTheRest,
    "zero-send-fails": ZeroSendFails,
    "linger-close-resets": LingerCloseResets,
    "send-errors-hidden": SendErrorsHidden,
    "close-resets": CloseResets,
    "family-mismatch-binds-wildcard": FamilyMismatchBindsWildcard,
    "trunc-unsupported": TruncUnsupported,
    "ttl-ignored": option_ignored("IP_TTL"),
    "multicast-connect-succeeds": MulticastConnectSucceeds,
    "urgent-sent-inline": UrgentSentInline,
    "sockatmark-never": SockatmarkNever,
    "oobinline-ignored": option_ignored("SO_OOBINLINE"),
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MUTANTS:
        sys.stderr.write("usage: mutant_adapter.py {%s}\n" % ",".join(sorted(MUTANTS)))
        sys.exit(2)
    base.main(MUTANTS[sys.argv[1]])
