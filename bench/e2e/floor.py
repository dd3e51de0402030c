#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""The floor under bench-e2e's overhead goals, per function and runtime.

    sudo /usr/bin/python3 bench/e2e/floor.py [RESULTS_JSON] [US_PER_PAGE ...]

A rewind after a request must at least: answer the proxy (a request round
trip to rewindd: ~90 us here, `make bench`'s "floor" line), stop and release
the function's threads (>= 25 us), and copy back every page the request
wrote. This runs each bundled function behind rewind-proxy (rewind mode, the
benchmark's warm-up and input, 30 requests), reads how many pages each
rewind copied (`rewind-proxy -v` logs every rewind's answer), and prints the
floor as a share of the function's insecure p50 from RESULTS_JSON (default
$OUTPUT/bench-e2e/results.json), for each copy cost given (default: 0.9 us,
memcpy of scattered pages in `make bench`, and 0.25 us, 4 KiB at 16 GB/s).
"""
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(ROOT, os.environ.get("OUTPUT", "build"))
ROUND_TRIP_US, STOP_RELEASE_US, REQUESTS = 90, 25, 30

spec = importlib.util.spec_from_file_location("driver", os.path.join(HERE, "driver.py"))
driver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(driver)


def insecure_p50_ms(runs, fn, rt):
    p = [r["p50_us"] for r in runs if r["fn"] == fn and r["runtime"] == rt and r["mode"] == "insecure"
         and r.get("load", "closed") == "closed"]
    return statistics.median(p) / 1000 if p else None


def pages_copied(fn, rt, tmp):
    """Median pages copied per rewind (the first 5 left out) and median rewind time, us."""
    sock = os.path.join(tmp, "rewindd.sock")
    rwd = subprocess.Popen([os.path.join(BIN, "rewindd"), "-f", "-s", sock, "-d", os.path.join(tmp, "state")],
                           stderr=subprocess.DEVNULL)
    value = driver.value_of(fn, driver.SPECS[fn]["bench"][rt])
    logpath = os.path.join(tmp, "proxy.%s.%s.log" % (fn, rt))
    px = None
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            subprocess.run(["sleep", "0.05"])
        with open(logpath, "w") as log:
            px = subprocess.Popen([os.path.join(BIN, "rewind-proxy"), "--port", "0", "--runtime", rt,
                                   "--work-dir", os.path.join(tmp, "work"), "--rewindd-socket", sock,
                                   "--warmup", str(driver.PROXY_WARMUP), "--warmup-input", json.dumps(value),
                                   "-v"], stdout=subprocess.PIPE, stderr=log)
            port = int(re.search(rb"ready on port (\d+)", px.stdout.readline()).group(1))
            driver.drain_output(px.stdout)
            ext = "py" if rt == "python" else "js"
            with open(os.path.join(HERE, "functions", "%s.%s" % (fn, ext))) as f:
                code = f.read()

            def post(path, body):
                req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), json.dumps(body).encode(),
                                             {"Content-Type": "application/json"})
                return urllib.request.urlopen(req, timeout=120).read()

            post("/init", {"value": {"name": fn, "main": "main", "code": code}})
            for _ in range(REQUESTS):
                post("/run", {"value": value})
    finally:
        if px:
            px.terminate()
            px.wait()
        rwd.terminate()
        rwd.wait()
    with open(logpath) as f:
        text = f.read()
    pages = [int(x) for x in re.findall(r'"pages_copied":(\d+)', text)][5:]
    totals = [int(x) for x in re.findall(r'"total":(\d+)', text)][5:]
    if not pages:
        sys.exit("floor: no rewind logged for %s/%s (see %s)" % (fn, rt, logpath))
    return statistics.median(pages), statistics.median(totals) / 1000


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(BIN, "bench-e2e", "results.json")
    costs = [float(c) for c in sys.argv[2:]] or [0.9, 0.25]
    if os.geteuid():
        sys.exit("floor: needs root (rewindd)")
    with open(results) as f:
        runs = json.load(f)["runs"]
    tmp = tempfile.mkdtemp(prefix="rewind-floor.", dir="/var/tmp")   # the proxy refuses a work dir in /tmp
    shares = {c: [] for c in costs}
    print("%-10s %-6s %7s %10s %12s  %s" % ("function", "rt", "pages", "rewind us", "insecure ms",
                                           "  ".join("floor@%.2fus" % c for c in costs)))
    try:
        for fn in driver.SPECS:
            for rt in driver.SPECS[fn]["bench"]:
                base = insecure_p50_ms(runs, fn, rt)
                if base is None:
                    continue
                pages, rewind_us = pages_copied(fn, rt, tmp)
                cols = []
                for c in costs:
                    share = (ROUND_TRIP_US + STOP_RELEASE_US + pages * c) / (base * 10)
                    shares[c].append(share)
                    cols.append("%10.1f %%" % share)
                print("%-10s %-6s %7d %10.0f %12.2f  %s" % (fn, rt, pages, rewind_us, base, "  ".join(cols)),
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for c in costs:
        s = sorted(shares[c])
        print("copy at %.2f us a page: floor median %.1f %%, p95 (nearest rank) %.1f %%" %
              (c, statistics.median(s), s[max(0, -(-95 * len(s) // 100) - 1)]))


if __name__ == "__main__":
    main()
