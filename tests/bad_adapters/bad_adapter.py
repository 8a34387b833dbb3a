#!/usr/bin/env python3
"""Adapters that break the protocol in one way each (and `ipv4-only`, which declares
the fewest capabilities allowed), for tests/misbehaving_adapters.rs.

Usage: bad_adapter.py MODE. The adapter behaves (it is the Python adapter) until the
scenario calls `listen` (missing-field: the socket() after it), then misbehaves as MODE says; `hang-before-hello` misbehaves
from the start. The tests find the adapter and everything it forked by an environment
variable they set (BAD_ADAPTER_MARK), which children inherit: files it wrote would stay
inside the sandbox's mount namespace, out of the host's sight.
"""

import json
import os
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "adapters", "python"))
import sockspec_adapter as base  # noqa: E402


def hang():
    threading.Event().wait()


class Bad(base.Adapter):
    mode = ""

    def op_listen(self, req):
        mode = self.mode
        Bad.listened = True
        if mode == "crash-segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "exit-early":
            sys.stderr.write("bad adapter: giving up on listen\n")
            sys.stderr.flush()
            os._exit(3)
        if mode == "garbage":
            with self.out_lock:
                self.out.write("this is not json\n")
                self.out.flush()
            hang()
        if mode == "unknown-id":
            self.write({"id": req["id"] + 1000, "ok": {}})
            hang()
        if mode == "answer-twice":
            self.write({"id": req["id"], "ok": {}})
            self.write({"id": req["id"], "ok": {}})
            return super().op_listen(req)
        if mode == "never-answers":
            hang()
        if mode == "close-stdout":
            os.close(1)
            hang()
        if mode == "ignore-sigterm":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            hang()
        if mode == "flood":
            chunk = "x" * (1 << 20)
            with self.out_lock:
                for _ in range(100):
                    self.out.write(chunk)
                self.out.flush()
            hang()
        if mode == "fork-setsid":
            # A daemon: leaves the process group and keeps a socket listening.
            if os.fork() == 0:
                os.setsid()
                daemon = socket.socket()
                daemon.bind(("127.0.0.1", 0))
                daemon.listen(1)
                hang()
            hang()
        if mode == "memory-hog":
            hoard = []
            while True:
                hoard.append(bytearray(16 << 20))
        return super().op_listen(req)

    listened = False

    def op_hello(self, req):
        done = super().op_hello(req)
        if self.mode == "ipv4-only":
            # Honest but minimal: no concurrency, no IPv6, no options, no poll.
            done["capabilities"] = ["ipv4"]
        if self.mode == "no-bulk":
            # Everything but bulk data: stream properties fall back to send/recv.
            done["capabilities"] = [c for c in done["capabilities"] if c != "bulk"]
        return done

    def op_socket(self, req):
        done = super().op_socket(req)
        if self.mode == "missing-field" and self.listened:
            del done["sock"]
        return done


if __name__ == "__main__":
    Bad.mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if Bad.mode == "hang-before-hello":
        hang()
    base.main(Bad)
