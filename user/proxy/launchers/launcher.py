# SPDX-License-Identifier: GPL-2.0-only
"""rewind-proxy's actionloop launcher for Python (/usr/bin/python3).

    python3 -I -B launcher.py ENTRY_FILE MAIN_NAME

Loads ENTRY_FILE (the action's code) as a module, then speaks the actionloop
protocol with the proxy:
  - fd 3 gets {"ok": true} once the code is loaded (when __OW_WAIT_FOR_ACK is
    set), or {"ok": false, "error": ...} and the launcher exits;
  - each line on stdin is {"value": {...}, "activation_id": "...", ...}: the
    fields other than "value" become __OW_<FIELD> environment variables for
    this activation only, MAIN_NAME(value) runs, and its result goes to fd 3
    as one JSON line. An exception is answered {"error": "..."}.
stdout and stderr are the proxy's log; they are flushed before each answer
so that the log of an activation precedes its end marker.

Randomness: in rewind mode every activation starts from the same checkpoint,
and so would every random generator kept in user space. Before each
activation (in every mode, in the child in fork mode) reseed_runtime() reseeds
them from the kernel (os.urandom): the module-level `random` generator,
numpy's legacy global generator if numpy is loaded, OpenSSL's DRBG through
ssl.RAND_add if ssl is loaded, tempfile's name generator; then it runs the
hooks the action registered through the module rewind_proxy
(@rewind_proxy.after_rewind), for the generators it made itself. A hook that
raises fails the activation: main does not run with a replayed state.
REWIND_PROXY_NO_RESEED=1 in the environment turns all of it off: for tests
that show the replay.

Fork mode (rewind-proxy --mode fork): once the proxy has warmed the function
up, it sends the line {"rewind-proxy": "fork-per-request"} (no /run can
produce it: context field names are [A-Za-z0-9_]) and gets {"fork": true}.
From then on this process is a template that runs no code of the action: for
each request line it forks a child, which reads nothing more from stdin
(its fd 0 is /dev/null), sets the __OW_* variables, runs MAIN_NAME, answers
on fd 3 and exits; the template waits for it. A child that ends without
answering (sys.exit, a signal) ends the template the same way, so the proxy
sees the crash as it would without fork mode. What a child changes in
memory dies with it; files are the proxy's to restore.

Settling: before it keeps the process (a checkpoint, or insecure reuse), the
proxy sends {"rewind-proxy": "settle"} and gets {"settled": true}: the
launcher runs a full garbage collection first. A rewind returns the
collector's counters to the checkpoint's values at every request; left
high, every request would pay for a full collection (graph: +3 ms of 21).
Then it waits until every threading.Thread that has finished is gone from
the kernel too: Thread.join() returns when the thread's Python state is
released, before its OS thread has exited (it may still be taking the GIL
back to drop it, or in glibc's pthread_exit). A checkpoint taken then would
hold a thread that exits during the next invocation, and that rewind fails
("existed at the checkpoint and has exited"); the kernel does not show such
a thread as exiting, so rewindd cannot leave it out. A thread still there
after SETTLE_TIMEOUT answers {"settled": false, "error": ...}: the proxy
then does not keep the process. Threads started by _thread.start_new_thread
or by C code are not tracked. With "keep-heap": true (rewind, insecure) it also
turns glibc malloc's trim off (mallopt M_TRIM_THRESHOLD): a heap trimmed
during an invocation is grown back by the rewind and its pages copied back
whole. The answer says "heap": "kept", or "heap": "trimmable" and why.
With "release-free": N (bytes; once the heap is kept) it then gives the
kernel back up to N bytes of the free top of malloc's heap, the break kept
where it was (release_free): the answer says "released": bytes, or
"released": 0 and "release": why not.
"""
import gc
import importlib.util
import json
import mmap
import os
import select
import signal
import sys
import threading
import time
import traceback

FORK_SWITCH = "rewind-proxy"
# pidfd_open(2) flag (Linux >= 6.9): the pidfd of a thread, readable once it has exited.
PIDFD_THREAD = os.O_EXCL
SETTLE_TIMEOUT = 5.0
# Native ids of threading.Thread objects whose run has ended (set.add and
# set.discard are atomic under the GIL).
finished_tids = set()
# keep_heap() took: malloc trims nothing any more (release_free's premise).
heap_kept = False
M_MMAP_MAX = -4
DEFAULT_MMAP_MAX = 65536  # glibc's; a function that set its own loses it at release_free


def track_thread_exits():
    """Records each threading.Thread's native id as its run ends, before join() can return."""
    bootstrap = threading.Thread._bootstrap_inner
    if getattr(bootstrap, "rewind_proxy_tracked", False):
        return

    def bootstrap_inner(self):
        self._set_native_id()
        # A tid recorded earlier has been reused: that thread is gone.
        finished_tids.discard(self.native_id)
        try:
            bootstrap(self)
        finally:
            finished_tids.add(self.native_id)

    bootstrap_inner.rewind_proxy_tracked = True
    threading.Thread._bootstrap_inner = bootstrap_inner


