#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Where a warm function's time goes, per request, under rewind-proxy (issue 15, req 4).

    bench/e2e/churn.py BUILD_DIR RUNTIME FUNC MODE N [PROXY ARGS...]

One rewindd and one proxy (--warmup $WARM, default 100, with the bench input
of driver.py), N requests one at a time (each followed by a barrier /init, so
the rewind is done before the next), then with WRK=SECONDS a closed-loop wrk
run. Prints one JSON line: per request the function's minor faults and CPU
per thread (/proc/PID/task/*/stat), its CPU during the request alone
(run_cpu_us_med, from schedstat), p50; per rewind the pages copied and the
stage timings of the proxy's -v log (brief answers, as served), and with
PLANS=1 the plan's layout steps (rewindd -v, slower). Not a test: no
assertion, a tool to reproduce BENCHMARKS.md's figures. Needs root.
"""
import faulthandler; faulthandler.dump_traceback_later(600, exit=True)
import json, os, re, subprocess, sys, time, select, statistics, urllib.request, signal
BIN = sys.argv[1]            # build dir with rewindd etc
rt, fn, mode, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
extra = sys.argv[6:]          # extra proxy args
tmp = "/var/tmp/churn.%d" % os.getpid()
os.makedirs(tmp)
sock = tmp + "/rw.sock"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ in the tree
import driver
inp = driver.value_of(fn, driver.SPECS[fn]["bench"][rt])
dlog = open(tmp + "/rewindd.log", "wb")
# PLANS=1: rewindd -v logs every plan (layout steps); it costs the rewind time.
PLANS = os.environ.get("PLANS") == "1"
d = subprocess.Popen([BIN + "/rewindd", "-f", "--socket", sock, "--state-dir", tmp + "/state"] + (["-v"] if PLANS else []), stderr=dlog)
while not os.path.exists(sock): time.sleep(0.05)
args = [BIN + "/rewind-proxy", "--port", "0", "--work-dir", tmp + "/work", "--rewindd-socket", sock,
        "--runtime", rt, "--mode", mode, "--timeout", "120", "--warmup", os.environ.get("WARM", "100"), "--warmup-input", json.dumps(inp), "-v"] + extra
plog = open(tmp + "/proxy.log", "wb")
p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=plog)
port = None; buf = b""
while port is None:
    c_ = os.read(p.stdout.fileno(), 4096)
    if not c_: sys.exit("proxy died: " + open(tmp + "/proxy.log").read()[-800:])
    buf += c_
    m = re.search(rb"ready on port (\d+)", buf)
    if m: port = int(m.group(1))
driver.drain_output(p.stdout)
url = "http://127.0.0.1:%d" % port
def post(path, obj):
    req = urllib.request.Request(url + path, data=json.dumps(obj).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=180) as r: return r.status, r.read().decode()
    except urllib.error.HTTPError as e: return e.code, e.read().decode()
ext = "py" if rt == "python" else "js"
code = open("%s/functions/%s.%s" % (HERE, fn, ext)).read()
st, body = post("/init", {"value": {"name": fn, "main": "main", "code": code, "binary": False}})
assert st == 200, body
procs = open("%s/rewind-proxy-%d/fn/cgroup.procs" % (driver.CGROOT, port)).read().split()
pid = int(procs[0])
def cpu_ns():  # every thread's time on a CPU (schedstat: ns, where stat's utime ticks are 10 ms)
    return sum(int(open("/proc/%d/task/%s/schedstat" % (pid, t)).read().split()[0]) for t in os.listdir("/proc/%d/task" % pid))
def flt():
    s = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(s[7]), int(s[9]), int(s[11]) + int(s[12])  # minflt majflt utime+stime
def barrier():
    for _ in range(1):
        st, b = post("/init", {"value": {"code": "barrier"}})
lat = []; cpu = []; run_cpu = []; faults = []; answers = set()
rss0 = open("/proc/%d/smaps_rollup" % pid).read()
for i in range(n):
    f0 = flt(); c0 = cpu_ns()
    t0 = time.monotonic()
    st, body = post("/run", {"value": inp})
    lat.append((time.monotonic() - t0) * 1000)
    run_cpu.append((cpu_ns() - c0) / 1000)
    barrier()
    f1 = flt()
    faults.append(f1[0] - f0[0]); cpu.append((f1[2] - f0[2]) * 10)
    answers.add(body if st == 200 else "ERR %d %s" % (st, body[:200]))
wrk = None
if os.environ.get("WRK"):
    bf = tmp + "/body.json"; open(bf, "w").write(json.dumps({"value": inp}))
    def tcpu():
        r = {}
        for t in os.listdir("/proc/%d/task" % pid):
            st_ = open("/proc/%d/task/%s/stat" % (pid, t)).read()
            comm = st_.split("(", 1)[1].rsplit(")", 1)[0]; f_ = st_.rsplit(")", 1)[1].split()
            r[t + ":" + comm] = (int(f_[11]), int(f_[12]), int(f_[7]))
        return r
    t0_ = tcpu()
    f0 = flt()
    out = subprocess.run(["wrk", "-t1", "-c1", "-d%ss" % os.environ["WRK"], "--latency", "--timeout", "120s", "-s",
        HERE + "/post.lua", url + "/run"], capture_output=True, text=True, env=dict(os.environ, E2E_BODY=bf, E2E_EXPECT="")).stdout
    barrier(); f1 = flt(); t1_ = tcpu()
    thr = {k: (t1_[k][0] - v[0], t1_[k][1] - v[1], t1_[k][2] - v[2]) for k, v in t0_.items() if k in t1_ and t1_[k][:2] != v[:2]}
    wrk = json.loads([l for l in out.splitlines() if l.startswith("E2E ")][0][4:])
    wrk = {"requests": wrk["requests"], "p50_ms": wrk["p50_us"] / 1000, "faults_per_req": round((f1[0] - f0[0]) / wrk["requests"]),
           "cpu_ms_per_req": round((f1[2] - f0[2]) * 10 / wrk["requests"], 2),
           "threads(u,s ms/req,flt/req)": {k: (round(v[0]*10/wrk["requests"],2), round(v[1]*10/wrk["requests"],2), round(v[2]/wrk["requests"])) for k, v in thr.items()}}
    skip = n
pss = [l for l in open("/proc/%d/smaps_rollup" % pid).read().splitlines() if l.startswith(("Pss:", "Rss:", "AnonHuge"))]
nmaps = len(open("/proc/%d/maps" % pid).read().splitlines())
# stop
time.sleep(0.2)
if mode == "rewind":
    out = subprocess.run([BIN + "/rewindctl", "--socket", sock, "status", "--json"], capture_output=True, text=True).stdout
    img = 0
    for s_ in json.loads(out).get("sessions", []):
        img += s_.get("image_bytes", 0) + s_.get("store_bytes", 0)
        subprocess.run([BIN + "/rewindctl", "--socket", sock, "detach", str(s_["session"])], capture_output=True)
else:
    img = 0
p.send_signal(signal.SIGTERM); p.wait(60)
d.send_signal(signal.SIGTERM); d.wait(30)
dlog.close()
# plan layout ops
lay = []; copies = []; fails = 0
rwt = []; pagestat = []
for line in open(tmp + "/proxy.log", errors="replace"):
    m = re.search(r"rewound: (\{.*\})\s*$", line)
    if m:
        rj = json.loads(m.group(1))
        rwt.append(rj["timing_ns"])
        pagestat.append((rj["pages_copied"], rj["pages_dropped"], rj["pages_hot"]))
        copies.append(rj["pages_copied"])
    if "fail" in line.lower() and "rewind" in line.lower(): fails += 1
for line in open(tmp + "/rewindd.log", errors="replace") if PLANS else []:
    m = re.search(r"session \d+: plan (\{.*\})\s*$", line)
    if m:
        steps = json.loads(m.group(1)).get("steps", [])
        lay.append(sum(1 for s_ in steps if re.match(r"(munmap|mmap|map|mprotect|madvise)", s_)))
med = lambda x: statistics.median(x) if x else None
skip = locals().get('skip', 3) if wrk else 3
print(json.dumps({"wrk": wrk, "rt": rt, "fn": fn, "mode": mode, "extra": extra, "n": n,
    "p50_ms": med(lat[skip:]), "run_cpu_us_med": med(run_cpu[skip:]), "faults_med": med(faults[skip:]), "cpu_ms_med": med(cpu[skip:]), "lat": [round(x,1) for x in lat[:10]], "faults_all": faults[:8],
    "layout_ops_med": med(lay[skip:]) if lay else None, "layout_ops_first": lay[:6],
    "copy_pages_med": med(copies[skip:]) if copies else None, "answers": len(answers), "pss": pss, "nmaps": nmaps,
    "image_bytes": img, "rewind_us_med": {k: round(med([t[k] for t in rwt[skip:]])/1000) for k in rwt[0]} if rwt else None, "pages(copied,dropped,hot)": pagestat[skip:skip+3], "fail_lines": fails, "tmp": tmp}))
