# SPDX-License-Identifier: GPL-2.0-only
"""A "serverless function" in Python with one careless persistence point per
scenario; run it with /usr/bin/python3. Same protocol as leak.c:

  -> ready                    after imports and a warm-up of every code path
  <- plant SCENARIO HEX       invocation 1: keep the secret in SCENARIO
  -> done
  <- search SCENARIO HEX      invocation 2: look for the secret
  -> found WHERE[,WHERE...] | clean
  <- exit

Scenarios: global (module-level dict), heap (str/bytes/bytearray created and
dropped), env (os.environ), thread (a threading.Thread blocked on an Event,
holding it), child (a subprocess with the secret in its argv), fd (an unlinked
file in /tmp kept open), helper (a helper process started at init, before
the checkpoint, that keeps what it is sent; search asks it), shm (a shared
anonymous mmap and a multiprocessing.shared_memory segment, both made at
start), pipe (a pipe whose both ends it holds, made at start). Whatever the
scenario, search looks everywhere: the
dict, the environment (os.environ, C getenv, C environ, /proc/self/environ),
new threads, children (cmdline, environ, memory), regular files behind every
fd and every writable mapping (/proc/self/mem; places "mem:" when private,
"shm:" when shared).

How the search avoids finding its own key: the secret (32 bytes) travels as
hex, and search never builds its plain bytes. It keeps the first half plain
(HEAD, 16 bytes) and the second half only XOR 0xff (TAIL); a hit is HEAD found
with bytes.find, followed by 16 bytes whose XOR 0xff equals TAIL, compared
one integer at a time (no slice, no bytes object of the second half). Nothing
the search does can therefore put HEAD and the plain second half side by
side: a hit is a copy made by someone else - the plant. No memory region has
to be left out of the scan. "search" with a secret never planted answering
"clean" (the test checks it) shows this holds.
"""
import ctypes
import mmap
import os
import stat
import subprocess
import sys
import tempfile
import threading
from multiprocessing import resource_tracker, shared_memory

LEN = 32
HALF = 16
CHUNK = 8 << 20
MAX_HITS = 8

CACHE = {}      # "global": a module-level warm cache
HELD = {}       # what plant leaves running: thread, event, child, fd

# "shm": shared memory that exists before the checkpoint, as a runtime's
# multiprocessing setup leaves it. No resource tracker: it would be a child
# process in every scenario. The segment is unlinked at once (its mapping
# stays): a killed function leaves nothing in /dev/shm.
resource_tracker.register = resource_tracker.unregister = lambda *args: None
SHARED_ANON = mmap.mmap(-1, 1 << 20)
SHARED_MEM = shared_memory.SharedMemory(create=True, size=1 << 20)
SHARED_MEM.unlink()

# "pipe": a pipe whose both ends the function holds (a self-pipe, a queue to
# itself), made at start: what is queued in it is the function's state.
PIPE_R, PIPE_W = os.pipe()
os.set_blocking(PIPE_R, False)

LIBC = ctypes.CDLL(None)
LIBC.getenv.restype = ctypes.c_char_p
LIBC.getenv.argtypes = [ctypes.c_char_p]
ENVIRON = ctypes.POINTER(ctypes.c_char_p).in_dll(LIBC, "environ")


class Key:
    """The secret as search holds it: first half plain, second half masked."""

    def __init__(self, hexstr):
        if len(hexstr) != 2 * LEN:
            raise ValueError("need 64 hex digits")
        self.head = bytes.fromhex(hexstr[:2 * HALF])
        self.tail = bytes(0xFF ^ int(hexstr[i:i + 2], 16) for i in range(2 * HALF, 2 * LEN, 2))

    def find(self, data, start=0, end=None):
        """Offset of the secret in data[start:end] (bytes-like), or -1."""
        if end is None:
            end = len(data)
        head, tail = self.head, self.tail
        i = data.find(head, start, end)
        while i != -1:
            if i + LEN <= end:
                j = 0
                while j < HALF and data[i + HALF + j] == tail[j] ^ 0xFF:
                    j += 1
                if j == HALF:
                    return i
            i = data.find(head, i + 1, end)
        return -1

    def within(self, data):
        if data is None:
            return False
        if isinstance(data, str):
            try:
                data = data.encode("latin1")
            except UnicodeEncodeError:
                data = data.encode("utf-8", "surrogateescape")
        return self.find(data) != -1


