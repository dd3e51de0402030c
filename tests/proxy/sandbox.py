# SPDX-License-Identifier: GPL-2.0-only
# What a function's sandbox lets it see: it writes {"secret"} to /tmp/{"name"}
# and to $TMPDIR/{"name"}.tmpdir, returns what it found there before writing,
# who it runs as, its NoNewPrivs, and what opening {"probe"} (a proxy's
# file) gives.
import errno
import os


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def main(args):
    name = args["name"]
    tmp = os.path.join("/tmp", name)
    env = os.path.join(os.environ["TMPDIR"], name + ".tmpdir")
    r = {"seen": read(tmp), "seen_tmpdir": read(env), "uid": os.getuid(), "euid": os.geteuid(),
         "gid": os.getgid(), "groups": os.getgroups(), "tmpdir": os.environ["TMPDIR"], "pid": os.getpid()}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("NoNewPrivs:"):
                r["nnp"] = int(line.split()[1])
    if "secret" in args:
        for p in (tmp, env):
            with open(p, "w") as f:
                f.write(args["secret"])
        r["listed"] = sorted(os.listdir("/tmp"))[:4]
    for key in ("probe", "probe2"):
        if key in args:
            try:
                with open(args[key]) as f:
                    f.read()
                r[key] = "readable"
            except OSError as e:
                r[key] = errno.errorcode.get(e.errno, str(e.errno))
    return r
