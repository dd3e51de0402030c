# SPDX-License-Identifier: GPL-2.0-only
"""make bench-e2e's driver (run by bench/e2e/run.sh, which describes it).

Per runtime and function: a check pass (every mode answers the check input
and the bench input correctly, the runtimes agree), then ROUNDS rounds in
which every mode is measured once, in a fresh proxy, the order of the modes
rotating from round to round: wrk drives it closed-loop with one thread and
one connection, then (OPEN_MODES) paced.py sends it requests at OPEN_LOAD x
the insecure mode's closed-loop capacity, an open loop. Round 1 starts with
insecure, whose closed loop sets that rate before any paced run. Each figure
is the median of the rounds. Ratios against insecure come from the same run.
Nothing here asserts on a time.
"""
import glob
import json
import math
import os
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUTPUT = os.environ.get("OUTPUT", "build")
BIN = os.path.join(ROOT, OUTPUT)
QUICK = os.environ.get("QUICK", "") not in ("", "0")


def env_int(name, default):
    return int(os.environ.get(name, default))


ROUNDS = env_int("ROUNDS", 1 if QUICK else 3)
DURATION = env_int("DURATION", 2 if QUICK else 4)             # s per measured run
WARMUP = env_int("WARMUP", 1)                                 # s of wrk before each measured run
RESTART_ROUNDS = env_int("RESTART_ROUNDS", 1)
RESTART_DURATION = env_int("RESTART_DURATION", 2 if QUICK else 3)
FUNCS = os.environ.get("FUNCS", "").split()                    # default: every function of SPECS
RUNTIMES = os.environ.get("RUNTIMES", "python node").split()
MODES = os.environ.get("MODES", "insecure rewind fork restart criu").split()
OPEN_MODES = os.environ.get("OPEN_MODES", "insecure rewind").split()   # the paced open loop's modes
OPEN_LOAD = float(os.environ.get("OPEN_LOAD", "0.5"))         # paced rate / insecure closed-loop capacity
OPEN_RATE = float(os.environ.get("OPEN_RATE", "0"))           # requests/s for every function instead, if set
OPEN_DURATION = env_int("OPEN_DURATION", 2 if QUICK else 4)   # s per paced run, after OPEN_WARMUP s
OPEN_WARMUP = env_int("OPEN_WARMUP", 1)
OPEN_CONNS = env_int("OPEN_CONNS", 4)                         # paced.py's keep-alive connections
PROXY_WARMUP = env_int("PROXY_WARMUP", 100)                   # --warmup of the warm modes (JIT tiers)
RESULTS = os.environ.get("RESULTS", os.path.join(BIN, "bench-e2e"))
PLOT_DIR = os.environ.get("PLOT_DIR", RESULTS if QUICK else os.path.join(ROOT, "docs"))
PYTHON = "/usr/bin/python3"
LUA = os.path.join(HERE, "post.lua")
sys.path.insert(0, HERE)
import paced as PACED  # noqa: E402  (bench/e2e/paced.py: the open-loop client)


def drain_output(pipe):
    """Reads the proxy's stdout to its end (the functions' output and the
    activation sentinels follow the ready line): a full pipe would block it."""
    def run():
        while os.read(pipe.fileno(), 65536):
            pass
    threading.Thread(target=run, daemon=True).start()

# The functions, one entry each (a new one: an entry here, its sources
# functions/NAME.py and/or .js, and its branch in invariants()). "check" is
# the same for every runtime (their answers must agree); "bench" is what is
# timed, per runtime the function exists in (one is fine), sized for some
# 10-50 ms of work per request, or as small as it gets for "sub_ms" functions
# (the goal for those is their own: rewind p50 <= 1.5x insecure).
SPECS = {
    "echo": {"check": {"digest": "echo-check-7d1e", "msg": "hi"},
             "bench": {"python": {"digest": "echo-5c0b9e2a41f3", "msg": "hello", "n": [1, 2, 3]},
                       "node": {"digest": "echo-5c0b9e2a41f3", "msg": "hello", "n": [1, 2, 3]}},
             "sub_ms": True},
    "jsonsmall": {"check": {"orders": 5}, "bench": {"python": {"orders": 8}, "node": {"orders": 8}},
                  "sub_ms": True},
    "html": {"check": {"n": 40, "user": "<alice & bob>"},
             "bench": {"python": {"n": 4000}, "node": {"n": 4000}}},
    "jsontx": {"check": {"repeat": 1}, "bench": {"python": {"repeat": 20}, "node": {"repeat": 20}}},
    "image": {"check": {"w": 96, "h": 80, "seed": 9},
              "bench": {"python": {"w": 320, "h": 240}, "node": {"w": 640, "h": 480}}},
    "compress": {"check": {"kb": 64}, "bench": {"python": {"kb": 256}, "node": {"kb": 256}}},
    "graph": {"check": {"n": 500, "m": 2000}, "bench": {"python": {"n": 4000, "m": 16000},
                                                        "node": {"n": 4000, "m": 16000}}},
    "threadpool": {"check": {"tasks": 6, "iterations": 500},
                   "bench": {"python": {"iterations": 20000}, "node": {"iterations": 20000}}},
    # The real functions (third-party libraries), one runtime each; resize
    # needs `make npm-deps` (sharp, as NODE_PATH).
    "resize": {"check": {"w": 128, "h": 96, "seed": 2}, "bench": {"node": {"w": 1024, "h": 768}}},
    "zipfile": {"check": {"kb": 64}, "bench": {"node": {"kb": 1024}}},
    "numpy_omp": {"check": {"n": 64, "seed": 2}, "bench": {"python": {"n": 512}}},
    "thumbnail": {"check": {"w": 128, "h": 96, "seed": 2}, "bench": {"python": {"w": 512, "h": 384}}},
}
NODE_MODULES = os.path.join(BIN, "npm", "node_modules")


def log(msg):
    print(msg, flush=True)