class Search:
    def __init__(self, key):
        self.key = key
        self.places = []
        self.mem_hits = 0

    def hit(self, place):
        self.places.append(place.replace(" ", "_").replace(",", "_"))

    def scan_memory(self, pid, prefix):
        """Every writable mapping of pid, private ("mem:") or shared ("shm:").

        Freed objects hold the secret only until their memory is reused: this
        runs first, reads into buffers allocated before "ready", parses maps
        in place and creates only small objects (ints, short slices), so it
        does not recycle the blocks of the strings "plant heap" dropped.
        """
        try:
            fd = os.open(f"/proc/{pid}/maps", os.O_RDONLY | os.O_CLOEXEC)
            n = 0
            while n < len(MAPS):
                got = os.readv(fd, [memoryview(MAPS)[n:]])
                if got <= 0:
                    break
                n += got
            os.close(fd)
            fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            self.hit(f"{prefix}unreadable:{e.errno}")
            return
        key, buf = self.key, READ
        try:
            line = 0
            while line < n:
                eol = MAPS.find(b"\n", line, n)
                if eol == -1:
                    eol = n
                dash = MAPS.find(b"-", line, eol)
                sp = MAPS.find(b" ", dash, eol)
                if dash == -1 or sp == -1 or MAPS[sp + 2] != 0x77 or MAPS[sp + 4] not in (0x70, 0x73):  # "w", "p"/"s"
                    line = eol + 1
                    continue
                kind = "mem" if MAPS[sp + 4] == 0x70 else "shm"
                start, end = int(MAPS[line:dash], 16), int(MAPS[dash + 1:sp], 16)
                pos = start
                while pos < end:
                    want = min(len(buf), end - pos)
                    try:
                        got = os.preadv(fd, [memoryview(buf)[:want]], pos)
                    except OSError:
                        got = 0
                    if got <= 0:    # unreadable page: skip it
                        pos = (pos & ~4095) + 4096
                        continue
                    off = key.find(buf, 0, got)
                    while off != -1:
                        self.mem_hits += 1
                        if self.mem_hits <= MAX_HITS:
                            name = MAPS[line:eol].split(None, 5)[5:] or [b"anon"]
                            self.hit(f"{prefix}{kind}:{pos + off:x}:{name[0].decode()}")
                        off = key.find(buf, off + 1, got)
                    if got < LEN or pos + got >= end:
                        break
                    pos += got - (LEN - 1)  # overlap: a copy across two reads
                line = eol + 1
        finally:
            os.close(fd)

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def run(self):
        k = self.key
        self.scan_memory(os.getpid(), "")
        if any(k.within(v) for v in CACHE.values()):
            self.hit("global")
        if k.within(os.environ.get("LEAK_SECRET")):
            self.hit("os.environ")
        if k.within(LIBC.getenv(b"LEAK_SECRET")):
            self.hit("getenv")
        i = 0
        while ENVIRON[i] is not None:
            if k.within(ENVIRON[i]):
                self.hit("environ")
            i += 1
        if k.within(self.read("/proc/self/environ")):
            self.hit("proc-environ")
        tasks = os.listdir("/proc/self/task")
        for tid in tasks:
            if tid not in BASELINE_TASKS:
                self.hit(f"thread:{tid}")
        for tid in tasks:
            kids = self.read(f"/proc/self/task/{tid}/children") or b""
            for pid in kids.split():
                pid = int(pid)
                if pid != HELPER.pid:
                    self.hit(f"child:{pid}")
                if k.within(self.read(f"/proc/{pid}/cmdline")):
                    self.hit(f"child:{pid}:cmdline")
                if k.within(self.read(f"/proc/{pid}/environ")):
                    self.hit(f"child:{pid}:environ")
                self.scan_memory(pid, f"child:{pid}:")
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
                    continue
                data = os.pread(fd, min(st.st_size, CHUNK), 0)
                if k.within(data):
                    self.hit(f"fd:{fd}:{os.readlink(f'/proc/self/fd/{fd}')}")
            except OSError:
                continue
        if self.helper_holds():
            self.hit(f"helper:{HELPER.pid}")
        queued = drain_pipe()
        if queued:
            if k.within(queued):
                self.hit(f"pipe:{PIPE_R}")
            os.write(PIPE_W, queued)    # put back: a search changes nothing it looks at
        if self.mem_hits > MAX_HITS:
            self.hit(f"mem:{self.mem_hits - MAX_HITS}-more")
        return self.places

    def helper_holds(self):
        """Asks the helper; its answer is hex, compared without rebuilding the secret."""
        held = helper_ask("Q")
        if len(held) != 2 * LEN or held[:2 * HALF] != self.key.head.hex():
            return False
        return all(int(held[2 * HALF + 2 * j:2 * HALF + 2 * j + 2], 16) == self.key.tail[j] ^ 0xFF
                   for j in range(HALF))


def drain_pipe():
    """What is queued in the pipe now, read away."""
    data = b""
    while True:
        try:
            got = os.read(PIPE_R, 65536)
        except BlockingIOError:
            return data
        if not got:
            return data
        data += got


