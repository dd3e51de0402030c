# SPDX-License-Identifier: GPL-2.0-only
"""The Python launcher's settle waits out joined threads (run by test_proxy_threads.sh).

    /usr/bin/python3 launcher_settle.py LAUNCHER_DIR

Threads whose OS exit lags their join (a thread-local destructor, usleep)
are still in /proc/self/task after join() (the twin: what a checkpoint
would capture); after await_thread_exits() none of them is left alive. A
thread that never exits (its destructor is pause()) makes settle answer
an error naming it. Prints PASS/FAIL lines; exits 0.
"""
import ctypes
import os
import sys
import threading

sys.path.insert(0, sys.argv[1])
import launcher  # noqa: E402

LIBC = ctypes.CDLL(None, use_errno=True)


def lagging_threads(n, destructor, value):
    key = ctypes.c_uint()
    if LIBC.pthread_key_create(ctypes.byref(key), ctypes.cast(destructor, ctypes.c_void_p)):
        raise OSError(ctypes.get_errno(), "pthread_key_create")

    def work():
        LIBC.pthread_setspecific(key, ctypes.c_void_p(value))

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [t.native_id for t in threads]


def alive(tid):
    """In our task list and not dead yet (a thread between exit and release shows X or Z)."""
    try:
        with open("/proc/self/task/%d/stat" % tid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("X", "Z")
    except FileNotFoundError:
        return False


def check(name, ok, why):
    print("PASS %s" % name if ok else "FAIL %s: %s" % (name, why), flush=True)


def main():
    launcher.track_thread_exits()
    tids = lagging_threads(16, LIBC.usleep, 300000)
    left = [t for t in tids if alive(t)]
    check("launcher_threads_outlive_join", left and set(tids) <= launcher.finished_tids,
          "joined threads alive: %s, recorded: %s" % (left, sorted(launcher.finished_tids)))
    why = launcher.await_thread_exits()
    left = [t for t in tids if alive(t)]
    check("launcher_settle_waits_threads", why is None and not left and not launcher.finished_tids,
          "settle: %s, still alive: %s, recorded: %s" % (why, left, sorted(launcher.finished_tids)))
    stuck = lagging_threads(1, LIBC.pause, 1)[0]
    why = launcher.await_thread_exits(timeout=0.2)
    check("launcher_settle_timeout_names_thread", why is not None and str(stuck) in why and alive(stuck),
          "settle with a thread that never exits: %s" % why)
    sys.stdout.flush()
    os._exit(0)  # the stuck thread would hold up a normal exit


if __name__ == "__main__":
    main()
