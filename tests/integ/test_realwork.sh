#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The real functions of bench/e2e/functions behind rewind-proxy --mode rewind
# (every rewind --verify): resize.js (sharp: libvips on its worker pool),
# zipfile.js (zlib streams to a file under $TMPDIR), numpy_omp.py (numpy on
# OpenBLAS with OpenMP threads), thumbnail.py (Pillow). Each serves
# REALWORK_REQUESTS requests (seeds cycling over 4) and must answer what the
# same function run directly answers, with no failed rewind ("rewind of
# session N failed", then a restart) and no state left from one request to
# the next (a global call counter, the archive file). The twins run the same
# functions in insecure mode and must see that state leak.
# bench/e2e/soak.sh runs this with hundreds of requests (REALWORK_SOAK=1 adds
# a "SOAK fn: ..." line of counts per function).
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/lib.sh
. tests/integ/proxy_lib.sh
REQUESTS=${REALWORK_REQUESTS:-30}
FUNCS=$PWD/bench/e2e/functions
NODE_MODULES=$PWD/$OUTPUT/npm/node_modules
# The SOAK lines go to the script's stderr, past run_test's capture.
exec {SOAK_FD}>&2

TESTS=(realwork_resize_js realwork_zipfile_js realwork_numpy_omp_py realwork_thumbnail_py)
EXTRA_TESTS=(realwork_insecure_leaks_js realwork_insecure_leaks_py)
only_tests REALWORK_ONLY TESTS EXTRA_TESTS
proxy_preflight curl jq node /usr/bin/python3

# skip_some REASON TEST...: those tests cannot run here.
skip_some() {
	local why=$1 t
	shift
	for t in "$@"; do echo "SKIP $t: $why"; SKIPPED+=" $t "; done
}
SKIPPED=
[ -f "$NODE_MODULES/sharp/package.json" ] ||
	skip_some "no sharp under $NODE_MODULES (make OUTPUT=$OUTPUT npm-deps)" realwork_resize_js
/usr/bin/python3 -c 'import numpy' 2>/dev/null || skip_some "python3-numpy is missing" realwork_numpy_omp_py
/usr/bin/python3 -c 'import PIL' 2>/dev/null || skip_some "python3-pil is missing" realwork_thumbnail_py
[ -e /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ] || [ -n "$(ls /usr/lib/*/openblas-openmp/libblas.so.3 2>/dev/null)" ] ||
	skip_some "libopenblas0-openmp is missing" realwork_numpy_omp_py

rewind_failures() {
	grep -c "rewind of session [0-9]* failed" "$PLOG"
}

# What the answers must equal whatever the process served before: the state
# fields (calls, existed, threads, concurrency) left out.
STATELESS='del(.calls, .existed, .threads, .concurrency)'

# reference FILE: the function's answers for seeds 0-3 run directly (no
# proxy), one line each.
reference() {
	case "$1" in
	*.js) NODE_PATH=$NODE_MODULES TMPDIR=$TMP node -e '
		const m = require(process.argv[1]);
		(async () => { for (let seed = 0; seed < 4; seed++)
			console.log(JSON.stringify(await m.main({ seed, name: "ref" }))); })();' "$1" ;;
	*.py) (cd "$(dirname "$1")" && /usr/bin/python3 -B -c '
import json, sys, importlib
m = importlib.import_module(sys.argv[1])
for seed in range(4):
    print(json.dumps(m.main({"seed": seed})))' "$(basename "$1" .py)") ;;
	esac | jq -cS "$STATELESS"
}

