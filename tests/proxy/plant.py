# SPDX-License-Identifier: GPL-2.0-only
# Plants {"plant": TOKEN} everywhere a function can keep it: a global, the
# environment, /tmp/plant-secret, a thread that keeps running (named after
# it) and a child left running (TOKEN in its argv). Every call reports what
# it finds of {"probe": TOKEN} (before planting), its seccomp mode, uid and
# NoNewPrivs.
import os
import subprocess
import sys
import threading

SECRET = None
HELD = []
TMPFILE = "/tmp/plant-secret"


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def child_has(token):
    for t in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{t}/children") as f:
                pids = f.read().split()
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if token.encode() in f.read().split(b"\0"):
                        return True
            except OSError:
                pass
    return False


def tmp_has(token):
    try:
        with open(TMPFILE) as f:
            return f.read() == token
    except OSError:
        return False


def main(args):
    global SECRET
    tok = args.get("probe", "")
    r = {"global": SECRET == tok, "env": os.environ.get("PLANT_SECRET") == tok, "tmp": tmp_has(tok),
         "thread": any(t.name == "plant-" + tok for t in threading.enumerate()),
         "child": child_has(tok), "seccomp": status("Seccomp"), "nnp": status("NoNewPrivs"),
         "uid": os.getuid(), "pid": os.getpid()}
    tok = args.get("plant")
    if tok:
        SECRET = tok
        os.environ["PLANT_SECRET"] = tok
        with open(TMPFILE, "w") as f:
            f.write(tok)
        release = threading.Event()
        threading.Thread(target=release.wait, name="plant-" + tok, daemon=True).start()
        HELD.append(release)
        # No shell in the action image: the interpreter itself waits on its stdin.
        HELD.append(subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", tok],
                                     stdin=subprocess.PIPE))
    return r