def keep_heap():
    """glibc malloc's trim off; ctypes is imported only here (keep-heap only)."""
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError) as ex:
        return {"heap": "trimmable", "why": "no mallopt: %s" % ex}
    M_TRIM_THRESHOLD = -1
    if mallopt(M_TRIM_THRESHOLD, 0x7FFFFFFF) != 1:
        return {"heap": "trimmable", "why": "mallopt(M_TRIM_THRESHOLD) refused"}
    global heap_kept
    heap_kept = True
    return {"heap": "kept"}


def release_free(limit):
    """
    Gives the kernel back up to LIMIT bytes of the free top of malloc's main
    heap without moving the break: a checkpoint then stores no page of the
    garbage the warm-up left there, and a request that writes there again
    is zero-filled back by the rewind instead of copied. Only through
    malloc's own calls, each under its arena's lock (a thread that
    allocates meanwhile cannot be hurt): malloc_trim(pad) lowers the break
    to keep PAD bytes of the top (and drops whole free pages inside the
    heaps: the free bytes outside the top count against LIMIT, so a
    scattered heap is left alone), then a block as large as the drop, taken
    with mmap off and freed at once, raises the break again over fresh
    pages, absent until written. Should a free chunk inside the heap serve
    that block instead, the break stays lower: a request may move it again.
    """
    if not heap_kept:
        return {"released": 0, "release": "the heap is not kept (malloc may trim it)"}
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = MallInfo2
        libc.sbrk.restype = ctypes.c_void_p
        libc.sbrk.argtypes = [ctypes.c_long]
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError) as ex:
        return {"released": 0, "release": "no mallinfo2/malloc_trim: %s" % ex}
    info = libc.mallinfo2()
    scattered = info.fordblks - info.keepcost
    top = info.keepcost
    if scattered >= limit or top < mmap.PAGESIZE:
        return {"released": 0, "release": "%d free bytes outside the top, %d in it" % (scattered, top)}
    raised = libc.sbrk(0)
    libc.malloc_trim(top - min(top, limit - scattered))
    lowered = libc.sbrk(0)
    if lowered >= raised:
        return {"released": 0, "release": "malloc_trim left the break"}
    if libc.mallopt(M_MMAP_MAX, 0) == 1:
        block = libc.malloc(raised - lowered + libc.mallinfo2().keepcost)
        libc.free(block)
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
    return {"released": raised - lowered}


def await_thread_exits(timeout=SETTLE_TIMEOUT):
    """Waits until no finished thread is left in this process; None, or why not."""
    deadline = time.monotonic() + timeout
    for tid in sorted(finished_tids):
        if not os.path.exists("/proc/self/task/%d" % tid):
            finished_tids.discard(tid)
            continue
        try:
            fd = os.pidfd_open(tid, PIDFD_THREAD)
        except ProcessLookupError:
            finished_tids.discard(tid)
            continue
        except OSError as ex:
            return "cannot wait for the exit of finished thread %d: pidfd_open: %s" % (tid, ex)
        try:
            # Checked with the pidfd held: a tid reused elsewhere is not ours to wait for.
            if os.path.exists("/proc/self/task/%d" % tid):
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                left = deadline - time.monotonic()
                if left <= 0 or not poller.poll(left * 1000):
                    return "finished thread %d has not exited within %g s" % (tid, timeout)
        finally:
            os.close(fd)
        finished_tids.discard(tid)
    return None


def load(entry, main_name):
    """The action's main function; raises with a message for the caller."""
    install_rewind_proxy_module()  # before the action's code can import it
    base = os.path.dirname(os.path.abspath(entry))
    # Modules next to the entry file (a zip's) import as in a script.
    sys.path.insert(0, base)
    spec = importlib.util.spec_from_file_location("__action__", entry)
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load %s" % entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules["__action__"] = module
    spec.loader.exec_module(module)
    fn = getattr(module, main_name, None)
    if not callable(fn):
        raise RuntimeError("the action has no function named %s" % main_name)
    return fn


def answer(out, obj, answered=None):
    try:
        text = json.dumps(obj, ensure_ascii=False)
    except (TypeError, ValueError) as ex:
        text = json.dumps({"error": "the result is not JSON: %s" % ex})
    sys.stdout.flush()
    sys.stderr.flush()
    if answered is not None:
        # Before the write: once the proxy has the line it may kill the child.
        answered[0] = 1
    out.write(text.encode("utf-8", "surrogatepass") + b"\n")
    out.flush()


