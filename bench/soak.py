#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""make soak: rewindd over a long run, every rewind verified byte for byte.

    OUTPUT=build /usr/bin/python3 bench/soak.py

A C target (tests/integ/target stripes: 512 pages, half of them written by
each invocation) rewound SOAK_REWINDS times (default 100,000) through one
persistent connection, every 100th rewind verified (--verify reads the
whole process: ~20 ms here against ~0.5 ms for the rewind) and the
target's own sum of its memory checked every 1,000th, then a Python and a
Node function (bench/e2e html) behind rewind-proxy --verify for
SOAK_REQUESTS requests each (default 10,000). After a warm-up (a tenth of
the run, at most 1,000) and at the end it reads rewindd's RSS and fds, the
image store's bytes, the watched trees' stores on disk, the ring buffer's
drops and the target's (or function's) RSS, and says whether each grew
beyond its bound (BOUNDS below); and rewindd's heap in use (malloc's count,
which tells a leak from pages the allocator keeps after a free) once the
session is detached, against before it was attached. Exits 1 on a failed
rewind, a wrong answer or a bound exceeded. Not part of `make check`: it
takes ~25 minutes here (a --verify of a Node function is ~60 ms).
"""
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "e2e"))
sys.dont_write_bytecode = True
import driver  # noqa: E402  (bench/e2e/driver.py: rewindd and proxy harness)

REWINDS = int(os.environ.get("SOAK_REWINDS", "100000"))
REQUESTS = int(os.environ.get("SOAK_REQUESTS", "10000"))
FUNCS = [tuple(x.split("/")) for x in os.environ.get("SOAK_FUNCS", "html/python html/node").split()]
STRIPES = 256
MIB = 1048576
# Growth allowed from after the warm-up to the end.
BOUNDS = {"rewindd_rss": 8 * MIB, "rewindd_fds": 0, "image_store": 0, "state_dir": 0,
          "dropped": 0, "target_rss": 8 * MIB}
# rewindd's heap in use once the session is detached, against before it was
# attached: what a leak would leave. (During the run the heap follows the
# invocations a session keeps for its report, 16 of them, sized by the pages
# each wrote: it moves, and says nothing of a leak.) Some 60-70 KiB are left
# whatever the length of the run (glibc's mtrace of a Node session: bounded
# caches made at first use, and the buffers of a client connection still
# open); 32 bytes lost a rewind would leave 3 MiB after 100,000 rewinds.
HEAP_LEFT_BOUND = 128 * 1024


def heap():
    return json.loads(driver.rewindctl("status", "--json"))["memory"]["heap_in_use"]


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) * 1024
    return 0


def tree_bytes(path):
    total = 0
    for d, _, files in os.walk(path):
        for x in files:
            try:
                total += os.lstat(os.path.join(d, x)).st_blocks * 512
            except OSError:
                pass
    return total


def figures(target_rss):
    pid = driver.DAEMON["pid"]
    st = json.loads(driver.rewindctl("status", "--json"))
    return {"rewindd_rss": rss(pid), "rewindd_fds": len(os.listdir("/proc/%d/fd" % pid)),
            "image_store": st["image_store"]["bytes"],
            "state_dir": tree_bytes(os.path.join(driver.TMP, "state")),
            "dropped": sum(s.get("dropped", 0) for s in st["sessions"]),
            "target_rss": target_rss}


class Control:
    """One persistent connection to rewindd, as rewind-proxy keeps."""

    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(driver.SOCK)
        self.f = self.s.makefile("rb")

    def call(self, req):
        self.s.sendall(json.dumps(req).encode() + b"\n")
        return json.loads(self.f.readline())


def soak_c():
    """(result dict) for the C target."""
    target = os.path.join(driver.BIN, "tests", "integ", "target")
    p = subprocess.Popen([target, "stripes", str(STRIPES)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = p.stdout.readline().decode().split()
    want = "sum " + ready[-1]

    def ask(line):
        p.stdin.write(line.encode() + b"\n")
        p.stdin.flush()
        return p.stdout.readline().decode().strip()

    c = Control()
    heap0 = heap()
    r = c.call({"cmd": "attach", "pid": p.pid})
    sid, inst = r["session"], r["instance"]
    assert c.call({"cmd": "checkpoint", "session": sid})["ok"]
    warm = min(1000, REWINDS // 10)
    failed, wrong, before, t0 = [], 0, None, time.monotonic()
    for i in range(REWINDS):
        if i == warm:
            before, t0 = figures(rss(p.pid)), time.monotonic()
        if ask("go") != "done":
            failed.append("invocation %d: the target did not answer" % i)
            break
        r = c.call({"cmd": "rewind", "session": sid, "instance": inst, "verify": i % 100 == 0,
                    "brief": True})
        if not r.get("ok"):
            failed.append("rewind %d: %s" % (i, r.get("error")))
            break
        if i % 1000 == 999 and ask("check") != want:
            wrong += 1
    after = figures(rss(p.pid)) if not failed else None
    elapsed = time.monotonic() - t0
    if not failed and ask("check") != want:
        wrong += 1
    c.call({"cmd": "detach", "session": sid, "instance": inst})
    p.stdin.close()
    p.wait()
    return {"what": "C target, %d pages, %d written each" % (2 * STRIPES, STRIPES), "n": REWINDS,
            "failed": failed, "wrong": wrong, "before": before, "after": after,
            "heap_left": heap() - heap0, "per_s": (REWINDS - warm) / elapsed if elapsed else 0}


def soak_proxy(fn, rt):
    value = driver.value_of(fn, driver.SPECS[fn]["bench"][rt])
    heap0 = heap()
    px = driver.Proxy(rt, "rewind", warm=value, extra=["--verify"])
    px.init(fn)
    px.idle()
    px.armed()
    warm = min(1000, REQUESTS // 10)
    wrong, before, t0, pid0 = 0, None, time.monotonic(), None
    for i in range(REQUESTS):
        if i == warm:
            px.idle()
            before, t0 = figures(px.memory()[0]), time.monotonic()
        st, res = px.run(value)
        if st != 200 or not driver.invariants(fn, driver.SPECS[fn]["bench"][rt], res):
            wrong += 1
    px.idle()
    elapsed = time.monotonic() - t0
    after = figures(px.memory()[0])
    restarts = px.restarts()
    px.stop()
    return {"what": "%s/%s behind rewind-proxy --verify" % (fn, rt), "n": REQUESTS,
            "failed": ["%d function restart(s) after a failed rewind" % restarts] if restarts else [],
            "wrong": wrong, "before": before, "after": after, "heap_left": heap() - heap0,
            "per_s": (REQUESTS - warm) / elapsed if elapsed else 0}


def verdict(r):
    bad = list(r["failed"])
    if r["wrong"]:
        bad.append("%d wrong answer(s)" % r["wrong"])
    if r["before"] and r["after"]:
        for k, bound in BOUNDS.items():
            grew = r["after"][k] - r["before"][k]
            if grew > bound:
                bad.append("%s grew by %d (bound %d)" % (k, grew, bound))
    if r.get("heap_left", 0) > HEAP_LEFT_BOUND:
        bad.append("rewindd's heap holds %d bytes more after the detach than before the attach "
                   "(bound %d)" % (r["heap_left"], HEAP_LEFT_BOUND))
    return bad


def show(r):
    print("%s: %d in a row, %.0f/s after the warm-up" % (r["what"], r["n"], r["per_s"]))
    if r["before"] and r["after"]:
        print("  %-12s %14s %14s %10s %10s" % ("", "after warm-up", "at the end", "growth", "bound"))
        for k, bound in BOUNDS.items():
            a, b = r["before"][k], r["after"][k]
            print("  %-12s %14d %14d %10d %10d" % (k, a, b, b - a, bound))
    if "heap_left" in r:
        print("  rewindd's heap in use after the detach, against before the attach: %+d bytes "
              "(bound %d)" % (r["heap_left"], HEAP_LEFT_BOUND))
    bad = verdict(r)
    print("  " + ("; ".join(bad) if bad else "0 failed rewinds, 0 wrong answers, every figure within its bound"))
    return not bad


def main():
    driver.start_rewindd()
    results = []
    try:
        if REWINDS:
            results.append(soak_c())
            show(results[-1])
        for fn, rt in FUNCS:
            results.append(soak_proxy(fn, rt))
            show(results[-1])
    finally:
        for px in list(driver.LIVE):
            px.stop()
        driver.stop_rewindd()
    out = os.path.join(driver.BIN, "soak.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print("results in %s" % out)
    return 0 if all(not verdict(r) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
