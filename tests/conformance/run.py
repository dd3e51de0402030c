# SPDX-License-Identifier: GPL-2.0-only
"""OpenWhisk action-interface conformance of rewind-proxy (tests/conformance).

    /usr/bin/python3 tests/conformance/run.py --proxy BIN --socket SOCK --root DIR
        [--modes rewind,insecure,restart,fork] [--only REGEX] CASES.json...

Each case of the tables (*.json here, written from the upstream runtimes' own
test suites, which each table names) runs in a fresh proxy, as the upstream
harness runs it in a fresh container: /init, each /run, then the proxy is
stopped and its stdout and stderr, which carry only the function's output
(the proxy's own messages go to --log-file), are checked whole: the
activation sentinels on each stream, then the table's predicates. Prints
one PASS/FAIL line per case and mode, and per case whether rewind mode
answered exactly as insecure mode did.

A case: code (source lines, {"zip": {name: content}} or {"base64": ...}),
main, env (/init's), container_env (the proxy's environment), init_body (a
raw /init body instead), init_status, init_expect, init_twice, runs
[{body, status, expect}], logs {sentinels, stdout, stderr, both}. A status
is a number, "!200", or null (not checked); expect is a jq expression that
must be true of the answer's JSON; a log predicate is "empty" or {"has",
"re", "is", "lower"}; varies: why its answers differ from run to run (only
statuses and logs are compared across modes); needs: an environment
variable naming a directory the case needs (NODE_MODULES: the packages a
runtime image ships, given to the proxy as NODE_PATH). A "python" or "node" object
overrides fields for that runtime.
"""
import argparse
import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
RUNTIMES = ("python", "node")
START_TIMEOUT = 60
REQUEST_TIMEOUT = 120


def expand(v):
    """Table values: {"repeat": s, "times": n} is s n times; lists and objects recursively."""
    if isinstance(v, dict):
        if set(v) == {"repeat", "times"}:
            return v["repeat"] * v["times"]
        return {k: expand(x) for k, x in v.items()}
    if isinstance(v, list):
        return [expand(x) for x in v]
    return v


def text_of(content):
    """A file's text: a string, lines, {"json": value}, or lines with {"repeat"} items."""
    if isinstance(content, dict) and "json" in content:
        return json.dumps(content["json"], indent=2)
    if isinstance(content, list):
        return "\n".join(expand(x).rstrip("\n") if isinstance(x, dict) else x for x in content) + "\n"
    return content


def code_of(spec):
    """(code, binary) for /init. Zips are written entry by entry with no file-type
    bits in their attributes, as the upstream suites' zips are."""
    if isinstance(spec, dict) and "zip" in spec:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, content in spec["zip"].items():
                z.writestr(name, text_of(content))
        return base64.b64encode(buf.getvalue()).decode(), True
    if isinstance(spec, dict) and "base64" in spec:
        return spec["base64"], True
    return text_of(spec), False


def resolve(case, runtime):
    c = {k: v for k, v in case.items() if k not in RUNTIMES}
    c.update(case.get(runtime, {}))
    return c


def init_body(c):
    if "init_body" in c:
        return c["init_body"]
    code, binary = code_of(c["code"])
    return {"value": {"code": code, "main": c.get("main", "main"), "binary": binary,
                      "env": c.get("env")}}


def post(port, path, body):
    data = json.dumps(expand(body)).encode()
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as r:
            status, raw, length = r.status, r.read(), r.headers.get("Content-Length")
    except urllib.error.HTTPError as e:
        status, raw, length = e.code, e.read(), e.headers.get("Content-Length")
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    return status, answer, length


def status_ok(want, got):
    if want is None:
        return True
    if want == "!200":
        return got != 200
    return got == want


