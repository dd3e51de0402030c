# SPDX-License-Identifier: GPL-2.0-only
# Never answers when asked ({"hang": true}), with a child process running too;
# the child's pid goes to the log so that a test can check it was killed.
import os
import subprocess
import time


def main(args):
    if args.get("hang"):
        child = subprocess.Popen(["sleep", "1000"])
        print("hang: child pid %d" % child.pid, flush=True)
        while True:
            time.sleep(1)
    return {"pid": os.getpid()}
