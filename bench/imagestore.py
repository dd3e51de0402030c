#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""make bench's image-memory benchmark (BENCHES=images): what N warm sessions cost rewindd.

    OUTPUT=build /usr/bin/python3 bench/imagestore.py

For the same Python function and the same Node function, N = 1, 2, 4, 8
rewind-proxy instances (each its own process tree and rewindd session, each
checkpointed after the same warm-up), then a mix of four different Python
functions, one session each: the image store's bytes (`rewindctl status`)
against N x one image, and each proxy's checkpoint time and mean rewind
round trip. Three configurations, side by side in one run: `apart`
(rewindd's default: every image its own pages, as before the shared
store), `shared` (rewindd --image-sharing: identical pages stored once) and
`shared+layout` (and rewind-proxy --shared-images: instances of the same
code start identical). ROUNDS (default 1) repetitions, the order of the
configurations alternating; medians. REQUESTS (default 20) requests per
proxy for the rewind figure. Nothing is asserted: it prints.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "e2e"))
sys.dont_write_bytecode = True
import driver  # noqa: E402  (bench/e2e/driver.py: the proxy harness)

ROUNDS = int(os.environ.get("ROUNDS", "1"))
REQUESTS = int(os.environ.get("REQUESTS", "20"))
NS = [int(n) for n in os.environ.get("NS", "1 2 4 8").split()]
SAME = [("python", "html"), ("node", "html")]
MIX = ["html", "jsontx", "compress", "graph"]
# rewindd's options, rewind-proxy's options
CONFIGS = {"apart": ([], []), "shared": (["--image-sharing"], []),
           "shared+layout": (["--image-sharing"], ["--shared-images"])}
MIB = 1048576.0


def daemon(args):
    if os.path.exists(driver.SOCK):
        os.unlink(driver.SOCK)
    pidfile = os.path.join(driver.TMP, "rewindd.pid")
    subprocess.run([os.path.join(driver.BIN, "rewindd"), "--socket", driver.SOCK, "--pidfile", pidfile,
                    "--state-dir", os.path.join(driver.TMP, "state")] + args, check=True)
    with open(pidfile) as f:
        driver.DAEMON["pid"] = int(f.read())


def proxy_log_figures(path):
    """(checkpoint ms, mean rewind us) from a stopped proxy's log."""
    ckpt = rew = None
    with open(path, errors="replace") as f:
        for ln in f:
            m = re.search(r"checkpointed \(.*\) in ([0-9.]+) ms", ln)
            if m:
                ckpt = float(m.group(1))
            m = re.search(r"rewind\(s\), ([0-9.]+) us each", ln)
            if m:
                rew = float(m.group(1))
    return ckpt, rew


def sessions_of(fns, extra):
    """Start one proxy per (runtime, fn), checkpointed after the warm-up; serve REQUESTS each."""
    proxies = []
    for rt, fn in fns:
        p = driver.Proxy(rt, "rewind", warm=driver.value_of(fn, driver.SPECS[fn]["bench"][rt]), extra=extra)
        proxies.append((p, rt, fn))
        p.init(fn)
        p.idle()
    for p, rt, fn in proxies:
        value = driver.value_of(fn, driver.SPECS[fn]["bench"][rt])
        for _ in range(REQUESTS):
            st, _ = p.run(value)
            if st != 200:
                raise RuntimeError("%s/%s answered %d" % (fn, rt, st))
        p.idle()
    status = json.loads(driver.rewindctl("status", "--json"))
    images = [s["image_bytes"] for s in status["sessions"]]
    store = status["image_store"]
    ckpts, rews = [], []
    for p, _, _ in proxies:
        p.stop()
        c, r = proxy_log_figures(p.logpath)
        if c is not None:
            ckpts.append(c)
        if r is not None:
            rews.append(r)
    after = json.loads(driver.rewindctl("status", "--json"))["image_store"]["bytes"]
    return {"store": store["bytes"], "logical": store["logical_bytes"], "shared": store["shared_bytes"],
            "images": images, "ckpt_ms": statistics.median(ckpts) if ckpts else float("nan"),
            "rewind_us": statistics.median(rews) if rews else float("nan"), "left": after}