def hold(secret, holding, release):
    held = secret   # this thread's frame keeps it
    holding.set()
    release.wait()
    return held


def plant(scenario, hexstr):
    secret = bytes.fromhex(hexstr)
    if len(secret) != LEN:
        raise ValueError("need 64 hex digits")
    text = secret.decode("latin1")
    if scenario == "global":
        CACHE["token"] = text
    elif scenario == "heap":
        # What handling a request leaves in freed memory: headers (str),
        # their encoding (bytes) and a body buffer (bytearray), in many sizes
        # so that a few blocks reused by the next request do not hide it.
        headers = [f"X-Request-{i:04d}: " + "." * (i % 400) + "Bearer " + text for i in range(256)]
        wire = [h.encode("latin1") for h in headers]
        body = bytearray(65536)
        body[1000:1000 + LEN] = secret
        del headers, wire, body
    elif scenario == "env":
        os.environ["LEAK_SECRET"] = text
    elif scenario == "thread":
        holding, release = threading.Event(), threading.Event()
        t = threading.Thread(target=hold, args=(secret, holding, release), daemon=True)
        t.start()
        holding.wait()
        HELD["thread"] = (t, release)
    elif scenario == "child":
        HELD["child"] = subprocess.Popen(["/bin/sh", "-c", "read x", "leak-child", text],
                                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
    elif scenario == "helper":
        if helper_ask("S " + hexstr) != "ok":
            raise ValueError("the helper did not keep the secret")
    elif scenario == "fd":
        fd, path = tempfile.mkstemp(prefix="rewindd-leak-", dir="/tmp")
        os.write(fd, secret)
        os.unlink(path)
        HELD["fd"] = fd
    elif scenario == "pipe":
        os.write(PIPE_W, secret)
    elif scenario == "shm":
        SHARED_ANON[5 * 4096:5 * 4096 + LEN] = secret
        SHARED_MEM.buf[3 * 4096:3 * 4096 + LEN] = secret
    else:
        raise ValueError(f"unknown scenario '{scenario}'")


def unplant(scenario):
    """Undoes a plant: only for the warm-up before "ready"."""
    if scenario == "global":
        CACHE.clear()
    elif scenario == "env":
        del os.environ["LEAK_SECRET"]
    elif scenario == "thread":
        t, release = HELD.pop("thread")
        release.set()
        t.join()
    elif scenario == "child":
        p = HELD.pop("child")
        p.stdin.close()
        p.wait()
    elif scenario == "fd":
        os.close(HELD.pop("fd"))
    elif scenario == "helper":
        helper_ask("C")
    elif scenario == "shm":
        SHARED_ANON[5 * 4096:5 * 4096 + LEN] = bytes(LEN)
        SHARED_MEM.buf[3 * 4096:3 * 4096 + LEN] = bytes(LEN)
    elif scenario == "pipe":
        drain_pipe()


SCENARIOS = ("global", "heap", "env", "thread", "child", "fd", "helper", "shm", "pipe")
BASELINE_TASKS = set()
MAPS = bytearray(4 << 20)   # /proc/PID/maps, read in place
READ = bytearray(CHUNK)     # memory and file contents are read into it


# The helper: a process of its own from init on, holding the bytes of the last secret.
HELPER_CODE = r"""
import sys
held = b""
for line in sys.stdin:
    w = line.split()
    if w[0] == "S":
        held = bytes.fromhex(w[1])
        sys.stdout.write("ok\n")
    elif w[0] == "C":
        held = b""
        sys.stdout.write("ok\n")
    else:
        sys.stdout.write(held.hex() + "\n")
    sys.stdout.flush()
"""
HELPER = None


def helper_ask(line):
    HELPER.stdin.write(line + "\n")
    HELPER.stdin.flush()
    return HELPER.stdout.readline().strip()


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main():
    global BASELINE_TASKS, HELPER
    HELPER = subprocess.Popen([sys.executable, "-I", "-c", HELPER_CODE], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    BASELINE_TASKS = set(os.listdir("/proc/self/task"))
    warm = "57" * LEN
    for scenario in SCENARIOS:
        plant(scenario, warm)
        Search(Key(warm)).run()
        unplant(scenario)
    BASELINE_TASKS = set(os.listdir("/proc/self/task"))
    say("ready")
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        words = line.split()
        if not words:
            continue
        if words[0] == "exit":
            break
        try:
            if len(words) != 3:
                raise ValueError("usage: plant|search SCENARIO HEX64")
            if words[0] == "plant":
                plant(words[1], words[2])
                say("done")
            elif words[0] == "search":
                places = Search(Key(words[2])).run()
                say("found " + ",".join(places) if places else "clean")
            else:
                raise ValueError(f"unknown command '{words[0]}'")
        except ValueError as e:
            say(f"error {e}")


if __name__ == "__main__":
    main()
