# SPDX-License-Identifier: GPL-2.0-only
# Compression writing to /tmp (an archiving step): kb KiB of pseudo-random
# log-like text, gzipped into $TMPDIR/archive.gz (the proxy points TMPDIR
# into the function's watched dir), read back and checked. The same text as
# compress.js; the compressed bytes differ (Node bundles its own zlib), so
# the digest is of the text, with its CRC-32.
import gzip
import hashlib
import os
import zlib

WORDS = ["GET", "POST", "/api/v1/orders", "/api/v1/users", "200", "404", "500", "user", "session",
         "cache", "miss", "hit", "latency", "ms", "db", "query", "select", "insert", "update", "ok",
         "error", "retry", "timeout", "auth", "token", "expired", "renewed", "queue", "job", "done",
         "started", "worker"]
M = 0xFFFFFFFF


def text_of(size, seed):
    x = (seed or 1) & M
    parts = []
    n = 0
    line = 0
    while n < size:
        x ^= (x << 13) & M
        x ^= x >> 17
        x ^= (x << 5) & M
        word = WORDS[x % len(WORDS)]
        line += 1
        sep = "\n" if line % 12 == 0 else " "
        parts.append(word + sep)
        n += len(word) + 1
    return "".join(parts).encode()[:size]


def main(args):
    size = int(args.get("kb", 16)) * 1024
    level = int(args.get("level", 6))
    data = text_of(size, int(args.get("seed", 11)))
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "archive.gz")
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=level, mtime=0) as gz:
            gz.write(data)
    with open(path, "rb") as f:
        packed = f.read()
    ok = gzip.decompress(packed) == data
    return {"bytes": len(data), "compressed": len(packed), "ok": ok, "crc32": zlib.crc32(data),
            "digest": hashlib.sha256(data).hexdigest()[:16]}