def main():
    cases = [("%s/%s" % (fn, rt), n, [(rt, fn)] * n) for rt, fn in SAME for n in NS]
    cases.append(("python mix of 4", 4, [("python", f) for f in MIX]))
    res = {}
    for rnd in range(ROUNDS):
        order = list(CONFIGS) if rnd % 2 == 0 else list(reversed(CONFIGS))
        for cfg in order:
            daemon(CONFIGS[cfg][0])
            try:
                for name, n, fns in cases:
                    r = sessions_of(fns, CONFIGS[cfg][1])
                    res.setdefault((name, n, cfg), []).append(r)
                    driver.log("round %d %-13s %-16s N=%d: store %.1f MiB for %.1f MiB of images, checkpoint "
                               "%.0f ms, rewind %.0f us, left %d bytes" % (
                                   rnd + 1, cfg, name, n, r["store"] / MIB, r["logical"] / MIB, r["ckpt_ms"],
                                   r["rewind_us"], r["left"]))
            finally:
                driver.stop_rewindd()

    def med(name, n, cfg, key):
        return statistics.median(r[key] for r in res[(name, n, cfg)])

    def one_image(name, n):
        """Today's image of one session: the median session's, pages apart."""
        return statistics.median(x for r in res[(name, n, "apart")] for x in r["images"])

    print("\nImage store with N warm sessions (medians of %d round(s)). MiB of the store, and its ratio to"
          "\none image as stored today (the median session's, without sharing); per proxy, the checkpoint"
          "\n(attach + checkpoint, ms) and the mean rewind round trip (us). apart: rewindd"
          "\nwithout --image-sharing; shared: with it; +layout: and rewind-proxy --shared-images." % ROUNDS)
    hdr = "%-16s %2s %8s" + " %8s %6s" * 3 + " %7s" * 3 + " %7s" * 3
    print(hdr % ("function", "N", "1 image", "apart", "x", "shared", "x", "+layout", "x",
                 "ckpt", "ckpt", "ckpt", "rewind", "rewind", "rewind"))
    print(hdr % ("", "", "", "", "", "", "", "", "", "apart", "shared", "+layout", "apart", "shared", "+layout"))
    goals = []
    for name, n, _ in cases:
        one = one_image(name, n)
        row = [name, n, one / MIB]
        for cfg in CONFIGS:
            st = med(name, n, cfg, "store")
            row += [st / MIB, st / one]
        row += [med(name, n, cfg, "ckpt_ms") for cfg in CONFIGS]
        row += [med(name, n, cfg, "rewind_us") for cfg in CONFIGS]
        print(("%-16s %2d %8.1f" + " %8.1f %6.2f" * 3 + " %7.0f" * 3 + " %7.0f" * 3) % tuple(row))
        best = med(name, n, "shared+layout", "store") / one
        if name.startswith("python mix"):
            goals.append("4-function Python mix: store %.2fx one image with --shared-images, %.2fx without "
                         "(goal <= 2x)" % (best, med(name, n, "shared", "store") / one))
        elif n == max(NS):
            goals.append("%d sessions of %s: store %.2fx one image with --shared-images, %.2fx without "
                         "(goal <= 1.5x)" % (n, name, best, med(name, n, "shared", "store") / one))
    for cfg in ("shared", "shared+layout"):
        ck = [med(name, n, cfg, "ckpt_ms") / med(name, n, "apart", "ckpt_ms") for name, n, _ in cases]
        rw = [med(name, n, cfg, "rewind_us") / med(name, n, "apart", "rewind_us") for name, n, _ in cases]
        goals.append("%s against apart: checkpoint median %.2fx, worst %.2fx (goal <= 1.2x); rewind round "
                     "trip median %.2fx, worst %.2fx (goal: unchanged)" % (
                         cfg, statistics.median(ck), max(ck), statistics.median(rw), max(rw)))
    left = max(r["left"] for v in res.values() for r in v)
    goals.append("store bytes left after every session detached: %d (want 0)" % left)
    print("\ngoals:")
    for g in goals:
        print("  " + g)


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in list(driver.LIVE):
            p.stop()
        driver.stop_rewindd()
        shutil.rmtree(driver.TMP, ignore_errors=True)
