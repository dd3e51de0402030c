# SPDX-License-Identifier: GPL-2.0-only
# The smallest action: a greeting, and where it ran (pid, cwd, TMPDIR).
import os
import sys


def main(args):
    name = args.get("name", "stranger")
    print("hello stdout from %s" % name)
    print("hello stderr from %s" % name, file=sys.stderr)
    return {"greeting": "hello %s" % name, "pid": os.getpid(), "cwd": os.getcwd(),
            "tmpdir": os.environ.get("TMPDIR")}