def records():
    """jsontx's input: 200 customer records, the same in every run."""
    r = random.Random(42)
    countries = ["DE", "FR", "US", "JP", "BR", "IN", "NG", "SE"]
    tags = ["vip", "new", "b2b", "promo", "eu", "beta", "mobile"]
    out = []
    for i in range(200):
        out.append({
            "id": i + 1, "name": "customer %d %s" % (i, r.choice(["smith", "jones", "ng", "garcia"])),
            "email": "User%d@Example.COM" % i, "country": r.choice(countries), "active": r.random() < 0.8,
            "score": r.randrange(100), "tags": [r.choice(tags) for _ in range(r.randrange(1, 5))],
            "address": {"city": "City%d" % r.randrange(50), "zip": "%05d" % r.randrange(100000)},
            "orders": [{"sku": "SKU-%d" % r.randrange(1000), "qty": r.randrange(1, 6),
                        "cents": r.randrange(100, 50000)} for _ in range(r.randrange(0, 6))]})
    return out


RECORDS = records()


def orders():
    """jsonsmall's input: a few orders of a webhook, the same in every run."""
    r = random.Random(7)
    names = ["  ada lovelace", "grace HOPPER ", "anne-marie dupont", "linus t", "barbara liskov", "ken thompson"]
    return [{"id": 100 + i, "customer": r.choice(names), "status": r.choice(["paid", "paid", "refunded", "open"]),
             "items": [{"sku": "SKU-%d" % r.randrange(1000), "qty": r.randrange(1, 5),
                        "cents": r.randrange(99, 9999)} for _ in range(r.randrange(1, 4))]} for i in range(8)]


ORDERS = orders()
FUNCS = FUNCS or list(SPECS)


def value_of(fn, params):
    v = dict(params)
    if fn == "jsontx":
        v["records"] = RECORDS
    if fn == "jsonsmall":
        v["orders"] = ORDERS[:params["orders"]]
    return v


def invariants(fn, params, res):
    """What the answer to params must satisfy, computed here independently."""
    import hashlib
    if fn == "echo":
        return res == params
    if fn == "jsonsmall":
        paid = [o for o in ORDERS[:params["orders"]] if o["status"] == "paid"]
        return (res.get("count") == len(paid)
                and res.get("sum") == sum(i["qty"] * i["cents"] for o in paid for i in o["items"]))
    if fn == "html":
        return res.get("rows") == params.get("n", 200) and res.get("bytes", 0) > 0
    if fn == "jsontx":
        active = [r for r in RECORDS if r["active"]]
        return (res.get("count") == len(active) * params.get("repeat", 1)
                and res.get("groups") == len({r["country"] for r in active}))
    if fn == "image":
        return res.get("w") == params.get("w") and res.get("h") == params.get("h") and 0 <= res.get("mean", -1) < 256
    if fn == "compress":
        return res.get("ok") is True and res.get("bytes") == params.get("kb", 16) * 1024 \
            and 0 < res.get("compressed", 0) < res["bytes"]
    if fn == "graph":
        return res.get("n") == params.get("n") and res.get("edges") == params["n"] + params["m"]
    if fn == "threadpool":
        tasks, it, seed = params.get("tasks", 8), params.get("iterations", 1000), params.get("seed", 13)
        keys = b"".join(hashlib.pbkdf2_hmac("sha256", ("user%d:%d" % (i, seed)).encode(),
                                            ("salt%d" % i).encode(), it, 32) for i in range(tasks))
        return res.get("digest") == hashlib.sha256(keys).hexdigest()[:16]
    if fn == "resize":
        w, h = params.get("w", 256), params.get("h", 192)
        return res.get("jpeg", [])[:2] == [w >> 1, h >> 1] and res.get("png", [])[:2] == [w >> 2, h >> 2]
    if fn == "zipfile":
        return res.get("ok") is True and 0 < res.get("compressed", 0) < res["bytes"]
    if fn == "numpy_omp":
        # OpenMP's pool, once a call made it (restart mode's fresh process may run the small
        # check input on its own thread).
        return (res.get("n") == params.get("n") and res.get("gomp") is True
                and (res.get("threads", 0) > 1 or res.get("calls") == 1))
    if fn == "thumbnail":
        return res.get("size") == [params.get("w", 256) // 4, params.get("h", 192) // 4] and res.get("bytes", 0) > 0
    return False


# ---- processes ------------------------------------------------------------------------

def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            p = line.split()
            if p[2] == "cgroup2":
                return p[1]
    return None


CGROOT = cgroup2_root()
# Not under /tmp: the proxy refuses a work dir there (the function gets a private /tmp).
TMP = tempfile.mkdtemp(prefix="rewindd-e2e.", dir="/var/tmp")
SOCK = os.path.join(TMP, "rewindd.sock")
LIVE = []          # proxies to stop on the way out
DAEMON = {"pid": None}


def start_rewindd():
    pidfile = os.path.join(TMP, "rewindd.pid")
    subprocess.run([os.path.join(BIN, "rewindd"), "--socket", SOCK, "--pidfile", pidfile,
                    "--state-dir", os.path.join(TMP, "state")], check=True)
    with open(pidfile) as f:
        DAEMON["pid"] = int(f.read())


def stop_rewindd():
    pid = DAEMON["pid"]
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _ in range(600):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.05)   # waiting for a daemon we do not parent; not a measurement
        else:
            log("rewindd pid %d did not stop within 30 s of SIGTERM: killed" % pid)
            os.kill(pid, signal.SIGKILL)
        DAEMON["pid"] = None


class RewinddHung(Exception):
    pass


def rewindctl(*args):
    """rewindctl's output; RewinddHung when the daemon does not answer in 30 s."""
    try:
        return subprocess.run([os.path.join(BIN, "rewindctl"), "--socket", SOCK] + list(args),
                              capture_output=True, text=True, timeout=30).stdout
    except subprocess.TimeoutExpired:
        raise RewinddHung("rewindd did not answer `rewindctl %s` within 30 s" % " ".join(args))


def restart_rewindd():
    """A hung rewindd (SIGKILL: it does not read signals while it hangs) is replaced."""
    pid = DAEMON["pid"]
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        DAEMON["pid"] = None
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    shutil.rmtree(os.path.join(TMP, "state"), ignore_errors=True)
    start_rewindd()
    FAILURES.append("rewindd hung and was restarted")


FAILURES = []      # what went wrong besides wrong answers, for the summary


