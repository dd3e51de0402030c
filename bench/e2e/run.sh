#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make bench-e2e: rewind-proxy end to end, as an OpenWhisk invoker sees it.
#
# The bundled functions (bench/e2e/functions; the driver's SPECS table lists
# them, and a function may exist for one runtime only), modelled on common
# FaaS workloads. Two sub-millisecond ones, in Python and Node: echo (answers
# its input) and jsonsmall (a small JSON transform of a few orders). Six of
# 5-35 ms, standard library only, in Python and Node: html (templating a
# page), jsontx (JSON transformation of a request's records), image (grey +
# 3x3 blur + histogram of an RGB buffer), compress (gzip into $TMPDIR, which
# the proxy points into its watched work dir, and read back), graph (Dijkstra
# and BFS on a random graph), threadpool (PBKDF2 fan-out: Python starts a
# ThreadPoolExecutor per request, Node uses its libuv pool). Both runtimes
# compute the same digests; the driver checks them (and invariants it
# computes itself) in every mode before anything is timed.
#
# Modes, each in a fresh proxy per round, measured side by side: insecure
# (the process reused as is: the baseline of every ratio), rewind (rewindd
# rewinds after every request), fork (Python only: a child of the initialised
# launcher per request, the work dir compared and restored after it; node has
# no fork(), so it is skipped and the output says so), restart (a fresh
# process per request: fewer and shorter rounds), and CRIU dump+restore per
# request when `criu check` passes (it is installed first when missing; on
# Linux 6.18 Debian's criu 3.17 fails, and the run prints
# "CRIU: skipped: <criu's error>").
#
# Two load models, in the same proxy each round. Closed loop: wrk -t1 -c1
# (one request at a time: the rewind sits on the request path, the worst
# case), a warm-up run, then the measured run; p50/p95/p99 from wrk's latency
# distribution (post.lua's done()), throughput from requests/s. Paced open
# loop (OPEN_MODES): bench/e2e/paced.py sends requests due at a fixed rate,
# OPEN_LOAD (0.5) x the insecure mode's closed-loop capacity for that
# function, measured in the same run (its first round); latency counts from
# each request's due time, so a slow answer cannot hold back the requests
# behind it unseen (`hey -q` paces each worker but waits for its answer and
# drops the missed ticks: a closed loop; paced.py says more). That is how a
# platform runs a warm container: the rewind after an answer overlaps the
# idle time before the next request. Every answer is checked (status 200
# and the expected digest): errors are counted and printed, never dropped.
# Modes alternate round by round; figures are medians of the rounds; the
# ratios against insecure come from the same run. Memory per warm container:
# the function cgroup's memory.current, or the Pss of its processes where the
# cgroup v2 has no memory controller, plus rewindd's image and file store
# (`rewindctl status --json`: image_bytes + store_bytes).
#
# Output: both tables, issue 15's goals met or not and by how much,
# $OUTPUT/bench-e2e/{results.json,summary.txt}, and docs/e2e-latency.png,
# docs/e2e-throughput.png (closed loop), docs/e2e-open-latency.png (paced;
# QUICK=1 writes its plots next to the results instead). Needs root (BPF,
# cgroups).
#
# Knobs (environment): QUICK=1 (about 1 minute a function, both runtimes),
# ROUNDS=3 DURATION=4 WARMUP=1 (seconds), RESTART_ROUNDS=1 RESTART_DURATION=3,
# FUNCS (default: all of SPECS), RUNTIMES="python node",
# MODES="insecure rewind fork restart criu", OPEN_MODES="insecure rewind"
# (empty: no open loop), OPEN_LOAD=0.5, OPEN_RATE (requests/s for every
# function instead of OPEN_LOAD x capacity), OPEN_DURATION=4 OPEN_WARMUP=1,
# OPEN_CONNS=4, PROXY_WARMUP=100 (the proxy's
# --warmup in the warm modes; restart starts cold: V8 optimises a function
# only after many calls, and every rewind puts the JIT back to the
# checkpoint's state, so the checkpoint must come after that), PLOT_DIR, RESULTS.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUTPUT=${OUTPUT:-build}
export OUTPUT

[ "$(id -u)" = 0 ] || { echo "bench-e2e: needs root (BPF, ptrace, cgroups)"; exit 1; }

# The load generator, the plotter and criu (so that its detection is real).
missing=
for pkg in wrk gnuplot-nox criu jq; do
	dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=" $pkg"
done
if [ -n "$missing" ]; then
	echo "bench-e2e: installing$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null ||
		{ echo "bench-e2e: cannot install$missing"; exit 1; }
fi
for f in rewindd rewindctl rewind-proxy; do
	[ -x "$OUTPUT/$f" ] || { echo "bench-e2e: $OUTPUT/$f is not built (make OUTPUT=$OUTPUT all)"; exit 1; }
done
[ -x /usr/bin/node ] || { echo "bench-e2e: /usr/bin/node is missing (the node functions need it)"; exit 1; }
exec /usr/bin/python3 bench/e2e/driver.py
