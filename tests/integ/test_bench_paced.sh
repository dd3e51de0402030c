#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# bench-e2e's paced open-loop client (bench/e2e/paced.py) and the driver's
# goals, against local HTTP servers: see tests/integ/bench_paced.py.
cd "$(dirname "$0")/../.." || exit 1
[ -x /usr/bin/python3 ] || { echo "SKIP bench_paced: /usr/bin/python3 is missing"; exit 0; }
TEST_TMP=$(mktemp -d /var/tmp/bench-paced.XXXXXX)
trap 'rm -rf "$TEST_TMP"' EXIT
TEST_TMP=$TEST_TMP /usr/bin/python3 tests/integ/bench_paced.py