def jq_true(expr, value):
    r = subprocess.run(["jq", "-e", expr], input=json.dumps(value), capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == "true"


def log_ok(spec, text):
    """None if text satisfies spec, else why not."""
    if spec == "empty":
        return None if text == "" else "not empty: %r" % text[-300:]
    t = text.lower() if spec.get("lower") else text
    has = spec.get("has", [])
    for h in [has] if isinstance(has, str) else has:
        if h not in t:
            return "lacks %r: %r" % (h, text[-300:])
    if "re" in spec and not re.search(spec["re"], t):
        return "does not match %r: %r" % (spec["re"], text[-300:])
    if "is" in spec and t != spec["is"]:
        return "is %r, not %r" % (text[-300:], spec["is"])
    return None


class Proxy:
    """A rewind-proxy whose stdout and stderr are the function's alone."""

    def __init__(self, args, runtime, mode, work, env):
        os.makedirs(work)
        self.out_path, self.err_path = work + ".out", work + ".err"
        self.log_path = work + ".log"
        rd, wr = os.pipe()
        cmd = [args.proxy, "--port", "0", "--bind", "127.0.0.1", "--work-dir", work,
               "--rewindd-socket", args.socket, "--runtime", runtime, "--mode", mode,
               "--timeout", "60", "--log-file", "/proc/self/fd/%d" % wr]
        if mode == "rewind":
            cmd.append("--verify")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.p = subprocess.Popen(cmd, stdout=out, stderr=err, pass_fds=(wr,),
                                      env=dict(os.environ, **env))
        os.close(wr)
        self.port = None
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self.copy_log, args=(rd,), daemon=True)
        self.reader.start()
        # The ready line, or the log's end (the proxy exited), ends the wait.
        if not self.ready.wait(START_TIMEOUT) or self.port is None:
            self.stop()
            raise RuntimeError("the proxy did not get ready: %s" % self.log_tail())

    def copy_log(self, rd):
        with os.fdopen(rd, "rb") as src, open(self.log_path, "wb") as dst:
            for line in src:
                dst.write(line)
                dst.flush()
                m = re.match(rb"rewind-proxy: ready on port (\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    self.ready.set()
        self.ready.set()

    def log_tail(self):
        with open(self.log_path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-3:])

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.reader.join(10)
        return rc

    def streams(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as o, \
                open(self.err_path, encoding="utf-8", errors="replace") as e:
            return o.read(), e.read()


def run_case(args, c, runtime, mode, work):
    """(why it failed or None, transcript of statuses and answers)."""
    transcript = []
    env = dict(c.get("container_env", {}))
    if c.get("needs") == "NODE_MODULES":  # the packages the runtime's image ships
        env["NODE_PATH"] = os.environ["NODE_MODULES"]
    px = Proxy(args, runtime, mode, work, env)
    why = None
    try:
        status, answer, length = post(px.port, "/init", init_body(c))
        transcript.append([status, answer])
        if length is None:
            why = "/init: no Content-Length"
        elif not status_ok(c.get("init_status", 200), status):
            why = "/init: status %d, %s" % (status, json.dumps(answer)[:300])
        elif "init_expect" in c and not jq_true(c["init_expect"], answer):
            why = "/init: %s is not %s" % (json.dumps(answer)[:300], c["init_expect"])
        if not why and "init_twice" in c:
            status, answer, _ = post(px.port, "/init", init_body(c))
            transcript.append([status, answer])
            t = c["init_twice"]
            if not status_ok(t.get("status"), status) or ("expect" in t and not jq_true(t["expect"], answer)):
                why = "second /init: status %d, %s" % (status, json.dumps(answer)[:300])
        for i, r in enumerate(c.get("runs", []) if not why else []):
            status, answer, length = post(px.port, "/run", r["body"])
            transcript.append([status, answer])
            if length is None:
                why = "/run %d: no Content-Length" % (i + 1)
            elif not status_ok(r.get("status", 200), status):
                why = "/run %d: status %d, %s" % (i + 1, status, json.dumps(answer)[:300])
            elif "expect" in r and not jq_true(r["expect"], answer):
                why = "/run %d: %s is not %s" % (i + 1, json.dumps(answer)[:300], r["expect"])
            if why:
                break
    finally:
        rc = px.stop()
    if not why and rc != 0:
        why = "the proxy exited %d: %s" % (rc, px.log_tail())
    if not why and mode == "rewind":
        with open(px.log_path, errors="replace") as f:
            bad = [ln for ln in f if "verification found" in ln or "rewind of session" in ln]
        if bad:
            why = "a rewind failed: %s" % bad[0].strip()
    out, err = px.streams()
    transcript.append([out, err])
    # The work dir differs from proxy to proxy: in paths (stack traces) it is WORK.
    transcript = json.loads(json.dumps(transcript).replace(work, "WORK"))
    logs = c.get("logs")
    if not why and logs is not None:
        want = logs.get("sentinels", 1)
        for name, text in (("stdout", out), ("stderr", err)):
            n = text.splitlines().count(SENTINEL)
            if n != want:
                why = "%s: %d sentinel(s), not %d: %r" % (name, n, want, text[-300:])
                break
        strip = {k: "\n".join(ln for ln in t.splitlines() if ln != SENTINEL).strip()
                 for k, t in (("stdout", out), ("stderr", err))}
        strip["both"] = strip["stdout"] + "\n" + strip["stderr"]
        for name in ("stdout", "stderr", "both"):
            if not why and name in logs:
                w = log_ok(logs[name], strip[name])
                if w:
                    why = "%s %s" % (name, w)
    shutil.rmtree(work, ignore_errors=True)
    return why, transcript


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--modes", default="rewind,insecure,restart,fork")
    ap.add_argument("--only", default="")
    ap.add_argument("tables", nargs="+")
    args = ap.parse_args()
    modes = args.modes.split(",")
    seq = 0
    for path in args.tables:
        with open(path) as f:
            table = json.load(f)
        suite = os.path.splitext(os.path.basename(path))[0]
        for case in table["cases"]:
            runtimes = case.get("runtimes") or table.get("runtimes") or \
                [r for r in RUNTIMES if r in case]
            for runtime in runtimes:
                c = resolve(case, runtime)
                base = "ow_%s_%s_%s" % (suite, runtime, c["name"])
                if args.only and not re.search(args.only, base):
                    continue
                if c.get("needs") and not os.path.isdir(os.environ.get(c["needs"], "/nonexistent")):
                    print("SKIP %s: %s is not set to a directory (make npm-deps)" % (base, c["needs"]),
                          flush=True)
                    continue
                transcripts = {}
                for mode in modes:
                    if mode == "fork" and runtime != "python":
                        continue
                    seq += 1
                    name = "%s_%s" % (base, mode)
                    try:
                        why, transcripts[mode] = run_case(args, c, runtime, mode,
                                                          os.path.join(args.root, "w%d" % seq))
                    except Exception as ex:  # noqa: BLE001 (a broken case must not end the run)
                        why = "%s: %s" % (type(ex).__name__, ex)
                    print("PASS %s" % name if not why else "FAIL %s: %s" % (name, why), flush=True)
                if "rewind" in transcripts and "insecure" in transcripts:
                    if c.get("varies"):  # answers differ by run: statuses and logs only
                        for t in transcripts.values():
                            t[:-1] = [[s, None] for s, _ in t[:-1]]
                    same = transcripts["rewind"] == transcripts["insecure"]
                    diff = "" if same else ": rewind %s, insecure %s" % (
                        json.dumps(transcripts["rewind"])[:400], json.dumps(transcripts["insecure"])[:400])
                    print("%s %s_rewind_as_insecure%s" % ("PASS" if same else "FAIL", base, diff), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
