# SPDX-License-Identifier: GPL-2.0-only
# Runs a pool of threads and joins it while it loads and in every activation,
# so that the proxy's settle and checkpoint come right after a join. Python's
# Thread.join() returns before the OS thread has exited; a thread captured
# by the checkpoint then exits during the next activation and that rewind
# fails. LAG_US > 0 (tests/integ/test_proxy_threads.sh sets it in a copy)
# makes each pool thread's OS exit lag its join by that long (a thread-local destructor, as a C library's can be), so the
# window is always open; {"exit": true} ends the process (a crash: the
# proxy starts the function and checkpoints it again).
import ctypes
import os
import threading

LAG_US = 0
LIBC = ctypes.CDLL(None, use_errno=True)
KEY = ctypes.c_uint()
if LAG_US:
    # The destructor gets the thread's value: usleep(LAG_US) as the thread exits.
    if LIBC.pthread_key_create(ctypes.byref(KEY), ctypes.cast(LIBC.usleep, ctypes.c_void_p)):
        raise OSError(ctypes.get_errno(), "pthread_key_create")


def work(out, i):
    if LAG_US:
        LIBC.pthread_setspecific(KEY, ctypes.c_void_p(LAG_US))
    out[i] = sum(range(1000 + i))


def pool(n=16):
    out = [0] * n
    threads = [threading.Thread(target=work, args=(out, i)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out)


TOTAL = pool()


def main(args):
    if args.get("exit"):
        os._exit(3)
    return {"pid": os.getpid(), "total": pool(), "loaded": TOTAL}
