#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Checkpoints and rewinds of a process whose thread pool was joined a moment
# before (tests/integ/pooljoin): pthread_join returns when the kernel clears
# the thread's tid, before the thread has left /proc/PID/task. Such a thread
# must not end up in the checkpoint (the next rewind would find it gone and
# fail), nor make the rewind fail. The window is short: many cycles.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TARGET=$PWD/$OUTPUT/tests/integ/pooljoin
CYCLES=${CYCLES:-30}
THREADS=${THREADS:-8}
TESTS=(pooljoin_fails_without_rewind checkpoint_after_pool_join)
require_root "${TESTS[@]}"

# ask COMMAND: one line to the target, its answer in ANSWER (bounded wait).

# The twin: without a rewind the second invocation sees the first.
pooljoin_fails_without_rewind() {
	start_target 2>/dev/null || return 1
	ask go || return 1
	expect "first invocation" "$ANSWER" "done 1" || return 1
	ask go || return 1
	expect "second invocation without rewind" "$ANSWER" "done 2" || return 1
	ask check || return 1
	case "$ANSWER" in fail*) ;; *) echo "check without rewind: '$ANSWER', want 'fail ...'"; return 1 ;; esac
}

# Fresh process, checkpoint right after its pool was joined, then invocations
# (each joins a pool just before the rewind) and `rewind --verify`.
checkpoint_after_pool_join() {
	local cycle id out round
	for ((cycle = 1; cycle <= CYCLES; cycle++)); do
		start_target "$THREADS" 2>/dev/null || return 1
		id=$(rwctl attach --pid "$TPID") || return 1
		out=$(rwctl checkpoint "$id" --json 2>&1) ||
			{ echo "cycle $cycle: checkpoint failed: $out"; return 1; }
		for round in 1 2; do
			ask go || return 1
			expect "cycle $cycle, invocation $round" "$ANSWER" "done 1" || return 1
			out=$(rwctl rewind "$id" --verify --json 2>&1) ||
				{ echo "cycle $cycle, rewind $round failed: $out"; return 1; }
			expect "cycle $cycle: rewind verified" "$(jq -r .rewind.verified <<<"$out")" true ||
				return 1
			ask check || return 1
			expect "cycle $cycle: check after rewind $round" "$ANSWER" pass || return 1
		done
		rwctl detach "$id" >/dev/null
		stop_target
	done
}

start_daemon || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }
for t in "${TESTS[@]}"; do
	run_test "$t" "$t"
done
