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


MUTANTS = {
    "not-concurrent": NotConcurrent,
    "bind-never-fails": BindNeverFails,
    "recv-drops-last-byte": RecvDropsLastByte,
    "close-leaves-handle-usable": CloseLeavesHandleUsable,
    "accept-returns-listener": AcceptReturnsListener,
    "listen-without-limit": ListenWithoutLimit,
    "send-succeeds-after-close": SendSucceedsAfterClose,
    "recv-never-blocks": RecvNeverBlocks,
    "connect-never-refused": ConnectNeverRefused,
    "accept-never-blocks": AcceptNeverBlocks,
    "shutdown-write-ignored": ShutdownWriteIgnored,
    "eof-as-reset": EofAsReset,
    "send-partial": SendPartial,
    "peername-is-localname": PeerNameIsLocalName,
    "reuseaddr-ignored": ReuseAddrIgnored,
    "close-sends-no-fin": CloseSendsNoFin,
    "connect-does-not-block": ConnectDoesNotBlock,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MUTANTS:
        sys.stderr.write("usage: mutant_adapter.py {%s}\n" % ",".join(sorted(MUTANTS)))
        sys.exit(2)
    base.main(MUTANTS[sys.argv[1]])
