#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Real workloads whose heaps churn (tests/workload), rewound after every
# invocation with --verify.
#
#   workload_node_churn_rewind    Node builds and drops MB megabytes of
#       strings, objects and Buffers per invocation: V8 maps, unmaps and
#       re-protects its heap pages (mmap MAP_FIXED over registered memory
#       drops its write protection), malloc's arenas grow. ROUNDS verified
#       rewinds of one checkpoint; every invocation must see the
#       checkpoint's state ("was none") and compute the same checksum.
#       Failed before the fix within 2-3 rewinds: re-arming a range that was
#       no longer registered (UFFDIO_WRITEPROTECT: ENOENT).
#   workload_node_churn_norewind  the twin without rewindd: the token one
#       invocation keeps is seen by the next.
#   workload_py_heap_regrow_rewind  a warm cache on the brk heap dropped and
#       rebuilt by every invocation: the heap shrinks below its checkpoint
#       end and grows again (two vmas, seen before each rewind). Failed
#       before the fix at the first --verify: "[heap] of the checkpoint
#       differs or is gone".
#   workload_py_heap_regrow_norewind  its twin without rewindd.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

ROUNDS=${ROUNDS:-200}
MB=${MB:-20}

# run_round TOKEN: one invocation; WAS and SUM from its answer.
run_round() {
	fn_ask "run $MB $1" || return 1
	case "$ANSWER" in
	was\ *) ;;
	*) echo "invocation $1 answered: $ANSWER"; return 1 ;;
	esac
	read -r _ WAS SUM <<<"$ANSWER"
}

# How many vmas the brk heap has now.
heap_vmas() {
	grep -c ' \[heap\]$' "/proc/$FPID/maps"
}

node_fn() {
	[ -x /usr/bin/node ] || { echo "/usr/bin/node is missing"; return 77; }
	start_fn /usr/bin/node "$PWD/tests/workload/churn.js"
}

py_fn() {
	[ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 is missing"; return 77; }
	start_fn /usr/bin/python3 -I "$PWD/tests/workload/heap.py"
}

# leaks START_FN: without rewindd the second invocation sees the first's token.
leaks() {
	"$1" || return $?
	run_round t1 || return 1
	expect "first invocation" "$WAS" none || return 1
	run_round t2 || return 1
	expect "without rewind, the second invocation" "$WAS" t1 || return 1
	stop_fn
}

node_churn_rewind() {
	local sum0 i
	node_fn || return $?
	fn_attach_checkpoint || return $?
	for ((i = 1; i <= ROUNDS; i++)); do
		run_round "t$i" || return 1
		expect "invocation $i after $((i - 1)) rewinds: the token kept" "$WAS" none || return 1
		[ -n "${sum0:-}" ] || sum0=$SUM
		expect "invocation $i: checksum" "$SUM" "$sum0" || return 1
		fn_rewind_verify "invocation $i" || return 1
	done
	timeout 120 "$CTL" detach "$SID" >/dev/null || { echo "detach failed"; return 1; }
	stop_fn
}

py_heap_regrow_rewind() {
	local i split=0
	py_fn || return $?
	[ "$(heap_vmas)" = 1 ] || { echo "the heap is not one vma at the checkpoint"; return 1; }
	fn_attach_checkpoint || return $?
	for ((i = 1; i <= 20; i++)); do
		run_round "t$i" || return 1
		expect "invocation $i after $((i - 1)) rewinds: the token kept" "$WAS" none || return 1
		[ "$(heap_vmas)" -gt 1 ] && split=$((split + 1))
		fn_rewind_verify "invocation $i" || return 1
		expect "after rewind $i: vmas of the heap" "$(heap_vmas)" 1 || return 1
	done
	# The scenario happened: else this test proves nothing about the fix.
	[ "$split" -gt 0 ] || { echo "the heap never shrank and grew again in an invocation"; return 1; }
	timeout 120 "$CTL" detach "$SID" >/dev/null || { echo "detach failed"; return 1; }
	stop_fn
}

if [ "$(id -u)" = 0 ]; then
	start_daemon || echo "rewindd did not start" >&2
fi
run_test workload_node_churn_norewind fn_case leaks node_fn
run_test workload_node_churn_rewind fn_case node_churn_rewind
run_test workload_py_heap_regrow_norewind fn_case leaks py_fn
run_test workload_py_heap_regrow_rewind fn_case py_heap_regrow_rewind
