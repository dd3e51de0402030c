# SPDX-License-Identifier: GPL-2.0-only
"""An interpreter-heavy function for /usr/bin/python3 (tests/integ/
test_workload_interp.sh). Nothing is warmed up before "ready": the first
invocation writes data of the interpreter that nothing wrote before the
checkpoint (the binary's and its libraries' .data, still the file's pages),
as a real function's first request does. Lines on stdin/stdout:

  -> ready
  <- go MODULE         one invocation: random.random(), dict/list churn, a
                       counter, "import MODULE" (a stdlib module)
  -> done R N FRESH    R: the number drawn, N: invocations this process has
                       seen, FRESH: 1 if MODULE was not imported before
  <- state
  -> state DIGEST      a digest of everything an invocation changes
  <- exit

Rewound after each invocation, every invocation answers as the first one
did; without the rewind the answers drift.
"""
import hashlib
import importlib
import random
import sys

COUNT = [0]
CACHE = {}
CHURN = []


def digest():
    h = hashlib.sha256()
    h.update(repr(random.getstate()).encode())
    h.update(repr(sorted(sys.modules)).encode())
    h.update(repr((COUNT[0], sorted(CACHE.items()), CHURN)).encode())
    return h.hexdigest()


def invoke(module):
    r = random.random()
    fresh = module not in sys.modules
    COUNT[0] += 1
    d = {str(i): [i] * (i % 7) for i in range(2000)}
    CHURN.append(sum(len(v) for v in d.values()))
    CACHE[module] = r
    del d
    importlib.import_module(module)
    return "done %r %d %d" % (r, COUNT[0], fresh)


def main():
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "exit":
            return
        if words[0] == "go" and len(words) == 2:
            print(invoke(words[1]), flush=True)
        elif words[0] == "state":
            print("state " + digest(), flush=True)
        else:
            print("error unknown command " + line.strip(), flush=True)


main()
