# SPDX-License-Identifier: GPL-2.0-only
# Starts a thread pool (a fan-out step: hashing user credentials): a new
# ThreadPoolExecutor of `workers` threads per invocation runs `tasks`
# PBKDF2-HMAC-SHA256 derivations (hashlib releases the GIL) and the pool is
# shut down before the answer. Same keys as threadpool.js (whose derivations
# run on Node's libuv thread pool); the digest is the SHA-256 of all keys.
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor


def derive(i, seed, iterations):
    return hashlib.pbkdf2_hmac("sha256", ("user%d:%d" % (i, seed)).encode(), ("salt%d" % i).encode(),
                               iterations, 32)


def main(args):
    tasks = int(args.get("tasks", 8))
    workers = int(args.get("workers", 4))
    iterations = int(args.get("iterations", 1000))
    seed = int(args.get("seed", 13))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        keys = list(pool.map(lambda i: derive(i, seed, iterations), range(tasks)))
        threads = threading.active_count()
    return {"tasks": tasks, "threads": threads, "digest": hashlib.sha256(b"".join(keys)).hexdigest()[:16]}
