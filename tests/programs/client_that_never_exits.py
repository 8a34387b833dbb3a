"""An echo client that does its job once, then never exits: it ignores the server's
close and sleeps. tests/programs.rs checks that the echo-client suite says so, within
its timeout, and that nothing of it is left afterwards."""

import socket
import sys
import time

s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
line = sys.stdin.readline().encode()
s.sendall(line)
got = b""
while len(got) < len(line):
    got += s.recv(100)
sys.stdout.write(got.decode())
sys.stdout.flush()
time.sleep(4244)