class Proxy:
    count = 0

    def __init__(self, runtime, mode, warm=None, extra=()):
        Proxy.count += 1
        self.runtime, self.mode = runtime, mode
        self.work = os.path.join(TMP, "work.%d" % Proxy.count)
        self.logpath = os.path.join(TMP, "proxy.%d.log" % Proxy.count)
        args = [os.path.join(BIN, "rewind-proxy"), "--port", "0", "--bind", "127.0.0.1", "--work-dir", self.work,
                "--rewindd-socket", SOCK, "--runtime", runtime, "--mode", mode, "--timeout", "120"] + list(extra)
        if mode != "restart":
            args += ["--warmup", str(PROXY_WARMUP)]
            # The bench input: V8 compiles for what it saw, and a rewind keeps only that.
            if warm is not None:
                args += ["--warmup-input", json.dumps(warm)]
        self.logf = open(self.logpath, "wb")
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.logf)
        LIVE.append(self)
        self.port = None
        deadline = time.monotonic() + 60
        buf = b""
        while time.monotonic() < deadline and self.port is None:
            r, _, _ = select.select([self.p.stdout], [], [], 1.0)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                for line in buf.decode(errors="replace").splitlines():
                    if line.startswith("rewind-proxy: ready on port "):
                        self.port = int(line.split()[4])
            elif self.p.poll() is not None:
                break
        if self.port is None:
            self.stop()
            raise RuntimeError("%s %s proxy did not get ready: %s" % (runtime, mode, self.tail()))
        drain_output(self.p.stdout)
        self.url = "http://127.0.0.1:%d" % self.port

    def tail(self, n=3):
        try:
            with open(self.logpath, errors="replace") as f:
                return " | ".join(ln.strip() for ln in f.readlines()[-n:])
        except OSError:
            return ""

    def post(self, path, obj):
        req = urllib.request.Request(self.url + path, data=json.dumps(obj).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=180) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def init(self, fn):
        ext = "py" if self.runtime == "python" else "js"
        with open(os.path.join(HERE, "functions", "%s.%s" % (fn, ext))) as f:
            code = f.read()
        st, body = self.post("/init", {"value": {"name": fn, "main": "main", "code": code, "binary": False,
                                                 "env": {"NODE_PATH": NODE_MODULES}}})
        if st != 200:
            raise RuntimeError("/init of %s (%s, %s): %d %s" % (fn, self.runtime, self.mode, st, body))

    def idle(self):
        """
        Returns once the function is fit for the next request (rewound,
        cleaned up or restarted): a second /init is refused (403) by the
        worker, which takes it only after the last request's after-work.
        Never stop a proxy in the middle of a rewind: rewindd can hang when
        the function is killed while it rewinds it (see BENCHMARKS.md).
        """
        # Twice: wrk may leave a request it sent before it stopped in a
        # connection thread of the proxy that submits it after our first one.
        for _ in range(2):
            st, body = self.post("/init", {"value": {"code": "barrier"}})
            if st != 403:
                raise RuntimeError("barrier /init answered %d %s" % (st, body))

    def run(self, value):
        st, body = self.post("/run", {"value": value})
        try:
            return st, json.loads(body)
        except ValueError:
            return st, {"unparsable": body}

    def restarts(self):
        """
        Functions restarted after a failed rewind/fork clean-up (restart mode:
        by design), before the proxy was told to stop (a stop kills the
        function, and a rewind in flight then fails).
        """
        n = 0
        with open(self.logpath, errors="replace") as f:
            for ln in f:
                if ln.startswith("rewind-proxy: Terminated: stopping"):
                    break
                n += "; restarting the function" in ln
        return n

    def armed(self):
        """
        Right after /init, while nothing runs: the rewindd session and the
        size of its images. Later, a rewind may be in flight (wrk can leave a
        request the proxy serves after our barriers), and rewindd has hung
        when status or detach requests met a rewind of a node function.
        """
        self.session, self.image = None, 0
        if self.mode == "rewind":
            for s in self.sessions():
                self.session = s["session"]
                self.image = s.get("image_bytes", 0) + s.get("store_bytes", 0)

    def memory(self):
        """(bytes of the function's processes, how measured, bytes added for its images)."""
        cg = "%s/rewind-proxy-%d/fn" % (CGROOT, self.port)
        mem, how = 0, "pss"
        if os.path.exists(cg + "/memory.current"):
            with open(cg + "/memory.current") as f:
                mem, how = int(f.read()), "memory.current"
        else:
            with open(cg + "/cgroup.procs") as f:
                for pid in f.read().split():
                    try:
                        with open("/proc/%s/smaps_rollup" % pid) as s:
                            for ln in s:
                                if ln.startswith("Pss:"):
                                    mem += int(ln.split()[1]) * 1024
                    except OSError:
                        pass
        extra = 0
        if self.mode == "rewind":
            extra = self.image
        elif self.mode == "fork":
            for store in glob.glob(os.path.join(self.work, "fork-store.*")):
                for d, _, files in os.walk(store):
                    extra += sum(os.lstat(os.path.join(d, x)).st_blocks * 512 for x in files)
        return mem, how, extra

    def sessions(self):
        out = rewindctl("status", "--json")
        return [s for s in json.loads(out or "{}").get("sessions", [])
                if s.get("cgroup", "").endswith("/rewind-proxy-%d/fn" % self.port)]

    def stop(self):
        if self.p.poll() is None and self.mode == "rewind" and self.port:
            # Detach first, while the function is alive and idle: rewindd can
            # hang for good when a multi-threaded target (node) is killed
            # while it holds its threads (BENCHMARKS.md, "End to end").
            try:
                if getattr(self, "session", None):
                    rewindctl("detach", str(self.session))
                else:
                    for s in self.sessions():
                        rewindctl("detach", str(s["session"]))
            except RewinddHung as e:
                log("  %s; killed, and started afresh" % e)
                restart_rewindd()
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                log("  proxy %s %s on port %s did not stop within 60 s of SIGTERM: killed" % (
                    self.runtime, self.mode, self.port))
                FAILURES.append("a %s %s proxy did not stop" % (self.runtime, self.mode))
                self.p.kill()
                self.p.wait()
                cg = "%s/rewind-proxy-%s" % (CGROOT, self.port)
                try:
                    with open(cg + "/fn/cgroup.kill", "w") as f:
                        f.write("1")
                except OSError:
                    pass
                for d in (cg + "/fn", cg):
                    for _ in range(100):
                        try:
                            os.rmdir(d)
                            break
                        except FileNotFoundError:
                            break
                        except OSError:
                            time.sleep(0.05)   # the killed processes leave the cgroup
        self.logf.close()
        if self in LIVE:
            LIVE.remove(self)
        rc = self.p.returncode
        shutil.rmtree(self.work, ignore_errors=True)
        if rc != 0 or self.restarts_seen():
            # Kept and shown: a proxy that failed is part of the result.
            keep = os.path.join(RESULTS, "proxy-%s-%s-%d.log" % (self.runtime, self.mode, self.port or 0))
            shutil.copy(self.logpath, keep)
            log("  proxy %s %s on port %s exited %s; its log: %s (%s)" % (
                self.runtime, self.mode, self.port, rc, keep, self.tail()))
        return rc

    def restarts_seen(self):
        return self.mode != "restart" and os.path.exists(self.logpath) and self.restarts() > 0


