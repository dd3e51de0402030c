# SPDX-License-Identifier: GPL-2.0-only
"""A function with a warm cache on the brk heap that every invocation drops
and builds again; run it with /usr/bin/python3. Dropping the cache frees the
top of the heap, malloc gives it back (brk shrinks below the checkpoint's
end) and the new cache grows it again: the heap ends the invocation as two
vmas. Protocol, one line each way:

  -> ready
  <- run MB TOKEN    rebuild the cache with MB megabytes; answer the token
  -> was PREV N      the previous invocation left (or "none") and the
                     cache's entry count, then keep TOKEN for the next one
  <- exit
"""
import sys

CHUNK = 64 << 10        # under malloc's mmap threshold: on the brk heap

cache = [bytes([i % 251]) * CHUNK for i in range(200)]
last = "none"
out = sys.stdout
inp = sys.stdin.buffer.raw      # unbuffered: nothing read ahead across invocations

out.write("ready\n")
out.flush()
while True:
    line = inp.readline()
    if not line:
        break
    w = line.decode().split()
    if not w:
        continue
    if w[0] == "exit":
        break
    if w[0] != "run" or len(w) != 3 or not w[1].isdigit():
        out.write("error usage: run MB TOKEN\n")
        out.flush()
        continue
    cache.clear()
    cache.extend(bytes([i % 251]) * CHUNK for i in range(int(w[1]) * 16))
    out.write("was %s %d\n" % (last, len(cache)))
    out.flush()
    last = w[2]
