#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Clients that do not play along: one that connects and never sends, one
# that sends half a request and stops, hundreds of connections at once.
# Others are still served; a half-sent request is closed at its deadline;
# a full connection table closes the connection idle the longest.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TESTS=(clients_silent_and_half_sent clients_hundred_at_once)
only_tests CLIENTS_ONLY
require_root "${TESTS[@]}"
start_daemon || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }

# A silent connection and a half-sent request: status is still answered, and
# the half-sent one is closed by rewindd (its read sees the end), the silent
# one is not (idle connections are how rewind-proxy talks to rewindd).
clients_silent_and_half_sent() {
	/usr/bin/python3 - "$SOCK" "$CTL" <<'EOF'
import socket, subprocess, sys
sock, ctl = sys.argv[1], sys.argv[2]
silent = socket.socket(socket.AF_UNIX); silent.connect(sock)
half = socket.socket(socket.AF_UNIX); half.connect(sock)
half.sendall(b'{"cmd":"sta')
out = subprocess.run([ctl, "--socket", sock, "status", "--json"], capture_output=True, timeout=60)
if out.returncode != 0 or b'"sessions"' not in out.stdout:
    sys.exit("status while two clients hold connections: %r" % out)
# rewindd closes it at its deadline: recv returns the end (bounded: 60 s).
half.settimeout(60)
try:
    got = half.recv(100)
except socket.timeout:
    sys.exit("the half-sent request's connection is still open after 60 s")
if got != b"":
    sys.exit("the half-sent request got %r, not the end of the connection" % got)
# The silent one is still served when it asks.
silent.sendall(b'{"cmd":"status"}\n')
silent.settimeout(60)
if b'"ok": true' not in silent.recv(1 << 20).replace(b'"ok":true', b'"ok": true'):
    sys.exit("the silent client was not served")
EOF
	grep -q "left a request unfinished for 10 s: connection closed" "$TMP/rewindd.log" ||
		{ echo "not in the log: $(tail -2 "$TMP/rewindd.log")"; return 1; }
}

# 300 idle connections (more than the table holds), then 100 clients at once:
# each is answered; the idle ones beyond the table were closed to make room.
clients_hundred_at_once() {
	/usr/bin/python3 - "$SOCK" <<'EOF' || return 1
import socket, sys, threading
sock = sys.argv[1]
idle = []
for _ in range(300):
    s = socket.socket(socket.AF_UNIX); s.connect(sock); idle.append(s)
answers, errors = [], []
def ask():
    try:
        s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sock)
        s.sendall(b'{"cmd":"status"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
        answers.append(buf)
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=ask) for _ in range(100)]
for t in threads: t.start()
for t in threads: t.join()
ok = sum(1 for a in answers if b'"ok": true' in a.replace(b'"ok":true', b'"ok": true'))
if ok != 100:
    sys.exit("%d of 100 clients answered ok; errors %s; e.g. %r" % (ok, errors[:3], answers[:1]))
EOF
	grep -q "connections: closing the one idle the longest" "$TMP/rewindd.log" ||
		{ echo "no idle connection was closed: $(tail -2 "$TMP/rewindd.log")"; return 1; }
}

for t in "${TESTS[@]}"; do
	run_test "$t" "$t"
done