def serve(out, fn, request, previous, answered=None):
    """One activation in this process; the __OW_* names it set."""
    current = set()
    for key, val in request.items():
        if key == "value":
            continue
        name = "__OW_" + key.upper()
        os.environ[name] = val if isinstance(val, str) else json.dumps(val)
        current.add(name)
    # Context of an earlier activation must not show in this one.
    for name in previous - current:
        os.environ.pop(name, None)
    try:
        reseed_runtime()
        result = fn(request.get("value", {}))
    except Exception as ex:  # sys.exit() ends the process: a crash
        traceback.print_exc(file=sys.stderr)
        result = {"error": str(ex) or type(ex).__name__}
    answer(out, result, answered)
    return current


def serve_forked(out, fn, request, answered):
    """One activation in a child; returns once it is gone (or ends us as it ended)."""
    sys.stdout.flush()
    sys.stderr.flush()
    answered[0] = 0
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            serve(out, fn, request, set(), answered)
        except SystemExit as ex:
            code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    if answered[0]:
        return
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


# ---- randomness after a rewind ------------------------------------------------

after_rewind_hooks = []
reseeding = True
random_module = None


def after_rewind(fn):
    """Decorator: fn() runs before every activation, after the launcher's reseeding."""
    if not callable(fn):
        raise TypeError("after_rewind: %r is not callable" % (fn,))
    after_rewind_hooks.append(fn)
    return fn


def install_rewind_proxy_module():
    """The module `rewind_proxy` the action imports to register its hooks."""
    global reseeding, random_module
    reseeding = os.environ.pop("REWIND_PROXY_NO_RESEED", "") != "1"
    # Imported now, before the checkpoint: not again in every activation.
    import random

    random_module = random
    if "rewind_proxy" in sys.modules:
        return
    module = type(sys)("rewind_proxy")
    module.__doc__ = "rewind-proxy's after-rewind hooks (see the proxy's README)."
    module.after_rewind = after_rewind
    module.register_after_rewind = after_rewind
    sys.modules["rewind_proxy"] = module


def reseed_runtime():
    """Fresh kernel entropy for the generators a rewind replays, then the action's hooks."""
    if not reseeding:
        return
    random_module.seed(os.urandom(32))
    np = sys.modules.get("numpy")
    if np is not None and getattr(np, "random", None) is not None:
        np.random.seed(np.frombuffer(os.urandom(32), dtype=np.uint32))
    ssl = sys.modules.get("ssl")
    if ssl is not None and hasattr(ssl, "RAND_add"):
        ssl.RAND_add(os.urandom(32), 32.0)
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None and hasattr(tempfile, "_name_sequence"):
        tempfile._name_sequence = None  # made again, with a new random.Random(), at its next use
    for hook in after_rewind_hooks:
        hook()


def main():
    if len(sys.argv) != 3:
        print("usage: launcher.py ENTRY_FILE MAIN_NAME", file=sys.stderr)
        return 2
    out = os.fdopen(3, "wb")
    track_thread_exits()  # before the action's code can start a thread
    try:
        fn = load(sys.argv[1], sys.argv[2])
    except SystemExit:
        raise  # the code ended the process: the proxy says so, as actionloop does
    except BaseException as ex:  # a SyntaxError in the code too
        traceback.print_exc(file=sys.stderr)
        answer(out, {"ok": False, "error": "%s: %s" % (type(ex).__name__, ex)})
        return 1
    if os.environ.pop("__OW_WAIT_FOR_ACK", None):  # the protocol's, not the action's
        answer(out, {"ok": True})

    previous = set()  # the __OW_* variables the last activation set
    answered = None  # fork mode: a page shared with the children
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return 0
        try:
            request = json.loads(line)
            request.get("value", {})
        except Exception as ex:  # not JSON, not an object, nested too deep
            answer(out, {"error": "malformed request: %s" % ex})
            continue
        if request.get(FORK_SWITCH) == "settle" and set(request) <= {FORK_SWITCH, "keep-heap", "release-free"}:
            gc.collect()
            why = await_thread_exits()
            settled = {"settled": True} if why is None else {"settled": False, "error": why}
            if request.get("keep-heap") is True:
                settled.update(keep_heap())
            limit = request.get("release-free")
            if why is None and type(limit) is int and limit > 0:
                settled.update(release_free(limit))
            answer(out, settled)
        elif request.get(FORK_SWITCH) == "fork-per-request" and len(request) == 1:
            if answered is None:
                answered = mmap.mmap(-1, mmap.PAGESIZE)
                for name in previous:  # the warm-up's context
                    os.environ.pop(name, None)
                previous = set()
            answer(out, {"fork": True})
        elif answered is not None:
            serve_forked(out, fn, request, answered)
        else:
            previous = serve(out, fn, request, previous)


if __name__ == "__main__":
    sys.exit(main())
