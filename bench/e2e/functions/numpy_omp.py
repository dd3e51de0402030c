# SPDX-License-Identifier: GPL-2.0-only
# Linear algebra in a C extension with OpenMP threads (a scoring step):
# numpy matmul of two n x n matrices made from the seed, on OpenBLAS built
# with OpenMP (Debian's libopenblas0-openmp behind numpy's libblas.so.3).
# Reports whether libgomp is mapped and how many threads the process has
# (OpenMP's pool stays after the first call); the digest is the SHA-256 of
# the product rounded to 6 decimals.
import hashlib
import os

import numpy as np

# Requests this process served (a state one request leaves to the next).
calls = 0


def main(args):
    global calls
    calls += 1
    n = int(args.get("n", 192))
    seed = int(args.get("seed", 5))
    rng = np.random.default_rng(seed)
    a = rng.random((n, n))
    b = rng.random((n, n))
    c = a @ b
    with open("/proc/self/maps") as maps:
        gomp = any("libgomp" in line for line in maps)
    return {"n": n, "calls": calls, "trace": round(float(np.trace(c)), 6), "gomp": gomp,
            "threads": len(os.listdir("/proc/self/task")),
            "digest": hashlib.sha256(np.round(c, 6).tobytes()).hexdigest()[:16]}
