# SPDX-License-Identifier: GPL-2.0-only
# A function whose malloc heap would shrink and grow back in every request:
# it holds CHUNKS blocks of glibc's heap (under the mmap threshold) from its
# load on, and each request frees them all (the top of the heap is free:
# malloc may trim it, brk down) and takes as many again (brk back up).
# {"trim": true} puts malloc's default trim threshold (128 KiB) back, as if
# nobody had turned the trim off. {"grow": true} then takes as many blocks
# again on top (the break goes up unless the heap already holds them) and
# frees them.
# Answers how far the break went down during the frees and, with "grow",
# how far it went up for the extra blocks, in pages.
import ctypes

CHUNK = 64 * 1024
CHUNKS = 64
M_TRIM_THRESHOLD = -1

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.sbrk.restype = ctypes.c_void_p
libc.sbrk.argtypes = [ctypes.c_long]


def take():
    blocks = [libc.malloc(CHUNK) for _ in range(CHUNKS)]
    if not all(blocks):
        raise MemoryError("malloc failed")
    for b in blocks:
        ctypes.memset(b, 0x5A, CHUNK)
    return blocks


held = take()


def main(args):
    global held
    if args.get("trim"):
        libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
    before = libc.sbrk(0)
    for b in reversed(held):
        libc.free(b)
    after = libc.sbrk(0)
    held = take()
    answer = {"trimmed": (before - after) // 4096}
    if args.get("grow"):
        low = libc.sbrk(0)
        extra = take()
        answer["grown"] = (libc.sbrk(0) - low) // 4096
        for b in reversed(extra):
            libc.free(b)
    return answer
