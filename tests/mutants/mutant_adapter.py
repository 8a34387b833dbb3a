#!/usr/bin/env python3
"""Deliberately wrong adapters, for testing that the corpus catches real bugs.

Usage: mutant_adapter.py NAME. Each mutant is the Python reference adapter with one
classic bug. tests/mutants.rs lists, for every mutant, the scenario meant to catch it,
and checks that the scenario passes against the correct adapter and fails against the
mutant.
"""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "adapters", "python"))
import sockspec_adapter as base  # noqa: E402


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
    """Forgets the handle but never closes the socket: the peer never sees EOF."""

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

    def _send(self, sock, data):
        total = self.sent.get(sock, 0)
        self.sent[sock] = total + len(data)
        if total >= 65536 and sock not in self.held and len(data) > 0:
            self.held[sock] = data
            return len(data)
        n = super()._send(sock, data)
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

    def _send(self, sock, data):
        total = self.sent.get(sock, 0)
        keep = max(0, min(len(data), 65536 - total))
        self.sent[sock] = total + len(data)
        if keep:
            super()._send(sock, data[:keep]) if keep == len(data) else sock.sendall(data[:keep], socket.MSG_NOSIGNAL)
        return len(data)


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
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MUTANTS:
        sys.stderr.write("usage: mutant_adapter.py {%s}\n" % ",".join(sorted(MUTANTS)))
        sys.exit(2)
    base.main(MUTANTS[sys.argv[1]])