def wrk(proxy, body_file, expect, seconds):
    env = dict(os.environ, E2E_BODY=body_file, E2E_EXPECT=expect)
    out = subprocess.run(["wrk", "-t1", "-c1", "-d%ds" % seconds, "--latency", "--timeout", "120s", "-s", LUA,
                          proxy.url + "/run"], capture_output=True, text=True, env=env)
    for line in out.stdout.splitlines():
        if line.startswith("E2E "):
            return json.loads(line[4:])
    raise RuntimeError("wrk printed no result: %s %s" % (out.stdout[-500:], out.stderr[-500:]))


# ---- CRIU --------------------------------------------------------------------------------

def criu_status():
    """None when criu works, else why not (criu's own words)."""
    if not shutil.which("criu"):
        return "criu is not installed"
    out = subprocess.run(["criu", "check"], capture_output=True, text=True)
    if out.returncode == 0:
        return None
    lines = [ln.strip() for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
    return "`criu check` exited %d: %s" % (out.returncode, "; ".join(lines))


def criu_mode(runtime, fn, value, expect, seconds):
    """
    CRIU dump+restore per request, outside the proxy (criu cannot restore a
    process whose pipes lead into a live proxy): the launcher runs with its
    stdin and fd 3 on FIFOs, is dumped once after init, and for every request
    restored from the images, sent the request, read and killed. Per-request
    latency is measured here (closed loop, one at a time). Only run when
    `criu check` passes, which it does not on the machine the numbers in
    docs/BENCHMARKS.md come from: this path has not been exercised there.
    """
    d = tempfile.mkdtemp(prefix="criu.", dir=TMP)
    img, inp, outp = os.path.join(d, "img"), os.path.join(d, "in"), os.path.join(d, "out")
    os.mkdir(img)
    os.mkfifo(inp)
    os.mkfifo(outp)
    ext = "py" if runtime == "python" else "js"
    src = os.path.join(d, "__main__." + ext if runtime == "python" else "index.js")
    shutil.copy(os.path.join(HERE, "functions", "%s.%s" % (fn, ext)), src)
    launcher = os.path.join(ROOT, "user/proxy/launchers/launcher." + ext)
    argv = [PYTHON, "-I", "-B", launcher, src, "main"] if runtime == "python" else ["/usr/bin/node", launcher, src, "main"]
    script = 'exec 0<"$1" 3>"$2" 1>>"$3" 2>&1; shift 3; exec "$@"'
    p = subprocess.Popen(["setsid", "bash", "-c", script, "criu-fn", inp, outp, os.path.join(d, "log")] + argv,
                         env={"PATH": "/usr/bin:/bin", "TMPDIR": d, "HOME": d, "__OW_WAIT_FOR_ACK": "1"})
    win = os.open(inp, os.O_RDWR)
    rout = os.open(outp, os.O_RDWR)

    def line():
        buf = b""
        while not buf.endswith(b"\n"):
            buf += os.read(rout, 1 << 20)
        return buf

    line()                                                   # the ack
    req = (json.dumps({"value": value}) + "\n").encode()
    subprocess.run(["criu", "dump", "-t", str(p.pid), "-D", img, "--shell-job", "--ext-unix-sk"], check=True,
                   capture_output=True)
    p.wait()
    lat = []
    end = time.monotonic() + seconds
    errors = 0
    while time.monotonic() < end:
        t0 = time.monotonic()
        r = subprocess.run(["criu", "restore", "-D", img, "--shell-job", "--restore-detached",
                            "--pidfile", os.path.join(d, "pid")], capture_output=True)
        if r.returncode:
            errors += 1
            break
        os.write(win, req)
        ans = line()
        lat.append(time.monotonic() - t0)
        errors += expect.encode() not in ans
        with open(os.path.join(d, "pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGKILL)
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6 if lat else float("nan")
    return {"requests": len(lat), "rps": len(lat) / seconds, "p50_us": pick(0.5), "p95_us": pick(0.95),
            "p99_us": pick(0.99), "non200": 0, "wrong": errors, "socket_errors": 0}


# ---- the run --------------------------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# Functions fork mode cannot serve, and why (said once in the log and the summary).
NO_FORK = {"numpy_omp": "a child forked after OpenMP's pool ran hangs in its first parallel "
                        "region: every fork-mode request timed out"}


def modes_for(runtime, fn=None):
    """The proxy's modes measured for fn in runtime (criu is measured outside the proxy)."""
    return [m for m in MODES if m != "criu" and not (m == "fork" and runtime != "python")
            and not (m == "fork" and fn in NO_FORK)]


def runtimes_for(fn):
    """The runtimes of RUNTIMES the function exists in."""
    return [rt for rt in RUNTIMES if rt in SPECS[fn]["bench"]]


def check_pass(fn, bodies, expects):
    """
    Every mode of every runtime of fn: the check input and the bench input,
    answered right, with a digest the load generators look for.
    """
    check = SPECS[fn]["check"]
    ok = True
    digests = {}
    for rt in runtimes_for(fn):
        bench = SPECS[fn]["bench"][rt]
        for mode in modes_for(rt, fn):
            p = Proxy(rt, mode, value_of(fn, bench))
            try:
                p.init(fn)
                st, res = p.run(value_of(fn, check))
                good = st == 200 and invariants(fn, check, res) and bool(res.get("digest"))
                digests.setdefault(rt, res.get("digest"))
                if res.get("digest") != digests[rt]:
                    good = False
                st2, res2 = p.run(value_of(fn, bench))
                if (rt, "bench") not in digests:
                    digests[(rt, "bench")] = res2.get("digest")
                good2 = (st2 == 200 and invariants(fn, bench, res2) and bool(res2.get("digest"))
                         and res2.get("digest") == digests[(rt, "bench")])
                if not (good and good2):
                    ok = False
                    log("  CHECK FAILED %s %s %s: check %d %s / bench %d %s" % (fn, rt, mode, st, res, st2, res2))
            finally:
                p.idle()
                p.stop()
        expects[rt] = digests[(rt, "bench")]
    rts = runtimes_for(fn)
    if len(rts) > 1 and len({digests[rt] for rt in rts}) != 1:
        ok = False
        log("  CHECK FAILED %s: the runtimes disagree on the check input: %s" %
            (fn, {rt: digests[rt] for rt in rts}))
    log("  check %-10s %s (check digest %s; bench digest %s)" % (
        fn, "ok" if ok else "FAILED", digests.get(rts[0]) if rts else None,
        ", ".join("%s %s" % (rt, expects[rt]) for rt in rts)))
    return ok


def paced(proxy, body_file, expect, rate, seconds):
    with open(body_file, "rb") as f:
        body = f.read()
    return PACED.run(proxy.url + "/run", body, expect, rate, seconds, OPEN_CONNS)


def measure(fn, rt, mode, body_file, expect, rnd, rate):
    """The closed-loop figures of a round and, when the mode has a paced rate, the open-loop ones (or None)."""
    restart = mode == "restart"
    o = None
    p = Proxy(rt, mode, value_of(fn, SPECS[fn]["bench"][rt]))
    try:
        p.init(fn)
        p.armed()
        w = wrk(p, body_file, expect, 1 if restart else WARMUP)
        m = wrk(p, body_file, expect, RESTART_DURATION if restart else DURATION)
        if mode == "insecure" and not rate:
            rate = OPEN_LOAD * m["rps"]      # the first insecure closed loop of fn/rt: the paced rate
        if rate and mode in OPEN_MODES and not restart:
            # The same proxy, warm: the paced warm-up lets the queue the closed loop left drain.
            ow = paced(p, body_file, expect, rate, OPEN_WARMUP)
            o = paced(p, body_file, expect, rate, OPEN_DURATION)
            o["warmup_errors"] = ow["non200"] + ow["wrong"] + ow["socket_errors"]
        p.idle()
        try:
            mem, how, extra = p.memory()
            if restart:
                mem = None     # no warm container: a fresh process for every request
        except RewinddHung as e:
            log("  %s %s %s: %s; killed, and started afresh" % (fn, rt, mode, e))
            restart_rewindd()
            mem, how, extra = None, "", None
            m["rewindd_hung"] = 1
        m.update(fn=fn, runtime=rt, mode=mode, round=rnd, mem=mem, mem_how=how, extra=extra, load="closed",
                 warmup_errors=w["non200"] + w["wrong"] + w["socket_errors"],
                 restarts=0 if restart else p.restarts())
    finally:
        rc = p.stop()
    m["proxy_rc"] = rc
    if o is not None:
        # A restart the proxy logged is counted once, with the closed loop's figures.
        o.update(fn=fn, runtime=rt, mode=mode, round=rnd, mem=None, mem_how=how, extra=None, load="open",
                 restarts=0, proxy_rc=0)
    return m, o


def main():
    os.makedirs(RESULTS, exist_ok=True)
    t_start = time.monotonic()
    log("bench-e2e: %s; rounds %d x %d s (restart %d x %d s), %d s warm-up, wrk -t1 -c1, proxies --warmup %d" % (
        "QUICK" if QUICK else "full", ROUNDS, DURATION, RESTART_ROUNDS, RESTART_DURATION, WARMUP, PROXY_WARMUP))
    if OPEN_MODES:
        log("paced open loop (%s): %s, %d s after %d s, %d connections" % (
            " ".join(OPEN_MODES), "%g requests/s" % OPEN_RATE if OPEN_RATE else
            "%.0f %% of insecure's closed-loop capacity (its first round)" % (100 * OPEN_LOAD),
            OPEN_DURATION, OPEN_WARMUP, OPEN_CONNS))
    criu = criu_status()
    if criu:
        log("CRIU: skipped: %s" % criu)
    if "node" in RUNTIMES and "fork" in MODES:
        out = subprocess.run([os.path.join(BIN, "rewind-proxy"), "--runtime", "node", "--mode", "fork"],
                             capture_output=True, text=True)
        log("fork: not available for node, skipped (the proxy says: %s)" % out.stderr.splitlines()[0])
    for fn in FUNCS:
        if fn in NO_FORK and "fork" in MODES:
            log("fork: not measured for %s (%s)" % (fn, NO_FORK[fn]))
    start_rewindd()
    results, checks = [], {}
    try:
        for fn in FUNCS:
            bodies, expects, rates = {}, {}, {}
            if OPEN_RATE:
                rates = {rt: OPEN_RATE for rt in runtimes_for(fn)}
            for rt in runtimes_for(fn):
                bodies[rt] = os.path.join(TMP, "%s.%s.json" % (fn, rt))
                with open(bodies[rt], "w") as f:
                    json.dump({"value": value_of(fn, SPECS[fn]["bench"][rt])}, f)
            try:
                checks[fn] = check_pass(fn, bodies, expects)
            except (RuntimeError, RewinddHung, KeyError) as e:
                log("  check %-10s FAILED: %s" % (fn, e))
                FAILURES.append("check of %s: %s" % (fn, e))
                checks[fn] = False
                continue
            for rt in runtimes_for(fn):
                ms = modes_for(rt, fn)
                for rnd in range(ROUNDS):
                    order = ms[rnd % len(ms):] + ms[:rnd % len(ms)]
                    for mode in order:
                        if mode == "restart" and rnd >= RESTART_ROUNDS:
                            continue
                        try:
                            m, o = measure(fn, rt, mode, bodies[rt], expects[rt], rnd, rates.get(rt))
                        except (RuntimeError, RewinddHung) as e:
                            log("  %-10s %-6s %-8s round %d: FAILED: %s" % (fn, rt, mode, rnd + 1, e))
                            FAILURES.append("%s %s %s round %d: %s" % (fn, rt, mode, rnd + 1, e))
                            continue
                        results.append(m)
                        if mode == "insecure":
                            rates.setdefault(rt, OPEN_LOAD * m["rps"])
                        log("  %-10s %-6s %-8s round %d: p50 %8.2f ms  p99 %8.2f ms  %8.1f req/s  errors %d%s" % (
                            fn, rt, mode, rnd + 1, m["p50_us"] / 1e3, m["p99_us"] / 1e3, m["rps"],
                            m["non200"] + m["wrong"] + m["socket_errors"],
                            "  restarts %d" % m["restarts"] if m["restarts"] else ""))
                        if o is not None:
                            results.append(o)
                            log("  %-10s %-6s %-8s round %d: paced %6.1f/s: p50 %6.2f ms  p99 %8.2f ms  %6.1f req/s  "
                                "errors %d  behind %d  client lag p99 %.2f ms" % (
                                    fn, rt, mode, rnd + 1, o["target_rps"], o["p50_us"] / 1e3, o["p99_us"] / 1e3,
                                    o["rps"], o["non200"] + o["wrong"] + o["socket_errors"], o["behind"],
                                    o["client_lag_p99_us"] / 1e3))
                if not criu and "criu" in MODES:
                    m = criu_mode(rt, fn, value_of(fn, SPECS[fn]["bench"][rt]), expects[rt], RESTART_DURATION)
                    m.update(fn=fn, runtime=rt, mode="criu", round=0, mem=None, mem_how="", extra=0, load="closed",
                             warmup_errors=0, restarts=0, proxy_rc=0)
                    results.append(m)
    finally:
        for p in list(LIVE):
            p.stop()
        stop_rewindd()
    with open(os.path.join(RESULTS, "results.json"), "w") as f:
        json.dump({"config": {"rounds": ROUNDS, "duration": DURATION, "warmup": WARMUP,
                              "restart_rounds": RESTART_ROUNDS, "restart_duration": RESTART_DURATION,
                              "proxy_warmup": PROXY_WARMUP, "quick": QUICK, "criu": criu or "ok",
                              "open_modes": OPEN_MODES, "open_load": OPEN_LOAD, "open_rate": OPEN_RATE,
                              "open_duration": OPEN_DURATION,
                              "open_warmup": OPEN_WARMUP, "open_conns": OPEN_CONNS},
                   "checks": checks, "runs": results}, f, indent=1)
    summary = summarize(results, checks, criu)
    with open(os.path.join(RESULTS, "summary.txt"), "w") as f:
        f.write(summary)
    log(summary)
    plot(results)
    log("bench-e2e: %.1f min; raw results %s/results.json, plots in %s" % (
        (time.monotonic() - t_start) / 60, RESULTS, PLOT_DIR))
    shutil.rmtree(TMP, ignore_errors=True)


def served(a):
    """a, when its rounds answered requests at all; None (no ratio) for a mode that served nothing."""
    return a if a and a["p50"] > 0 and a["rps"] > 0 else None


def aggregate(results, load="closed"):
    agg = {}
    for m in results:
        if m.get("load", "closed") == load:
            agg.setdefault((m["fn"], m["runtime"], m["mode"]), []).append(m)
    out = {}
    for k, ms in agg.items():
        out[k] = {
            "p50": median([m["p50_us"] / 1e3 for m in ms]), "p95": median([m["p95_us"] / 1e3 for m in ms]),
            "p99": median([m["p99_us"] / 1e3 for m in ms]), "rps": median([m["rps"] for m in ms]),
            "mem": median([m["mem"] for m in ms]), "extra": median([m["extra"] for m in ms]),
            "how": ms[0]["mem_how"], "rounds": len(ms), "requests": sum(m["requests"] for m in ms),
            "errors": sum(m["non200"] + m["wrong"] + m["socket_errors"] + m["warmup_errors"] +
                          m.get("rewindd_hung", 0) for m in ms),
            "restarts": sum(m["restarts"] for m in ms),
            "bad_exit": sum(1 for m in ms if m["proxy_rc"] != 0),
            "target": median([m.get("target_rps") for m in ms]), "behind": sum(m.get("behind", 0) for m in ms),
            "lag99": median([m.get("client_lag_p99_us") for m in ms]),
        }
    return out


def nearest_rank(xs, q):
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)]


def summarize(results, checks, criu):
    A = aggregate(results)
    L = []
    L.append("")
    L.append("Closed loop: OpenWhisk actions under rewind-proxy, wrk -t1 -c1; medians of the rounds")
    L.append("%-10s %-6s %-8s %9s %9s %9s %8s %8s %8s %7s %7s %6s %7s" % (
        "function", "rt", "mode", "p50 ms", "p95 ms", "p99 ms", "req/s", "mem MiB", "+img MiB",
        "p50/ins", "rps/ins", "errors", "requests"))
    pairs = []
    for fn in FUNCS:
        for rt in runtimes_for(fn):
            ins = served(A.get((fn, rt, "insecure")))
            for mode in ["insecure", "rewind", "fork", "restart", "criu"]:
                a = A.get((fn, rt, mode))
                if not a:
                    continue
                r50 = "%7.3f" % (a["p50"] / ins["p50"]) if ins else "-"
                rr = "%7.3f" % (a["rps"] / ins["rps"]) if ins else "-"
                err = a["errors"] + a["restarts"] + a["bad_exit"]
                L.append("%-10s %-6s %-8s %9.2f %9.2f %9.2f %8.1f %8s %8.1f %7s %7s %6d %7d" % (
                    fn, rt, mode, a["p50"], a["p95"], a["p99"], a["rps"],
                    "%.1f" % (a["mem"] / 2**20) if a["mem"] is not None else "-",
                    (a["extra"] or 0) / 2**20, r50, rr, err, a["requests"]))
            rew, rst, frk = (served(A.get((fn, rt, m))) for m in ("rewind", "restart", "fork"))
            if ins and rew:
                pairs.append({"fn": fn, "rt": rt, "lat": rew["p50"] / ins["p50"] - 1,
                              "tput": 1 - rew["rps"] / ins["rps"],
                              "speedup": rst["p50"] / rew["p50"] if rst else None,
                              "cost": (rst["p50"] - ins["p50"]) / max(rew["p50"] - ins["p50"], 1e-3) if rst else None,
                              "fork_lat": frk["p50"] / ins["p50"] - 1 if frk else None,
                              "fork_tput": 1 - frk["rps"] / ins["rps"] if frk else None,
                              "fork_speedup": rst["p50"] / frk["p50"] if (rst and frk) else None})
    L.append("(mem: %s of the function cgroup's processes, idle after the run; +img: rewindd's image and "
             "file store (rewind), the fork mode's file store (fork); errors: non-200, wrong answers, socket "
             "errors, restarts after a failed rewind/clean-up, proxy exits != 0)" %
             ("memory.current" if any(m["mem_how"] == "memory.current" for m in results) else
              "Pss (the cgroup v2 here has no memory controller: v1 holds it)"))
    L.append("")
    L.append("per function, rewind against insecure; restart/rewind: p50 latencies; added cost: what restart")
    L.append("adds to insecure's p50 over what rewind adds:")
    for p in pairs:
        L.append("  %-10s %-6s latency p50 %+6.1f%%  throughput %+6.1f%%  restart/rewind %4.1fx (added cost %5.1fx)%s" % (
            p["fn"], p["rt"], 100 * p["lat"], -100 * p["tput"], p["speedup"] or float("nan"),
            p["cost"] or float("nan"),
            "   fork: latency %+6.1f%%, throughput %+6.1f%%, restart/fork %5.1fx" % (
                100 * p["fork_lat"], -100 * p["fork_tput"], p["fork_speedup"] or float("nan"))
            if p["fork_lat"] is not None else ""))
    if any(m.get("load") == "open" for m in results):
        L += summarize_open(results)
    L += goals(pairs, open_pairs(results))
    errs = sum(a["errors"] + a["restarts"] + a["bad_exit"] for k, a in A.items() if k[2] == "rewind")
    errs += sum(a["errors"] for k, a in aggregate(results, "open").items() if k[2] == "rewind")
    L.append("  rewind mode errors: %d (non-200, wrong answers, socket errors, failed rewinds, bad exits)" % errs)
    L.append("checks: %s" % ", ".join("%s %s" % (k, "ok" if v else "FAILED") for k, v in checks.items()))
    for f in FAILURES:
        L.append("FAILURE: %s" % f)
    if criu:
        L.append("CRIU: skipped: %s" % criu)
    if "node" in RUNTIMES and "fork" in MODES:
        L.append("fork: not available for node (node has no fork() of an initialised process); skipped")
    for fn in FUNCS:
        if fn in NO_FORK and "fork" in MODES:
            L.append("fork: not measured for %s (%s)" % (fn, NO_FORK[fn]))
    return "\n".join(L) + "\n"


def open_pairs(results):
    """Per function and runtime: each paced mode's ratios against insecure at the same rate."""
    O = aggregate(results, "open")
    out = []
    for fn in FUNCS:
        for rt in runtimes_for(fn):
            ins = served(O.get((fn, rt, "insecure")))
            for mode in OPEN_MODES:
                a = served(O.get((fn, rt, mode)))
                if ins and a and mode != "insecure":
                    out.append({"fn": fn, "rt": rt, "mode": mode, "r50": a["p50"] / ins["p50"],
                                "r95": a["p95"] / ins["p95"], "r99": a["p99"] / ins["p99"]})
    return out


def summarize_open(results):
    O = aggregate(results, "open")
    L = ["", "Paced open loop (bench/e2e/paced.py): requests due at a fixed rate, %s; latency from the due time; "
         "medians of the rounds" % ("%g requests/s" % OPEN_RATE if OPEN_RATE else
                                    "%.0f %% of insecure's closed-loop capacity" % (100 * OPEN_LOAD))]
    L.append("%-10s %-6s %-8s %8s %8s %9s %9s %9s %8s %8s %8s %6s %6s %7s %8s" % (
        "function", "rt", "mode", "rate/s", "got/s", "p50 ms", "p95 ms", "p99 ms", "p50/ins", "p95/ins",
        "p99/ins", "errors", "behind", "lag ms", "requests"))
    for fn in FUNCS:
        for rt in runtimes_for(fn):
            ins = served(O.get((fn, rt, "insecure")))
            for mode in OPEN_MODES:
                a = O.get((fn, rt, mode))
                if not a:
                    continue
                ratio = lambda k: "%8.3f" % (a[k] / ins[k]) if ins else "%8s" % "-"
                L.append("%-10s %-6s %-8s %8.1f %8.1f %9.3f %9.3f %9.3f %s %s %s %6d %6d %7.2f %8d" % (
                    fn, rt, mode, a["target"], a["rps"], a["p50"], a["p95"], a["p99"], ratio("p50"), ratio("p95"),
                    ratio("p99"), a["errors"], a["behind"], (a["lag99"] or 0) / 1e3, a["requests"]))
    L.append("(errors: non-200, wrong answers, socket errors, in the paced warm-up too; behind: requests that "
             "went out late because all %d connections still waited for answers (their wait is in the latency); "
             "lag: p99 of how late the client sent the requests it was free to send, its own timing error)"
             % OPEN_CONNS)
    return L


def goals(pairs, opairs):
    """Issue 15's goals (docs/BENCHMARKS.md), each met or not and by how much."""
    L = ["", "goals (rewind against insecure from the same run; p95: nearest rank, i.e. nearly the worst):"]

    def line(name, value, goal, unit="%", scale=100, stretch=None, extra=""):
        if value is None:
            L.append("  %-50s %10s  goal <= %g%s   not measured" % (name, "-", goal, unit))
            return
        v = value * scale
        shown = "%+9.2f%%" % v if unit == "%" else "%9.2fx" % v
        verdict = "met" if v <= goal else "NOT met, by %.2f%s" % (v - goal, " points" if unit == "%" else unit)
        if v == math.inf:
            verdict = "NOT met: the rewind mode could not keep up with the rate (requests unsent)"
        if stretch is not None:
            verdict += "; stretch %g%s %s" % (stretch, unit, "met" if v <= stretch else "not met")
        L.append("  %-50s %s  goal <= %g%s   %s%s" % (name, shown, goal, unit, verdict, extra))

    reg = [p for p in pairs if not SPECS[p["fn"]].get("sub_ms")]
    sub = [p for p in pairs if SPECS[p["fn"]].get("sub_ms")]
    L.append("  (closed-loop goals over the %d function/runtime pairs that are not sub-millisecond; "
             "paced over all %d paced pairs)" % (len(reg), len({(p["fn"], p["rt"]) for p in opairs})))
    line("closed loop: median latency overhead (p50)",
         statistics.median(p["lat"] for p in reg) if reg else None, 5, stretch=3)
    line("closed loop: p95 throughput overhead",
         nearest_rank([p["tput"] for p in reg], 0.95) if reg else None, 20)
    rew = [p for p in opairs if p["mode"] == "rewind"]
    rreg = [p["r50"] - 1 for p in rew if not SPECS[p["fn"]].get("sub_ms")]
    line("paced: median latency overhead (p50)", statistics.median(p["r50"] - 1 for p in rew) if rew else None, 1,
         extra="  (p99: median %+.1f %%; over the pairs that are not sub-millisecond: p50 %+.1f %%; "
               "pairs that could not keep up: %s)" % (
                   100 * (statistics.median(p["r99"] for p in rew) - 1),
                   100 * statistics.median(rreg) if rreg else float("nan"),
                   ", ".join("%s/%s" % (p["fn"], p["rt"]) for p in rew if p["r99"] == math.inf) or "none")
         if rew else "")
    if sub:
        worst = max(sub, key=lambda p: p["lat"])
        line("sub-millisecond: rewind p50 / insecure p50, worst", 1 + worst["lat"], 1.5, unit="x", scale=1,
             extra="  (%s/%s; %s)" % (worst["fn"], worst["rt"],
                                      ", ".join("%s/%s %.2fx" % (p["fn"], p["rt"], 1 + p["lat"]) for p in sub)))
    else:
        line("sub-millisecond: rewind p50 / insecure p50, worst", None, 1.5, unit="x")
    L.append("  (the rewind figures of items 2 and 3 are `make bench`'s: docs/BENCHMARKS.md)")
    return L


def plot(results):
    if not shutil.which("gnuplot"):
        log("gnuplot is missing: no plots")
        return
    A = aggregate(results)
    if not A:
        log("nothing measured: no plots")
        return
    modes = ["insecure", "rewind", "fork", "restart"]
    dat = os.path.join(RESULTS, "plot.dat")
    with open(dat, "w") as f:
        f.write("# label " + " ".join("%s_p50 %s_p99 %s_rps" % (m, m, m) for m in modes) + "\n")
        for fn in FUNCS:
            for rt in runtimes_for(fn):
                row = ["%s/%s" % (fn, rt)]
                for m in modes:
                    a = A.get((fn, rt, m))
                    row += ["%.4f %.4f %.3f" % (a["p50"], a["p99"], a["rps"])] if a else ["- - -"]
                f.write(" ".join(row) + "\n")
    colors = {"insecure": "#888888", "rewind": "#1f77b4", "fork": "#2ca02c", "restart": "#d62728"}
    common = """set terminal pngcairo size 1400,560 font ",10"
set datafile missing "-"
set style data histogram
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics
set key top left
set xtics rotate by -35 nomirror
"""
    lat = common + """set output "%s"
set title "rewind-proxy end to end: per-request latency, p50 (bar) to p99 (whisker), wrk -t1 -c1 (log scale)"
set ylabel "ms"
set style histogram errorbars gap 1 lw 1
plot """ % os.path.join(PLOT_DIR, "e2e-latency.png")
    lat += ", ".join('"%s" using %d:%d:%d:xtic(1) title "%s" lc rgb "%s"' % (
        dat, 2 + 3 * i, 2 + 3 * i, 3 + 3 * i, m, colors[m]) for i, m in enumerate(modes)) + "\n"
    tp = common + """set output "%s"
set title "rewind-proxy end to end: throughput, closed loop with one connection (log scale)"
set ylabel "requests/s"
set style histogram clustered gap 1
plot """ % os.path.join(PLOT_DIR, "e2e-throughput.png")
    tp += ", ".join('"%s" using %d:xtic(1) title "%s" lc rgb "%s"' % (dat, 4 + 3 * i, m, colors[m])
                    for i, m in enumerate(modes)) + "\n"
    scripts = [lat, tp]
    O = aggregate(results, "open")
    omodes = [m for m in OPEN_MODES if any(k[2] == m for k in O)]
    if omodes:
        odat = os.path.join(RESULTS, "plot-open.dat")
        with open(odat, "w") as f:
            f.write("# label " + " ".join("%s_p50 %s_p99" % (m, m) for m in omodes) + "\n")
            for fn in FUNCS:
                for rt in runtimes_for(fn):
                    # A mode that could not keep up (unsent requests: p99, maybe p50, inf) has no
                    # whisker, maybe no bar: its label says so.
                    over = any(O.get((fn, rt, m)) and O[(fn, rt, m)]["p99"] == math.inf for m in omodes)
                    row = ["%s/%s%s" % (fn, rt, "*" if over else "")]
                    for m in omodes:
                        a = O.get((fn, rt, m))
                        row += ["%.4f %.4f" % (a["p50"], a["p99"] if a["p99"] != math.inf else a["p50"])]\
                            if a and a["p50"] != math.inf else ["- -"]
                    f.write(" ".join(row) + "\n")
        op = common + """set output "%s"
set title "rewind-proxy, paced open loop at %s: latency p50 (bar) to p99 (whisker), log scale\\n*: a mode could not keep up (requests unsent): no whisker, and no bar if its p50 is infinite"
set ylabel "ms"
set style histogram errorbars gap 1 lw 1
plot """ % (os.path.join(PLOT_DIR, "e2e-open-latency.png"),
            "%g requests/s" % OPEN_RATE if OPEN_RATE else "%.0f %% of insecure's capacity" % (100 * OPEN_LOAD))
        op += ", ".join('"%s" using %d:%d:%d:xtic(1) title "%s" lc rgb "%s"' % (
            odat, 2 + 2 * i, 2 + 2 * i, 3 + 2 * i, m, colors[m]) for i, m in enumerate(omodes)) + "\n"
        scripts.append(op)
    # A missing directory would make gnuplot write the image to its stdout.
    os.makedirs(PLOT_DIR, exist_ok=True)
    for script in scripts:
        r = subprocess.run(["gnuplot"], input=script, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode:
            log("gnuplot failed: %s" % r.stderr[-800:])


def on_signal(sig, frame):
    raise KeyboardInterrupt


def report(path):
    """`driver.py --report RESULTS_JSON`: the summary and plots of an earlier run, again."""
    with open(path) as f:
        r = json.load(f)
    ran = {m["fn"] for m in r["runs"]}
    FUNCS[:] = [fn for fn in FUNCS if fn in ran]
    summary = summarize(r["runs"], r["checks"], None if r["config"].get("criu") == "ok" else r["config"]["criu"])
    log(summary)
    plot(r["runs"])
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    if sys.argv[1:2] == ["--report"]:
        report(sys.argv[2])
        sys.exit(0)
    try:
        main()
    except KeyboardInterrupt:
        log("bench-e2e: interrupted")
        sys.exit(130)
