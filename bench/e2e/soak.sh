#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Soak of the real functions (bench/e2e/functions: resize.js, zipfile.js,
# numpy_omp.py, thumbnail.py) behind rewind-proxy --mode rewind --verify:
# tests/integ/test_realwork.sh with REQUESTS requests each (default 300),
# printing per function the requests served and the failed rewinds with
# their reasons (SOAK lines), then the PASS/FAIL lines. Needs root, the
# build (make all) and the packages (make ensure-deps npm-deps).
# Knobs: REQUESTS, OUTPUT, ONLY (a regex of test names, e.g. resize),
# GAP (seconds idle between requests, default 0: with GAP=25 ONLY=resize
# REQUESTS=3, libvips's idle workers exit and a rewind fails; see
# docs/BENCHMARKS.md, "Real functions: failed rewinds").
cd "$(dirname "$0")/../.." || exit 1
export OUTPUT=${OUTPUT:-build}
REALWORK_SOAK=1 REALWORK_REQUESTS=${REQUESTS:-300} REALWORK_GAP=${GAP:-0} REALWORK_ONLY=${ONLY:-} \
	exec bash tests/integ/test_realwork.sh
