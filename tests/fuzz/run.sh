#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs every fuzz harness (make fuzz builds them) for FUZZ_SECONDS each, from
# the seeds in tests/fuzz/corpus/NAME (never written) and what earlier runs
# kept in OUTPUT/fuzz-corpus/NAME. A crash, a leak, a timeout (10 s on one
# input) or an out-of-memory fails the harness and leaves its input in
# OUTPUT/fuzz-crashes/. Prints PASS/FAIL lines and the executions each made.
set -u
cd "$(dirname "$0")/../.."
OUTPUT=${OUTPUT:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
fail=0

for bin in "$OUTPUT"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	work=$OUTPUT/fuzz-corpus/$name
	crashes=$OUTPUT/fuzz-crashes/$name
	mkdir -p "$work" "$crashes"
	log=$OUTPUT/fuzz-$name.log
	"$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ $rc = 0 ]; then
		echo "PASS $name: ${execs:-?} executions in ${SECONDS_EACH} s, corpus $(ls "$work" | wc -l) inputs"
	else
		fail=$((fail + 1))
		echo "FAIL $name (exit $rc): $(grep -m1 -E 'ERROR|SUMMARY|deadly|timeout' "$log")"
		echo "  input kept in $crashes; log $log"
	fi
done
[ $fail = 0 ]