# soak FILE RUNTIME CHECK: REQUESTS requests in rewind mode; every answer
# equals the direct run's for its seed, CHECK (a jq filter) holds, the call
# counter never moves and no rewind failed.
soak() {
	local file=$1 rt=$2 check=$3 i seed calls= got want ref
	mapfile -t ref < <(reference "$file")
	[ "${#ref[@]}" = 4 ] || { echo "the direct run of $(basename "$file") failed"; return 1; }
	start_proxy --runtime "$rt" --mode rewind --warmup 2 --warmup-input '{"seed": 1, "name": "warm"}' || return 1
	init_action "$file" main "{\"NODE_PATH\": \"$NODE_MODULES\"}" || return 1
	for i in $(seq "$REQUESTS"); do
		seed=$((i % 4))
		# The soak's idle time between requests (GAP, never set by make check):
		# what a warm container sees, and what a pool's idle timeout acts on.
		[ "$i" = 1 ] || [ "${REALWORK_GAP:-0}" = 0 ] || sleep "$REALWORK_GAP"
		run "{\"seed\": $seed}" || return 1
		# One jq a request: the check, then the call counter and the stateless answer.
		mapfile -t got < <(jq -cS "if $check then .calls, ($STATELESS) else \"check\" end" 2>&1 <<<"$BODY")
		[ "$CODE" = 200 ] && [ "${#got[@]}" = 2 ] ||
			{ echo "request $i: status $CODE, '$check' on $BODY: ${got[*]}"; soak_line "$file" "$i"; return 1; }
		want=${ref[$seed]}
		[ "${got[1]}" = "$want" ] ||
			{ echo "request $i: ${got[1]}, the direct run: $want"; soak_line "$file" "$i"; return 1; }
		[ -n "$calls" ] || calls=${got[0]}
		expect "request $i: calls (state left by earlier requests)" "${got[0]}" "$calls" ||
			{ soak_line "$file" "$i"; return 1; }
	done
	soak_line "$file" "$REQUESTS"
	expect "failed rewinds in $REQUESTS requests" "$(rewind_failures)" 0 ||
		{ grep -m3 "rewind of session" "$PLOG"; return 1; }
}

soak_line() {
	[ -n "${REALWORK_SOAK:-}" ] || return 0
	echo "SOAK $(basename "$1"): $2 requests, $(rewind_failures) failed rewinds" >&"$SOAK_FD"
	grep "rewind of session [0-9]* failed" "$PLOG" | sed 's/^/SOAK   /' | head -5 >&"$SOAK_FD"
}

test_realwork_resize_js() {
	soak "$FUNCS/resize.js" node '.jpeg[2] > 0 and .png[2] > 0 and .concurrency >= 2 and .threads > 2'
}
test_realwork_zipfile_js() {
	soak "$FUNCS/zipfile.js" node '.ok == true and .existed == false and .compressed > 0'
}
test_realwork_numpy_omp_py() {
	soak "$FUNCS/numpy_omp.py" python '.gomp == true and .threads > 1'
}
test_realwork_thumbnail_py() {
	soak "$FUNCS/thumbnail.py" python '.bytes > 0'
}

# Twins: insecure mode reuses the process as is; the second request sees
# what the first left (the counter moved, the archive was there).
test_realwork_insecure_leaks_js() {
	start_proxy --runtime node --mode insecure || return 1
	init_action "$FUNCS/zipfile.js" main || return 1
	expect_run '{"seed": 1}' '.ok == true and .existed == false' || return 1
	expect_run '{"seed": 1}' '.ok == true and .existed == true' || return 1
}
test_realwork_insecure_leaks_py() {
	local first
	start_proxy --runtime python --mode insecure || return 1
	init_action "$FUNCS/thumbnail.py" main || return 1
	expect_run '{"seed": 1}' '.bytes > 0' || return 1
	first=$(jfield .calls)
	expect_run '{"seed": 1}' ".calls == $first + 1"
}

if ! start_daemon --state-dir "$TMP/state"; then
	for t in "${EXTRA_TESTS[@]}" "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done
	exit 0
fi
for t in "${TESTS[@]}" "${EXTRA_TESTS[@]}"; do
	case "$SKIPPED" in *" $t "*) continue ;; esac
	run_test "$t" proxy_case "test_$t"
done
