#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""bench-e2e's paced open-loop client.

    paced.py URL BODY_FILE EXPECT RATE SECONDS [CONNECTIONS]

POSTs BODY_FILE to URL at RATE requests a second for SECONDS and prints one
line, like post.lua's:
  E2E {"requests":N,"rps":achieved,"p50_us":..,"p95_us":..,"p99_us":..,
       "non200":N,"wrong":N,"socket_errors":N,"behind":N,"unsent":N,
       "client_lag_p99_us":..}

Why not `hey -q` (Debian's hey 0.1.4): -q is a rate "per worker", and each
of the -c workers waits for its answer before it takes the next tick, the
ticks it missed meanwhile dropped; `hey -q 50 -c 1 -z 4s` against a server
whose every tenth answer takes 200 ms sent 105 requests instead of 200, and
timed each from its own send. That is a closed loop with a rate cap: a slow
answer holds back the requests behind it, and their wait is not counted
(coordinated omission). More workers only split the rate into more such
loops.

Here every send time is fixed before the run: request i is due at
t0 + i/RATE. One thread (no lock or thread hand-off between the clock and
the send) sleeps in select() until the next request is due or an answer
arrives, and sends each due request on a free keep-alive connection, of
CONNECTIONS at most. A request's latency runs from its due time, not from
when it went out, so a request held back because every connection still
waited for an answer (the function serves one at a time: it would have
queued in the proxy anyway) is charged the wait. `behind` counts those;
`client_lag_p99_us` is how late this client sent the requests it was free
to send on time (its own timing error: a figure to read next to the
latencies). A mode that cannot keep up with the rate would make the run last
as long as its backlog: requests not sent GRACE seconds after the last one
was due are not sent, are counted as `unsent` and count as infinitely late in
the percentiles. The answer is checked: status 200 and EXPECT in the body,
as post.lua does.
"""
import collections
import ctypes
import json
import math
import select
import socket
import sys
import time
import urllib.parse

PR_SET_TIMERSLACK = 29
GRACE = 1.0


def _fine_timers():
    """The default 50 us timer slack would be most of a sub-millisecond function."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _answer(buf):
    """(status, body, rest) of the first whole HTTP/1.1 answer in buf, or None while it is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].split(b"\r\n")
    length = None
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if length is None:
        raise ConnectionError("answer without a Content-Length")
    start = end + 4
    if len(buf) < start + length:
        return None
    return int(lines[0].split()[1]), buf[start:start + length], buf[start + length:]


def nearest_rank(xs, q):
    return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else float("nan")


class _Conn:
    def __init__(self, addr):
        # Blocking with a timeout: sendall() sends a body of any size whole; recv() is
        # called only when select() found data, so it does not wait.
        self.sock = socket.create_connection(addr, timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf, self.req = b"", None


def run(url, body, expect, rate, seconds, connections=4):
    _fine_timers()
    u = urllib.parse.urlsplit(url)
    addr = (u.hostname, u.port)
    req = (b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" %
           ((u.path or "/").encode(), u.netloc.encode(), len(body))) + body
    want = expect.encode()
    n = max(1, int(rate * seconds))
    t0 = time.monotonic() + 0.05
    due = [t0 + i / rate for i in range(n)]
    cutoff = due[-1] + GRACE
    lat, lags = [], []
    counts = {"non200": 0, "wrong": 0, "socket_errors": 0, "behind": 0, "unsent": 0}
    idle, busy = [], {}          # connections; busy: socket -> _Conn
    pending = collections.deque()
    nxt, last = 0, t0

    def drop(c):
        counts["socket_errors"] += 1
        busy.pop(c.sock, None)
        c.sock.close()

    while nxt < n or pending or busy:
        now = time.monotonic()
        carried = len(pending)   # due before this turn, and no connection was free then
        while nxt < n and due[nxt] <= now:
            pending.append(nxt)
            nxt += 1
        if now > cutoff:
            counts["unsent"] += len(pending) + (n - nxt)
            lat += [math.inf] * (len(pending) + n - nxt)
            pending.clear()
            nxt = n
        while pending and (idle or len(busy) < connections):
            i = pending.popleft()
            carried -= 1
            c = None
            try:
                c = idle.pop() if idle else _Conn(addr)
                c.sock.sendall(req)
            except OSError:
                counts["socket_errors"] += 1
                if c:
                    c.sock.close()
                continue
            c.req = i
            busy[c.sock] = c
            if carried >= 0:
                counts["behind"] += 1
            else:
                lags.append(time.monotonic() - due[i])
        now = time.monotonic()
        if pending:
            timeout = max(0.0, cutoff - now)
        elif nxt < n:
            timeout = max(0.0, due[nxt] - now)
        else:
            timeout = 120.0
        if not busy:
            time.sleep(timeout)
            continue
        ready, _, _ = select.select(list(busy), [], [], timeout)
        if not ready and nxt == n and not pending:
            for c in list(busy.values()):      # 120 s without an answer: lost
                drop(c)
        for sock in ready:
            c = busy[sock]
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed by the server")
                c.buf += chunk
                got = _answer(c.buf)
            except (OSError, ValueError):
                drop(c)
                continue
            if got is None:
                continue
            done = time.monotonic()
            status, answer, c.buf = got
            lat.append(done - due[c.req])
            last = max(last, done)
            if status != 200:
                counts["non200"] += 1
            elif want and want not in answer:
                counts["wrong"] += 1
            del busy[sock]
            idle.append(c)
    for c in idle:
        c.sock.close()
    got = sorted(x * 1e6 for x in lat)
    done = [x for x in got if x != math.inf]
    lags.sort()
    span = max(last - t0, n / rate)
    return dict(counts, requests=len(done), target_rps=rate, rps=len(done) / span, duration_us=int(span * 1e6),
                p50_us=nearest_rank(got, 0.50), p95_us=nearest_rank(got, 0.95), p99_us=nearest_rank(got, 0.99),
                mean_us=sum(done) / len(done) if done else float("nan"), max_us=got[-1] if got else float("nan"),
                client_lag_p99_us=nearest_rank(lags, 0.99) * 1e6)


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__.split("\n\n")[1])
    with open(sys.argv[2], "rb") as f:
        body = f.read()
    conns = int(sys.argv[6]) if len(sys.argv) > 6 else 4
    print("E2E " + json.dumps(run(sys.argv[1], body, sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), conns)))


if __name__ == "__main__":
    main()
