#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""make bench's image-memory benchmark (BENCHES=images): what N warm sessions cost rewindd.

    OUTPUT=build /usr/bin/python3 bench/imagestore.py

For the same Python function and the same Node function, N = 1, 2, 4, 8
rewind-proxy instances (each its own process tree and rewindd session, each
checkpointed after the same warm-up), then a mix of four different Python
functions, one session each: the image store's bytes (`rewindctl status`)
against N x one image, and each proxy's checkpoint time and mean rewind
round trip. Four configurations (CONFIGS to choose), side by side in one run: `apart`
(rewindd's default: every image its own pages, as before the shared
store), `shared` (rewindd --image-sharing: identical pages stored once),
`shared+layout` (and rewind-proxy --shared-images: instances of the same
code start identical) and `+packed` (and rewindd --image-packing: pages
held LZ4-compressed, packed aside in the background after each
checkpoint and swapped in once packed, but for the pages rewinds used
meanwhile; a page packed then is unpacked when a rewind first needs it).
The store's bytes are the memory its pages take (packed ones as packed),
after REQUESTS rewinds each, then `status --settle` (packs what waits)
and one more request each (its rewind maps the packed store in place of
the one its target still maps): the pages rewinds used count whole. ROUNDS
(default 1) repetitions, the order of the configurations alternating;
medians. REQUESTS (default 20) requests per
proxy for the rewind figures (each rewind's round trip from the proxy's
--verbose log: their median, and the first one's). Nothing is asserted: it prints.
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
ALL_CONFIGS = {"apart": ([], []), "shared": (["--image-sharing"], []),
               "shared+layout": (["--image-sharing"], ["--shared-images"]),
               "+packed": (["--image-sharing", "--image-packing"], ["--shared-images"])}
# CONFIGS="apart +packed": some of them only (apart, which the ratios are against, always).
CONFIGS = {c: a for c, a in ALL_CONFIGS.items()
           if c == "apart" or c in os.environ.get("CONFIGS", " ".join(ALL_CONFIGS)).split()}
MIB = 1048576.0


def daemon(args):
    if os.path.exists(driver.SOCK):
        os.unlink(driver.SOCK)
    pidfile = os.path.join(driver.TMP, "rewindd.pid")
    # Kept after the run (the work dir goes): a failed rewind is explained there.
    os.makedirs(driver.RESULTS, exist_ok=True)
    logfile = os.path.join(driver.RESULTS, "imagestore-rewindd.log")
    subprocess.run([os.path.join(driver.BIN, "rewindd"), "--socket", driver.SOCK, "--pidfile", pidfile,
                    "--state-dir", os.path.join(driver.TMP, "state"), "--log-file", logfile] + args,
                   check=True)
    with open(pidfile) as f:
        driver.DAEMON["pid"] = int(f.read())


def proxy_log_figures(path):
    """(checkpoint ms, median rewind us, first rewind us) from a stopped proxy's log (-v)."""
    ckpt = None
    rews = []
    with open(path, errors="replace") as f:
        for ln in f:
            m = re.search(r"checkpointed \(.*\) in ([0-9.]+) ms", ln)
            if m:
                ckpt = float(m.group(1))
            m = re.search(r"session \d+ rewound in ([0-9.]+) us", ln)
            if m:
                rews.append(float(m.group(1)))
    return ckpt, statistics.median(rews) if rews else None, rews[0] if rews else None


def sessions_of(fns, extra):
    """Start one proxy per (runtime, fn), checkpointed after the warm-up; serve REQUESTS each."""
    proxies = []
    for rt, fn in fns:
        p = driver.Proxy(rt, "rewind", warm=driver.value_of(fn, driver.SPECS[fn]["bench"][rt]),
                         extra=["--verbose"] + extra)
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
    driver.rewindctl("status", "--settle", "--json")
    for p, rt, fn in proxies:
        p.run(driver.value_of(fn, driver.SPECS[fn]["bench"][rt]))
        p.idle()
    status = json.loads(driver.rewindctl("status", "--json"))
    if status["image_store"].get("superseded_bytes"):
        raise RuntimeError("stores packed since still mapped after a rewind each: %s" % status["image_store"])
    images = [s["image_bytes"] for s in status["sessions"]]
    store = status["image_store"]
    ckpts, rews, firsts = [], [], []
    for p, _, _ in proxies:
        p.stop()
        c, r, first = proxy_log_figures(p.logpath)
        if c is not None:
            ckpts.append(c)
        if r is not None:
            rews.append(r)
            firsts.append(first)
    after = json.loads(driver.rewindctl("status", "--json"))["image_store"]["bytes"]
    return {"store": store["bytes"], "logical": store["logical_bytes"], "shared": store["shared_bytes"],
            "packed_pages": store.get("packed_pages", 0), "packed": store.get("packed_bytes", 0),
            "images": images, "ckpt_ms": statistics.median(ckpts) if ckpts else float("nan"),
            "rewind_us": statistics.median(rews) if rews else float("nan"),
            "first_us": statistics.median(firsts) if firsts else float("nan"), "left": after}


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
                    driver.log("round %d %-13s %-16s N=%d: store %.1f MiB for %.1f MiB of images (%.1f MiB "
                               "packed in %.1f), checkpoint %.0f ms, rewind %.0f us (the first %.0f), left %d "
                               "bytes" % (rnd + 1, cfg, name, n, r["store"] / MIB, r["logical"] / MIB,
                                          r["packed_pages"] * 4096 / MIB, r["packed"] / MIB, r["ckpt_ms"],
                                          r["rewind_us"], r["first_us"], r["left"]))
            finally:
                driver.stop_rewindd()

    def med(name, n, cfg, key):
        return statistics.median(r[key] for r in res[(name, n, cfg)])

    def one_image(name, n):
        """Today's image of one session: the median session's, pages apart."""
        return statistics.median(x for r in res[(name, n, "apart")] for x in r["images"])

    print("\nImage store with N warm sessions (medians of %d round(s)). MiB of the store, and its ratio to"
          "\none image as stored today (the median session's, without sharing); per proxy, the checkpoint"
          "\n(attach + checkpoint, ms) and the median rewind round trip (us). apart: rewindd"
          "\nwithout --image-sharing; shared: with it; +layout: and rewind-proxy --shared-images;"
          "\n+packed: and rewindd --image-packing." % ROUNDS)
    k = len(CONFIGS)
    hdr = "%-16s %2s %8s" + " %8s %6s" * k + " %7s" * k + " %7s" * k
    short = {"apart": "apart", "shared": "shared", "shared+layout": "+layout", "+packed": "+packed"}
    print(hdr % tuple(["function", "N", "1 image"] + [x for c in CONFIGS for x in (short[c], "x")] +
                      ["ckpt"] * k + ["rewind"] * k))
    print(hdr % tuple([""] * (3 + 2 * k) + [short[c] for c in CONFIGS] * 2))
    goals = []
    for name, n, _ in cases:
        one = one_image(name, n)
        row = [name, n, one / MIB]
        for cfg in CONFIGS:
            st = med(name, n, cfg, "store")
            row += [st / MIB, st / one]
        row += [med(name, n, cfg, "ckpt_ms") for cfg in CONFIGS]
        row += [med(name, n, cfg, "rewind_us") for cfg in CONFIGS]
        print(("%-16s %2d %8.1f" + " %8.1f %6.2f" * k + " %7.0f" * k + " %7.0f" * k) % tuple(row))
        x = {c: med(name, n, c, "store") / one for c in CONFIGS}
        what = ", ".join("%s %.2fx" % (c, x[c]) for c in reversed(list(CONFIGS)) if c != "apart")
        if name.startswith("python mix"):
            goals.append("4-function Python mix: store over one image: %s (goal <= 2x)" % what)
        elif n == max(NS):
            goals.append("%d sessions of %s: store over one image: %s (goal <= 1.5x)" % (n, name, what))
    for cfg in [c for c in CONFIGS if c != "apart"]:
        ck = [med(name, n, cfg, "ckpt_ms") / med(name, n, "apart", "ckpt_ms") for name, n, _ in cases]
        rw = [med(name, n, cfg, "rewind_us") / med(name, n, "apart", "rewind_us") for name, n, _ in cases]
        first = [med(name, n, cfg, "first_us") / med(name, n, "apart", "first_us") for name, n, _ in cases]
        goals.append("%s against apart: checkpoint median %.2fx, worst %.2fx (goal <= 1.2x); rewind round "
                     "trip median %.2fx, worst %.2fx (goal: unchanged); the first rewind after the "
                     "checkpoint median %.2fx, worst %.2fx" % (
                         cfg, statistics.median(ck), max(ck), statistics.median(rw), max(rw),
                         statistics.median(first), max(first)))
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
