# SPDX-License-Identifier: GPL-2.0-only
# A Python function that changes process attributes during an invocation:
# nice (os.setpriority), RLIMIT_NOFILE's soft limit (resource.setrlimit),
# CPU affinity (os.sched_setaffinity). Lines in, one answer out each:
#   get  "nice=N nofile=SOFT/HARD cpus=A,B,..."
#   set  changes all three, answers "done"
import os
import resource
import sys


def state():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    return "nice=%d nofile=%d/%d cpus=%s" % (os.getpriority(os.PRIO_PROCESS, 0), soft, hard, cpus)


def change():
    os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + 5)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    return "done"


def main():
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "exit":
            return
        print(state() if cmd == "get" else change() if cmd == "set" else "error " + cmd,
              flush=True)


main()
